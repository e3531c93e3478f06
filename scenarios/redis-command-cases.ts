import type { RedisBatchReply, RedisClient, RedisCommandName } from '../src/connectors/redis-api.ts';

/**
 * The Redis commands sinks rely on, as a table of data: the same steps run against the
 * simulated server (test/connectors/sim/redis-case-table.test.ts) and against a real Redis
 * through ioredis (test/e2e/redis-case-table.e2e.test.ts). A case that passes on one and
 * fails on the other is a bug in the simulation (or in our ioredis client).
 *
 * Every case starts from an empty database. Vocabulary:
 * - `call` sends one command; `reply` is the exact reply (ioredis's types), `error` the
 *   start of the error message (Redis's own words, e.g. `WRONGTYPE`), `between` bounds a
 *   number that depends on elapsed time (a TTL).
 * - `multi` / `pipeline` send their commands in one batch; each entry of `replies` is a
 *   reply or `{ error }`, in ioredis's `[error]` / `[null, result]` shape.
 * - `wait` lets `ms` of time pass (virtual time in the simulation, a sleep on a real Redis).
 * - `keys` replies are compared sorted (Redis gives no order).
 */
export type Expected = { readonly reply: unknown } | { readonly error: string } | { readonly between: readonly [number, number] };

export type RedisCaseStep =
  | ({ readonly op: 'call'; readonly command: RedisCommandName; readonly args: readonly unknown[] } & Expected)
  | { readonly op: 'multi' | 'pipeline'; readonly commands: readonly (readonly [RedisCommandName, ...unknown[]])[]; readonly replies: readonly Expected[] }
  | { readonly op: 'wait'; readonly ms: number };

export interface RedisCase {
  readonly name: string;
  readonly steps: readonly RedisCaseStep[];
}

export interface RedisCaseDriver {
  readonly client: RedisClient;
  /** Lets `ms` of (virtual or real) time pass. */
  waitMs(ms: number): Promise<void>;
}

const call = (command: RedisCommandName, args: readonly unknown[], expected: Expected): RedisCaseStep => ({ op: 'call', command, args, ...expected });
const WRONGTYPE = 'WRONGTYPE Operation against a key holding the wrong kind of value';
const NOT_AN_INTEGER = 'ERR value is not an integer or out of range';

