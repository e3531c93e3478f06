import { randomUUID } from 'node:crypto';
import seedrandom from 'seedrandom';
import type { KafkaClients } from '../../connectors/kafka-api.ts';
import type { RedisClient } from '../../connectors/redis-api.ts';
import type { Fault } from '../../runtime/faults.ts';
import { DEFAULT_JOB_OPTIONS, JobRuntime } from '../../runtime/job.ts';
import { callUserCode, UserCodeError, type Scenario, type ScenarioSize, type Violation } from '../scenario.ts';
import { sinkSuiteInternals } from '../suites/sink-suite.ts';
import { LOST_WRITE } from '../run-case.ts';
import { FaultProxy } from './fault-proxy.ts';
import { RealTimeDriver } from './real-time-driver.ts';
import type { ServiceEndpoints } from './services/types.ts';

export interface SuiteOnServicesOptions {
  readonly services: ServiceEndpoints;
  readonly cycles: number;
  /** Places each cycle's faults: the same seed gives the same fault placement. */
  readonly seed: number;
  readonly bug?: string;
  readonly size?: Partial<ScenarioSize>;
  readonly log?: (line: string) => void;
}

export interface SuiteCycleResult {
  readonly cycle: number;
  /** Reproduces this cycle's fault placement: `--seed <seed>` with `--cycles <cycle + 1>`. */
  readonly seed: number;
  readonly recordsIn: number;
  /** Keys the system held at the end. */
  readonly keysHeld: number;
  /** Keys whose writes were lost (a lost-write violation each). */
  readonly lost: number;
  /** Values written more often than a fault-free run writes them. */
  readonly duplicated: number;
  readonly crashes: number;
  readonly connectionsCut: number;
  readonly checkpointsCompleted: number;
  readonly outcome: string;
  readonly violations: readonly Violation[];
  readonly wallMs: number;
}

/** Wall-clock bounds of one cycle: a run that has not finished by then is a reported failure. */
const CYCLE_TIMEOUT_MS = 120_000;
const IDLE_TIMEOUT_MS = 30_000;
// Real cycles run as fast as the services answer: a short interval makes several checkpoints complete mid-run.
const CHECKPOINT_INTERVAL_MS = 2;
/** Records per split in a real cycle unless the caller says otherwise: enough for several checkpoints before the end. */
export const DEFAULT_REAL_RECORDS_PER_PARTITION = 400;
const FIRST_FAULT_STEP = 40;
const FAULT_STEPS_PER_RECORD = 1.5;
export const MAX_SUITE_CYCLES = 10_000;

/**
 * Runs a connector suite's standard job against real services: one bounded job per cycle on
 * a fresh namespace, with a crash at a seeded step and, every second cycle, the Redis
 * connections cut by a TCP proxy; the output is read back through the suite's `real`
 * read-back and judged by the same oracles as in simulation (against the simulation's
 * fault-free run of the same connector).
 */
export async function runSuiteOnServices(suite: Scenario, options: SuiteOnServicesOptions): Promise<SuiteCycleResult[]> {
  const internals = sinkSuiteInternals(suite);
  if (internals === undefined) throw new UserCodeError(`runSuiteOnServices: '${suite.name}' is not a sink suite (sinkSuite or twoPhaseCommitSinkSuite)`);
  if (internals.real === undefined) throw new UserCodeError(`runSuiteOnServices: suite '${suite.name}' has no 'real' function: say how to create the sink against real services`);
  if (!Number.isSafeInteger(options.cycles) || options.cycles < 1 || options.cycles > MAX_SUITE_CYCLES) {
    throw new RangeError(`runSuiteOnServices: cycles must be an integer in [1, ${MAX_SUITE_CYCLES}], got ${options.cycles}`);
  }
  if (options.bug !== undefined && !suite.bugs.some((bug) => bug.name === options.bug)) {
    throw new UserCodeError(`runSuiteOnServices: suite '${suite.name}' has no planted bug '${options.bug}'`);
  }
  const results: SuiteCycleResult[] = [];
  for (let cycle = 0; cycle < options.cycles; cycle++) {
    const result = await runCycle(suite, internals, options, cycle);
    options.log?.(
      `cycle ${cycle + 1}/${options.cycles}: ${result.outcome}, records in ${result.recordsIn}, keys held ${result.keysHeld}, lost ${result.lost}, duplicated ${result.duplicated}, ` +
        `crashes ${result.crashes}, connections cut ${result.connectionsCut}, checkpoints ${result.checkpointsCompleted}, ${(result.wallMs / 1000).toFixed(1)} s` +
        (result.violations.length > 0 ? `; ${result.violations.slice(0, 3).map((v) => `${v.property}/${v.anomaly}: ${v.message}`).join('; ')} (fault placement: --seed ${options.seed}, cycle ${cycle + 1})` : ''),
    );
    results.push(result);
  }
  return results;
}

