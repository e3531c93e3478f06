import { randomUUID } from 'node:crypto';
import seedrandom from 'seedrandom';
import { oddEvenInput, expectedTotals } from '../../../model/odd-even-sum.ts';
import { checkExactlyOnceStore, type ParityAccumulator } from '../../../properties/odd-even.ts';
import { checkCommittedImpliesCompleted } from '../../../properties/two-phase-commit.ts';
import { checkOddEvenOutputLog, serializeSum } from '../../../scenarios/kafka-2pc.ts';
import { oddEvenPipeline, oddEvenRedisSink } from '../../../scenarios/odd-even-sum.ts';
import type { KafkaClients, KafkaRecord, TransactionHandle, TransactionalProducer } from '../../connectors/kafka-api.ts';
import { KafkaPartitionSource } from '../../connectors/kafka-source.ts';
import { BuggyKafkaTwoPhaseCommitSink, KafkaTwoPhaseCommitSink, type KafkaSinkOptions } from '../../connectors/kafka-sink.ts';
import { KafkajsClients } from '../../connectors/real/kafka-clients.ts';
import { ioredisClient } from '../../connectors/real/ioredis-client.ts';
import type { BrokerEvent } from '../../connectors/sim/kafka-broker.ts';
import { DEFAULT_JOB_OPTIONS, JobRuntime } from '../../runtime/job.ts';
import type { Fault } from '../../runtime/faults.ts';
import type { Keyed } from '../../runtime/pipeline.ts';
import type { Violation } from '../scenario.ts';
import { FaultProxy } from './fault-proxy.ts';
import { RealTimeDriver, wakingOnSettle } from './real-time-driver.ts';
import type { ServiceEndpoints } from './services/types.ts';
import { EnvironmentUnavailableError, SERVICE_RETRY_POLICY, withServiceRetry, type RetryPolicy, type ServiceName } from './service-faults.ts';
import { kafkaApiVersionsProblem } from './services/kafka-probe.ts';
import { redisAnswersPing } from './services/local.ts';

export type E2eScenario = 'odd-even-sum' | 'kafka-2pc';
export const E2E_SCENARIOS: readonly E2eScenario[] = ['odd-even-sum', 'kafka-2pc'];
export const E2E_BUGS = ['commit-in-snapshot'] as const;

export interface E2eOptions {
  readonly scenario: E2eScenario;
  readonly cycles: number;
  readonly seed: number;
  readonly recordsPerPartition: number;
  readonly bug?: (typeof E2E_BUGS)[number];
  readonly services: ServiceEndpoints;
  readonly log: (line: string) => void;
  /** false: no crash and no failing commit (throughput measurements). Default true. */
  readonly faults?: boolean;
  /** Checked between cycles: true ends the run after the cycle under way (SIGINT/SIGTERM). */
  readonly isStopRequested?: () => boolean;
  /** Called once a cycle's services are in use, with the cycle's number (tests kill services from here). */
  readonly onCycleStarted?: (cycle: number, phase: 'setup' | 'job') => void | Promise<void>;
  /** Retry budget for a service that went away (default SERVICE_RETRY_POLICY: 60 s). */
  readonly serviceRetryPolicy?: RetryPolicy;
}

export interface E2eCycleResult {
  readonly cycle: number;
  readonly recordsIn: number;
  readonly recordsOut: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly crashes: number;
  readonly failedCommits: number;
  /** Connections cut by the proxy (odd-even-sum, every second cycle). */
  readonly connectionsCut: number;
  /** Service calls retried after a transient fault (a reset connection, a broker or Redis that came back). */
  readonly serviceRetries: number;
  readonly restores: number;
  readonly checkpointsCompleted: number;
  readonly outcome: string;
  readonly violations: readonly Violation[];
  readonly wallMs: number;
  /** The job alone (deploy to end, restarts included): wallMs less topic creation, input loading and reading back. */
  readonly jobMs: number;
}

const PARTITIONS = 2;
/** Wall-clock bounds of one cycle: a run that has not finished by then is a reported failure. */
const CYCLE_TIMEOUT_MS = 120_000;
const IDLE_TIMEOUT_MS = 30_000;
const CHECKPOINT_INTERVAL_MS = 150;
/**
 * Records a Kafka sink subtask buffers before it sends them (and always at pre-commit): a
 * transaction carries what a checkpoint interval produces in one produce request per partition,
 * as Flink's Kafka sink does with its batches, instead of a round trip every 64 records. The
 * bound keeps one request's batch (about 50 bytes a record) well under Kafka's default 1 MiB.
 */
