import type { ChoiceSource } from '../sim/choice.ts';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import type { Fault, FaultPlan } from '../runtime/faults.ts';
import { encodeCase } from './case-token.ts';
import { DETERMINISM_PROPERTY } from './explore.ts';
import { runCase, type CaseResult, type CaseSpec } from './run-case.ts';
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
 * Not done (issue 14): partial-order reduction and a state-hash cache. Both need the runtime
 * to expose what it does not yet: for each enabled event the tasks, channels and external
 * systems it touches (two events commute only if their footprints are disjoint), and a hash
 * of the whole job state (tasks, channels, coordinator, external systems) after a step. The
 * trace hash is a hash of the history, not of the state, so equal states reached by different
 * orders look different to it; without the footprints the independence of two steps cannot be
 * justified, so nothing is pruned on that ground. Figures: see the report of the test
 * (test/harness/search/prove.test.ts) and bench/search.ts.
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
  /** False when maxSchedules stopped the search before the bound was exhausted. */
  readonly exhausted: boolean;
  readonly counterexample: { readonly result: CaseResult; readonly token: string; readonly deviations: number } | undefined;
}

/** Plays a choice prefix, then the plain schedule, and records how many options each step had. */
class RecordingChoices implements ChoiceSource {
  readonly optionCounts: number[] = [];
  readonly picks: number[] = [];

  constructor(private readonly prefix: readonly number[]) {}

  pick(optionCount: number): number {
    const index = this.picks.length;
    const choice = index < this.prefix.length && optionCount > 1 ? this.prefix[index]! % optionCount : 0;
    this.optionCounts.push(optionCount);
    this.picks.push(choice);
    return choice;
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
  const tasks = scenario.taskCount(options.size);
  const base = { scenario: scenario.name, size: options.size, mode: options.mode ?? 'exactly-once', backend: scenario.backends[0] ?? 'memory', bug: options.bug,
    checkpointIntervalMs: options.checkpointIntervalMs ?? PROVE_CHECKPOINT_INTERVAL_MS,
    ...(options.partitionRecords === undefined ? {} : { partitionRecords: options.partitionRecords }) };
  let explored = 0;
  let pruned = 0;
  let faultPlans = 0;

  const judge = async (spec: CaseSpec, choices: ChoiceSource | undefined): Promise<{ result: CaseResult; violations: Violation[] }> => {
    const result = await runCase(scenario, spec, choices === undefined ? {} : { choiceSource: choices });
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
      let frontier: { prefix: number[]; deviations: number; from: number }[] = [{ prefix: [], deviations: 0, from: 0 }];
      const seenTraces = new Set<string>();
      let plainSteps = 0;
      for (let deviations = 0; deviations <= options.maxDeviations && frontier.length > 0; deviations++) {
        const next: typeof frontier = [];
        for (const branch of frontier) {
          if (explored >= options.maxSchedules) return { explored, pruned, faultPlans, exhausted: false, counterexample: undefined };
          const recorder = new RecordingChoices(branch.prefix);
          const choices = withoutTrailingZeros(branch.prefix);
          const spec: CaseSpec = { ...base, faults: plan, schedule: { kind: 'choices', choices, tailSeed: null } };
          const { result, violations } = await judge(spec, recorder);
          explored++;
          options.onProgress?.(explored);
          if (violations.length > 0) {
            const replayed = { ...result, spec, violations };
            return { explored, pruned, faultPlans, exhausted: false, counterexample: { result: replayed, token: encodeCase(spec), deviations: branch.deviations } };
          }
          if (branch.deviations === 0) plainSteps = recorder.optionCounts.length;
          const traceHash = result.observations.traceHash;
          if (seenTraces.has(traceHash)) {
            pruned++;
            continue;
          }
          seenTraces.add(traceHash);
          if (branch.deviations >= options.maxDeviations) continue;
          // Every later step with more than one option branches into each other option.
          for (let step = branch.from; step < recorder.optionCounts.length; step++) {
            const optionCount = recorder.optionCounts[step]!;
            for (let alternative = 1; alternative < optionCount; alternative++) {
              next.push({ prefix: [...recorder.picks.slice(0, step), alternative], deviations: branch.deviations + 1, from: step + 1 });
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
  return { explored, pruned, faultPlans, exhausted: true, counterexample: undefined };
}
