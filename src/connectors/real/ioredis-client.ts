import { Redis } from 'ioredis';
import { REDIS_COMMANDS, redisBatch, type RedisBatchReply, type RedisClient, type RedisCommandName } from '../redis-api.ts';

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
  /** Errors keep Redis's reply text first (the simulation's and the case table's vocabulary) and add where it happened. */
  const named = <T>(command: string, call: () => Promise<T>): Promise<T> =>
    call().catch((error: unknown) => {
      throw new Error(`${(error as Error).message} (Redis ${command} at ${displayAddress})`, { cause: error });
    });
  const untyped = redis as unknown as Record<RedisCommandName, (...args: unknown[]) => Promise<unknown>>;
  const client: Record<string, unknown> = {
    multi: () => redisBatch((commands) => named('MULTI/EXEC', () => execOrThrow(redis.multi(commands.map((c) => [...c] as string[])).exec()))),
    pipeline: () => redisBatch((commands) => named('PIPELINE', () => execOrThrow(redis.pipeline(commands.map((c) => [...c] as string[])).exec()))),
    close: async () => {
      redis.disconnect();
    },
  };
  for (const name of REDIS_COMMANDS) {
    client[name] = (...args: unknown[]) => named(name.toUpperCase(), () => untyped[name].apply(redis, args));
  }
  // DEL of no keys: Redis answers with an arity error; the simulation (and callers deleting what KEYS found) want 0.
  client['del'] = (...keys: string[]) => named('DEL', () => (keys.length === 0 ? Promise.resolve(0) : redis.del(...keys)));
  return client as unknown as ClosableRedisClient;
}

/** ioredis resolves EXEC to null only for WATCH conflicts, which our client never sets up. */
async function execOrThrow(reply: Promise<[error: Error | null, result: unknown][] | null>): Promise<RedisBatchReply> {
  const replies = await reply;
  if (replies === null) throw new Error('EXEC returned null (a WATCHed key changed), but this client never WATCHes');
  return replies;
}
