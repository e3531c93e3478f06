/**
 * What the join scenarios share: timed sources over a model's partitions, an idempotent
 * Redis sink of `{ key, value }` entries, and the task count of a job graph.
 */
import type { Arriving, Partitions } from '../model/joins.ts';
import { timedPartitionLog, TimedPartitionSourceReader } from '../src/connectors/timed-partition-source.ts';
import { RedisIdempotentSink } from '../src/connectors/redis-sink.ts';
import type { SimRedisServer } from '../src/connectors/sim/redis.ts';
import type { SourceReader, SubtaskInfo } from '../src/connectors/api.ts';
import type { Scheduler } from '../src/sim/scheduler.ts';
import type { JobGraphSpec } from '../src/runtime/job-graph.ts';
import type { Keyed } from '../src/runtime/pipeline.ts';

/** A store entry as it flows to the sink: Redis key and value. */
export type StoreEntry = Keyed<string>;

export function storeEntry([key, value]: readonly [string, string]): StoreEntry {
  return { key, value };
}

/** A source factory reading partition `subtaskIndex` of `partitions` as records arrive in virtual time; splits `<name>-<p>`. */
export function timedSource<T>(scheduler: Scheduler, name: string, partitions: Partitions<T>): (info: SubtaskInfo) => SourceReader<T> {
  const log = timedPartitionLog(partitions as ReadonlyArray<ReadonlyArray<Arriving<T>>>);
  return ({ subtaskIndex }) => new TimedPartitionSourceReader(log, subtaskIndex, () => scheduler.nowMs, name);
}

/** SET of each entry (keys and values are functions of the input only, so replays rewrite the same). */
export function entrySink(redis: SimRedisServer, connection: string, maxBufferedKeys?: number): (info: SubtaskInfo) => RedisIdempotentSink<string> {
  return ({ subtaskIndex }) => new RedisIdempotentSink<string>(redis.client(`${connection}-${subtaskIndex}`), (key, value) => ({ [key as string]: value }), maxBufferedKeys);
}

export function taskCountOf(spec: JobGraphSpec): number {
  return spec.vertices.reduce((sum, vertex) => sum + vertex.parallelism, 0);
}

/** The store's string entries under `prefix:` (what a join wrote). */
export function entriesUnder(store: Readonly<Record<string, unknown>>, prefix: string): Record<string, string> {
  const entries: Record<string, string> = {};
  for (const [key, value] of Object.entries(store)) if (key.startsWith(`${prefix}:`) && typeof value === 'string') entries[key] = value;
  return entries;
}
