import { INPUT_BOUNDS } from '../input-bounds.ts';
import type { SubtaskInfo } from '../../connectors/api.ts';
import type { KafkaClients } from '../../connectors/kafka-api.ts';
import type { RedisClient } from '../../connectors/redis-api.ts';
import { PartitionSourceReader } from '../../connectors/partition-source.ts';
import { SimEnvironment } from '../../connectors/sim/environment.ts';
import type { CheckpointingMode } from '../../runtime/barrier-handler.ts';
import type { Fault } from '../../runtime/faults.ts';
import { DEFAULT_JOB_OPTIONS, JobRuntime } from '../../runtime/job.ts';
import type { RunObservations } from '../../runtime/observations.ts';
import type { StateBackendKind } from '../../runtime/state.ts';
import { ListChoices } from '../../sim/choice.ts';
import { Scheduler } from '../../sim/scheduler.ts';
import { stepBudget } from '../run-case.ts';
import type { BuildContext, BuiltScenario, PlantedBug, ScenarioSize } from '../scenario.ts';
import { generateTestData, testDataLog, type TestRecord } from './test-data.ts';

/** What a suite hands the user's `external` function on every run. */
export interface ExternalContext {
  /** Put your external system under the scheduler here: `env.service(name, model)`. */
  readonly env: SimEnvironment;
  /** The planted bug this run is built with (one of the suite's `bugs`), or undefined. */
  readonly bug: string | undefined;
  readonly size: ScenarioSize;
}

/** What a suite hands the user's `real` function on every end-to-end cycle. */
export interface RealExternalContext {
  /** A new client of the configured Redis (closed by the harness after the cycle). */
  redis(): RedisClient;
  /** Clients of the configured Kafka cluster (closed by the harness after the cycle). */
  kafka(): KafkaClients;
  /** Unique per cycle: prefix every key, topic or table with it. */
  readonly namespace: string;
  readonly bug: string | undefined;
  readonly size: ScenarioSize;
}

/** A buggy variant of the user's connector, selected by name (`streamcheck selftest`, `--bug`). */
export interface SuiteBug {
  readonly name: string;
  readonly description: string;
  /** The properties that must catch it (default: the suite's output property). */
  readonly caughtBy?: readonly string[];
}

/** What every suite takes besides its connector. */
export interface SuiteOptions {
  /** The scenario name in reports and replay tokens: letters, digits, '.', '_' and '-'. */
  readonly name: string;
  readonly description?: string;
  /** Test data: splits, records per split, distinct keys per split (defaults 2, 40, 4). */
  readonly data?: { readonly partitions?: number; readonly recordsPerPartition?: number; readonly keysPerPartition?: number };
  /** Buggy variants of the connector, for `selftest` and for proving the suite catches them. */
  readonly bugs?: readonly SuiteBug[];
  /** Checkpointing modes to explore (default: exactly-once and unaligned). */
  readonly modes?: readonly CheckpointingMode[];
  /** State backends to explore (default: memory and fs). */
  readonly backends?: readonly StateBackendKind[];
  /** Fault kinds generated plans draw from (default: crashes, expired and declined checkpoints, lost notifications). */
  readonly faults?: readonly Fault['kind'][];
  /** Parallelism of the subtasks behind the keyBy (default 2). */
  readonly parallelism?: number;
  /** The module that defines the suite (`import.meta.url`), for replay tokens; inferred from the call site when omitted. */
  readonly module?: string;
}

export const DEFAULT_SUITE_DATA = { partitions: 2, recordsPerPartition: 40, keysPerPartition: 4 } as const;
/** Crashes, checkpoint faults, lost notifications, and faults on the calls to systems put under `env` (failed, timed out, applied with the reply lost). */
/**
 * Generated faults of a suite. Not yet 'rescale': the standard job's keyed last vertex rescales,
 * and so does its source (each built-in suite is tested with both rescaled up and down,
 * test/harness/suites/connector-suites.test.ts,
 * and a user passes `faults` with 'rescale' to generate it), but in the generated mix it changes
 * which counterexample the suites' planted bugs shrink to, and their blame oracles are written
 * for the ones without it.
 */
export const DEFAULT_SUITE_FAULTS: readonly Fault['kind'][] = ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'drop-notify', 'fail-call', 'timeout-call', 'lose-reply'];
export const MAX_SUITE_PARALLELISM = 16;

const NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

