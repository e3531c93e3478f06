import { describe, expect, test } from 'vitest';
import { REDIS_CASES, runRedisCase, type RedisCaseDriver } from '../../../scenarios/redis-command-cases.ts';
import { SimEnvironment } from '../../../src/connectors/sim/environment.ts';
import { SimRedisServer } from '../../../src/connectors/sim/redis.ts';
import type { RedisClient } from '../../../src/connectors/redis-api.ts';
import { RandomChoices } from '../../../src/sim/choice.ts';
import { Scheduler, type SimWorld } from '../../../src/sim/scheduler.ts';

/** Nothing of its own; while the body runs with no call in flight, asks for a few drains so continuations without I/O run. */
function bodyWorld(scheduler: Scheduler, finished: () => boolean): SimWorld {
  let drainsWithoutIo = 0;
  return {
    collectEnabled: () => {
      if (scheduler.pendingIoCount > 0) drainsWithoutIo = 0;
      else if (!finished() && drainsWithoutIo++ < 3) scheduler.requestDrain();
    },
    execute: () => {},
    describe: () => '',
  };
}

/** Runs `body` against a fresh simulated Redis, the scheduler completing its calls. */
async function onSimulatedRedis<T>(body: (driver: RedisCaseDriver, server: SimRedisServer) => Promise<T>): Promise<T> {
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100_000, keepTrace: false });
  let finished = false;
  scheduler.attach(bodyWorld(scheduler, () => finished));
  const environment = new SimEnvironment(scheduler);
  const server = new SimRedisServer(environment);
  const client = server.client('case-table');
  // Waiting is a call with latency on a connection of its own: virtual time moves, and the scheduler drains after it.
  const driver: RedisCaseDriver = {
    client,
    waitMs: async (ms) => {
      const started = environment.nowMs;
      await environment.scheduler.io('clock', `wait ${ms} ms`, () => undefined, ms);
      expect(environment.nowMs - started).toBeGreaterThanOrEqual(ms);
    },
  };
  const outcome = body(driver, server);
  const settled = outcome.then(
    () => (finished = true),
    () => (finished = true),
  );
  await scheduler.run();
  // The scheduler went quiet: the body must have finished (else a call was never completed).
  const result = await Promise.race([settled, Promise.resolve('still running')]);
  if (result === 'still running') throw new Error('the case did not finish when the scheduler went quiet');
  return outcome;
}

describe('Redis command case table on the simulated server', () => {
  for (const testCase of REDIS_CASES) {
    test(testCase.name, async () => {
      await onSimulatedRedis((driver) => runRedisCase(testCase, driver));
    });
  }

  test('the table catches a simulation bug: a planted SET NX that overwrites fails its case', async () => {
    const nxCase = REDIS_CASES.find((c) => c.name.startsWith('SET NX and XX'))!;
    await expect(
      onSimulatedRedis((driver) => {
        const client = driver.client;
        const buggy = Object.create(client) as RedisClient;
        // Ignores every option, as a careless simulation would.
        (buggy as { set: unknown }).set = (key: string, value: string) => client.set(key, value);
        return runRedisCase(nxCase, { ...driver, client: buggy });
      }),
    ).rejects.toThrow(/SET \["k","first","XX"\] replied "OK", expected null/);
  });

  test('an unsupported command rejects naming the command; so does one queued in a MULTI', async () => {
    await onSimulatedRedis(async ({ client }) => {
      const untyped = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
      await expect(untyped['hscan']!('h', 0)).rejects.toThrow(/Redis command HSCAN \(client\) is not supported by the simulation/);
      await expect(untyped['zadd']!('z', 1, 'a')).rejects.toThrow(/ZADD \(client\) is not supported/);
      const batch = client.multi().set('a', '1') as unknown as Record<string, (...args: unknown[]) => unknown>;
      expect(() => batch['lpush']!('list', 'x')).toThrow(/Redis command LPUSH \(multi\(\)\) is not supported by the simulation/);
      // The client exposes the commands only: not the model's own methods.
      expect((client as unknown as Record<string, unknown>)['execMulti']).toBeUndefined();
      await expect(client.keys('a?c')).rejects.toThrow(/only 'prefix\*' and literal patterns are supported by the simulation/);
    });
  });

  test('the server state is readable without a step: strings and hashes, expired keys gone', async () => {
    await onSimulatedRedis(async ({ client, waitMs }, server) => {
      await client.mset({ b: '2', a: '1' });
      await client.hset('h', { y: '2', x: '1' });
      await client.set('short', 'v', 'PX', 10);
      expect(Object.keys(server.snapshot())).toEqual(['a', 'b', 'h', 'short']);
      await waitMs(20);
      expect(server.snapshot()).toEqual({ a: '1', b: '2', h: { x: '1', y: '2' } });
      expect(() => server.stringSnapshot()).toThrow(/key 'h' holds a hash/);
    });
  });
});