export const REDIS_CASES: readonly RedisCase[] = [
  {
    name: 'strings: SET, GET, MSET (record and flat forms), MGET with a missing key',
    steps: [
      call('get', ['a'], { reply: null }),
      call('set', ['a', '1'], { reply: 'OK' }),
      call('get', ['a'], { reply: '1' }),
      call('set', ['n', 42], { reply: 'OK' }),
      call('get', ['n'], { reply: '42' }),
      call('mset', [{ b: '2', c: '3' }], { reply: 'OK' }),
      call('mset', ['d', '4', 'a', '5'], { reply: 'OK' }),
      call('mget', ['a', 'b', 'missing', 'd'], { reply: ['5', '2', null, '4'] }),
    ],
  },
  {
    name: 'SET NX and XX: a condition that fails replies null and writes nothing',
    steps: [
      call('set', ['k', 'first', 'XX'], { reply: null }),
      call('get', ['k'], { reply: null }),
      call('set', ['k', 'first', 'NX'], { reply: 'OK' }),
      call('set', ['k', 'second', 'NX'], { reply: null }),
      call('get', ['k'], { reply: 'first' }),
      call('set', ['k', 'third', 'XX'], { reply: 'OK' }),
      call('get', ['k'], { reply: 'third' }),
      call('set', ['k', 'x', 'NX', 'XX'], { error: 'ERR syntax error' }),
    ],
  },
  {
    name: 'SET GET replies the old value (fencing): also when NX keeps the write out',
    steps: [
      call('set', ['token', 'owner-1', 'GET'], { reply: null }),
      call('set', ['token', 'owner-2', 'GET'], { reply: 'owner-1' }),
      call('set', ['token', 'owner-3', 'NX', 'GET'], { reply: 'owner-2' }),
      call('get', ['token'], { reply: 'owner-2' }),
      call('hset', ['h', 'f', 'v'], { reply: 1 }),
      call('set', ['h', 'x', 'GET'], { error: 'WRONGTYPE' }),
      call('hget', ['h', 'f'], { reply: 'v' }),
    ],
  },
  {
    name: 'SET EX and PX set an expiry; a plain SET clears it, KEEPTTL keeps it; due keys vanish',
    steps: [
      call('set', ['ex', 'v', 'EX', 100], { reply: 'OK' }),
      call('ttl', ['ex'], { reply: 100 }),
      call('set', ['ex', 'w'], { reply: 'OK' }),
      call('ttl', ['ex'], { reply: -1 }),
      call('set', ['keep', 'v', 'EX', 100], { reply: 'OK' }),
      call('set', ['keep', 'w', 'KEEPTTL'], { reply: 'OK' }),
      call('ttl', ['keep'], { reply: 100 }),
      call('set', ['px', 'v', 'PX', 150], { reply: 'OK' }),
      call('pttl', ['px'], { between: [1, 150] }),
      call('set', ['bad', 'v', 'EX', 0], { error: "ERR invalid expire time in 'set' command" }),
      { op: 'wait', ms: 400 },
      call('get', ['px'], { reply: null }),
      call('exists', ['px'], { reply: 0 }),
      call('pttl', ['px'], { reply: -2 }),
      call('get', ['keep'], { reply: 'w' }),
    ],
  },
  {
    name: 'counters: INCR, INCRBY, DECR, DECRBY from a missing key; a non-integer value is an error',
    steps: [
      call('incr', ['c'], { reply: 1 }),
      call('incrby', ['c', 5], { reply: 6 }),
      call('decr', ['c'], { reply: 5 }),
      call('decrby', ['c', 10], { reply: -5 }),
      call('get', ['c'], { reply: '-5' }),
      call('set', ['s', 'abc'], { reply: 'OK' }),
      call('incr', ['s'], { error: NOT_AN_INTEGER }),
      call('incrby', ['s', 2], { error: NOT_AN_INTEGER }),
      call('get', ['s'], { reply: 'abc' }),
      call('set', ['f', '1.5'], { reply: 'OK' }),
      call('incr', ['f'], { error: NOT_AN_INTEGER }),
    ],
  },
  {
    name: 'INCRBY keeps the expiry of its key',
    steps: [
      call('set', ['c', '10', 'EX', 100], { reply: 'OK' }),
      call('incrby', ['c', 5], { reply: 15 }),
      call('ttl', ['c'], { reply: 100 }),
    ],
  },
  {
    name: 'hashes: HSET (record and field/value forms) counts new fields; HGET, HGETALL, HLEN, HDEL',
    steps: [
      call('hset', ['h', { a: '1', b: '2' }], { reply: 2 }),
      call('hset', ['h', 'b', '20', 'c', '3'], { reply: 1 }),
      call('hget', ['h', 'b'], { reply: '20' }),
      call('hget', ['h', 'missing'], { reply: null }),
      call('hget', ['missing', 'a'], { reply: null }),
      call('hgetall', ['h'], { reply: { a: '1', b: '20', c: '3' } }),
      call('hgetall', ['missing'], { reply: {} }),
      call('hlen', ['h'], { reply: 3 }),
      call('hdel', ['h', 'a', 'missing'], { reply: 1 }),
      call('hdel', ['h', 'b', 'c'], { reply: 2 }),
      call('exists', ['h'], { reply: 0 }),
      call('hlen', ['h'], { reply: 0 }),
    ],
  },
  {
    name: 'HINCRBY from a missing field and key; a non-integer field is an error',
    steps: [
      call('hincrby', ['h', 'n', 3], { reply: 3 }),
      call('hincrby', ['h', 'n', -5], { reply: -2 }),
      call('hset', ['h', 's', 'abc'], { reply: 1 }),
      call('hincrby', ['h', 's', 1], { error: 'ERR hash value is not an integer' }),
      call('hgetall', ['h'], { reply: { n: '-2', s: 'abc' } }),
    ],
  },
  {
    name: 'WRONGTYPE between strings and hashes; MGET answers null for a hash; SET overwrites any type',
    steps: [
      call('set', ['s', 'v'], { reply: 'OK' }),
      call('hset', ['h', 'f', 'v'], { reply: 1 }),
      call('get', ['h'], { error: WRONGTYPE }),
      call('incr', ['h'], { error: WRONGTYPE }),
      call('hget', ['s', 'f'], { error: WRONGTYPE }),
      call('hset', ['s', 'f', 'v'], { error: WRONGTYPE }),
      call('hgetall', ['s'], { error: WRONGTYPE }),
      call('hincrby', ['s', 'f', 1], { error: WRONGTYPE }),
      call('mget', ['s', 'h'], { reply: ['v', null] }),
      call('set', ['h', 'now a string'], { reply: 'OK' }),
      call('get', ['h'], { reply: 'now a string' }),
    ],
  },
  {
    name: 'DEL and EXISTS count keys (EXISTS counts a repeated key twice)',
    steps: [
      call('mset', [{ a: '1', b: '2' }], { reply: 'OK' }),
      call('hset', ['h', 'f', 'v'], { reply: 1 }),
      call('exists', ['a', 'a', 'missing', 'h'], { reply: 3 }),
      call('del', ['a', 'missing', 'h'], { reply: 2 }),
      call('exists', ['a', 'b', 'h'], { reply: 1 }),
    ],
  },
  {
    name: 'EXPIRE, PEXPIRE, TTL, PTTL: missing keys, no expiry, a non-positive expiry deletes',
    steps: [
      call('expire', ['missing', 10], { reply: 0 }),
      call('ttl', ['missing'], { reply: -2 }),
      call('set', ['k', 'v'], { reply: 'OK' }),
      call('ttl', ['k'], { reply: -1 }),
      call('pttl', ['k'], { reply: -1 }),
      call('expire', ['k', 100], { reply: 1 }),
      call('ttl', ['k'], { reply: 100 }),
      call('hset', ['h', 'f', 'v'], { reply: 1 }),
      call('pexpire', ['h', 100], { reply: 1 }),
      call('pttl', ['h'], { between: [1, 100] }),
      call('expire', ['k', 0], { reply: 1 }),
      call('exists', ['k'], { reply: 0 }),
      { op: 'wait', ms: 400 },
      call('hgetall', ['h'], { reply: {} }),
      call('hlen', ['h'], { reply: 0 }),
    ],
  },
  {
    name: 'KEYS with a prefix pattern leaves out other and expired keys',
    steps: [
      call('mset', [{ 'job:a': '1', 'job:b': '2', other: '3' }], { reply: 'OK' }),
      call('hset', ['job:h', 'f', 'v'], { reply: 1 }),
      call('set', ['job:gone', 'v', 'PX', 50], { reply: 'OK' }),
      { op: 'wait', ms: 300 },
      call('keys', ['job:*'], { reply: ['job:a', 'job:b', 'job:h'] }),
      call('keys', ['other'], { reply: ['other'] }),
    ],
  },
  {
    name: 'MULTI/EXEC applies its commands together; a failing command does not undo the others',
    steps: [
      call('hset', ['h', 'f', 'v'], { reply: 1 }),
      {
        op: 'multi',
        commands: [
          ['set', 'a', '1'],
          ['incr', 'a'],
          ['incr', 'h'],
          ['hincrby', 'totals', 'n', 5],
          ['get', 'a'],
        ],
        replies: [{ reply: 'OK' }, { reply: 2 }, { error: WRONGTYPE }, { reply: 5 }, { reply: '2' }],
      },
      call('hget', ['totals', 'n'], { reply: '5' }),
    ],
  },
  {
    name: 'a pipeline sends its commands in one round trip, each with its own reply',
    steps: [
      {
        op: 'pipeline',
        commands: [
          ['mset', { a: '1', b: '2' }],
          ['set', 'a', 'x', 'NX'],
          ['mget', 'a', 'b'],
          ['hset', 'a', 'f', 'v'],
          ['del', 'b'],
        ],
        replies: [{ reply: 'OK' }, { reply: null }, { reply: ['1', '2'] }, { error: WRONGTYPE }, { reply: 1 }],
      },
      call('exists', ['a', 'b'], { reply: 1 }),
    ],
  },
];