/** Validates the options every suite shares; errors name the suite call and the field. */
export function checkSuiteOptions(call: string, options: SuiteOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError(`${call}: expected an options object`);
  if (typeof options.name !== 'string' || !NAME_PATTERN.test(options.name)) {
    throw new TypeError(`${call}: name must be 1-100 letters, digits, '.', '_' or '-', got ${JSON.stringify(options.name)}`);
  }
  const where = `${call}(${options.name})`;
  const data = options.data ?? {};
  // Partitions and records per partition: the bounds of --partitions and --records (input-bounds.ts).
  const sizeBounds = [
    ['partitions', INPUT_BOUNDS.partitions.min, INPUT_BOUNDS.partitions.max],
    ['recordsPerPartition', INPUT_BOUNDS.recordsPerPartition.min, INPUT_BOUNDS.recordsPerPartition.max],
    ['keysPerPartition', 1, 10_000],
  ] as const;
  for (const [field, min, max] of sizeBounds) {
    const value = data[field];
    if (value !== undefined && (!Number.isSafeInteger(value) || value < min || value > max)) {
      throw new TypeError(`${where}: data.${field} must be an integer in [${min}, ${max}], got ${JSON.stringify(value)}`);
    }
  }
  const parallelism = options.parallelism;
  if (parallelism !== undefined && (!Number.isSafeInteger(parallelism) || parallelism < 1 || parallelism > MAX_SUITE_PARALLELISM)) {
    throw new TypeError(`${where}: parallelism must be an integer in [1, ${MAX_SUITE_PARALLELISM}], got ${JSON.stringify(parallelism)}`);
  }
  const names = new Set<string>();
  for (const bug of options.bugs ?? []) {
    if (typeof bug?.name !== 'string' || !NAME_PATTERN.test(bug.name)) throw new TypeError(`${where}: every bug needs a name of letters, digits, '.', '_' or '-'`);
    if (names.has(bug.name)) throw new TypeError(`${where}: bug '${bug.name}' is listed twice`);
    names.add(bug.name);
  }
  for (const mode of options.modes ?? []) {
    if (mode !== 'exactly-once' && mode !== 'unaligned' && mode !== 'at-least-once') throw new TypeError(`${where}: modes must be exactly-once, unaligned or at-least-once, got ${JSON.stringify(mode)}`);
  }
  for (const backend of options.backends ?? []) {
    if (backend !== 'memory' && backend !== 'fs' && backend !== 'rocksdb') throw new TypeError(`${where}: backends must be memory, fs or rocksdb, got ${JSON.stringify(backend)}`);
  }
}

export function suiteSize(options: SuiteOptions): ScenarioSize {
  return {
    partitions: options.data?.partitions ?? DEFAULT_SUITE_DATA.partitions,
    recordsPerPartition: options.data?.recordsPerPartition ?? DEFAULT_SUITE_DATA.recordsPerPartition,
  };
}

export function suiteData(options: SuiteOptions, size: ScenarioSize): TestRecord[][] {
  return generateTestData({ ...size, keysPerPartition: options.data?.keysPerPartition ?? DEFAULT_SUITE_DATA.keysPerPartition });
}

export function plantedBugs(options: SuiteOptions, defaultCaughtBy: readonly string[]): PlantedBug[] {
  return (options.bugs ?? []).map((bug) => ({ name: bug.name, description: bug.description, caughtBy: bug.caughtBy ?? defaultCaughtBy }));
}

/** The suite's own source: split i of the test data, position `test-data-i @ offset`. */
export function testDataSource(data: readonly (readonly TestRecord[])[]): (info: SubtaskInfo) => PartitionSourceReader<TestRecord> {
  const log = testDataLog(data);
  return ({ subtaskIndex }) => new PartitionSourceReader(log, subtaskIndex, 'test-data');
}

/** A fault-free run of the suite's job on the plainest schedule: what the golden-run oracle compares with. */
export async function runFaultFree(build: (context: BuildContext) => BuiltScenario, size: ScenarioSize, bug: string | undefined, what: string): Promise<{ readonly built: BuiltScenario; readonly observations: RunObservations }> {
  const scheduler = new Scheduler({ choices: new ListChoices([]), msPerStep: 1, maxSteps: stepBudget(size), keepTrace: false });
  const env = new SimEnvironment(scheduler);
  const built = build({ scheduler, env, size, bug });
  const job = new JobRuntime(built.pipeline, DEFAULT_JOB_OPTIONS, scheduler, [], { ...env.faultHooks, ...built.environmentHooks });
  const observations = await job.run();
  if (observations.outcome !== 'finished') {
    throw new Error(`${what}: the fault-free run that the output is compared with did not finish (${observations.outcome}: ${observations.failureReason}); the connector fails without any fault`);
  }
  return { built, observations };
}

/** Caches one value per size (golden runs are computed once per suite and size). */
export function perSize<T>(compute: (size: ScenarioSize) => Promise<T>): (size: ScenarioSize) => Promise<T> {
  const cache = new Map<string, Promise<T>>();
  return (size) => {
    const key = `${size.partitions}x${size.recordsPerPartition}`;
    let value = cache.get(key);
    if (value === undefined) {
      value = compute(size);
      cache.set(key, value);
      // A failed computation is not cached: the next run reports the same cause afresh.
      value.catch(() => cache.delete(key));
    }
    return value;
  };
}
