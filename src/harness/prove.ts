import type { ChoiceSource } from '../sim/choice.ts';
import type { Scheduler, StepOption } from '../sim/scheduler.ts';
import type { SimEnvironment } from '../connectors/sim/environment.ts';
import type { JobRuntime } from '../runtime/job.ts';
import { hashSimulationState, summarizeHistory } from './prove/state-hash.ts';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import type { Fault, FaultPlan } from '../runtime/faults.ts';
import { encodeCase } from './case-token.ts';
import { DETERMINISM_PROPERTY } from './explore.ts';
import { runCase, typicalRunSteps, type CaseResult, type CaseSpec } from './run-case.ts';
import type { Scenario, ScenarioSize, Violation } from './scenario.ts';

/**
 * Bounded exhaustive mode. For a small instance it enumerates every fault plan of up to
 * `maxFaults` faults (every kind the scenario lists, at every step the fault-free run takes,
 * on every task) and, for each plan, every schedule that departs from the plain schedule
 * (choice 0 at every step) at most `maxDeviations` times: a stateless depth-first search over
 * choice lists, re-running the case from the start for each branch. Within those bounds the
 * search is complete: no schedule and no placement is sampled, each is run.
 *
 * The deviation bound is CHESS's preemption bounding: bugs in protocols like these need
 * few unusual decisions, and the number of schedules grows polynomially in the run length
 * for a fixed bound instead of exponentially. Plans are explored fewest faults first and
 * schedules fewest deviations first, so the first counterexample is a shortest one.
 *
 * What is pruned, and why that is sound:
 * - A step with one enabled event is not a branch (there is nothing else it could do).
 * - A fault placed at a step the run never reaches leaves the run identical to the run
 *   without it (the runtime only reports it as not reached): placements range over the steps
 *   the plan's fault-free prefix actually took, and a longer plan extends a shorter one only
 *   at or after its last fault's step (plans are sets: the sorted order is the only order).
 * - Two schedules whose complete runs have the same trace hash are the same run (the trace
 *   folds every event chosen at every step); the second is counted as pruned, not judged again.
 *
 * The reduction (on unless `reduce: false`), what it prunes and what it assumes:
 * - Sleep sets (partial-order reduction, Godefroid): each enabled event says what it touches
 *   (JobRuntime.footprint: a task, the channel it takes from, its output channels, the control,
 *   timer and I/O queues; timers, I/O completions, barriers and control messages touch
 *   everything). Two events with disjoint footprints commute: running a then b reaches the
 *   state b then a reaches. When a branch takes b instead of the plain a, a goes to sleep in
 *   it, and every event explored before b at that step too, when independent of b; a sleeping
 *   event is not branched to again until an event dependent on it has run, because the order
 *   "b, then a" is the order "a, then b" of a branch already explored.
 * - A state-hash cache: before every few steps past its prefix with no connector call in
 *   flight, a run hashes the whole state (prove/state-hash.ts) with the faults still to come.
 *   A state already reached with at least as many deviations left, no more events asleep, and
 *   the same history in the words of summarizeHistory (faults and their situations,
 *   checkpoint ends, restores, counts of observed events) has had every continuation within
 *   the bound explored: the run stops there, counted as pruned. Across fault plans too: a
 *   fault armed at step 3 or at step 4 often leaves the same state by step 5.
 * Both are exact for the state; the verdict is judged over the run's observations, a history.
 * The reduction therefore assumes what the invariants are built to: a violation shows in the
 * state the run leaves (the output, the snapshots, the committed transactions), in the history
 * summary, or in the run's continuation, not only in the order of two independent steps of its
 * past. It also assumes a deterministic job (a nondeterministic one is proved with
 * `reduce: false`), and sleep sets are complete for unbounded search; under a deviation bound
 * the equivalent order of a pruned branch may need one more deviation. For both reasons
 * test/harness/search/prove-reduction.test.ts checks that the reduced search finds exactly
 * the planted bugs the full one finds on small instances; bench/search.ts prints what the
 * reduction buys.
 */
