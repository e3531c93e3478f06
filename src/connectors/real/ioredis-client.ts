import type { Redis } from 'ioredis';
import { REDIS_COMMANDS, redisBatch, type RedisBatchReply, type RedisClient, type RedisCommandName } from '../redis-api.ts';
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

/** `displayAddress`: the address messages name (the configured one, when `url` is a fault proxy's). */
export function ioredisClient(url: string, displayAddress: string = url): ClosableRedisClient {
  // Created on the first command (ioredis loads then); lazyConnect connects on that command too.
  let connection: Promise<Redis> | undefined;
  const connected = (): Promise<Redis> =>
    (connection ??= loadIoredis().then((RedisClass) => {
      const redis = new RedisClass(url, {
        lazyConnect: true,
        connectTimeout: CONNECT_TIMEOUT_MS,
        commandTimeout: COMMAND_TIMEOUT_MS,
        maxRetriesPerRequest: MAX_RETRIES_PER_REQUEST,
      });
      redis.on('error', () => {
        // Surfaced through the failing command instead (ioredis would print every reconnect error).
      });
      return redis;
    }));
  /** Errors keep Redis's reply text first (the simulation's and the case table's vocabulary) and add where it happened. */
  const named = <T>(command: string, call: (redis: Redis) => Promise<T>): Promise<T> =>
    connected()
      .then(call)
      .catch((error: unknown) => {
        // A missing ioredis keeps its own message: it names the package to install.
        if (error instanceof MissingOptionalDependencyError) throw error;
        throw new Error(`${(error as Error).message} (Redis ${command} at ${displayAddress})`, { cause: error });
      });
  const client: Record<string, unknown> = {
    multi: () => redisBatch((commands) => named('MULTI/EXEC', (redis) => execOrThrow(redis.multi(commands.map((c) => [...c] as string[])).exec()))),
    pipeline: () => redisBatch((commands) => named('PIPELINE', (redis) => execOrThrow(redis.pipeline(commands.map((c) => [...c] as string[])).exec()))),
    close: async () => {
      (await connection?.catch(() => undefined))?.disconnect();
    },
  };
  for (const name of REDIS_COMMANDS) {
    client[name] = (...args: unknown[]) =>
      named(name.toUpperCase(), (redis) => (redis as unknown as Record<RedisCommandName, (...args: unknown[]) => Promise<unknown>>)[name].apply(redis, args));
  }
  // DEL of no keys: Redis answers with an arity error; the simulation (and callers deleting what KEYS found) want 0.
  client['del'] = (...keys: string[]) => named('DEL', (redis) => (keys.length === 0 ? Promise.resolve(0) : redis.del(...keys)));
  return client as unknown as ClosableRedisClient;
}

/** ioredis resolves EXEC to null only for WATCH conflicts, which our client never sets up. */
async function execOrThrow(reply: Promise<[error: Error | null, result: unknown][] | null>): Promise<RedisBatchReply> {
  const replies = await reply;
  if (replies === null) throw new Error('EXEC returned null (a WATCHed key changed), but this client never WATCHes');
  return replies;
}