const SINK_MAX_BUFFERED_RECORDS = 8_192;
/** Steps before which no fault is placed (the job must have started); faults fall within the next 1.5 steps per record, before the job ends. */
const FIRST_CRASH_STEP = 40;
const CRASH_STEPS_PER_RECORD = 1.5;

/**
 * Runs the odd/even job against real Kafka (and Redis) in real time, one bounded job per
 * cycle on fresh names, each cycle with a crash (and, for kafka-2pc, sometimes failing
 * commits), then reads back the real outputs and judges them with the simulation's checks.
 */
export async function runE2eCycles(options: E2eOptions): Promise<E2eCycleResult[]> {
  if (!Number.isSafeInteger(options.cycles) || options.cycles < 1) throw new Error(`e2e: cycles must be a positive integer, got ${options.cycles}`);
  if (!Number.isSafeInteger(options.recordsPerPartition) || options.recordsPerPartition < 1) {
    throw new Error(`e2e: records per partition must be a positive integer, got ${options.recordsPerPartition}`);
  }
  const results: E2eCycleResult[] = [];
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    if (options.isStopRequested?.() === true) break;
    const judged = results.reduce((sum, r) => sum + r.recordsIn, 0);
    const committed = results.length === 0 ? 'nothing yet (no cycle finished)' : `${results.length} cycle(s) finished and judged (${judged} records in, ${results.reduce((sum, r) => sum + r.lost, 0)} lost, ${results.reduce((sum, r) => sum + r.duplicated, 0)} duplicated); cycle ${cycle + 1}'s partial output is not judged`;
    const result = await runCycle(options, cycle, committed);
    options.log(
      `cycle ${cycle + 1}/${options.cycles}: ${result.outcome}, in ${result.recordsIn}, out ${result.recordsOut}, lost ${result.lost}, duplicated ${result.duplicated}, ` +
        `crashes ${result.crashes}, failed commits ${result.failedCommits}, connections cut ${result.connectionsCut}, checkpoints ${result.checkpointsCompleted}, ${(result.wallMs / 1000).toFixed(1)} s` +
        (result.violations.length > 0 ? `; ${result.violations.map((v) => `${v.property}/${v.anomaly}: ${v.message}`).slice(0, 3).join('; ')}` : ''),
    );
    results.push(result);
  }
  return results;
}

