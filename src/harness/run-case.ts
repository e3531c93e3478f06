import { ListChoices, RandomChoices, type ChoiceSource } from '../sim/choice.ts';
import { Scheduler } from '../sim/scheduler.ts';
import { SimEnvironment } from '../connectors/sim/environment.ts';
import type { TraceEntry } from '../sim/trace.ts';
import { DEFAULT_JOB_OPTIONS, JobRuntime, type JobOptions } from '../runtime/job.ts';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import { parseFaultPlan, type FaultPlan } from '../runtime/faults.ts';
import type { RunObservations } from '../runtime/observations.ts';
import type { StateBackendKind } from '../runtime/state.ts';
import { checkBarrierAlignment } from '../../properties/alignment.ts';
import { checkLiveness } from '../../properties/liveness.ts';
import { checkCheckpointProgress } from '../../properties/progress.ts';
import { checkRestoreChoice } from '../../properties/restore-choice.ts';
import { checkStateRestore } from '../../properties/state-restore.ts';
import { checkFaultEffects } from '../../properties/fault-effects.ts';
import { checkModeSemantics } from '../../properties/mode-semantics.ts';
import { checkFlowControl } from '../../properties/flow-control.ts';
import { checkRescaleState } from '../../properties/rescale.ts';
import type { Scenario, ScenarioSize, Violation } from './scenario.ts';
import { checkPartitionRecords } from './input-bounds.ts';
import type { InputDisorder } from './input-disorder.ts';

/** The exactly-once anomaly that an unfinished run cannot be judged for. */
export const LOST_WRITE = 'lost write';

/** How a run's interleaving is chosen: a seed (random exploration) or a shrinkable choice list. */
export type Schedule =
  | { readonly kind: 'seed'; readonly seed: number }
  | { readonly kind: 'choices'; readonly choices: readonly number[]; readonly tailSeed: number | null };

/** Everything that determines a run. Same case => same trace. */
export interface CaseSpec {
  readonly scenario: string;
  readonly size: ScenarioSize;
  readonly mode: CheckpointingMode;
  readonly backend: StateBackendKind;
  readonly bug: string | undefined;
  readonly faults: FaultPlan;
  readonly schedule: Schedule;
  /** Checkpoints that may be in flight at once (default 1). */
  readonly maxConcurrentCheckpoints?: number;
  /** Virtual ms between checkpoint triggers (default 100). */
  readonly checkpointIntervalMs?: number;
  /** Virtual ms a checkpoint may take before it expires (the job's default when absent). */
  readonly checkpointTimeoutMs?: number;
  /** Bounded queues of this many elements per channel instead of credit-based flow control (absent: Flink's buffers, see JobOptions). */
  readonly channelCapacity?: number;
  /** Keys a buffering sink holds before it flushes (the scenario's default when absent). */
  readonly sinkBufferKeys?: number;
  /** Records in each partition when they differ (each at most size.recordsPerPartition): an input can then end while another is aligning. */
  readonly partitionRecords?: readonly number[];
  /** Virtual ms between a failure and the restart (the job's default when absent). */
  readonly restartDelayMs?: number;
  /** The external system's transaction timeout (the scenario's default when absent; `transactionTimeouts` scenarios only). */
  readonly transactionTimeoutMs?: number;
  /** KIP-939 prepared transactions in the transactional sink (`transactionTimeouts` scenarios only). */
  readonly preparedTransactions?: boolean;
  /** Aligned mode: virtual ms an alignment may take before the task switches the checkpoint to unaligned (Flink's aligned-checkpoint-timeout; absent: never). */
  readonly alignedCheckpointTimeoutMs?: number;
  /** The input's disorder (scenarios with `inputDisorder` only; absent: the scenario's designed input). */
  readonly disorder?: InputDisorder;
  /** A user scenario's module, relative to the project root (posix separators): how a replay finds it again. */
  readonly module?: string;
  /** Tasks of the job when the case was made: a replay refuses a module that builds a different job today. */
  readonly tasks?: number;
}

export interface CaseResult {
  readonly spec: CaseSpec;
  readonly observations: RunObservations;
  readonly violations: Violation[];
  readonly output: unknown;
  readonly trace: readonly TraceEntry[];
  readonly maxSteps: number;
  /** The options the job ran with (a planted bug may change the mode). */
  readonly jobOptions: JobOptions;
}

export function choiceSourceOf(schedule: Schedule): ChoiceSource {
  if (schedule.kind === 'seed') return new RandomChoices(schedule.seed);
  return new ListChoices(schedule.choices, schedule.tailSeed === null ? undefined : new RandomChoices(schedule.tailSeed));
}

/** A generous bound on steps: a run that has not ended by then is reported as not live. */
export function stepBudget(size: ScenarioSize): number {
  return 60 * size.partitions * size.recordsPerPartition + 20_000;
}

/** Rough length of a fault-free run in steps, used to place generated faults. */
export function typicalRunSteps(size: ScenarioSize): number {
  return Math.ceil(2.5 * size.partitions * size.recordsPerPartition) + 40;
}