async function runCycle(suite: Scenario, internals: NonNullable<ReturnType<typeof sinkSuiteInternals>>, options: SuiteOnServicesOptions, cycle: number): Promise<SuiteCycleResult> {
  const startedMs = Date.now();
  const random = seedrandom.alea(`${options.seed}/${cycle}`);
  const size = { ...suite.defaultSize, recordsPerPartition: DEFAULT_REAL_RECORDS_PER_PARTITION, ...options.size };
  const namespace = `sc-${suite.name}-${randomUUID().slice(0, 8)}`;
  const proxy = cycle % 2 === 1 ? await FaultProxy.inFrontOf(options.services.redisUrl) : undefined;
  const redisUrl = proxy === undefined ? options.services.redisUrl : proxy.rewriteUrl(options.services.redisUrl);
  const { ioredisClient } = await import('../../connectors/real/ioredis-client.ts');
  const opened: (RedisClient & { close(): Promise<void> })[] = [];
  let kafka: (KafkaClients & { close(): Promise<void> }) | undefined;
  // kafkajs is an optional dependency: only a suite that asks for Kafka needs it.
  const kafkaModule = await import('../../connectors/real/kafka-clients.ts').catch((error: unknown) => (error instanceof Error ? error : new Error(String(error))));
  try {
    const system = await callUserCode(`${suite.name}: real()`, () =>
      internals.real!({
        redis: (): RedisClient => {
          // Messages name the configured Redis, not the proxy's port.
          const client = ioredisClient(redisUrl, options.services.redisUrl);
          opened.push(client);
          return client;
        },
        kafka: (): KafkaClients => {
          if (kafkaModule instanceof Error) throw new UserCodeError(`${suite.name}: real(): kafka() needs the Kafka client (npm install kafkajs): ${kafkaModule.message}`);
          kafka ??= new kafkaModule.KafkajsClients({ brokers: [...options.services.kafkaBrokers] });
          return kafka;
        },
        namespace,
        bug: options.bug,
        size,
      }),
    );
    // Clients connect on their first command: connect the ones the suite opened through the fault
    // proxy before the job, so the cut-connections fault finds a connection to cut however soon
    // the job reaches it (a fast job used to finish its writes before any was open).
    if (proxy !== undefined) for (const client of opened) await client.get(`${namespace}:connect`);
    const run = internals.sinkRun(system, size, options.bug);
    const driver = new RealTimeDriver({ seed: options.seed + cycle, timeoutMs: CYCLE_TIMEOUT_MS, idleTimeoutMs: IDLE_TIMEOUT_MS, keepTrace: false });
    const records = run.data.reduce((total, split) => total + split.length, 0);
    const tasks = suite.taskCount(size);
    const span = Math.max(1, Math.floor(FAULT_STEPS_PER_RECORD * records));
    const faults: Fault[] = [{ kind: 'crash-task', atStep: FIRST_FAULT_STEP + Math.floor(random() * span), task: Math.floor(random() * tasks) }];
    if (proxy !== undefined) faults.push({ kind: 'cut-connections', atStep: FIRST_FAULT_STEP + Math.floor(random() * span) });
    faults.sort((a, b) => a.atStep - b.atStep);
    const job = new JobRuntime(
      run.pipeline,
      { ...DEFAULT_JOB_OPTIONS, backend: 'fs', checkpointIntervalMs: CHECKPOINT_INTERVAL_MS, checkpointTimeoutMs: 30_000, restartDelayMs: 100 },
      driver,
      faults,
      proxy === undefined ? {} : { cutConnections: () => proxy.cut() },
    );
    if (run.onCheckpointCompleted !== undefined) job.onCheckpointCompleted = run.onCheckpointCompleted;
    const observations = await job.run();
    const violations: Violation[] = [];
    if (observations.outcome !== 'finished') violations.push({ property: 'liveness', anomaly: observations.outcome, message: observations.failureReason });
    // What the job did write is judged even when it did not finish: a liveness failure must not hide a duplicate.
    const judged = await run.judgeWithDuplicates(observations);
    violations.push(...(observations.outcome === 'finished' ? judged.violations : judged.violations.filter((v) => v.anomaly !== LOST_WRITE)));
    return {
      cycle,
      seed: options.seed,
      recordsIn: records,
      keysHeld: judged.keysHeld,
      lost: judged.violations.filter((v) => v.anomaly === LOST_WRITE).length,
      duplicated: judged.duplicates + judged.violations.filter((v) => v.anomaly === 'duplicate').length,
      crashes: observations.faults.filter((f) => f.kind === 'crash-task' || f.kind === 'crash-job').length,
      connectionsCut: proxy?.cutConnections ?? 0,
      checkpointsCompleted: observations.checkpoints.filter((c) => c.outcome === 'completed').length,
      outcome: observations.outcome,
      violations,
      wallMs: Date.now() - startedMs,
    };
  } finally {
    // Each cycle's keys are its own: leave none behind.
    const cleaner = ioredisClient(options.services.redisUrl);
    await cleaner
      .keys(`${namespace}*`)
      .then((keys) => (keys.length === 0 ? 0 : cleaner.del(...keys)))
      .catch(() => undefined);
    await cleaner.close();
    for (const client of opened) await client.close().catch(() => undefined);
    await kafka?.close().catch(() => undefined);
    await proxy?.close();
  }
}
