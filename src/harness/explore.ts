import fc from 'fast-check';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import type { Fault } from '../runtime/faults.ts';
import { DEFAULT_JOB_OPTIONS, FAULT_SITUATIONS } from '../runtime/job.ts';
import type { StateBackendKind } from '../runtime/state.ts';
import { encodeCase } from './case-token.ts';
import { runCase, typicalRunSteps, type CaseResult, type CaseSpec } from './run-case.ts';
import { isUserCodeError, type Scenario, type ScenarioSize } from './scenario.ts';
import { UNALIGNED_MIN_INTERVAL_MS, swarmArbitrary, swarmFields } from './swarm.ts';
import { inputDisorderArbitrary, type InputDisorder } from './input-disorder.ts';
import { countCoverage, reachedCoveragePoints } from './coverage.ts';
import { NO_STEERING, PLAN_ROUND_CASES, STEERING_ROUND_RUNS, placementSituations, steeredSituationWeight, steeredWeight, steeringFrom, steeringFromPlans, steeringRoundSeed, type Steering } from './steering.ts';
import type { SituationPlacement } from '../runtime/situations.ts';

export interface ExploreOptions {
  readonly size: ScenarioSize;
  readonly mode: CheckpointingMode;
  readonly backend: StateBackendKind;
  readonly bug: string | undefined;
  /** Generated cases to run (fast-check numRuns). */
  readonly runs: number;
  /** fast-check seed: the same seed generates the same cases. */
  readonly seed: number;
  readonly maxFaults: number;
  /** Judge only these properties (a planted bug's test asks whether *its* property catches it). */
  readonly properties?: readonly string[];
  /** Also run every case twice and compare trace hashes. */
  readonly checkDeterminism: boolean;
  /** A user scenario's module (relative to the project root), written into replay tokens. */
  readonly module?: string;
  /**
   * The fault plans of the explorations run before this one on the same scenario (the main job's
   * other configurations): the plan steering aims past the points they aimed at. Default none.
   */
  readonly priorPlans?: readonly (readonly Fault[])[];
  /**
   * Steer each round of cases by the points the plans before it aimed at (steeringFromPlans; the
   * main job's generation). Default true; false draws every case from one unsteered arbitrary
   * (the generation before issue 14's plan steering, kept for bench/search.ts).
   */
  readonly planSteering?: boolean;
  /** Steer generation toward coverage points not yet reached (steering.ts): rounds of cases, weights adapted between rounds. Default off. */
  readonly steer?: boolean;
  /** Shrink the first failing case (default true; a benchmark counting runs to the first failure turns it off). */
  readonly shrink?: boolean;
}

export interface ExploreStats {
  runs: number;
  checkpointsCompleted: number;
  crashesInjected: number;
  faultsInjected: number;
  restores: number;
  /** Fault-injection points reached (the situation a fault fired in), summed over generated runs. */
  faultPointsReached: Record<string, number>;
  /** Faults whose step the run never reached. */
  faultsNotReached: number;
  /** Fault-injection points (kind @ situation) of the scenario that no generated fault reached. */
  faultPointsNeverReached: string[];
  steps: number;
  /** Coverage points (coverage.ts) reached, counted once per run that reached them. */
  coverage: Record<string, number>;
  /** Trace hash of the last generated run (with a single run: that run's). */
  lastTraceHash: string;
}

export interface Counterexample {
  readonly result: CaseResult;
  /** Runs until the first failure (1-based). */
  readonly foundAfterRuns: number;
  readonly shrinkSteps: number;
  readonly originalFaultCount: number;
}

export interface ExploreReport {
  readonly stats: ExploreStats;
  readonly counterexample: Counterexample | undefined;
}

export const DETERMINISM_PROPERTY = 'determinism';

