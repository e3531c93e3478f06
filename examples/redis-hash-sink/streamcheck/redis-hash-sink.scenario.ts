import { SimRedisServer, sinkSuite, type RedisClient } from 'streamcheck';
import { RedisHashCountSink, RedisHashSink } from '../src/redis-hash-sink.ts';

const sink = (redis: RedisClient, hash: string, bug: string | undefined) => (bug === 'hincrby-count' ? new RedisHashCountSink(redis, hash) : new RedisHashSink(redis, hash));

export const redisHashSinkSuite = sinkSuite({
  name: 'redis-hash-sink',
  semantic: 'exactly-once',
  writes: 'overwrite',
  bugs: [{ name: 'hincrby-count', description: 'counts records with HINCRBY instead of setting the value' }],
  // In simulation: the simulated Redis, every call a scheduler step.
  external: ({ env, bug }) => {
    const redis = new SimRedisServer(env);
    return {
      createWriter: ({ subtaskIndex }) => sink(redis.client(`sink-${subtaskIndex}`), 'totals', bug),
      readBack: () => redis.model.hgetall('totals'),
    };
  },
  // Against a real Redis: the same sink on a hash of its own per cycle.
  real: ({ redis, namespace, bug }) => {
    const reader = redis();
    return {
      createWriter: () => sink(redis(), `${namespace}:totals`, bug),
      readBack: () => reader.hgetall(`${namespace}:totals`),
    };
  },
});