/** Runs one case; throws naming the case, the step and the difference. */
export async function runRedisCase(testCase: RedisCase, driver: RedisCaseDriver): Promise<void> {
  for (const [index, step] of testCase.steps.entries()) {
    const where = `case '${testCase.name}', step #${index}`;
    if (step.op === 'wait') {
      await driver.waitMs(step.ms);
      continue;
    }
    if (step.op === 'call') {
      const send = driver.client[step.command] as (...args: unknown[]) => Promise<unknown>;
      const described = `${step.command.toUpperCase()} ${JSON.stringify(step.args)}`;
      let outcome: Outcome;
      try {
        outcome = { reply: await send.apply(driver.client, [...step.args]) };
      } catch (error) {
        outcome = { error: error instanceof Error ? error : new Error(String(error)) };
      }
      check(where, described, step.command, outcome, step);
      continue;
    }
    const batch = step.op === 'multi' ? driver.client.multi() : driver.client.pipeline();
    for (const [name, ...args] of step.commands) (batch[name] as (...a: unknown[]) => unknown).apply(batch, args);
    const replies: RedisBatchReply = await batch.exec();
    if (replies.length !== step.replies.length) throw new Error(`${where}: ${step.op} of ${step.commands.length} commands replied ${replies.length} entries: ${describeValue(replies)}`);
    for (const [i, reply] of replies.entries()) {
      const [error, result] = reply;
      const entryLength = (reply as readonly unknown[]).length;
      const entryShapeOk = error === null ? entryLength === 2 : entryLength === 1;
      if (!entryShapeOk) throw new Error(`${where}: ${step.op} reply #${i} has the shape ${describeValue(reply)}; ioredis gives [error] or [null, result]`);
      check(`${where}, ${step.op} command #${i}`, JSON.stringify(step.commands[i]), step.commands[i]![0], error === null ? { reply: result } : { error }, step.replies[i]!);
    }
  }
}