async function runCycle(options: E2eOptions, cycle: number, committed: string): Promise<E2eCycleResult> {
  const startedMs = Date.now();
  const random = seedrandom.alea(`${options.seed}/${cycle}`);
  const prefix = `sc-${options.scenario}-${randomUUID().slice(0, 8)}`;
  const input = oddEvenInput(PARTITIONS, options.recordsPerPartition);
  const kafkaAddress = options.services.kafkaBrokers.join(',');
  const clients = new KafkajsClients({ brokers: [...options.services.kafkaBrokers], retrySeed: `${options.seed}/${cycle}` });
  // Every second odd-even-sum cycle reaches Redis through a proxy whose connections get cut.
  const proxy = options.scenario === 'odd-even-sum' && options.faults !== false && cycle % 2 === 1 ? await FaultProxy.inFrontOf(options.services.redisUrl) : undefined;
  // Messages name the configured Redis, not the proxy's port.
  const redis = options.scenario === 'odd-even-sum' ? ioredisClient(proxy === undefined ? options.services.redisUrl : proxy.rewriteUrl(options.services.redisUrl), options.services.redisUrl) : undefined;
  const driver = new RealTimeDriver({ seed: options.seed + cycle, timeoutMs: CYCLE_TIMEOUT_MS, idleTimeoutMs: IDLE_TIMEOUT_MS, keepTrace: false });
  // The job's connectors wake the driver as their calls settle, so it never sleeps past one.
  const wake = (): void => driver.wake();
  const recording = new RecordingKafkaClients(clients, () => driver.nowMs, wake);
  const jobClients = wakingOnSettle(clients, wake);
  let serviceRetries = 0;
  const step = `cycle ${cycle + 1}/${options.cycles}`;
  /** One service call of this cycle outside the job, retried while the service is away, named when it stays away. */
  const withRetry = <T>(service: ServiceName, doing: string, operation: () => Promise<T>): Promise<T> =>
    withServiceRetry({ service, address: service === 'Kafka' ? kafkaAddress : options.services.redisUrl, doing: `${step}: ${doing}`, committed }, operation, {
      seed: `${options.seed}/${cycle}/${doing}`,
      ...(options.serviceRetryPolicy === undefined ? {} : { policy: options.serviceRetryPolicy }),
      onRetry: (error, pauseMs) => {
        serviceRetries++;
        options.log(`${step}: ${service} call failed while ${doing} (${(error as Error).message.split('\n')[0]}); retrying in ${pauseMs} ms`);
      },
    });
  try {
    await options.onCycleStarted?.(cycle, 'setup');
    const inputTopic = `${prefix}-in`;
    const outputTopic = `${prefix}-out`;
    // Both topics at once: each creation waits for the controller, and a cycle should take as little besides its job as it can.
    await Promise.all([
      withRetry('Kafka', `creating topic ${inputTopic}`, () => clients.createTopic(inputTopic, PARTITIONS)),
      options.scenario === 'kafka-2pc' ? withRetry('Kafka', `creating topic ${outputTopic}`, () => clients.createTopic(outputTopic, 2)) : undefined,
    ]);
    await withRetry('Kafka', `loading ${input.flat().length} input records into ${inputTopic}`, () => loadInput(clients, inputTopic, `${prefix}-loader`, input));
    // The client connects on its first command: connect through the proxy before the job, so
    // the cut-connections fault finds a connection to cut however soon the job reaches it.
    if (proxy !== undefined) await withRetry('Redis', 'connecting through the fault proxy', () => redis!.get(`${prefix}:connect`));
    const spec = oddEvenPipeline(
      `${options.scenario}-e2e`,
      PARTITIONS,
      ({ subtaskIndex }) => new KafkaPartitionSource(jobClients, inputTopic, subtaskIndex, (record) => Number(record.value)),
      ({ subtaskIndex }) => {
        if (redis !== undefined) return oddEvenRedisSink(wakingOnSettle(redis, wake), prefix);
        const sinkOptions: KafkaSinkOptions<Keyed<ParityAccumulator>> = {
          clients: recording,
          topic: outputTopic,
          transactionalIdPrefix: `${prefix}-sink`,
          subtaskIndex,
          partitionOf: (element) => element.key as number,
          serialize: serializeSum,
          maxBufferedRecords: SINK_MAX_BUFFERED_RECORDS,
        };
        return options.bug === 'commit-in-snapshot' ? new BuggyKafkaTwoPhaseCommitSink(sinkOptions, 'commit-in-snapshot') : new KafkaTwoPhaseCommitSink(sinkOptions);
      },
    );
    const tasks = PARTITIONS + 2;
    const faultStepSpan = Math.max(1, Math.floor(CRASH_STEPS_PER_RECORD * input.flat().length));
    const faults: Fault[] = options.faults === false ? [] : [{ kind: 'crash-task', atStep: FIRST_CRASH_STEP + Math.floor(random() * faultStepSpan), task: Math.floor(random() * tasks) }];
    if (proxy !== undefined) faults.push({ kind: 'cut-connections', atStep: FIRST_CRASH_STEP + Math.floor(random() * faultStepSpan) });
    if (options.faults !== false && options.scenario === 'kafka-2pc' && cycle % 2 === 1) faults.push({ kind: 'fail-commit', atStep: FIRST_CRASH_STEP + Math.floor(random() * faultStepSpan), times: 1 });
    faults.sort((a, b) => a.atStep - b.atStep);
    const job = new JobRuntime(
      spec,
      // Restarts are how the job rides out a service that goes away (Flink's restart strategy):
      // enough of them, far enough apart, to outlast the retry budget of a broker restart.
      { ...DEFAULT_JOB_OPTIONS, backend: 'fs', checkpointIntervalMs: CHECKPOINT_INTERVAL_MS, checkpointTimeoutMs: 30_000, restartDelayMs: JOB_RESTART_DELAY_MS, maxRestarts: jobMaxRestarts(options.serviceRetryPolicy ?? SERVICE_RETRY_POLICY) },
      driver,
      faults,
      { failNextCommits: (times) => recording.failNextCommits(times), ...(proxy === undefined ? {} : { cutConnections: () => proxy.cut() }) },
    );
    await options.onCycleStarted?.(cycle, 'job');
    const jobStartedMs = performance.now();
    const observations = await job.run();
    const jobMs = performance.now() - jobStartedMs;
    const violations: Violation[] = [];
    if (observations.outcome !== 'finished') {
      // A job that gave up because a service is gone is an unavailable environment, not a violated invariant.
      const down = await firstServiceDown(options.services, redis === undefined ? ['Kafka'] : ['Kafka', 'Redis']);
      if (down !== undefined) {
        throw new EnvironmentUnavailableError(
          `${down.service} at ${down.address} unavailable while ${step}: running the job (it ${observations.outcome} after ${observations.restores.length - 1} restart(s): ${observations.failureReason ?? 'no reason recorded'}); ${down.service} ${down.problem}; already committed: ${committed}`,
          down.service,
          down.address,
        );
      }
      violations.push({ property: 'liveness', anomaly: observations.outcome, message: observations.failureReason });
    }

    let recordsOut = 0;
    let lost = 0;
    let duplicated = 0;
    if (redis !== undefined) {
      const store = await withRetry('Redis', 'reading back the output', async () => {
        const keys = await redis.keys(`${prefix}:*`);
        const values: Record<string, string> = {};
        for (const key of keys) values[key] = (await redis.get(key)) ?? '';
        return values;
      });
      const keys = Object.keys(store);
      violations.push(...checkExactlyOnceStore(store, input, prefix));
      const totals = expectedTotals(input);
      for (const parity of ['even', 'odd'] as const) {
        const counted = Number(store[`${prefix}:${parity}:count`] ?? 0);
        recordsOut += counted;
        lost += Math.max(0, totals[parity].count - counted);
        duplicated += Math.max(0, counted - totals[parity].count);
      }
      await withRetry('Redis', 'deleting the cycle\'s keys', () => redis.del(...keys)); // each cycle's keys are its own; leave none behind
    } else {
      const output = await withRetry('Kafka', `reading back ${outputTopic}`, () => Promise.all([0, 1].map((partition) => clients.read(outputTopic, partition, 0, 'read_committed'))));
      const records = output.map((partition) => partition.map(({ key, value }) => ({ key, value })));
      violations.push(...checkOddEvenOutputLog(records, input));
      violations.push(...checkCommittedImpliesCompleted({ observations, brokerEvents: recording.events, openTransactions: [], sinkTasks: [PARTITIONS, PARTITIONS + 1], transactionalIdPrefix: `${prefix}-sink` }));
      const seen = new Map<number, number>();
      for (const record of records.flat()) {
        const last = (JSON.parse(record.value) as ParityAccumulator).last;
        seen.set(last, (seen.get(last) ?? 0) + 1);
      }
      recordsOut = records.flat().length;
      lost = input.flat().filter((n) => !seen.has(n)).length;
      duplicated = [...seen.values()].reduce((sum, times) => sum + times - 1, 0);
    }
    return {
      cycle,
      recordsIn: input.flat().length,
      recordsOut,
      lost,
      duplicated,
      crashes: observations.faults.filter((f) => f.kind === 'crash-task' || f.kind === 'crash-job').length,
      connectionsCut: proxy?.cutConnections ?? 0,
      serviceRetries,
      failedCommits: recording.failedCommits,
      restores: observations.restores.length - 1,
      checkpointsCompleted: observations.checkpoints.filter((c) => c.outcome === 'completed').length,
      outcome: observations.outcome,
      violations,
      wallMs: Date.now() - startedMs,
      jobMs,
    };
  } finally {
    await recording.close();
    await clients.close();
    await redis?.close();
    await proxy?.close();
  }
}

