import { REDIS_COMMANDS, type RedisBatchReply, type RedisCommandName } from '../redis-api.ts';

/**
 * An in-memory Redis for the commands Redis sinks use (`RedisCommands` in redis-api.ts):
 * each method applies one command synchronously and returns Redis's reply in ioredis's
 * types, or throws a `RedisReplyError` with Redis's message. `SimRedisServer` puts it under
 * the scheduler through `SimEnvironment`; the command table
 * (scenarios/redis-command-cases.ts) checks it against a real Redis.
 *
 * Known differences from Redis, all outside what the sinks rely on: integers are bounded by
 * JavaScript's safe integers (2^53 - 1) instead of 64 bits; KEYS supports only `prefix*` and
 * literal patterns and replies sorted; DEL of no keys replies 0 instead of an arity error.
 */
export class RedisModel {
  private readonly entries = new Map<string, Entry>();
  private readonly expiresAtMs = new Map<string, number>();
  /** Commands applied, for reports. */
  commandsApplied = 0;

  /** `nowMs` is virtual time: keys vanish when their expiry is due. */
  constructor(private readonly nowMs: () => number) {}

  get(key: string): string | null {
    this.commandsApplied++;
    return this.stringAt(key) ?? null;
  }

  set(key: string, value: unknown, ...options: unknown[]): string | null {
    this.commandsApplied++;
    const parsed = parseSetOptions(options);
    const old = this.live(key);
    const oldString = parsed.get ? (old === undefined ? null : stringOf(old)) : null;
    const exists = old !== undefined;
    if ((parsed.condition === 'NX' && exists) || (parsed.condition === 'XX' && !exists)) return parsed.get ? oldString : null;
    const keptExpiry = parsed.keepTtl ? this.expiresAtMs.get(key) : undefined;
    this.entries.set(key, { kind: 'string', value: String(value) });
    this.expiresAtMs.delete(key);
    if (parsed.ttlMs !== undefined) this.expiresAtMs.set(key, this.nowMs() + parsed.ttlMs);
    else if (keptExpiry !== undefined) this.expiresAtMs.set(key, keptExpiry);
    return parsed.get ? oldString : 'OK';
  }

  mget(...keys: unknown[]): (string | null)[] {
    this.commandsApplied++;
    const flat = flattenKeys(keys, 'mget');
    return flat.map((key) => {
      const entry = this.live(key);
      return entry?.kind === 'string' ? entry.value : null;
    });
  }

  mset(...args: unknown[]): 'OK' {
    this.commandsApplied++;
    // Sinks flush with MSET of a record: the hot path of every Redis scenario, so no pair arrays.
    if (args.length === 1 && isRecord(args[0]) && Object.keys(args[0]).length > 0) {
      const record = args[0];
      for (const key in record) this.setString(key, String(record[key]));
      return 'OK';
    }
    for (const [key, value] of pairsOf(args, 'mset')) this.setString(key, value);
    return 'OK';
  }

  private setString(key: string, value: string): void {
    this.entries.set(key, { kind: 'string', value });
    if (this.expiresAtMs.size > 0) this.expiresAtMs.delete(key);
  }

  del(...keys: unknown[]): number {
    this.commandsApplied++;
    let deleted = 0;
    for (const key of flattenKeys(keys, 'del', 0)) {
      if (this.live(key) !== undefined) deleted++;
      this.remove(key);
    }
    return deleted;
  }

  exists(...keys: unknown[]): number {
    this.commandsApplied++;
    return flattenKeys(keys, 'exists').filter((key) => this.live(key) !== undefined).length;
  }

  incr(key: string): number {
    return this.incrby(key, 1);
  }

  decr(key: string): number {
    return this.incrby(key, -1);
  }

  decrby(key: string, decrement: unknown): number {
    return this.incrby(key, -integerArgument(decrement));
  }

  incrby(key: string, increment: unknown): number {
    this.commandsApplied++;
    const by = integerArgument(increment);
    const current = this.stringAt(key);
    const parsed = current === undefined ? 0 : parseRedisInteger(current);
    if (parsed === undefined) throw new RedisReplyError('ERR value is not an integer or out of range');
    const next = checkedSum(parsed, by);
    // INCRBY keeps the key's expiry: only the value changes.
    this.entries.set(key, { kind: 'string', value: String(next) });
    return next;
  }

  hincrby(key: string, field: unknown, increment: unknown): number {
    this.commandsApplied++;
    const by = integerArgument(increment);
    const hash = this.hashAt(key, true)!;
    const name = String(field);
    const current = hash.get(name);
    const parsed = current === undefined ? 0 : parseRedisInteger(current);
    if (parsed === undefined) throw new RedisReplyError('ERR hash value is not an integer');
    const next = checkedSum(parsed, by);
    hash.set(name, String(next));
    return next;
  }

  hset(key: string, ...args: unknown[]): number {
    this.commandsApplied++;
    const pairs = pairsOf(args, 'hset');
    const hash = this.hashAt(key, true)!;
    let added = 0;
    for (const [field, value] of pairs) {
      if (!hash.has(field)) added++;
      hash.set(field, value);
    }
    return added;
  }

