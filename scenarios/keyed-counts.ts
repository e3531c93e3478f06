import { oddEvenInput } from '../model/odd-even-sum.ts';
import { expectedKeyTotals, keyCountFor, keyOf, type KeyTotals } from '../model/keyed-counts.ts';
import { PartitionSourceReader } from '../src/connectors/partition-source.ts';
import { RedisIdempotentSink } from '../src/connectors/redis-sink.ts';
import { SimPartitionedLog } from '../src/connectors/sim/partitioned-log.ts';
import { SimRedisServer } from '../src/connectors/sim/redis.ts';
import { LOST_WRITE } from '../src/harness/run-case.ts';
import type { Scenario, Violation } from '../src/harness/scenario.ts';
import { pipeline } from '../src/runtime/pipeline.ts';
import { STATE_RESTORE } from '../properties/state-restore.ts';

const KEY_PREFIX = 'keyed-counts';
const KEYED_PARALLELISM = 2;
/** Checkpoint often, so that a run of the default size takes enough checkpoints for compactions and shared files. */
const CHECKPOINT_INTERVAL_MS = 30;

/**
 * Large keyed state: many keys (half as many as records per partition), a running count and
 * sum per key, written to a Redis-like store by SET of deterministic keys. Its state is what
 * the rocksdb backend's incremental checkpoints and shared-state registry are checked on.
 */
export const keyedCounts: Scenario = {
  name: 'keyed-counts',
  description: 'two partitions of natural numbers -> keyBy n mod (records/2) -> running count and sum per key -> idempotent Redis SET',
  defaultSize: { partitions: 2, recordsPerPartition: 60 },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'drop-ack', 'fail-initialize'],
  backends: ['memory', 'fs', 'rocksdb'],
  variablePartitions: true,
  bugs: [
    {
      name: 'delete-shared-file-still-referenced',
      description: 'the shared-state registry deletes the files a discarded checkpoint uploaded although the retained checkpoint still refers to them: a restore loses their keys',
      caughtBy: [STATE_RESTORE, 'exactly-once'],
      jobOptions: { backend: 'rocksdb', deleteSharedFileStillReferenced: true, checkpointIntervalMs: CHECKPOINT_INTERVAL_MS },
    },
    {
      name: 'incremental-forgets-compacted-files',
      description: 'an incremental checkpoint does not upload the files a compaction wrote (it takes them for uploaded): a restore after a compaction loses their keys',
      caughtBy: [STATE_RESTORE, 'exactly-once'],
      jobOptions: { backend: 'rocksdb', incrementalForgetsCompactedFiles: true, checkpointIntervalMs: CHECKPOINT_INTERVAL_MS, rocksDbCompactionTriggerFiles: 2 },
    },
  ],
  taskCount: (size) => size.partitions + KEYED_PARALLELISM,
  build({ env, size, sinkBufferKeys }) {
    const input = oddEvenInput(size.partitions, size.recordsPerPartition);
    const keyCount = keyCountFor(size.recordsPerPartition);
    const log = new SimPartitionedLog(input);
    const redis = new SimRedisServer(env);
    const built = pipeline('keyed-counts')
      .source('numbers', size.partitions, ({ subtaskIndex }) => new PartitionSourceReader(log, subtaskIndex))
      .keyBy((n: number) => keyOf(n, keyCount), KEYED_PARALLELISM)
      .aggregate<KeyTotals>('count', (totals, n: number) => ({ count: (totals?.count ?? 0) + 1, sum: (totals?.sum ?? 0) + n }))
      .sink('redis', ({ subtaskIndex }) =>
        new RedisIdempotentSink<KeyTotals>(redis.client(`redis-sink-${subtaskIndex}`), (key, totals) => ({ [`${KEY_PREFIX}:${String(key)}`]: `${totals.count}/${totals.sum}` }), sinkBufferKeys),
      )
      .build();
    return {
      pipeline: built,
      judge: () => checkKeyTotals(redis.stringSnapshot(), expectedKeyTotals(input, keyCount)),
      output: () => redis.snapshot(),
    };
  },
};

/** Exactly-once over the store: every key holds its final count/sum, nothing else is written. */
function checkKeyTotals(store: Record<string, string>, expected: Map<string, KeyTotals>): Violation[] {
  const violations: Violation[] = [];
  for (const [key, totals] of expected) {
    const actual = store[`${KEY_PREFIX}:${key}`];
    const wanted = `${totals.count}/${totals.sum}`;
    if (actual === wanted) continue;
    violations.push({
      property: 'exactly-once',
      anomaly: actual === undefined ? LOST_WRITE : 'wrong value',
      message: `${KEY_PREFIX}:${key} holds ${actual === undefined ? 'nothing' : actual}, expected count/sum ${wanted}`,
    });
  }
  for (const key of Object.keys(store)) {
    if (!expected.has(key.slice(KEY_PREFIX.length + 1))) violations.push({ property: 'exactly-once', anomaly: 'unexpected write', message: `${key} is not a key of the model` });
  }
  return violations;
}