/**
 * Loads the input in one transaction, idempotently: a retry after a broker fault first reads
 * what is committed, so an ambiguous commit (done on the broker, answer lost) is not loaded
 * twice; an open transaction of an earlier attempt is aborted by initTransactions (same id).
 */
async function loadInput(clients: KafkajsClients, topic: string, transactionalId: string, input: readonly (readonly number[])[]): Promise<void> {
  const committedCounts = await Promise.all(input.map((_, partition) => clients.read(topic, partition, 0, 'read_committed').then((records) => records.length)));
  if (committedCounts.every((count, partition) => count === input[partition]!.length)) return;
  if (committedCounts.some((count) => count !== 0)) {
    throw new Error(`e2e: input topic ${topic} holds a partial load (${committedCounts.join(', ')} records per partition); a transactional load cannot do that`);
  }
  const loader = clients.producer(transactionalId);
  try {
    await loader.initTransactions();
    loader.beginTransaction();
    for (const [partition, numbers] of input.entries()) await loader.send(topic, partition, numbers.map((n) => ({ key: String(n), value: String(n) })));
    await loader.commitTransaction();
  } finally {
    await loader.close();
  }
}

/**
 * Wall-clock pause between job restarts: short, so a crash/restart cycle costs little besides
 * the recovery itself.
 */