  hget(key: string, field: unknown): string | null {
    this.commandsApplied++;
    return this.hashAt(key, false)?.get(String(field)) ?? null;
  }

  hgetall(key: string): Record<string, string> {
    this.commandsApplied++;
    return Object.fromEntries(this.hashAt(key, false) ?? []);
  }

  hdel(key: string, ...fields: unknown[]): number {
    this.commandsApplied++;
    const names = flattenKeys(fields, 'hdel');
    const hash = this.hashAt(key, false);
    if (hash === undefined) return 0;
    let deleted = 0;
    for (const name of names) if (hash.delete(name)) deleted++;
    // Redis removes a hash with no fields left.
    if (hash.size === 0) this.remove(key);
    return deleted;
  }

  hlen(key: string): number {
    this.commandsApplied++;
    return this.hashAt(key, false)?.size ?? 0;
  }

  expire(key: string, seconds: unknown): number {
    return this.pexpireBy(key, integerArgument(seconds) * 1000);
  }

  pexpire(key: string, milliseconds: unknown): number {
    return this.pexpireBy(key, integerArgument(milliseconds));
  }

  ttl(key: string): number {
    const ms = this.pttl(key);
    // Redis rounds the remaining milliseconds to the nearest second.
    return ms < 0 ? ms : Math.floor((ms + 500) / 1000);
  }

  pttl(key: string): number {
    this.commandsApplied++;
    if (this.live(key) === undefined) return -2;
    const expiresAtMs = this.expiresAtMs.get(key);
    return expiresAtMs === undefined ? -1 : expiresAtMs - this.nowMs();
  }

  keys(pattern: string): string[] {
    this.commandsApplied++;
    const matches = keyPatternMatcher(String(pattern));
    const found: string[] = [];
    for (const key of [...this.entries.keys()]) if (this.live(key) !== undefined && matches(key)) found.push(key);
    return found.sort(compareStrings);
  }

  /** MULTI ... EXEC: every command applied in this one step, nothing in between. */
  execMulti(commands: readonly BatchCommand[]): RedisBatchReply {
    return this.execBatch(commands, 'multi');
  }

  /** A pipeline: one round trip. Redis may interleave other clients' commands; here it is one step too. */
  execPipeline(commands: readonly BatchCommand[]): RedisBatchReply {
    return this.execBatch(commands, 'pipeline');
  }

  /** What the server holds now, keys sorted: strings as strings, hashes as records (expired keys are gone). */
  snapshot(): Record<string, string | Record<string, string>> {
    const result: Record<string, string | Record<string, string>> = {};
    for (const key of [...this.entries.keys()].sort(compareStrings)) {
      const entry = this.live(key);
      if (entry === undefined) continue;
      result[key] = entry.kind === 'string' ? entry.value : Object.fromEntries([...entry.value].sort(([a], [b]) => compareStrings(a, b)));
    }
    return result;
  }

  private execBatch(commands: readonly BatchCommand[], kind: 'multi' | 'pipeline'): RedisBatchReply {
    // Like Redis's EXECABORT: a command the server would not even queue discards the whole batch.
    for (const [name] of commands) requireSupportedCommand(name, `${kind}()`);
    const replies: RedisBatchReply = [];
    for (const [name, ...args] of commands) {
      try {
        replies.push([null, (this[name] as (...a: unknown[]) => unknown)(...args)]);
      } catch (error) {
        if (!(error instanceof RedisReplyError)) throw error;
        // ioredis gives a failed command of a batch as [error] alone.
        replies.push([error] as unknown as [Error, unknown]);
      }
    }
    return replies;
  }

  private pexpireBy(key: string, ttlMs: number): number {
    this.commandsApplied++;
    if (this.live(key) === undefined) return 0;
    // A due expiry deletes the key at once, as Redis does for a non-positive TTL.
    if (ttlMs <= 0) this.remove(key);
    else this.expiresAtMs.set(key, this.nowMs() + ttlMs);
    return 1;
  }

  /** The key's entry, or undefined when it does not exist or its expiry is due (it is then removed). */
  private live(key: string): Entry | undefined {
    const expiresAtMs = this.expiresAtMs.get(key);
    if (expiresAtMs !== undefined && expiresAtMs <= this.nowMs()) this.remove(key);
    return this.entries.get(key);
  }

  private remove(key: string): void {
    this.entries.delete(key);
    this.expiresAtMs.delete(key);
  }

  private stringAt(key: string): string | undefined {
    const entry = this.live(key);
    if (entry === undefined) return undefined;
    if (entry.kind !== 'string') throw wrongType();
    return entry.value;
  }

  private hashAt(key: string, create: boolean): Map<string, string> | undefined {
    const entry = this.live(key);
    if (entry === undefined) {
      if (!create) return undefined;
      const hash = new Map<string, string>();
      this.entries.set(key, { kind: 'hash', value: hash });
      return hash;
    }
    if (entry.kind !== 'hash') throw wrongType();
    return entry.value;
  }
}

