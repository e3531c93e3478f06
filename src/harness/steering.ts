import type { Fault } from '../runtime/faults.ts';
import { FAULT_SITUATIONS, PLACEMENT_SITUATIONS, type PlacementSituation } from '../runtime/situations.ts';
import { definedCoveragePoints, hasTransactionalSink } from './coverage.ts';
import type { Scenario } from './scenario.ts';

/**
 * Steering: generation weights adapted toward coverage points not yet reached. Exploration
 * runs in rounds of STEERING_ROUND_RUNS cases; each round's fault kinds are weighted by the
 * points of that kind (its situations and the pairs it starts or ends) that no earlier run
 * reached. The weights depend only on the runs before, which depend only on the seed, so a
 * steered exploration is reproducible from its seed; a failing case shrinks as any other
 * (weights change how often a value is drawn, not what can be drawn or how it shrinks).
 *
 * A fault placed by situation (faults.ts `when`) draws its situation weighted the same way: one
 * more for each kind's `fault K @ S` point not reached yet.
 *
 * Ordered pairs of fault kinds, and kinds at situations, not reached yet are targeted directly: a
 * round draws some plans of exactly such a pair (the second fault shortly after the first), and
 * some of one such fault placed at the first entry into its situation (caseArbitrary).
 *
 * The main job generates its cases up front, the same on every shard, so it cannot wait for the
 * coverage of a round's runs: it steers by what the plans before aim at instead (steeringFromPlans:
 * the situations its faults are placed at, the pairs of kinds in its plans), which is a function
 * of the seed alone. A point counts as covered after PLANS_AIMED_FOR_COVERED plans aimed at it.
 */
export const STEERING_ROUND_RUNS = 25;
/**
 * Cases per round of the plan steering: it needs no runs between rounds, so its rounds are short
 * and a round aims at few points twice (kafka-2pc's 240 points in 400 cases leave little to waste).
 */
export const PLAN_ROUND_CASES = 10;

/** A round's fast-check seed: the exploration's seed for the first round, so a 25-case exploration draws from its seed as before. */
export function steeringRoundSeed(seed: number, round: number): number {
  return (seed + round * 7919) % 2 ** 31;
}
/** How much one unreached point adds to its kind's weight (relative to the generator's base weights of 1 to 4). */
const WEIGHT_PER_UNREACHED_POINT = 1;
const MAX_KIND_WEIGHT_FACTOR = 8;
/** A placement's situation not reached yet by its kind is drawn this many times as often as one reached. */
const UNREACHED_SITUATION_WEIGHT = 8;

export interface Steering {
  /** Factor on each fault kind's base weight (1: as generated without steering). */
  readonly faultKindFactors: Readonly<Partial<Record<Fault['kind'], number>>>;
  /** Weight of each situation when a fault of the kind is placed by situation (absent: 1). */
  readonly situationWeights: Readonly<Partial<Record<Fault['kind'], Readonly<Partial<Record<PlacementSituation, number>>>>>>;
  /** Ordered pairs of kinds (`pair A then B`) not reached yet: some plans are drawn as exactly such a pair (none: no such plans). */
  readonly pairTargets: readonly (readonly [Fault['kind'], Fault['kind']])[];
  /** Kinds and situations (`fault K @ S`) not reached yet: some plans are drawn as one fault of the kind placed at the situation. */
  readonly situationTargets: readonly (readonly [Fault['kind'], PlacementSituation])[];
}

export const NO_STEERING: Steering = { faultKindFactors: {}, situationWeights: {}, pairTargets: [], situationTargets: [] };

/**
 * Plans aiming at a point before the main job's steering counts it as reached. One: only faults
 * that fire in most runs count as aiming (plannedCoveragePoints), and the budget is short (kafka-2pc
 * has 231 such points for its 400 cases).
 */
export const PLANS_AIMED_FOR_COVERED = { pair: 1, situation: 1 } as const;