/** Of every STEP_PLACEMENT_WEIGHT + SITUATION_PLACEMENT_WEIGHT generated faults, this many are placed by step... */
const STEP_PLACEMENT_WEIGHT = 1;
/** ...and this many by situation: a short window (a checkpoint triggered, nobody acknowledged yet) is hit whatever the schedule. */
const SITUATION_PLACEMENT_WEIGHT = 1;
/** A drawn placement waits for at most this many entries into its situation (counted from a drawn step: a later entry is often after the job's end). */
const MAX_DRAWN_OCCURRENCE = 2;
/** When steering names pairs of kinds and situations not reached yet, of every FREE_PLAN_WEIGHT + PAIR_PLAN_WEIGHT + SITUATION_PLAN_WEIGHT plans this many are free... */
const FREE_PLAN_WEIGHT = 1;
/** ...this many aim at one such pair... */
const PAIR_PLAN_WEIGHT = 1;
/** ...and this many at one kind's situation not reached yet (when steering names some). */
const SITUATION_PLAN_WEIGHT = 1;
/** A pair plan's first fault comes in the first typicalRunSteps / PAIR_GAP_DIVISOR steps, each next one at most as many steps later (all in the first half of the run). */
const PAIR_GAP_DIVISOR = 6;

/** Fault plans and schedules as data: fewer, earlier, simpler faults and shorter choice lists shrink toward a plainer case. */
export function caseArbitrary(scenario: Scenario, base: Omit<CaseSpec, 'faults' | 'schedule'>, maxFaults: number, steering: Steering = NO_STEERING): fc.Arbitrary<CaseSpec> {
  // A case may read one partition more than asked (a wider exchange: more inputs per task),
  // where the scenario builds for any partition count.
  const largest = scenario.variablePartitions === true ? { ...base.size, partitions: base.size.partitions + 1 } : base.size;
  const atStep = fc.nat({ max: scenario.typicalRunSteps?.(largest) ?? typicalRunSteps(largest) });
  // Task indices are drawn for the largest job and folded into the one the case runs.
  const task = fc.nat({ max: scenario.taskCount(largest) - 1 });
  const keyedRescale = fc.record({ kind: fc.constant('rescale' as const), atStep, by: fc.constantFrom(1, -1, 2, -2) });
  // From its N splits a source only rescales down (then back up): one subtask down first.
  const sourceRescale = fc.record({ kind: fc.constant('rescale' as const), atStep, by: fc.constantFrom(-1, 1, -2), vertex: fc.constant('source' as const) });
  // Listed plainest first: fast-check shrinks a oneof toward its first alternatives.
  const byKind: Record<Fault['kind'], fc.WeightedArbitrary<Fault>> = {
    'crash-task': { weight: 4, arbitrary: fc.record({ kind: fc.constant('crash-task' as const), atStep, task }) },
    'crash-job': { weight: 2, arbitrary: fc.record({ kind: fc.constant('crash-job' as const), atStep }) },
    'expire-checkpoint': { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire-checkpoint' as const), atStep }) },
    'decline-checkpoint': { weight: 1, arbitrary: fc.record({ kind: fc.constant('decline-checkpoint' as const), atStep, task }) },
    'drop-notify': { weight: 2, arbitrary: fc.record({ kind: fc.constant('drop-notify' as const), atStep }) },
    'fail-commit': { weight: 2, arbitrary: fc.record({ kind: fc.constant('fail-commit' as const), atStep, times: fc.integer({ min: 1, max: 3 }) }) },
    'expire-transactions': { weight: 1, arbitrary: fc.record({ kind: fc.constant('expire-transactions' as const), atStep }) },
    'fence-transactions': { weight: 1, arbitrary: fc.record({ kind: fc.constant('fence-transactions' as const), atStep }) },
    'fail-abort': { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail-abort' as const), atStep, times: fc.integer({ min: 1, max: 3 }) }) },
    'cut-connections': { weight: 1, arbitrary: fc.record({ kind: fc.constant('cut-connections' as const), atStep }) },
    'drop-ack': { weight: 1, arbitrary: fc.record({ kind: fc.constant('drop-ack' as const), atStep }) },
    'fail-initialize': { weight: 1, arbitrary: fc.record({ kind: fc.constant('fail-initialize' as const), atStep, task }) },
    'fail-call': { weight: 2, arbitrary: fc.record({ kind: fc.constant('fail-call' as const), atStep, times: fc.integer({ min: 1, max: 3 }) }) },
    'lose-reply': { weight: 2, arbitrary: fc.record({ kind: fc.constant('lose-reply' as const), atStep, times: fc.integer({ min: 1, max: 3 }) }) },
    'timeout-call': { weight: 1, arbitrary: fc.record({ kind: fc.constant('timeout-call' as const), atStep, times: fc.integer({ min: 1, max: 3 }) }) },
    // Slowness faults (issue 11): shrink toward the smallest slowdown; bounded well below a checkpoint timeout per record.
    'slow-operator': { weight: 1, arbitrary: fc.record({ kind: fc.constant('slow-operator' as const), atStep, task, extraMsPerRecord: fc.integer({ min: 1, max: 8 }) }) },
    'slow-snapshot': { weight: 1, arbitrary: fc.record({ kind: fc.constant('slow-snapshot' as const), atStep, task, phase: fc.constantFrom('sync' as const, 'async' as const), extraMs: fc.integer({ min: 1, max: 200 }) }) },
    'slow-calls': { weight: 1, arbitrary: fc.record({ kind: fc.constant('slow-calls' as const), atStep, extraLatencyMs: fc.integer({ min: 1, max: 20 }) }) },
    'skew-keys': { weight: 1, arbitrary: fc.record({ kind: fc.constant('skew-keys' as const), atStep, hotKeyPercent: fc.integer({ min: 1, max: 100 }) }) },
    // One subtask up or down first (shrinks toward the old parallelism), then two. Weight 1: at 3 it
    // crowded kafka-2pc's short windows (drop-notify before notify, fail-commit then crash) out of the main job.
    // The keyed last vertex, or the source where the scenario allows it: a source rescale shrinks to a keyed one.
    rescale: { weight: 1, arbitrary: scenario.rescalesSource === true ? fc.oneof({ withCrossShrink: true }, keyedRescale, sourceRescale) : keyedRescale },
  };
  // Each fault is placed by step, or now and then by situation (steered toward the situations
  // its kind has not reached yet); a placement shrinks to none, the fault at its step.
  const placeable = placementSituations(scenario);
  const placementOf = (kind: Fault['kind']): fc.Arbitrary<SituationPlacement | undefined> =>
    fc.oneof(
      { withCrossShrink: true },
      { weight: STEP_PLACEMENT_WEIGHT, arbitrary: fc.constant(undefined) },
      {
        weight: SITUATION_PLACEMENT_WEIGHT,
        arbitrary: fc.record({
          situation: fc.oneof(...placeable.map((situation) => ({ weight: steeredSituationWeight(steering, kind, situation), arbitrary: fc.constant(situation) }))),
          // Mostly the first entry (from a drawn step on), now and then the second; shrinks to the first.
          occurrence: fc.oneof({ withCrossShrink: true }, { weight: 3, arbitrary: fc.constant(1) }, { weight: 1, arbitrary: fc.integer({ min: 2, max: MAX_DRAWN_OCCURRENCE }) }),
        }),
      },
    );
  const faultOf = (kind: Fault['kind']): fc.Arbitrary<Fault> => fc.tuple(byKind[kind].arbitrary, placementOf(kind)).map(([action, when]): Fault => (when === undefined ? action : { ...action, when }));
  const fault: fc.Arbitrary<Fault> = fc.oneof(...scenario.faultKinds.map((kind) => ({ weight: steeredWeight(byKind[kind].weight, steering, kind), arbitrary: faultOf(kind) })));
  const freePlan = fc.array(fault, { maxLength: maxFaults });
  // A plan aimed at a pair of kinds not reached yet (A then B), and when room is left and a pair
  // B then C is not reached either, at that one too: A, B, C, each a little after the one before.
  // Placed by step, early: a placement by situation may never fire, and the pair would be missed.
  // Each fault shrinks away on its own (kept: generated true, shrinks to false), and toward a free plan.
  const kept = fc.option(fc.constant(true), { freq: 1_000, nil: false });
  const noFault = fc.constant<Fault | undefined>(undefined);
  const pairPlan = (targets: Steering['pairTargets']): fc.Arbitrary<Fault[]> =>
    fc
      .constantFrom(...targets)
      .chain(([first, second]) => {
        const following = targets.filter(([from]) => from === second).map(([, to]) => to);
        const third = maxFaults < 3 || following.length === 0 ? noFault : fc.constantFrom(...following).chain((kind) => byKind[kind].arbitrary);
        return fc.tuple(fc.tuple(byKind[first].arbitrary, byKind[second].arbitrary, third), fc.tuple(kept, kept, kept));
      })
      .map(([faults, keeps]) => {
        const chained: Fault[] = [];
        let atStep = 0;
        faults.forEach((fault, index) => {
          if (fault === undefined) return;
          atStep += Math.floor(fault.atStep / PAIR_GAP_DIVISOR);
          if (keeps[index]) chained.push({ ...fault, atStep });
        });
        return chained;
      });
  // A plan aimed at a kind's situation not reached yet: one fault placed at the first entry into it
  // from an early step. The placement shrinks away (the fault at its step), like the fault itself.
  const situationPlan = (targets: Steering['situationTargets']): fc.Arbitrary<Fault[]> =>
    fc
      .constantFrom(...targets)
      .chain(([kind, situation]) => fc.tuple(byKind[kind].arbitrary, fc.constant(situation), kept, kept))
      .map(([action, situation, keep, placed]) => {
        const early = { ...action, atStep: Math.floor(action.atStep / PAIR_GAP_DIVISOR) };
        return keep ? [placed ? { ...early, when: { situation, occurrence: 1 } } : early] : [];
      });
  const aimedPlans = [
    ...(steering.pairTargets.length === 0 || maxFaults < 2 ? [] : [{ weight: PAIR_PLAN_WEIGHT, arbitrary: pairPlan(steering.pairTargets) }]),
    ...(steering.situationTargets.length === 0 || maxFaults < 1 ? [] : [{ weight: SITUATION_PLAN_WEIGHT, arbitrary: situationPlan(steering.situationTargets) }]),
  ];
  const faults = aimedPlans.length === 0 ? freePlan : fc.oneof({ withCrossShrink: true }, { weight: FREE_PLAN_WEIGHT, arbitrary: freePlan }, ...aimedPlans);
  return fc.record({
    faults,
    choices: fc.array(fc.nat({ max: 15 }), { maxLength: 48 }),
    // Mostly a random tail (variety over the whole run); shrinks to null, the plain schedule.
    tailSeed: fc.option(fc.nat(), { nil: null, freq: 4 }),
    // The job's configuration (mode, backend, interval, timeouts, concurrent checkpoints,
    // restart delay, channel capacity, transaction timeout): the configuration swarm, shrinking
    // toward the asked-for configuration.
    configuration: swarmArbitrary(scenario, base),
    // Settings of the input and sink that vary, each shrinking to the plain one: an extra partition now and then.
    extraPartition: scenario.variablePartitions === true ? fc.oneof({ weight: 3, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) }) : fc.constant(false),
    // A sink that flushes on every write (its writes land between checkpoints, not only at them).
    // Now and then only: each write is then one more I/O step.
    sinkBufferKeys: fc.oneof({ weight: 3, arbitrary: fc.constant<number | undefined>(undefined) }, { weight: 1, arbitrary: fc.constant<number | undefined>(1) }),
    // Aligned checkpoints now and then with an alignment timeout (0: every checkpoint starts
    // unaligned; 5 ms: slow alignments switch), shrinking to none.
    alignedCheckpointTimeoutMs:
      base.mode === 'exactly-once'
        ? // Cross-shrinking: a drawn timeout shrinks to none, not only to the smaller timeout.
          fc.oneof({ withCrossShrink: true }, { weight: 3, arbitrary: fc.constant<number | undefined>(undefined) }, { weight: 1, arbitrary: fc.constantFrom<number | undefined>(0, 5) })
        : fc.constant<number | undefined>(undefined),
    // Partitions of unequal length now and then (records cut off each partition's end), so one
    // input ends while a task still aligns on another; shrinks to no cut, equal partitions.
    partitionCuts:
      scenario.unequalPartitions === true && base.size.recordsPerPartition > 0
        ? fc.oneof(
            { weight: 3, arbitrary: fc.constant<readonly number[] | undefined>(undefined) },
            { weight: 1, arbitrary: fc.array(fc.nat({ max: base.size.recordsPerPartition }), { minLength: largest.partitions, maxLength: largest.partitions }) },
          )
        : fc.constant<readonly number[] | undefined>(undefined),
    // An event-time input's disorder (out of order within the bound, late, an idle partition), shrinking toward none.
    disorder: scenario.inputDisorder === true ? inputDisorderArbitrary() : fc.constant<InputDisorder | undefined>(undefined),
  }).map(({ faults, choices, tailSeed, configuration, extraPartition, sinkBufferKeys, alignedCheckpointTimeoutMs: drawnAlignmentTimeoutMs, partitionCuts, disorder }) => {
    const size = extraPartition ? largest : base.size;
    const cuts = partitionCuts?.slice(0, size.partitions);
    const partitionRecords = cuts === undefined || cuts.every((cut) => cut === 0) ? undefined : cuts.map((cut) => size.recordsPerPartition - cut);
    // A planted bug may fix the mode (its job options win over the case's): the swarm's draws must fit that mode.
    const bugMode = scenario.bugs.find((bug) => bug.name === base.bug)?.jobOptions?.mode;
    const configured = swarmFields(scenario, configuration === null || bugMode === undefined ? configuration : { ...configuration, mode: bugMode });
    // An alignment timeout belongs to aligned checkpoints only: dropped when the swarm drew another mode.
    // With it every slow alignment turns unaligned, so the unaligned interval floor applies too.
    const intervalMs = configured.checkpointIntervalMs ?? base.checkpointIntervalMs ?? DEFAULT_JOB_OPTIONS.checkpointIntervalMs;
    const alignedCheckpointTimeoutMs = (configured.mode ?? base.mode) === 'exactly-once' && intervalMs >= UNALIGNED_MIN_INTERVAL_MS && (configured.maxConcurrentCheckpoints ?? base.maxConcurrentCheckpoints ?? 1) === 1 ? drawnAlignmentTimeoutMs : undefined;
    const tasks = scenario.taskCount(size);
    return {
      ...base,
      size,
      // A user module's token pins the task count of the job it was made on.
      ...(base.tasks === undefined ? {} : { tasks }),
      ...configured,
      ...(sinkBufferKeys === undefined ? {} : { sinkBufferKeys }),
      ...(alignedCheckpointTimeoutMs === undefined ? {} : { alignedCheckpointTimeoutMs }),
      ...(partitionRecords === undefined ? {} : { partitionRecords }),
      ...(disorder === undefined ? {} : { disorder }),
      faults: faults.map((fault) => ('task' in fault ? { ...fault, task: fault.task % tasks } : fault)).sort((a, b) => a.atStep - b.atStep),
      schedule: { kind: 'choices' as const, choices, tailSeed },
    };
  });
}

/** One round of an exploration's cases: generated from its own seed with the steering the rounds before earned. */
export interface CaseRound {
  /** Index of the round's first case in the exploration. */
  readonly start: number;
  readonly seed: number;
  readonly arbitrary: fc.Arbitrary<CaseSpec>;
  /** The round's cases, as fc.check draws them from `seed`. */
  readonly specs: readonly CaseSpec[];
}

/**
 * The first `runs` cases of an exploration, in rounds of PLAN_ROUND_CASES: each round is
 * steered by the plans of the rounds before (steeringFromPlans), so every case is a function of
 * the seed alone: the same on every shard and worker, and replayable for a shrink by its round.
 */
export function plannedCaseRounds(scenario: Scenario, base: Omit<CaseSpec, 'faults' | 'schedule'>, maxFaults: number, seed: number, runs: number, priorPlans: readonly (readonly Fault[])[] = []): CaseRound[] {
  const rounds: CaseRound[] = [];
  const plans: (readonly Fault[])[] = [...priorPlans];
  // Faults armed in the first half of a typical run count as aimed at their points (a pair plan's are in it).
  const earlyStepBound = Math.floor((scenario.typicalRunSteps?.(base.size) ?? typicalRunSteps(base.size)) / 2);
  for (let start = 0, round = 0; start < runs; start += PLAN_ROUND_CASES, round++) {
    const arbitrary = caseArbitrary(scenario, base, maxFaults, steeringFromPlans(scenario, plans, earlyStepBound));
    const roundSeed = steeringRoundSeed(seed, round);
    const specs = fc.sample(arbitrary, { seed: roundSeed, numRuns: Math.min(PLAN_ROUND_CASES, runs - start) });
    for (const spec of specs) plans.push(spec.faults);
    rounds.push({ start, seed: roundSeed, arbitrary, specs });
  }
  return rounds;
}

/** Every fault plan an exploration generates (whatever part of it a shard runs): the next configuration's `priorPlans`. */
export function explorationPlans(scenario: Scenario, options: ExploreOptions): (readonly Fault[])[] {
  return plannedCaseRounds(scenario, caseBase(scenario, options), options.maxFaults, options.seed, options.runs, options.priorPlans).flatMap((round) => round.specs.map((spec) => spec.faults));
}

function emptyStats(): ExploreStats {
  return { runs: 0, checkpointsCompleted: 0, crashesInjected: 0, faultsInjected: 0, restores: 0, faultPointsReached: {}, faultsNotReached: 0, faultPointsNeverReached: [], steps: 0, coverage: {}, lastTraceHash: '' };
}

function accumulate(stats: ExploreStats, result: CaseResult): void {
  const observations = result.observations;
  stats.runs++;
  stats.steps += observations.steps;
  stats.lastTraceHash = observations.traceHash;
  stats.checkpointsCompleted += observations.checkpoints.filter((c) => c.outcome === 'completed').length;
  stats.faultsInjected += observations.faults.length;
  stats.crashesInjected += observations.faults.filter((f) => f.kind === 'crash-task' || f.kind === 'crash-job').length;
  stats.restores += observations.restores.length - 1;
  stats.faultsNotReached += observations.faultsNotReached.length;
  for (const fault of observations.faults) {
    const point = `${fault.kind} @ ${fault.situation}`;
    stats.faultPointsReached[point] = (stats.faultPointsReached[point] ?? 0) + 1;
  }
  countCoverage(stats.coverage, reachedCoveragePoints(observations));
}

/** What every generated case of an exploration shares (scenario, size, mode, backend, bug, module and its task count). */
export function caseBase(scenario: Scenario, options: ExploreOptions): Omit<CaseSpec, 'faults' | 'schedule'> {
  return {
    scenario: scenario.name,
    size: options.size,
    mode: options.mode,
    backend: options.backend,
    bug: options.bug,
    ...(options.module === undefined ? {} : { module: options.module, tasks: scenario.taskCount(options.size) }),
  };
}

/** Runs the case, and again when determinism is checked; adds a violation when the traces differ. */
export async function runJudged(scenario: Scenario, spec: CaseSpec, options: Pick<ExploreOptions, 'properties' | 'checkDeterminism'>, keepTrace = false): Promise<CaseResult> {
  const result = await runCase(scenario, spec, { keepTrace });
  const violations = [...result.violations];
  if (options.checkDeterminism) {
    const again = await runCase(scenario, spec);
    if (again.observations.traceHash !== result.observations.traceHash) {
      violations.push({
        property: DETERMINISM_PROPERTY,
        anomaly: 'nondeterministic run',
        message: `the same case gave trace ${result.observations.traceHash} and then ${again.observations.traceHash} (${result.observations.steps} vs ${again.observations.steps} steps): something outside the scheduler decides`,
      });
    }
  }
  const kept = options.properties === undefined ? violations : violations.filter((v) => options.properties!.includes(v.property));
  return { ...result, violations: kept };
}

/**
 * Runs `runs` generated cases through fast-check; on the first failure fast-check shrinks
 * it to a minimal case, which comes back with its full trace.
 */
export async function explore(scenario: Scenario, options: ExploreOptions): Promise<ExploreReport> {
  if (!Number.isSafeInteger(options.runs) || options.runs < 1) throw new Error(`explore: runs must be a positive integer, got ${options.runs}`);
  if (!Number.isSafeInteger(options.seed)) throw new Error(`explore: seed must be an integer, got ${options.seed}`);
  const stats = emptyStats();
  let failingSeen = false;
  let foundAfterRuns = 0;
  let originalFaultCount = 0;
  const base = caseBase(scenario, options);
  const propertyOf = (arbitrary: fc.Arbitrary<CaseSpec>) =>
    fc.asyncProperty(arbitrary, async (spec) => {
      const result = await runJudged(scenario, spec, options);
      if (!failingSeen) accumulate(stats, result);
      if (result.violations.length > 0 && !failingSeen) {
        failingSeen = true;
        foundAfterRuns = stats.runs;
        originalFaultCount = spec.faults.length;
      }
      return result.violations.length === 0;
    });
  const checkParameters = options.shrink === false ? { endOnFailure: true } : {};
  let details: fc.RunDetails<[CaseSpec]>;
  if (options.steer !== true && options.planSteering === false) {
    details = await fc.check(propertyOf(caseArbitrary(scenario, base, options.maxFaults)), { numRuns: options.runs, seed: options.seed, ...checkParameters });
  } else if (options.steer !== true) {
    // Rounds steered by the plans before them (the main job's cases, case for case).
    const rounds = plannedCaseRounds(scenario, base, options.maxFaults, options.seed, options.runs, options.priorPlans);
    let round = 0;
    do {
      const { arbitrary, seed, specs } = rounds[round]!;
      details = await fc.check(propertyOf(arbitrary), { numRuns: specs.length, seed, ...checkParameters });
      round++;
    } while (!details.failed && round < rounds.length);
  } else {
    // Rounds: each one's weights come from the coverage of the runs before it (deterministic from the seed).
    let round = 0;
    do {
      const numRuns = Math.min(STEERING_ROUND_RUNS, options.runs - stats.runs);
      details = await fc.check(propertyOf(caseArbitrary(scenario, base, options.maxFaults, steeringFrom(scenario, stats.coverage))), { numRuns, seed: steeringRoundSeed(options.seed, round), ...checkParameters });
      round++;
    } while (!details.failed && stats.runs < options.runs);
  }
  stats.faultPointsNeverReached = scenario.faultKinds.flatMap((kind) => FAULT_SITUATIONS.map((situation) => `${kind} @ ${situation}`)).filter((point) => stats.faultPointsReached[point] === undefined);
  if (!details.failed || details.counterexample === null) return { stats, counterexample: undefined };
  const [shrunk] = details.counterexample;
  let result: CaseResult;
  try {
    result = await runJudged(scenario, shrunk, options, true);
  } catch (error) {
    if (isUserCodeError(error)) throw error;
    // The run itself threw (a broken assumption in streamcheck or a connector): report the shrunk case that does it.
    throw new Error(`internal error while running case ${encodeCase(shrunk)}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  }
  return { stats, counterexample: { result, foundAfterRuns, shrinkSteps: details.numShrinks, originalFaultCount } };
}
