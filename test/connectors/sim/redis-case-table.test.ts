import { describe, expect, test } from 'vitest';
import { REDIS_CASES, runRedisCase } from '../../../scenarios/redis-command-cases.ts';
import type { RedisClient } from '../../../src/connectors/redis-api.ts';
import { onSimulatedRedis } from './sim-redis-fixture.ts';

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
    await onSimulatedRedis(async ({ client, waitMs, server }) => {
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