export function jobOptionsFor(scenario: Scenario, spec: CaseSpec): JobOptions {
  const bug = spec.bug === undefined ? undefined : scenario.bugs.find((candidate) => candidate.name === spec.bug);
  if (spec.bug !== undefined && bug === undefined) {
    throw new Error(`scenario ${scenario.name} has no planted bug '${spec.bug}'; known: ${scenario.bugs.map((b) => b.name).join(', ')}`);
  }
  // Bounded queues drawn for the case give way to a scenario's or a planted bug's credit-based buffers (the two exclude each other).
  const creditSettings = { ...scenario.jobOptions, ...bug?.jobOptions };
  const credit = creditSettings.exclusiveBuffersPerChannel !== undefined || creditSettings.floatingBuffersPerGate !== undefined || creditSettings.outputBuffersPerChannel !== undefined;
  return { ...DEFAULT_JOB_OPTIONS, ...scenario.jobOptions, mode: spec.mode, backend: spec.backend, maxConcurrentCheckpoints: spec.maxConcurrentCheckpoints ?? 1,
    checkpointIntervalMs: spec.checkpointIntervalMs ?? DEFAULT_JOB_OPTIONS.checkpointIntervalMs,
    checkpointTimeoutMs: spec.checkpointTimeoutMs ?? DEFAULT_JOB_OPTIONS.checkpointTimeoutMs,
    ...(spec.channelCapacity === undefined || credit ? {} : { channelCapacity: spec.channelCapacity }),
    restartDelayMs: spec.restartDelayMs ?? DEFAULT_JOB_OPTIONS.restartDelayMs,
    ...(spec.alignedCheckpointTimeoutMs === undefined ? {} : { alignedCheckpointTimeoutMs: spec.alignedCheckpointTimeoutMs }),
    ...bug?.jobOptions,
  };
}

/** Runs one case on the simulation and judges it with every invariant that applies. */
export async function runCase(
  scenario: Scenario,
  spec: CaseSpec,
  /** choiceSource: decides instead of the case's schedule (prove records the options of every step); the case must describe the same run. */
  options: {
    readonly keepTrace?: boolean;
    readonly choiceSource?: ChoiceSource;
    /** Called once the job is built, before it runs: prove reads the scheduler's options and hashes the state at each step. */
    readonly onStart?: (running: { readonly scheduler: Scheduler; readonly job: JobRuntime; readonly env: SimEnvironment }) => void;
  } = {},
): Promise<CaseResult> {
  if (spec.scenario !== scenario.name) throw new Error(`runCase: case is for ${spec.scenario}, not ${scenario.name}`);
  const faults = parseFaultPlan(spec.faults, scenario.taskCount(spec.size), 'runCase');
  const maxSteps = stepBudget(spec.size);
  const scheduler = new Scheduler({ choices: options.choiceSource ?? choiceSourceOf(spec.schedule), msPerStep: 1, maxSteps, keepTrace: options.keepTrace ?? false });
  const env = new SimEnvironment(scheduler);
  if (spec.partitionRecords !== undefined) checkPartitionRecords(spec.partitionRecords, spec.size, 'runCase: partitionRecords');
  // A fault kind may need a setting (Scenario.faultSettings); the case's own setting wins.
  const preparedTransactions = spec.preparedTransactions ?? faults.map((fault) => scenario.faultSettings?.[fault.kind]?.preparedTransactions).find((setting) => setting !== undefined);
  if ((spec.transactionTimeoutMs !== undefined || spec.preparedTransactions !== undefined) && scenario.transactionTimeouts === undefined) {
    throw new Error(`runCase: scenario ${scenario.name} has no transaction timeout to set (transactionTimeoutMs, preparedTransactions)`);
  }
  if (spec.disorder !== undefined && scenario.inputDisorder !== true) throw new Error(`runCase: scenario ${scenario.name} takes no input disorder (its input is not timed)`);
  const built = scenario.build({
    scheduler,
    env,
    size: spec.size,
    bug: spec.bug,
    ...(spec.sinkBufferKeys === undefined ? {} : { sinkBufferKeys: spec.sinkBufferKeys }),
    ...(spec.partitionRecords === undefined ? {} : { partitionRecords: spec.partitionRecords }),
    ...(spec.transactionTimeoutMs === undefined ? {} : { transactionTimeoutMs: spec.transactionTimeoutMs }),
    ...(preparedTransactions === undefined ? {} : { preparedTransactions }),
    ...(spec.disorder === undefined ? {} : { disorder: spec.disorder }),
  });
  const jobOptions = jobOptionsFor(scenario, spec);
  const job = new JobRuntime(built.pipeline, jobOptions, scheduler, faults, { ...env.faultHooks, ...built.environmentHooks });
  if (built.onCheckpointCompleted !== undefined) job.onCheckpointCompleted = (checkpointId) => built.onCheckpointCompleted!(checkpointId);
  options.onStart?.({ scheduler, job, env });
  const observations = await job.run();
  // Invariants over what the runtime did, judged on every run whatever its outcome.
  const violations = [...checkLiveness(observations)];
  // Barrier alignment is a promise of the aligned modes only: a case run in at-least-once mode does not make it.
  if (spec.mode !== 'at-least-once') violations.push(...checkBarrierAlignment(observations));
  violations.push(...checkCheckpointProgress(observations), ...checkRestoreChoice(observations), ...checkStateRestore(observations), ...checkFaultEffects(observations), ...checkModeSemantics(observations), ...checkRescaleState(observations), ...checkFlowControl(observations));
  // A run that did not reach its end may not have written everything yet, but what it did
  // write is still judged: a liveness failure must not hide a duplicate.
  const judged = await built.judge(observations);
  if (observations.outcome === 'finished') violations.push(...judged);
  else violations.push(...judged.filter((violation) => violation.property !== 'exactly-once' || violation.anomaly !== LOST_WRITE));
  return { spec, observations, violations, output: built.output(), trace: scheduler.trace.entries, maxSteps, jobOptions };
}