type Outcome = { readonly reply: unknown } | { readonly error: Error };

function check(where: string, described: string, command: RedisCommandName, outcome: Outcome, expected: Expected): void {
  if ('error' in expected) {
    if (!('error' in outcome)) throw new Error(`${where}: ${described} replied ${describeValue(outcome.reply)}, expected an error starting '${expected.error}'`);
    if (!outcome.error.message.startsWith(expected.error)) throw new Error(`${where}: ${described} failed with '${outcome.error.message}', expected an error starting '${expected.error}'`);
    return;
  }
  if ('error' in outcome) throw new Error(`${where}: ${described} failed with '${outcome.error.message}'`);
  const reply = command === 'keys' && Array.isArray(outcome.reply) ? [...(outcome.reply as string[])].sort() : outcome.reply;
  if ('between' in expected) {
    const [low, high] = expected.between;
    if (typeof reply !== 'number' || reply < low || reply > high) throw new Error(`${where}: ${described} replied ${describeValue(reply)}, expected a number in [${low}, ${high}]`);
    return;
  }
  if (describeValue(reply) !== describeValue(expected.reply)) throw new Error(`${where}: ${described} replied ${describeValue(reply)}, expected ${describeValue(expected.reply)}`);
}

/** Canonical text of a reply: records with sorted fields (hash field order is Redis's business). */
function describeValue(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) =>
    inner !== null && typeof inner === 'object' && !Array.isArray(inner) && !(inner instanceof Error)
      ? Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : inner instanceof Error
        ? `Error: ${inner.message}`
        : inner,
  );
}
