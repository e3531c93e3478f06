import { oddEvenInput, parityName, type Parity } from '../model/odd-even-sum.ts';
import { checkRunningSumLog, type RunningSumEntry } from '../model/running-sum-log.ts';
import type { ParityAccumulator } from '../properties/odd-even.ts';
import { checkCommittedImpliesCompleted, checkCompletedImpliesCommitted, checkNoLingeringOrFencedCommit, checkRestoreRecoversPending } from '../properties/two-phase-commit.ts';
import { KafkaPartitionSource } from '../src/connectors/kafka-source.ts';
import { BuggyKafkaTwoPhaseCommitSink, KafkaTwoPhaseCommitSink, MicroBatchKafkaSink, type KafkaSinkBug, type KafkaSinkOptions } from '../src/connectors/kafka-sink.ts';
import { SimKafkaBroker } from '../src/connectors/sim/kafka-broker.ts';
import { SIM_TRANSACTION_TIMEOUT_MS, SimKafkaClients } from '../src/connectors/sim/kafka-clients.ts';
import type { Scenario, Violation } from '../src/harness/scenario.ts';
import type { Keyed } from '../src/runtime/pipeline.ts';
import type { RunObservations } from '../src/runtime/observations.ts';
import { oddEvenPipeline } from './odd-even-sum.ts';

export const INPUT_TOPIC = 'numbers';
export const OUTPUT_TOPIC = 'sums';
/** The value of the records of the aborted input transaction: a source that reads them counts it into the odd sum. */
const ABORTED_INPUT_VALUE = 1_000_001;
const TRANSACTIONAL_ID_PREFIX = 'odd-even-sink';
const SINK_BUGS: readonly KafkaSinkBug[] = ['commit-in-snapshot', 'restore-aborts-pending', 'notify-commits-only-own', 'commit-not-idempotent', 'no-abort-lingering', 'forget-removed-subtasks', 'fenced-commit-taken-as-done'];

/** The sink's output record: key = parity name, value = the running (sum, count, last) as JSON. */
export function serializeSum(element: Keyed<ParityAccumulator>): { key: string; value: string } {
  return { key: parityName(element.key as Parity), value: JSON.stringify(element.value) };
}

/**
 * Exactly-once output of the odd/even log: per key the committed log must count every
 * input of that parity once, keeping each source partition's order.
 */
export function checkOddEvenOutputLog(
  outputByPartition: readonly (readonly { key: string; value: string }[])[],
  input: readonly (readonly number[])[],
): Violation[] {
  const recordsPerPartition = input[0]?.length ?? 0;
  const violations: Violation[] = [];
  for (const parity of [0, 1] as const) {
    const key = parityName(parity);
    const log: RunningSumEntry[] = outputByPartition.flat().filter((record) => record.key === key).map((record) => JSON.parse(record.value) as RunningSumEntry);
    const inputs = input.flat().filter((n) => n % 2 === parity);
    const anomalies = checkRunningSumLog(key, log, inputs, (n) => Math.floor((n - 1) / recordsPerPartition), (n) => (n - 1) % recordsPerPartition);
    for (const anomaly of anomalies) violations.push({ property: 'exactly-once', anomaly: anomaly.anomaly, message: anomaly.message });
  }
  return violations;
}

/**
 * The seed's central case: the odd/even pipeline reading a Kafka topic and writing its
 * running sums to a Kafka topic through the two-phase-commit sink, with commits that fail,
 * notifications that get lost and crashes anywhere in between.
 */
