import type { Fault } from '../runtime/faults.ts';
import { definedCoveragePoints } from './coverage.ts';
import type { Scenario } from './scenario.ts';

/**
 * Steering: generation weights adapted toward coverage points not yet reached. Exploration
 * runs in rounds of STEERING_ROUND_RUNS cases; each round's fault kinds are weighted by the
 * points of that kind (its situations and the pairs it starts or ends) that no earlier run
 * reached. The weights depend only on the runs before, which depend only on the seed, so a
 * steered exploration is reproducible from its seed; a failing case shrinks as any other
 * (weights change how often a value is drawn, not what can be drawn or how it shrinks).
 *
 * Not yet steered: placing a fault by situation (the runtime would have to fire a fault when a
 * situation arises, not at a step number), and the parallel main job (it generates its cases
 * up front; steering needs the coverage of the previous round).
 */
export const STEERING_ROUND_RUNS = 25;
/** How much one unreached point adds to its kind's weight (relative to the generator's base weights of 1 to 4). */
const WEIGHT_PER_UNREACHED_POINT = 1;
const MAX_KIND_WEIGHT_FACTOR = 8;

export interface Steering {
  /** Factor on each fault kind's base weight (1: as generated without steering). */
  readonly faultKindFactors: Readonly<Partial<Record<Fault['kind'], number>>>;
}

export const NO_STEERING: Steering = { faultKindFactors: {} };

export function steeringFrom(scenario: Scenario, coverage: Readonly<Record<string, number>>): Steering {
  const unreached = definedCoveragePoints(scenario).filter((point) => coverage[point] === undefined);
  const factors: Partial<Record<Fault['kind'], number>> = {};
  for (const kind of scenario.faultKinds) {
    const mine = unreached.filter((point) => point.startsWith(`fault ${kind} @ `) || point.startsWith(`pair ${kind} then `) || point.endsWith(` then ${kind}`)).length;
    factors[kind] = Math.min(MAX_KIND_WEIGHT_FACTOR, 1 + WEIGHT_PER_UNREACHED_POINT * mine);
  }
  return { faultKindFactors: factors };
}

/** A kind's weight under steering: an integer >= 1 (fast-check's oneof takes integer weights). */
export function steeredWeight(baseWeight: number, steering: Steering, kind: Fault['kind']): number {
  return Math.max(1, Math.round(baseWeight * (steering.faultKindFactors[kind] ?? 1)));
}