/** A command of a MULTI or pipeline: its name and arguments, as ioredis's `multi([[...]])` takes them. */
export type BatchCommand = readonly [RedisCommandName, ...unknown[]];

/** An error reply of the (simulated) Redis server, named as ioredis names them. */
export class RedisReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
  }
}

/** Thrown for a command outside what the simulation implements: a limit of streamcheck, not a Redis error. */
export class UnsupportedRedisCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedRedisCommandError';
  }
}

export function requireSupportedCommand(name: unknown, where: string): asserts name is RedisCommandName {
  if (typeof name !== 'string' || !(REDIS_COMMANDS as readonly string[]).includes(name)) {
    throw new UnsupportedRedisCommandError(`Redis command ${String(name).toUpperCase()} (${where}) is not supported by the simulation; supported: ${REDIS_COMMANDS.join(', ')}`);
  }
}

type Entry = { readonly kind: 'string'; readonly value: string } | { readonly kind: 'hash'; readonly value: Map<string, string> };

function wrongType(): RedisReplyError {
  return new RedisReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
}

function stringOf(entry: Entry): string {
  if (entry.kind !== 'string') throw wrongType();
  return entry.value;
}

interface SetOptions {
  condition: 'NX' | 'XX' | undefined;
  get: boolean;
  keepTtl: boolean;
  ttlMs: number | undefined;
}

function parseSetOptions(options: readonly unknown[]): SetOptions {
  const parsed: SetOptions = { condition: undefined, get: false, keepTtl: false, ttlMs: undefined };
  for (let i = 0; i < options.length; i++) {
    const option = String(options[i]).toUpperCase();
    if ((option === 'NX' || option === 'XX') && parsed.condition === undefined) parsed.condition = option;
    else if (option === 'GET' && !parsed.get) parsed.get = true;
    else if (option === 'KEEPTTL' && !parsed.keepTtl && parsed.ttlMs === undefined) parsed.keepTtl = true;
    else if ((option === 'EX' || option === 'PX') && parsed.ttlMs === undefined && !parsed.keepTtl && i + 1 < options.length) {
      const amount = integerArgument(options[++i]);
      if (amount <= 0) throw new RedisReplyError(`ERR invalid expire time in 'set' command`);
      parsed.ttlMs = option === 'EX' ? amount * 1000 : amount;
    } else throw new RedisReplyError('ERR syntax error');
  }
  return parsed;
}

/** Keys given as arguments or as one array (ioredis accepts both). */
function flattenKeys(args: readonly unknown[], command: string, minimum = 1): string[] {
  const flat = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (flat.length < minimum) throw arityError(command);
  return flat.map(String);
}

/** Field/value pairs from a record or a flat key, value, key, value list (ioredis accepts both). */
function pairsOf(args: readonly unknown[], command: string): [string, string][] {
  if (args.length === 1 && isRecord(args[0])) {
    const pairs = Object.entries(args[0] as Record<string, unknown>).map(([key, value]): [string, string] => [key, String(value)]);
    if (pairs.length === 0) throw arityError(command);
    return pairs;
  }
  const flat = args.length === 1 && Array.isArray(args[0]) ? (args[0] as unknown[]) : args;
  if (flat.length === 0 || flat.length % 2 !== 0) throw arityError(command);
  const pairs: [string, string][] = [];
  for (let i = 0; i < flat.length; i += 2) pairs.push([String(flat[i]), String(flat[i + 1])]);
  return pairs;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function arityError(command: string): RedisReplyError {
  return new RedisReplyError(`ERR wrong number of arguments for '${command}' command`);
}

/** An integer argument as Redis parses it from its string form; the simulation's range is JavaScript's safe integers. */
function integerArgument(value: unknown): number {
  const parsed = parseRedisInteger(String(value));
  if (parsed === undefined) throw new RedisReplyError('ERR value is not an integer or out of range');
  return parsed;
}

function parseRedisInteger(text: string): number | undefined {
  if (!/^-?(0|[1-9][0-9]*)$/.test(text)) return undefined;
  const parsed = Number(text);
  return Number.isSafeInteger(parsed) ? parsed : undefined;
}

function checkedSum(current: number, by: number): number {
  const next = current + by;
  if (!Number.isSafeInteger(next)) throw new RedisReplyError('ERR increment or decrement would overflow');
  return next;
}

/** Matches `prefix*` or a literal key; other glob patterns are outside the simulation. */
function keyPatternMatcher(pattern: string): (key: string) => boolean {
  const body = pattern.endsWith('*') ? pattern.slice(0, -1) : pattern;
  if (/[*?[\]\\]/.test(body)) throw new UnsupportedRedisCommandError(`Redis KEYS '${pattern}': only 'prefix*' and literal patterns are supported by the simulation`);
  return pattern.endsWith('*') ? (key) => key.startsWith(body) : (key) => key === body;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