/**
 * The points a plan aims at, of those its faults reach in most runs: placements at the first
 * entry into a situation from a step no later than `earlyStepBound` (`fault K @ S`), and the
 * ordered pairs of its faults placed by step no later than that (their order is known; a later
 * step, or a later entry into a situation, may come after the job's end).
 */
export function plannedCoveragePoints(faults: readonly Fault[], earlyStepBound: number): string[] {
  const points = faults.flatMap((fault) => (fault.when?.occurrence === 1 && fault.atStep <= earlyStepBound ? [`fault ${fault.kind} @ ${fault.when.situation}`] : []));
  const early = [...faults].filter((fault) => fault.when === undefined && fault.atStep <= earlyStepBound).sort((a, b) => a.atStep - b.atStep);
  for (let i = 0; i < early.length; i++) for (let j = i + 1; j < early.length; j++) points.push(`pair ${early[i]!.kind} then ${early[j]!.kind}`);
  return points;
}

/** Steering from the plans generated so far (the main job's: no run needed, the same on every shard). */
export function steeringFromPlans(scenario: Scenario, plans: readonly (readonly Fault[])[], earlyStepBound: number): Steering {
  const aimed: Record<string, number> = {};
  for (const plan of plans) for (const point of plannedCoveragePoints(plan, earlyStepBound)) aimed[point] = (aimed[point] ?? 0) + 1;
  return steeringFrom(scenario, Object.fromEntries(Object.entries(aimed).filter(([point, count]) => count >= PLANS_AIMED_FOR_COVERED[point.startsWith('pair ') ? 'pair' : 'situation'])));
}

/** The situations a scenario's faults can be placed at: the job's, and its sink's transactions' when it commits in two phases. */
export function placementSituations(scenario: Scenario): readonly PlacementSituation[] {
  return hasTransactionalSink(scenario) ? PLACEMENT_SITUATIONS : FAULT_SITUATIONS;
}

export function steeringFrom(scenario: Scenario, coverage: Readonly<Record<string, number>>): Steering {
  const unreached = definedCoveragePoints(scenario).filter((point) => coverage[point] === undefined);
  const factors: Partial<Record<Fault['kind'], number>> = {};
  for (const kind of scenario.faultKinds) {
    const mine = unreached.filter((point) => point.startsWith(`fault ${kind} @ `) || point.startsWith(`pair ${kind} then `) || point.endsWith(` then ${kind}`)).length;
    factors[kind] = Math.min(MAX_KIND_WEIGHT_FACTOR, 1 + WEIGHT_PER_UNREACHED_POINT * mine);
  }
  const situationWeights: Partial<Record<Fault['kind'], Partial<Record<PlacementSituation, number>>>> = {};
  for (const kind of scenario.faultKinds) {
    const weights: Partial<Record<PlacementSituation, number>> = {};
    for (const situation of placementSituations(scenario)) weights[situation] = unreached.includes(`fault ${kind} @ ${situation}`) ? UNREACHED_SITUATION_WEIGHT : 1;
    situationWeights[kind] = weights;
  }
  const pairTargets = scenario.faultKinds.flatMap((first) => scenario.faultKinds.filter((second) => unreached.includes(`pair ${first} then ${second}`)).map((second) => [first, second] as const));
  const situationTargets = scenario.faultKinds.flatMap((kind) => placementSituations(scenario).filter((situation) => unreached.includes(`fault ${kind} @ ${situation}`)).map((situation) => [kind, situation] as const));
  return { faultKindFactors: factors, situationWeights, pairTargets, situationTargets };
}

/** A situation's weight in a placement of `kind` (an integer >= 1). */
export function steeredSituationWeight(steering: Steering, kind: Fault['kind'], situation: PlacementSituation): number {
  return steering.situationWeights[kind]?.[situation] ?? 1;
}

/** A kind's weight under steering: an integer >= 1 (fast-check's oneof takes integer weights). */
export function steeredWeight(baseWeight: number, steering: Steering, kind: Fault['kind']): number {
  return Math.max(1, Math.round(baseWeight * (steering.faultKindFactors[kind] ?? 1)));
}
