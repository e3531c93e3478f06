/**
 * The Redis client surface Redis sinks use: a subset of ioredis with ioredis's names,
 * argument forms and reply types, implemented by the simulated server (`sim/redis.ts`) and
 * by ioredis itself (`real/ioredis-client.ts`). Commands outside it fail in the simulation
 * with an error naming the command.
 */
export type RedisValue = string | number;
export type RedisSetCondition = 'NX' | 'XX';
export type RedisSetExpiry = 'EX' | 'PX';

/** SET's options in the forms Redis accepts (expiry, condition, GET; KEEPTTL keeps the old expiry). */
export type RedisSetOptions =
  | []
  | [RedisSetCondition]
  | ['GET']
  | ['KEEPTTL']
  | [RedisSetExpiry, number]
  | [RedisSetExpiry, number, RedisSetCondition]
  | [RedisSetCondition, RedisSetExpiry, number]
  | [RedisSetCondition, 'GET']
  | [RedisSetExpiry, number, 'GET']
  | [RedisSetExpiry, number, RedisSetCondition, 'GET'];

export interface RedisCommands {
  get(key: string): Promise<string | null>;
  /** 'OK', or null when an NX/XX condition kept the write out; with GET, the old value instead. */
  set(key: string, value: RedisValue): Promise<'OK'>;
  set(key: string, value: RedisValue, ...options: RedisSetOptions): Promise<string | null>;
  mget(...keys: string[]): Promise<(string | null)[]>;
  /** Sets every key of the record (or of the key, value, key, value... list) in one round trip. */
  mset(entries: Record<string, RedisValue>): Promise<'OK'>;
  mset(...keysAndValues: RedisValue[]): Promise<'OK'>;
  /** Deletes the keys; resolves to how many existed. */
  del(...keys: string[]): Promise<number>;
  /** How many of the keys exist (a key named twice counts twice). */
  exists(...keys: string[]): Promise<number>;
  incr(key: string): Promise<number>;
  incrby(key: string, increment: number): Promise<number>;
  decr(key: string): Promise<number>;
  decrby(key: string, decrement: number): Promise<number>;
  hincrby(key: string, field: string, increment: number): Promise<number>;
  /** Sets fields of a hash; resolves to how many fields were new. */
  hset(key: string, fields: Record<string, RedisValue>): Promise<number>;
  hset(key: string, ...fieldsAndValues: RedisValue[]): Promise<number>;
  hget(key: string, field: string): Promise<string | null>;
  /** Every field of the hash ({} when the key does not exist). */
  hgetall(key: string): Promise<Record<string, string>>;
  hdel(key: string, ...fields: string[]): Promise<number>;
  hlen(key: string): Promise<number>;
  /** 1 when the key exists and now expires in `seconds`, else 0. */
  expire(key: string, seconds: number): Promise<number>;
  pexpire(key: string, milliseconds: number): Promise<number>;
  /** Seconds to live; -1 without expiry, -2 when the key does not exist. */
  ttl(key: string): Promise<number>;
  pttl(key: string): Promise<number>;
  /** Every key matching `pattern` (only `prefix*` patterns are supported by the simulation). */
  keys(pattern: string): Promise<string[]>;
}

/** One reply of a MULTI/EXEC or pipeline, as ioredis gives it: [error, null] or [null, result]. */
export type RedisBatchReply = [error: Error | null, result: unknown][];

/** The commands of a MULTI or pipeline, queued in order; `exec()` sends them all. */
export type RedisBatch = {
  [K in Exclude<keyof RedisCommands, 'set' | 'mset' | 'hset'>]: (...args: Parameters<RedisCommands[K]>) => RedisBatch;
} & {
  set(key: string, value: RedisValue, ...options: RedisSetOptions): RedisBatch;
  mset(entries: Record<string, RedisValue>): RedisBatch;
  mset(...keysAndValues: RedisValue[]): RedisBatch;
  hset(key: string, fields: Record<string, RedisValue>): RedisBatch;
  hset(key: string, ...fieldsAndValues: RedisValue[]): RedisBatch;
  exec(): Promise<RedisBatchReply>;
};

export interface RedisClient extends RedisCommands {
  /** A MULTI/EXEC transaction: its commands apply atomically (a failing command does not undo the others, as in Redis). */
  multi(): RedisBatch;
  /** A pipeline: the commands go in one round trip, not atomically. */
  pipeline(): RedisBatch;
}

/** The names of the commands above, for builders and for "unsupported command" checks. */
export const REDIS_COMMANDS = [
  'get',
  'set',
  'mget',
  'mset',
  'del',
  'exists',
  'incr',
  'incrby',
  'decr',
  'decrby',
  'hincrby',
  'hset',
  'hget',
  'hgetall',
  'hdel',
  'hlen',
  'expire',
  'pexpire',
  'ttl',
  'pttl',
  'keys',
] as const satisfies readonly (keyof RedisCommands)[];

export type RedisCommandName = (typeof REDIS_COMMANDS)[number];

/** Every command name of RedisCommands is listed (a compile error otherwise). */
type MissingCommands = Exclude<keyof RedisCommands, RedisCommandName>;
const allCommandsListed: MissingCommands extends never ? true : MissingCommands = true;
void allCommandsListed;

/**
 * A MULTI or pipeline builder over any transport: each command method queues
 * `[name, ...args]` and returns the builder; `exec()` hands the queue to `send`.
 */
export function redisBatch(send: (commands: readonly (readonly [RedisCommandName, ...unknown[]])[]) => Promise<RedisBatchReply>): RedisBatch {
  const commands: (readonly [RedisCommandName, ...unknown[]])[] = [];
  let sent = false;
  const batch: Record<string, unknown> = {
    exec: () => {
      // As ioredis: a batch goes out once.
      if (sent) return Promise.reject(new Error('Redis batch: exec() was already called on this multi()/pipeline()'));
      sent = true;
      return send(commands);
    },
  };
  for (const name of REDIS_COMMANDS) {
    // `this`: a wrapper around the builder (the simulation's) keeps wrapping chained calls.
    batch[name] = function (this: unknown, ...args: unknown[]) {
      commands.push([name, ...args]);
      return this ?? batch;
    };
  }
  return batch as RedisBatch;
}
