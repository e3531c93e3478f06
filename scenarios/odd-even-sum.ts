import { oddEvenInput, parityName, type Parity } from '../model/odd-even-sum.ts';
import { checkConsistentCuts, checkExactlyOnceStore, type ParityAccumulator } from '../properties/odd-even.ts';
import { PartitionSourceReader } from '../src/connectors/partition-source.ts';
import { RedisIdempotentSink, RedisIncrementingSink } from '../src/connectors/redis-sink.ts';
import { SimPartitionedLog } from '../src/connectors/sim/partitioned-log.ts';
import { SimRedisServer } from '../src/connectors/sim/redis.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import type { RedisClient } from '../src/connectors/redis-api.ts';
import type { Key, SinkWriter, SourceReader, SubtaskInfo } from '../src/connectors/api.ts';
import type { Keyed, PipelineSpec } from '../src/runtime/pipeline.ts';
import { pipeline } from '../src/runtime/pipeline.ts';

const KEY_PREFIX = 'odd-even-sum';
export const SUM_OPERATOR = 'sum';

/**
 * The seed's first scenario: two Kafka-like partitions of natural numbers, keyBy parity,
 * a running sum (and count) per parity, written to a Redis-like store by SET of
 * deterministic keys. Every keyed subtask reads from both partitions, so barriers align.
 */