export interface ProveOptions {
  readonly size: ScenarioSize;
  readonly maxFaults: number;
  /** Choices that differ from the plain schedule in one run. */
  readonly maxDeviations: number;
  readonly bug: string | undefined;
  /** Stop (reporting "bound not exhausted") after this many runs. */
  readonly maxSchedules: number;
  /** Also run each schedule twice and compare trace hashes (catches nondeterministic code). */
  readonly checkDeterminism: boolean;
  readonly properties?: readonly string[];
  readonly onProgress?: (explored: number) => void;
  /** Virtual ms between checkpoints (default PROVE_CHECKPOINT_INTERVAL_MS). */
  readonly checkpointIntervalMs?: number;
  /** Checkpointing mode of the instance (default exactly-once): unaligned bugs need unaligned runs. */
  readonly mode?: CheckpointingMode;
  /** Records in each partition when they differ (scenarios with unequalPartitions): an input then ends while another aligns. */
  readonly partitionRecords?: readonly number[];
  /** Partial-order reduction (sleep sets) and the state-hash cache (default true); false: the full search, for comparison. */
  readonly reduce?: boolean;
}

/**
 * A small instance ends within about 50 virtual ms (1 ms per step): with the runtime's default
 * 100 ms interval it would never checkpoint, and no checkpoint bug could show. A short interval
 * gives a few checkpoints per run, some overlapping the end of input.
 */
export const PROVE_CHECKPOINT_INTERVAL_MS = 10;

export interface ProveReport {
  /** Runs judged. */
  readonly explored: number;
  /** Branches not run because a pruning rule above shows they repeat a run already judged. */
  readonly pruned: number;
  readonly faultPlans: number;
  /** What pruned: alternatives asleep, runs stopped at a state already explored, runs repeating a trace already judged. */
  readonly prunedBy: { readonly sleepSets: number; readonly stateCache: number; readonly sameTrace: number };
  /** False when maxSchedules stopped the search before the bound was exhausted. */
  readonly exhausted: boolean;
  readonly counterexample: { readonly result: CaseResult; readonly token: string; readonly deviations: number } | undefined;
}

/** A state the cache holds: the deviations left when it was reached, the events asleep there, and its run's length. */
interface CachedState {
  readonly deviationsLeft: number;
  readonly asleep: ReadonlyMap<string, StepOption>;
  readonly run: { steps: number };
}

/**
 * States are hashed before every this many steps, not every step: a hash walks the whole job
 * (about 0.2 ms unloaded, ten times a step), and a run that joins an explored state stays in
 * explored states, so it is caught a few steps later at the next multiple.
 */
export const STATE_CHECK_INTERVAL_STEPS = 4;
/** A run with no deviation left has no branches to spare, only the rest of itself (a few ms): hashed more rarely. */
export const LAST_DEVIATION_STATE_CHECK_INTERVAL_STEPS = 16;

/** States are hashed up to this many times a typical run's length (run-case.ts typicalRunSteps) into a run. */
const HASHED_RUN_LENGTH_FACTOR = 4;

/** Thrown from a choice to stop a run at a state already explored (caught by prove). */
class StateAlreadyExplored extends Error {
  constructor(readonly run: { steps: number }) {
    super('state already explored');
  }
}

function independent(a: StepOption, b: StepOption): boolean {
  if (a.touches === undefined || b.touches === undefined || a.id === b.id) return false;
  return !a.touches.some((resource) => b.touches!.includes(resource));
}

/**
 * Plays a choice prefix, then the plain schedule, and records how many options each step had
 * and which events they were. Past the prefix it keeps the sleep set and checks the state cache.
 */
