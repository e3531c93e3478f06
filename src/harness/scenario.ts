import type { Scheduler } from '../sim/scheduler.ts';
import type { SimEnvironment } from '../connectors/sim/environment.ts';
import type { EnvironmentFaultHooks, JobOptions } from '../runtime/job.ts';
import type { RunObservations } from '../runtime/observations.ts';
import type { PipelineSpec } from '../runtime/pipeline.ts';
import type { JobGraphSpec } from '../runtime/job-graph.ts';
import type { Fault } from '../runtime/faults.ts';
import type { StateBackendKind } from '../runtime/state.ts';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import type { InputDisorder } from './input-disorder.ts';

/**
 * An error in the user's scenario code while a run is built or judged (a `build`,
 * `external`, `readBack` or `judge` that throws): reported as the user's error, naming the
 * scenario and the call, with exit code 2; never as an internal error of streamcheck.
 */
export class UserCodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UserCodeError';
  }
}

/** By name: a user's module loaded by the CLI may throw its own copy of the class. */
export function isUserCodeError(error: unknown): error is UserCodeError {
  return error instanceof Error && error.name === 'UserCodeError';
}

/** Runs user code, turning what it throws into a UserCodeError that names `where`. */
export function callUserCode<T>(where: string, call: () => T): T {
  try {
    return call();
  } catch (error) {
    if (isUserCodeError(error)) throw error;
    throw new UserCodeError(`${where} threw: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** One broken invariant, in Jepsen's anomaly words where one fits. */
export interface Violation {
  readonly property: string;
  readonly anomaly: string;
  readonly message: string;
}

export interface ScenarioSize {
  readonly partitions: number;
  readonly recordsPerPartition: number;
}

/** A planted bug a scenario can be built with, for `streamcheck selftest`. */
export interface PlantedBug {
  readonly name: string;
  readonly description: string;
  /** The properties that must each catch it on their own. */
  readonly caughtBy: readonly string[];
  /** Job options the bug changes (e.g. the checkpointing mode). */
  readonly jobOptions?: Partial<JobOptions>;
}

export interface BuildContext {
  readonly scheduler: Scheduler;
  /** Puts the scenario's external systems under the scheduler (their faults come with it). */
  readonly env: SimEnvironment;
  readonly size: ScenarioSize;
  /** The planted bug to build in, or undefined for the correct pipeline. */
  readonly bug: string | undefined;
  /** Keys a buffering sink holds before it flushes, when the case sets it (1: every write flushes). */
  readonly sinkBufferKeys?: number;
  /** Records in each partition when the case makes them differ (each at most size.recordsPerPartition); absent: all have size.recordsPerPartition. */
  readonly partitionRecords?: readonly number[];
  /** The external system's transaction timeout, when the case sets it (scenarios with `transactionTimeouts`). */
  readonly transactionTimeoutMs?: number;
  /** KIP-939 prepared transactions for the transactional sink, when the case sets it (scenarios with `transactionTimeouts`). */
  readonly preparedTransactions?: boolean;
  /** The input's disorder when the case draws one (scenarios with `inputDisorder`); absent: the scenario's designed input. */
  readonly disorder?: InputDisorder;
}

export interface BuiltScenario {
  /** The job: a linear pipeline (`pipeline(...)`) or a job graph (`jobGraph(...)`). */
  readonly pipeline: PipelineSpec | JobGraphSpec;
  readonly environmentHooks?: EnvironmentFaultHooks;
  /** The scenario's own invariants over a finished run (exactly-once, consistent cuts, ...). */
  judge(observations: RunObservations): Violation[] | Promise<Violation[]>;
  /** Called when a checkpoint completes (inside the step), e.g. to read back what a reader sees then. */
  onCheckpointCompleted?(checkpointId: number): void;
  /** The external output (sink store, topic contents) for reports. */
  output(): unknown;
}

export interface Scenario {
  readonly name: string;
  readonly description: string;
  readonly defaultSize: ScenarioSize;
  /** Fault kinds generated plans draw from. */
  readonly faultKinds: readonly Fault['kind'][];
  /** State backends the suite runs it with (a 2PC sink needs durable checkpoints to survive a coordinator crash). */
  readonly backends: readonly StateBackendKind[];
  /** Checkpointing modes a suite run explores (default: exactly-once and unaligned). */
  readonly modes?: readonly CheckpointingMode[];
  /** The invariants the scenario's judge checks, for summaries (the runtime's own are always checked). */
  readonly properties?: readonly string[];
  /** Generated cases may run two checkpoints at once (where the mode allows; the default). False: never (the scenario's job cannot take them). */
  readonly concurrentCheckpoints?: boolean;
  /** Generated cases may read one partition more than the size asks (the job must build for any partition count). */
  readonly variablePartitions?: boolean;
  /**
   * Generated 'rescale' faults may rescale the job's source instead of its keyed last vertex
   * (`vertex: 'source'`, its splits reassigned); the source must be able to rescale alone
   * (split-reassignment.ts `rescalableSourceOf`).
   */
  readonly rescalesSource?: boolean;
  /**
   * The scenario's input is timed (event time) and `build` honours `BuildContext.disorder`:
   * generated cases draw records out of order within the bound, records later than it and an
   * idle partition (src/harness/input-disorder.ts), and its model classifies them.
   */
  readonly inputDisorder?: boolean;
  /** Generated cases may shorten partitions (BuildContext.partitionRecords), so an input can end while another is aligning. */
  readonly unequalPartitions?: boolean;
  /**
   * Case settings a fault kind needs, applied to every case whose plan holds that kind and
   * that leaves the setting unset (generated, proved or replayed alike). E.g. a zombie fence
   * of a pre-committed Kafka transaction is survivable only with KIP-939 prepared transactions.
   */
  readonly faultSettings?: Partial<Record<Fault['kind'], { readonly preparedTransactions?: boolean }>>;
  readonly bugs: readonly PlantedBug[];
  /** Coverage points (src/harness/coverage.ts) every main-job run must reach, like "sometimes" assertions: the run fails naming each one never reached. */
  readonly mustReach?: readonly string[];
  /**
   * Rough length of a fault-free run in steps: generated faults fall in [0, this]. Default: from
   * the input size (about 2.5 steps per record); a job that waits on arrival times or writes
   * many records per input (a join) runs longer, and faults placed only early miss most of it.
   */
  typicalRunSteps?(size: ScenarioSize): number;
  /**
   * The scenario's sink writes transactions that an external system times out, and `build`
   * honours `transactionTimeoutMs` and `preparedTransactions`: what `streamcheck envelope` searches.
   */
  readonly transactionTimeouts?: { readonly defaultMs: number };
  /**
   * Job settings the scenario's job runs with, as a Flink job sets them in its configuration
   * (e.g. `autoWatermarkIntervalMs`); the case's mode, backend and sizes, and a planted bug's
   * options, come on top.
   */
  readonly jobOptions?: Partial<JobOptions>;
  /**
   * Set on a negative control: what differs between its runs, and why that is expected, not
   * a bug. The report prints it under the scenario's line.
   */
  readonly negativeControl?: string;
  /** Tasks of the built job, so fault plans can name them before building. */
  taskCount(size: ScenarioSize): number;
  build(context: BuildContext): BuiltScenario;
}
