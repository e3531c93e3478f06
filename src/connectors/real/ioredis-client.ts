import { Redis } from 'ioredis';
import type { RedisClient } from '../redis-api.ts';

/** Bounds for a Redis that is down or slow: a clear error naming the URL, never a hang. */
const CONNECT_TIMEOUT_MS = 5_000;
const COMMAND_TIMEOUT_MS = 10_000;
const MAX_RETRIES_PER_REQUEST = 2;

/** Our RedisClient over ioredis (the same names), plus close(). */
export interface ClosableRedisClient extends RedisClient {
  close(): Promise<void>;
}

/** `displayAddress`: the address messages name (the configured one, when `url` is a fault proxy's). */
export function ioredisClient(url: string, displayAddress: string = url): ClosableRedisClient {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
  });
  redis.on('error', () => {
    // Surfaced through the failing command instead (ioredis would print every reconnect error).
  });
  const named = <T>(command: string, call: () => Promise<T>): Promise<T> =>
    call().catch((error: unknown) => {
      throw new Error(`Redis ${command} at ${displayAddress} failed: ${(error as Error).message}`, { cause: error });
    });
  return {
    get: (key) => named('GET', () => redis.get(key)),
    set: (key, value) => named('SET', () => redis.set(key, value)),
    mset: (entries) => named('MSET', () => redis.mset(entries)),
    incrby: (key, increment) => named('INCRBY', () => redis.incrby(key, increment)),
    keys: (pattern) => named('KEYS', () => redis.keys(pattern)),
    del: (...keys) => named('DEL', () => (keys.length === 0 ? Promise.resolve(0) : redis.del(...keys))),
    close: async () => {
      redis.disconnect();
    },
  };
}