class RecordingChoices implements ChoiceSource {
  readonly optionCounts: number[] = [];
  readonly picks: number[] = [];
  /** The enabled events of each step pick (undefined at a pick that is no step: Scheduler.choose). */
  readonly stepOptions: (StepOption[] | undefined)[] = [];
  /** The sleep set before each step pick at or after `from`. */
  readonly asleepAt: (Map<string, StepOption> | undefined)[] = [];
  readonly run = { steps: 0 };
  private asleep: Map<string, StepOption>;
  private running: { readonly scheduler: Scheduler; readonly job: JobRuntime; readonly env: SimEnvironment } | undefined;

  constructor(
    private readonly prefix: readonly number[],
    private readonly from: number,
    asleep: ReadonlyMap<string, StepOption>,
    private readonly cache: { readonly states: Map<string, CachedState[]>; readonly deviationsLeft: number; readonly plan: FaultPlan; readonly lastHashedStep: number } | undefined,
  ) {
    this.asleep = new Map(asleep);
  }

  attach(running: { readonly scheduler: Scheduler; readonly job: JobRuntime; readonly env: SimEnvironment }): void {
    this.running = running;
  }

  pick(optionCount: number): number {
    const index = this.picks.length;
    const choice = index < this.prefix.length && optionCount > 1 ? this.prefix[index]! % optionCount : 0;
    const options = this.running?.scheduler.stepOptions();
    this.stepOptions.push(options);
    if (options !== undefined && this.cache !== undefined && index >= this.from) {
      this.checkCache(this.running!);
      this.asleepAt[index] = new Map(this.asleep);
      const executed = options[choice]!;
      for (const [id, sleeping] of this.asleep) if (!independent(sleeping, executed)) this.asleep.delete(id);
    }
    this.optionCounts.push(optionCount);
    this.picks.push(choice);
    return choice;
  }

  /** Stops the run (throws) at a state already explored with at least as many deviations left; else caches this one. */
  private checkCache(running: { readonly scheduler: Scheduler; readonly job: JobRuntime; readonly env: SimEnvironment }): void {
    const { states, deviationsLeft, plan, lastHashedStep } = this.cache!;
    // A run this long is stuck (a liveness failure runs to its step budget): its states join no other run's.
    if (running.scheduler.step > lastHashedStep) return;
    if (running.scheduler.step % (deviationsLeft > 0 ? STATE_CHECK_INTERVAL_STEPS : LAST_DEVIATION_STATE_CHECK_INTERVAL_STEPS) !== 0) return;
    // A call in flight or a task awaiting one holds state in closures (the payload, the
    // continuation) that no hash sees: such states are neither cached nor looked up.
    if (running.scheduler.pendingIoCount > 0 || running.job.tasks.some((task) => task.busyWith !== undefined || task.continuations.length > 0)) return;
    const step = running.scheduler.step;
    const key = `${hashSimulationState(running.scheduler, running.job, running.env)} ${summarizeHistory(running.job.observations)} ${JSON.stringify(plan.filter((fault) => fault.atStep > step))}`;
    const cached = states.get(key);
    const covering = cached?.find((state) => state.deviationsLeft >= deviationsLeft && [...state.asleep.keys()].every((id) => this.asleep.has(id)));
    if (covering !== undefined) throw new StateAlreadyExplored(covering.run);
    const entry: CachedState = { deviationsLeft, asleep: new Map(this.asleep), run: this.run };
    if (cached === undefined) states.set(key, [entry]);
    else cached.push(entry);
  }

  describe(): string {
    return `prove prefix=[${this.prefix.join(',')}]`;
  }
}

function withoutTrailingZeros(choices: readonly number[]): number[] {
  let end = choices.length;
  while (end > 0 && choices[end - 1] === 0) end--;
  return choices.slice(0, end);
}

const TASK_FAULTS: ReadonlySet<Fault['kind']> = new Set(['crash-task', 'decline-checkpoint', 'fail-initialize']);
const REPEATED_FAULTS: ReadonlySet<Fault['kind']> = new Set(['fail-commit', 'fail-abort', 'fail-call', 'lose-reply', 'timeout-call']);