export const oddEvenSum: Scenario = {
  name: 'odd-even-sum',
  description: 'two partitions of natural numbers -> keyBy parity -> running sum -> idempotent Redis SET',
  defaultSize: { partitions: 2, recordsPerPartition: 40 },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'drop-ack', 'fail-initialize', 'rescale'],
  backends: ['memory', 'fs'],
  variablePartitions: true,
  rescalesSource: true,
  unequalPartitions: true,
  // Coverage the main job must reach (src/harness/coverage.ts): overlapping checkpoints, a crash while aligning, a crash during recovery.
  mustReach: ['checkpoint concurrent', 'checkpoint aborted by failover', 'fault crash-task @ during-alignment', 'fault crash-task @ during-recovery'],
  bugs: [
    {
      name: 'at-least-once-mode',
      description: 'barriers are tracked, not aligned (CheckpointBarrierTracker): records behind a barrier enter the snapshot',
      caughtBy: ['exactly-once', 'barrier-alignment', 'consistent-cut'],
      jobOptions: { mode: 'at-least-once' },
    },
    {
      name: 'incrby-sink',
      description: 'the sink adds each record with INCRBY instead of SET of the running sum: replays count twice',
      caughtBy: ['exactly-once'],
    },
    {
      name: 'restore-latest-triggered',
      description: 'a restart restores the latest triggered checkpoint instead of the latest completed one',
      caughtBy: ['exactly-once', 'restore-choice'],
      jobOptions: { restoreFrom: 'latest-triggered' },
    },
    {
      name: 'memory-checkpoints-survive-job-crash',
      description: 'the memory backend keeps its completed checkpoints through a crash of the whole job, coordinator included (they lived on its heap)',
      caughtBy: ['restore-choice'],
      jobOptions: { backend: 'memory', memoryCheckpointsSurviveJobCrash: true },
    },
    {
      name: 'unaligned-acks-at-input-end',
      description:
        'the runtime before issue 17: an unaligned snapshot at the first barrier marks the checkpoint handled, so the other barriers are dropped and the task acknowledges only when an input ends',
      caughtBy: ['checkpoint-progress'],
      jobOptions: { mode: 'unaligned', dropBarriersAfterUnalignedSnapshot: true },
    },
    {
      name: 'expiry-leaves-checkpoint-pending',
      description:
        'an expired checkpoint is marked expired but stays pending, so late acknowledgements still complete it ' +
        '(run with a 50 ms timeout, so that checkpoints also time out without an expiry fault)',
      caughtBy: ['fault-effects'],
      jobOptions: { expiryLeavesCheckpointPending: true, checkpointTimeoutMs: 50 },
    },
    {
      name: 'initialize-error-swallowed',
      description: 'a synchronous initializeState error is logged and the task runs on without a failover (the fail-initialize fault then has no effect)',
      caughtBy: ['fault-effects'],
      jobOptions: { initializeErrorSwallowed: true },
    },
    {
      name: 'rescale-keyed-state-to-wrong-subtask',
      description:
        'a restore onto another parallelism hands each new subtask the keyed state of the old subtask with its index, key groups ignored: a key\'s sum lands where its records no longer go ' +
        '(run with a 30 ms interval, so that a rescale restores a checkpoint)',
      caughtBy: ['rescale-state', 'exactly-once'],
      jobOptions: { rescaleKeyedStateByOldSubtask: true, checkpointIntervalMs: 30 },
    },
    {
      name: 'rescale-drops-split-state',
      description:
        'a restore that rescales the source drops the state of its last split: that partition is read again from offset 0 and its numbers are summed twice ' +
        '(run with a 30 ms interval, so that a rescale restores a checkpoint)',
      caughtBy: ['rescale-state', 'exactly-once', 'consistent-cut'],
      jobOptions: { rescaleDropsSplitState: true, checkpointIntervalMs: 30 },
    },
    {
      name: 'unaligned-holds-inputs',
      description: 'unaligned checkpoints hold back an input after its barrier, as aligned ones do (no barrier overtakes the data behind)',
      caughtBy: ['mode-semantics'],
      jobOptions: { mode: 'unaligned', unalignedHoldsInputs: true },
    },
    {
      name: 'unaligned-barriers-behind-data',
      description: 'unaligned checkpoints forward barriers behind the records in flight instead of overtaking them',
      caughtBy: ['mode-semantics'],
      jobOptions: { mode: 'unaligned', unalignedBarriersQueueBehindData: true },
    },
    {
      name: 'sends-without-credit',
      description:
        'a sender sends whether or not the receiver has a buffer for the channel (no credit): the receiver\'s buffers overflow ' +
        '(run with one exclusive buffer per channel and no floating buffers, so that one record too many overflows)',
      caughtBy: ['flow-control'],
      jobOptions: { sendsWithoutCredit: true, exclusiveBuffersPerChannel: 1, floatingBuffersPerGate: 0 },
    },
    {
      name: 'alignment-not-observed',
      description: 'the runtime reports no barrier positions for its snapshots, so the alignment check has nothing to compare',
      caughtBy: ['barrier-alignment'],
      jobOptions: { omitAlignmentObservations: true },
    },
    {
      name: 'junk-key-sink',
      description: 'the sink also writes a debugging key the model does not have (output beyond the model)',
      caughtBy: ['exactly-once'],
    },
    {
      name: 'unaligned-drops-channel-state',
      description: 'unaligned checkpoints that leave the in-flight records out of the checkpoint: they are lost on restore',
      caughtBy: ['exactly-once', 'consistent-cut'],
      jobOptions: { mode: 'unaligned', restoreChannelState: false },
    },
    {
      name: 'alignment-timeout-drops-channel-state',
      description: 'aligned checkpoints with an alignment timeout: the switch to unaligned forgets the records still in front of the barrier on the inputs not yet aligned, so the checkpoint misses them',
      caughtBy: ['barrier-alignment', 'consistent-cut'],
      jobOptions: { mode: 'exactly-once', alignedCheckpointTimeoutMs: 0, alignmentTimeoutDropsChannelState: true },
    },
    {
      name: 'coordinator-drops-sink-acks',
      description: 'the coordinator loses every acknowledgement from the last task, so no checkpoint ever completes',
      caughtBy: ['liveness'],
      jobOptions: { dropAcksFromLastTask: true },
    },
    {
      name: 'source-end-of-first-partition',
      description: 'the source reader takes every partition\'s end offset from partition 0 (a slip that partitions of equal length hide): a shorter partition 0 cuts the others short',
      caughtBy: ['exactly-once'],
    },
    {
      name: 'nondeterministic-sink',
      description: 'the sink flushes when Math.random() says so: the same case runs differently twice',
      caughtBy: ['determinism'],
    },
  ],
  taskCount: (size) => size.partitions + 2,
  build({ env, size, bug, sinkBufferKeys, partitionRecords }) {
    // Shortened partitions keep their numbers (p*N+1 ...): only their ends are cut off.
    const input = oddEvenInput(size.partitions, size.recordsPerPartition).map((records, partition) => records.slice(0, partitionRecords?.[partition] ?? records.length));
    const log = new SimPartitionedLog(input);
    const redis = new SimRedisServer(env);
    const built = oddEvenPipeline(
      'odd-even-sum',
      size.partitions,
      ({ subtaskIndex }) =>
        new PartitionSourceReader(bug === 'source-end-of-first-partition' ? { endOffset: () => log.endOffset(0), read: (partition, offset) => log.read(partition, offset) } : log, subtaskIndex),
      ({ subtaskIndex }) => {
        const client = redis.client(`redis-sink-${subtaskIndex}`);
        if (bug === 'nondeterministic-sink') return new RandomlyFlushingSink(client);
        if (bug === 'junk-key-sink') {
          return new RedisIdempotentSink<ParityAccumulator>(client, (key, value) => ({
            ...oddEvenEntries(KEY_PREFIX)(key, value),
            [`${KEY_PREFIX}:debug:last-seen`]: String(value.last),
          }));
        }
        if (bug === 'incrby-sink') {
          return new RedisIncrementingSink<ParityAccumulator>(client, (key, value) => ({
            [`${KEY_PREFIX}:${parityName(key as Parity)}:sum`]: value.last,
            [`${KEY_PREFIX}:${parityName(key as Parity)}:count`]: 1,
          }));
        }
        return oddEvenRedisSink(client, KEY_PREFIX, sinkBufferKeys);
      },
    );
    const sourceTasks = Array.from({ length: size.partitions }, (_, i) => i);
    return {
      pipeline: built,
      judge: (observations) => [
        ...checkExactlyOnceStore(redis.stringSnapshot(), input, KEY_PREFIX),
        ...checkConsistentCuts(observations, input, sourceTasks, SUM_OPERATOR),
      ],
      output: () => redis.snapshot(),
    };
  },
};