export const kafka2pc: Scenario = {
  name: 'kafka-2pc',
  description: 'Kafka topic (2 partitions) -> keyBy parity -> running sum -> Kafka 2PC sink (transactional ids prefix-subtask-counter)',
  defaultSize: { partitions: 2, recordsPerPartition: 30 },
  // Not 'expire-transactions': no sink survives a transaction timeout shorter than a checkpoint
  // (Kafka aborts the pre-committed data); tests show the invariants catching that loss.
  // 'fence-transactions' (a zombie instance taking over the open transactional ids, a
  // pre-committed transaction's included) only with KIP-939 prepared transactions: the
  // zombie keeps the prepared transaction and a new instance commits it. Without them Kafka
  // aborts it, and no sink survives that either (test/properties/kafka-fence.test.ts).
  faultKinds: ['crash-task', 'crash-job', 'fail-commit', 'drop-notify', 'fail-abort', 'expire-checkpoint', 'decline-checkpoint', 'drop-ack', 'fail-initialize', 'rescale', 'fence-transactions'],
  faultSettings: { 'fence-transactions': { preparedTransactions: true } },
  // A memory backend loses completed checkpoints with the coordinator; the committed output then gets written again.
  backends: ['fs'],
  variablePartitions: true,
  rescalesSource: true,
  concurrentCheckpoints: true,
  // Coverage the main job must reach (src/harness/coverage.ts): a commit failing between completion and notify, then a crash before the retry.
  mustReach: ['checkpoint concurrent', 'fault fail-commit @ completed-before-notify', 'fault drop-notify @ completed-before-notify', 'pair fail-commit then crash-task'],
  bugs: [
    { name: 'commit-in-snapshot', description: 'the sink commits in snapshotState instead of on notify-complete', caughtBy: ['committed-implies-completed', 'exactly-once'], jobOptions: { backend: 'fs' } },
    { name: 'restore-aborts-pending', description: 'on restore the sink aborts the pending transactions of the restored checkpoint instead of committing them', caughtBy: ['completed-implies-committed', 'exactly-once'], jobOptions: { backend: 'fs' } },
    { name: 'notify-commits-only-own', description: 'notify-complete(n) commits only the transaction of checkpoint n, stranding older ones', caughtBy: ['completed-implies-committed'], jobOptions: { backend: 'fs' } },
    { name: 'commit-not-idempotent', description: 'commit re-publishes the records, so a commit retried after a restore writes them twice', caughtBy: ['exactly-once'], jobOptions: { backend: 'fs' } },
    { name: 'no-abort-lingering', description: 'after a restore the sink neither aborts the in-flight transaction nor probes for lingering ones: it starts a fresh id range', caughtBy: ['no-lingering-transaction'], jobOptions: { backend: 'fs' } },
    {
      name: 'lost-notify-delivered',
      description: 'a notify-complete the fault plan drops is reported lost but still reaches the sink (the commit-on-restore path is never exercised)',
      caughtBy: ['fault-effects'],
      jobOptions: { backend: 'fs', lostNotifyStillDelivered: true },
    },
    {
      name: 'rescale-drops-operator-state-part',
      description:
        'a restore onto another parallelism drops the last old subtask\'s part of every operator list state: its 2PC entry, pending and open transactions with it ' +
        '(run with a 30 ms interval, so that a rescale restores a checkpoint)',
      caughtBy: ['rescale-state', 'restore-recovers-pending'],
      jobOptions: { backend: 'fs', rescaleDropsOperatorStatePart: true, checkpointIntervalMs: 30 },
    },
    {
      name: 'forget-removed-subtasks',
      description:
        'after a rescale down the 2PC sink recovers only its own state entry: the pending transactions of a removed subtask are never committed ' +
        '(the start-up probe for lingering transactions then aborts them with the rest of its id range) ' +
        '(run with a 30 ms interval, so that a rescale restores a checkpoint)',
      caughtBy: ['restore-recovers-pending'],
      jobOptions: { backend: 'fs', checkpointIntervalMs: 30 },
    },
    {
      name: 'fenced-commit-taken-as-done',
      description: 'a commit fenced by a newer producer is taken as done instead of failing the task, so the prepared transaction a zombie kept is never committed',
      caughtBy: ['completed-implies-committed', 'exactly-once'],
      jobOptions: { backend: 'fs' },
    },
    { name: 'micro-batch-sink', description: 'negative control: a Spark-streaming-style sink that writes each micro-batch when it ends, without two-phase commit', caughtBy: ['exactly-once'], jobOptions: { backend: 'fs' } },
  ],
  // `streamcheck envelope` searches the sink's transaction timeout (with and without KIP-939 prepared transactions).
  transactionTimeouts: { defaultMs: SIM_TRANSACTION_TIMEOUT_MS },
  taskCount: (size) => size.partitions + 2,
  build({ scheduler, env, size, bug, transactionTimeoutMs, preparedTransactions }) {
    const input = oddEvenInput(size.partitions, size.recordsPerPartition);
    const broker = new SimKafkaBroker();
    broker.createTopic(INPUT_TOPIC, size.partitions);
    broker.createTopic(OUTPUT_TOPIC, 2);
    // The input is written before the job starts: each partition's first half in one committed
    // transaction, then records of an aborted transaction (which read_committed must skip,
    // offsets and markers included), then the second half in another committed transaction.
    const loader = broker.initProducerId('input-loader', 60_000, 0);
    const aborter = broker.initProducerId('input-aborter', 60_000, 0);
    const load = (half: 0 | 1): void => {
      input.forEach((numbers, partition) => {
        const cut = Math.floor(numbers.length / 2);
        const records = (half === 0 ? numbers.slice(0, cut) : numbers.slice(cut)).map((n) => ({ key: String(n), value: String(n) }));
        if (records.length > 0) broker.produce('input-loader', loader.producerId, loader.epoch, INPUT_TOPIC, partition, records, 0);
      });
      broker.endTransaction('input-loader', loader.producerId, loader.epoch, true, 0);
    };
    load(0);
    input.forEach((_, partition) => {
      broker.produce('input-aborter', aborter.producerId, aborter.epoch, INPUT_TOPIC, partition, [{ key: 'aborted', value: String(ABORTED_INPUT_VALUE) }], 0);
    });
    broker.endTransaction('input-aborter', aborter.producerId, aborter.epoch, false, 0);
    load(1);
    const clients = new SimKafkaClients(broker, env, transactionTimeoutMs ?? SIM_TRANSACTION_TIMEOUT_MS);
    const spec = oddEvenPipeline(
      'kafka-2pc',
      size.partitions,
      ({ subtaskIndex }) => new KafkaPartitionSource(clients, INPUT_TOPIC, subtaskIndex, (record) => Number(record.value)),
      ({ subtaskIndex }) => {
        const options: KafkaSinkOptions<Keyed<ParityAccumulator>> = {
          clients,
          topic: OUTPUT_TOPIC,
          transactionalIdPrefix: TRANSACTIONAL_ID_PREFIX,
          subtaskIndex,
          partitionOf: (element) => element.key as number,
          serialize: serializeSum,
          ...(preparedTransactions === true ? { preparedTransactions: true } : {}),
        };
        if (bug === 'micro-batch-sink') return new MicroBatchKafkaSink(options);
        if (bug !== undefined && (SINK_BUGS as readonly string[]).includes(bug)) return new BuggyKafkaTwoPhaseCommitSink(options, bug as KafkaSinkBug);
        return new KafkaTwoPhaseCommitSink(options);
      },
    );
    // The sink subtasks come after the sources; a rescale adds or removes some (task names only grow).
    const sinkTasksOf = (observations: RunObservations): number[] => Array.from({ length: observations.taskNames.length - size.partitions }, (_, i) => size.partitions + i);
    const committedOutput = (): { key: string; value: string }[][] =>
      [0, 1].map((partition) => broker.fetch(OUTPUT_TOPIC, partition, 0, 'read_committed').map(({ key, value }) => ({ key, value })));
    return {
      pipeline: spec,
      environmentHooks: {
        failNextCommits: (times) => clients.failNextCommits(times),
        failNextAborts: (times) => clients.failNextAborts(times),
        expireTransactions: () => {
          broker.advanceTimeTo(scheduler.nowMs);
          broker.expireOpenTransactions();
        },
        // A zombie instance of the sink re-registers every open transactional id of the sink,
        // the way this sink registers them: with prepared transactions (KIP-939) it keeps the
        // prepared transaction for a new instance to commit, without them Kafka aborts it.
        fenceTransactions: () => {
          const registration = preparedTransactions === true ? { enableTwoPhaseCommit: true, keepPreparedTxn: true } : {};
          for (const listing of broker.listTransactions()) {
            if (listing.state === 'Ongoing' && listing.transactionalId.startsWith(`${TRANSACTIONAL_ID_PREFIX}-`)) broker.initProducerId(listing.transactionalId, 60_000, scheduler.nowMs, registration);
          }
        },
      },
      judge: (observations) => {
        broker.advanceTimeTo(observations.virtualTimeMs);
        const evidence = { observations, brokerEvents: broker.events, openTransactions: broker.listTransactions(), sinkTasks: sinkTasksOf(observations), transactionalIdPrefix: TRANSACTIONAL_ID_PREFIX };
        return [
          ...checkOddEvenOutputLog(committedOutput(), input),
          ...checkCommittedImpliesCompleted(evidence),
          ...checkCompletedImpliesCommitted(evidence),
          ...checkNoLingeringOrFencedCommit(evidence),
          ...checkRestoreRecoversPending(observations),
        ];
      },
      output: () => {
        const output = committedOutput();
        return {
          committedRecords: output.map((records) => records.length),
          lastValues: output.map((records) => records.at(-1)?.value ?? null),
          failedCommits: clients.failedCommits,
          failedAborts: clients.failedAborts,
        };
      },
    };
  },
};