const JOB_RESTART_DELAY_MS = 100;
/**
 * Restarts allowed: one per this much of a service's retry budget (at least the job default).
 * Not one per restart delay: a restart while a service is away also waits out its calls'
 * timeouts, so that many restarts would outlast the budget many times over and a service gone
 * for good would be named only after the cycle's wall-clock bound.
 */
const RETRY_BUDGET_MS_PER_RESTART = 500;
function jobMaxRestarts(policy: RetryPolicy): number {
  return Math.max(DEFAULT_JOB_OPTIONS.maxRestarts, Math.ceil(policy.budgetMs / RETRY_BUDGET_MS_PER_RESTART));
}

/** The first configured service that does not answer (Redis PING, Kafka ApiVersions), with what is wrong. */
async function firstServiceDown(services: ServiceEndpoints, which: readonly ServiceName[]): Promise<{ service: ServiceName; address: string; problem: string } | undefined> {
  for (const service of which) {
    if (service === 'Redis') {
      if (!(await redisAnswersPing(services.redisUrl, SERVICE_PROBE_TIMEOUT_MS))) return { service, address: services.redisUrl, problem: `does not answer PING within ${SERVICE_PROBE_TIMEOUT_MS} ms` };
    } else {
      const answers = await Promise.all(services.kafkaBrokers.map((broker) => kafkaApiVersionsProblem(broker, SERVICE_PROBE_TIMEOUT_MS)));
      if (answers.every((problem) => problem !== undefined)) return { service, address: services.kafkaBrokers.join(','), problem: answers.join('; ') };
    }
  }
  return undefined;
}

const SERVICE_PROBE_TIMEOUT_MS = 3_000;

/**
 * KafkaClients that log every successful commit with its time on the run's clock (the
 * client-side view of the broker's transaction log), count records per transaction, and
 * fail the next k commits on request (the fail-commit fault) before they reach the broker.
 */
class RecordingKafkaClients implements KafkaClients {
  readonly events: BrokerEvent[] = [];
  failedCommits = 0;
  private commitsToFail = 0;
  private readonly recordsByTransactionalId = new Map<string, number>();

  constructor(
    private readonly inner: KafkaClients,
    private readonly nowMs: () => number,
    /** Called as each producer call settles (RealTimeDriver.wake). */
    private readonly wake: () => void,
  ) {}

  failNextCommits(times: number): void {
    this.commitsToFail += times;
  }

  producer(transactionalId: string): TransactionalProducer {
    return this.wrap(this.inner.producer(transactionalId), transactionalId);
  }

  resumeTransaction(handle: TransactionHandle): TransactionalProducer {
    return this.wrap(this.inner.resumeTransaction(handle), handle.transactionalId);
  }

  read(...args: Parameters<KafkaClients['read']>): ReturnType<KafkaClients['read']> {
    return this.inner.read(...args);
  }

  createTopic(topic: string, partitions: number): Promise<void> {
    return this.inner.createTopic(topic, partitions);
  }

  async close(): Promise<void> {
    // The wrapped clients are closed by their owner.
  }

  private wrap(producer: TransactionalProducer, transactionalId: string): TransactionalProducer {
    const clients = this;
    return wakingOnSettle<TransactionalProducer>({
      initTransactions: () => producer.initTransactions(),
      beginTransaction: () => producer.beginTransaction(),
      send: async (topic: string, partition: number, records: readonly KafkaRecord[]) => {
        await producer.send(topic, partition, records);
        clients.recordsByTransactionalId.set(transactionalId, (clients.recordsByTransactionalId.get(transactionalId) ?? 0) + records.length);
      },
      flush: () => producer.flush(),
      commitTransaction: async () => {
        if (clients.commitsToFail > 0) {
          clients.commitsToFail--;
          clients.failedCommits++;
          throw new Error(`commit of ${transactionalId} failed: connection to the transaction coordinator lost (fault plan)`);
        }
        await producer.commitTransaction();
        const handle = producer.handle();
        clients.events.push({ kind: 'commit', transactionalId, producerId: handle.producerId, epoch: handle.epoch, records: clients.recordsByTransactionalId.get(transactionalId) ?? 0, atMs: clients.nowMs() });
      },
      abortTransaction: () => producer.abortTransaction(),
      handle: () => producer.handle(),
      close: () => producer.close(),
    }, this.wake);
  }
}