export interface ParityInput {
  readonly parity: Parity;
  readonly n: number;
}

/**
 * The odd/even job graph, shared by the simulated scenarios and the end-to-end runs: only
 * the source and sink connectors differ.
 */
export function oddEvenPipeline(
  name: string,
  partitions: number,
  source: (info: SubtaskInfo) => SourceReader<number>,
  sink: (info: SubtaskInfo) => SinkWriter<Keyed<ParityAccumulator>>,
): PipelineSpec {
  return pipeline(name)
    .source('numbers', partitions, source)
    .map('parity', (n: number): ParityInput => ({ parity: (n % 2) as Parity, n }))
    .keyBy((record) => record.parity, 2)
    .aggregate<ParityAccumulator>(SUM_OPERATOR, (accumulator, record) => ({
      sum: (accumulator?.sum ?? 0) + record.n,
      count: (accumulator?.count ?? 0) + 1,
      last: record.n,
    }))
    .sink('redis', sink)
    .build();
}

/** SET of `prefix:parity:sum` and `prefix:parity:count`: deterministic keys, values from the input only. */
export function oddEvenRedisSink(client: RedisClient, prefix: string, maxBufferedKeys?: number): RedisIdempotentSink<ParityAccumulator> {
  return new RedisIdempotentSink<ParityAccumulator>(client, oddEvenEntries(prefix), maxBufferedKeys);
}

function oddEvenEntries(prefix: string): (key: Key, value: ParityAccumulator) => Record<string, string> {
  return (key, value) => ({
    [`${prefix}:${parityName(key as Parity)}:sum`]: String(value.sum),
    [`${prefix}:${parityName(key as Parity)}:count`]: String(value.count),
  });
}

/**
 * PLANTED BUG for the determinism property: flushes on a coin toss from Math.random, which
 * the scheduler does not control (exactly what a connector must never do).
 */
class RandomlyFlushingSink extends RedisIdempotentSink<ParityAccumulator> {
  constructor(client: RedisClient) {
    super(client, oddEvenEntries(KEY_PREFIX));
  }

  override write(element: Keyed<ParityAccumulator>): void | Promise<void> {
    const pending = super.write(element);
    if (pending !== undefined) return pending;
    if (Math.random() < 0.3) return this.snapshotState();
  }
}
