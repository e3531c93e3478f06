/**
 * The Redis client surface our sinks use: a subset of ioredis with ioredis's names and
 * signatures, implemented by the simulated server (`sim/redis.ts`) and by ioredis itself.
 */
export interface RedisClient {
  get(key: string): Promise<string | null>;
  set(key: string, value: string): Promise<'OK'>;
  /** Sets every key of the record in one round trip. */
  mset(entries: Record<string, string>): Promise<'OK'>;
  incrby(key: string, increment: number): Promise<number>;
  /** Deletes the keys; resolves to how many existed. */
  del(...keys: string[]): Promise<number>;
  /** Every key matching `pattern` (only `prefix*` patterns are supported by the simulation). */
  keys(pattern: string): Promise<string[]>;
}