/**
 * Fault kinds prove leaves out of its enumeration: a rescale restarts the job with another
 * layout, and one per step and direction would multiply the placements it must cover; rescale
 * faults are explored by generation (explore, selftest, the main job) instead.
 */
export const PROVE_EXCLUDED_FAULTS: ReadonlySet<Fault['kind']> = new Set(['rescale']);

/** Every single fault at `atStep`: each kind, each task for the kinds that name one; repeated faults fire once. */
function faultsAt(scenario: Scenario, atStep: number, tasks: number): Fault[] {
  return scenario.faultKinds.filter((kind) => !PROVE_EXCLUDED_FAULTS.has(kind)).flatMap((kind): Fault[] => {
    if (TASK_FAULTS.has(kind)) return Array.from({ length: tasks }, (_, task) => ({ kind, atStep, task }) as Fault);
    if (REPEATED_FAULTS.has(kind)) return [{ kind, atStep, times: 1 } as Fault];
    return [{ kind, atStep } as Fault];
  });
}

export async function prove(scenario: Scenario, options: ProveOptions): Promise<ProveReport> {
  for (const [name, value] of [['maxFaults', options.maxFaults], ['maxDeviations', options.maxDeviations]] as const) {
    if (!Number.isSafeInteger(value) || value < 0) throw new Error(`prove: ${name} must be a non-negative integer, got ${value}`);
  }
  if (!Number.isSafeInteger(options.maxSchedules) || options.maxSchedules < 1) throw new Error(`prove: maxSchedules must be a positive integer, got ${options.maxSchedules}`);
  const reduce = options.reduce ?? true;
  const tasks = scenario.taskCount(options.size);
  const base = { scenario: scenario.name, size: options.size, mode: options.mode ?? 'exactly-once', backend: scenario.backends[0] ?? 'memory', bug: options.bug,
    checkpointIntervalMs: options.checkpointIntervalMs ?? PROVE_CHECKPOINT_INTERVAL_MS,
    ...(options.partitionRecords === undefined ? {} : { partitionRecords: options.partitionRecords }) };
  let explored = 0;
  let faultPlans = 0;
  const prunedBy = { sleepSets: 0, stateCache: 0, sameTrace: 0 };
  const report = (exhausted: boolean, counterexample: ProveReport['counterexample']): ProveReport => ({
    explored, pruned: prunedBy.sleepSets + prunedBy.stateCache + prunedBy.sameTrace, prunedBy: { ...prunedBy }, faultPlans, exhausted, counterexample,
  });
  // One cache for every plan: its key holds the faults still to come.
  const cachedStates = new Map<string, CachedState[]>();

  const judge = async (spec: CaseSpec, choices: RecordingChoices): Promise<{ result: CaseResult; violations: Violation[] } | StateAlreadyExplored> => {
    let result: CaseResult;
    try {
      result = await runCase(scenario, spec, { choiceSource: choices, onStart: (running) => choices.attach(running) });
    } catch (error) {
      if (error instanceof StateAlreadyExplored) return error;
      throw error;
    }
    const violations = [...result.violations];
    if (options.checkDeterminism) {
      const again = await runCase(scenario, spec);
      if (again.observations.traceHash !== result.observations.traceHash) {
        violations.push({ property: DETERMINISM_PROPERTY, anomaly: 'nondeterministic run', message: `the same case gave trace ${result.observations.traceHash} and then ${again.observations.traceHash}` });
      }
    }
    const kept = options.properties === undefined ? violations : violations.filter((v) => options.properties!.includes(v.property));
    return { result, violations: kept };
  };

  // Plans by increasing size (breadth-first), each extended only at or after its last fault.
  let plans: FaultPlan[] = [[]];
  for (let faultCount = 0; faultCount <= options.maxFaults && plans.length > 0; faultCount++) {
    const longer: FaultPlan[] = [];
    for (const plan of plans) {
      faultPlans++;
      // Schedules of this plan, fewest deviations first: a queue of choice prefixes.
      type Branch = { prefix: number[]; deviations: number; from: number; asleep: ReadonlyMap<string, StepOption> };
      let frontier: Branch[] = [{ prefix: [], deviations: 0, from: 0, asleep: new Map() }];
      const seenTraces = new Set<string>();
      let plainSteps = 0;
      for (let deviations = 0; deviations <= options.maxDeviations && frontier.length > 0; deviations++) {
        const next: Branch[] = [];
        for (const branch of frontier) {
          if (explored >= options.maxSchedules) return report(false, undefined);
          const recorder = new RecordingChoices(branch.prefix, branch.from, branch.asleep,
            reduce ? { states: cachedStates, deviationsLeft: options.maxDeviations - branch.deviations, plan, lastHashedStep: HASHED_RUN_LENGTH_FACTOR * (scenario.typicalRunSteps?.(options.size) ?? typicalRunSteps(options.size)) } : undefined);
          const choices = withoutTrailingZeros(branch.prefix);
          const spec: CaseSpec = { ...base, faults: plan, schedule: { kind: 'choices', choices, tailSeed: null } };
          const judged = await judge(spec, recorder);
          if (judged instanceof StateAlreadyExplored) {
            // Its continuation is the one explored from that state: so is its length.
            recorder.run.steps = judged.run.steps;
            if (branch.deviations === 0) plainSteps = judged.run.steps;
            prunedBy.stateCache++;
            continue;
          }
          const { result, violations } = judged;
          recorder.run.steps = recorder.optionCounts.length;
          explored++;
          options.onProgress?.(explored);
          if (violations.length > 0) {
            const replayed = { ...result, spec, violations };
            return report(false, { result: replayed, token: encodeCase(spec), deviations: branch.deviations });
          }
          if (branch.deviations === 0) plainSteps = recorder.optionCounts.length;
          const traceHash = result.observations.traceHash;
          if (seenTraces.has(traceHash)) {
            prunedBy.sameTrace++;
            continue;
          }
          seenTraces.add(traceHash);
          if (branch.deviations >= options.maxDeviations) continue;
          // Every later step with more than one option branches into each other option, but for the events asleep there.
          for (let step = branch.from; step < recorder.optionCounts.length; step++) {
            const optionCount = recorder.optionCounts[step]!;
            const stepOptions = recorder.stepOptions[step];
            const asleep = recorder.asleepAt[step];
            const exploredFirst: StepOption[] = stepOptions === undefined ? [] : [stepOptions[recorder.picks[step]!]!];
            for (let alternative = 0; alternative < optionCount; alternative++) {
              if (alternative === recorder.picks[step]) continue;
              const prefix = [...recorder.picks.slice(0, step), alternative];
              const option = stepOptions?.[alternative];
              if (!reduce || option === undefined || asleep === undefined) {
                next.push({ prefix, deviations: branch.deviations + 1, from: step + 1, asleep: new Map() });
                continue;
              }
              if (asleep.has(option.id)) {
                prunedBy.sleepSets++;
                continue;
              }
              const childAsleep = new Map<string, StepOption>();
              for (const candidate of [...asleep.values(), ...exploredFirst]) if (independent(candidate, option)) childAsleep.set(candidate.id, candidate);
              next.push({ prefix, deviations: branch.deviations + 1, from: step + 1, asleep: childAsleep });
              exploredFirst.push(option);
            }
          }
        }
        frontier = next;
      }
      if (faultCount < options.maxFaults) {
        const lastStep = plan.length === 0 ? 0 : plan[plan.length - 1]!.atStep;
        for (let atStep = lastStep; atStep < plainSteps; atStep++) {
          for (const fault of faultsAt(scenario, atStep, tasks)) {
            // A plan is a set: the same fault twice at one step is a plan already listed.
            if (plan.some((earlier) => JSON.stringify(earlier) === JSON.stringify(fault))) continue;
            longer.push([...plan, fault]);
          }
        }
      }
    }
    plans = longer;
  }
  return report(true, undefined);
}
