import type { Redis } from 'ioredis';
import type { RedisClient } from '../redis-api.ts';
import { MissingOptionalDependencyError, importOptionalDependency } from './optional-dependency.ts';

/** Bounds for a Redis that is down or slow: a clear error naming the URL, never a hang. */
const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 10_000;
const MAX_RETRIES_PER_REQUEST = 2;

/** Our RedisClient over ioredis (the same names), plus close(). */
export interface ClosableRedisClient extends RedisClient {
  close(): Promise<void>;
}

/** ioredis is an optional peer dependency of streamcheck: loaded when a real Redis is first used. */
export async function loadIoredis(): Promise<typeof Redis> {
  const module = await importOptionalDependency<{ Redis: typeof Redis }>('ioredis', 'talking to a real Redis (end-to-end runs)');
  return module.Redis;
}

export function ioredisClient(url: string): ClosableRedisClient {
  // Created on the first command (ioredis loads then); lazyConnect connects on that command too.
  let connection: Promise<Redis> | undefined;
  const redis = (): Promise<Redis> =>
    (connection ??= loadIoredis().then((RedisClass) => {
      const client = new RedisClass(url, {
        lazyConnect: true,
        connectTimeout: CONNECT_TIMEOUT_MS,
        commandTimeout: COMMAND_TIMEOUT_MS,
        maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
      });
      client.on('error', () => {
        // Surfaced through the failing command instead (ioredis would print every reconnect error).
      });
      return client;
    }));
  const named = <T>(command: string, call: (client: Redis) => Promise<T>): Promise<T> =>
    redis().then(call).catch((error: unknown) => {
      // A missing ioredis keeps its own message (it names the package to install).
      if (error instanceof MissingOptionalDependencyError) throw error;
      throw new Error(`Redis ${command} at ${url} failed: ${(error as Error).message}`, { cause: error });
    });
  return {
    get: (key) => named('GET', (client) => client.get(key)),
    set: (key, value) => named('SET', (client) => client.set(key, value)),
    mset: (entries) => named('MSET', (client) => client.mset(entries)),
    incrby: (key, increment) => named('INCRBY', (client) => client.incrby(key, increment)),
    keys: (pattern) => named('KEYS', (client) => client.keys(pattern)),
    del: (...keys) => named('DEL', (client) => (keys.length === 0 ? Promise.resolve(0) : client.del(...keys))),
    close: async () => {
      (await connection?.catch(() => undefined))?.disconnect();
    },
  };
}
