import { FAULT_SITUATIONS } from '../runtime/job.ts';
import type { RunObservations } from '../runtime/observations.ts';
import type { Scenario } from './scenario.ts';

/**
 * Coverage points: states of the protocol state machines the runtime reports, crossed with
 * the fault that hit them, and ordered pairs of faults. A point is a plain string so it can be
 * counted across worker threads and shards, and named in a must-reach declaration.
 *
 * - `fault K @ S`: a fault of kind K fired while the coordinator and barrier handlers were in
 *   situation S (job.ts FAULT_SITUATIONS: between checkpoints, triggered, aligning, partially
 *   acknowledged, completed before notify, recovering, after end of input).
 * - `checkpoint E`: a checkpoint of the run ended as E (completed, declined, expired, aborted
 *   by a failover, aborted as subsumed), or two were in flight at once (`checkpoint concurrent`).
 * - `pair A then B`: a fault of kind A fired, and later one of kind B (crash during the
 *   recovery of a crash is `fault crash-task @ during-recovery`; this is the order alone).
 *
 * Not yet points: the two-phase-commit states of each transaction and the broker's transaction
 * states (they live in the connectors and the simulated broker, which report no states to the
 * observations; issue 14 lists them).
 */
export const CHECKPOINT_COVERAGE_POINTS = [
  'checkpoint completed',
  'checkpoint declined',
  'checkpoint expired',
  'checkpoint aborted by failover',
  'checkpoint aborted as subsumed',
  'checkpoint concurrent',
] as const;

/** Every point a scenario's generated runs could reach, in a stable order. */
export function definedCoveragePoints(scenario: Scenario): string[] {
  const kinds = scenario.faultKinds;
  return [
    ...kinds.flatMap((kind) => FAULT_SITUATIONS.map((situation) => `fault ${kind} @ ${situation}`)),
    ...CHECKPOINT_COVERAGE_POINTS,
    ...kinds.flatMap((first) => kinds.map((second) => `pair ${first} then ${second}`)),
  ];
}

/** The points one run reached (each once). */
export function reachedCoveragePoints(observations: RunObservations): string[] {
  const reached = new Set<string>();
  for (const fault of observations.faults) reached.add(`fault ${fault.kind} @ ${fault.situation}`);
  for (const event of observations.checkpointEvents) {
    if (event.event === 'triggered') continue;
    reached.add(event.event === 'aborted' ? (event.cause === 'subsumed' ? 'checkpoint aborted as subsumed' : 'checkpoint aborted by failover') : `checkpoint ${event.event}`);
  }
  // Two in flight: a checkpoint triggered before an older one ended.
  const endSeq = new Map<number, number>();
  for (const event of observations.checkpointEvents) if (event.event !== 'triggered' && !endSeq.has(event.checkpointId)) endSeq.set(event.checkpointId, event.seq);
  const checkpoints = observations.checkpoints;
  for (const checkpoint of checkpoints) {
    const end = endSeq.get(checkpoint.checkpointId) ?? Number.POSITIVE_INFINITY;
    if (checkpoints.some((other) => other.checkpointId > checkpoint.checkpointId && other.triggeredSeq < end)) {
      reached.add('checkpoint concurrent');
      break;
    }
  }
  const faults = [...observations.faults].sort((a, b) => a.seq - b.seq);
  for (let i = 0; i < faults.length; i++) for (let j = i + 1; j < faults.length; j++) reached.add(`pair ${faults[i]!.kind} then ${faults[j]!.kind}`);
  return [...reached];
}

/** Adds one run's points to a tally. */
export function countCoverage(tally: Record<string, number>, points: readonly string[]): void {
  for (const point of points) tally[point] = (tally[point] ?? 0) + 1;
}

export interface CoverageSummary {
  readonly scenario: string;
  readonly reached: number;
  readonly defined: number;
  readonly neverReached: readonly string[];
  /** Declared must-reach points (Scenario.mustReach) that no run reached. */
  readonly missingMustReach: readonly string[];
}

export function summarizeCoverage(scenario: Scenario, tally: Readonly<Record<string, number>>): CoverageSummary {
  const defined = definedCoveragePoints(scenario);
  const neverReached = defined.filter((point) => tally[point] === undefined);
  return {
    scenario: scenario.name,
    reached: defined.length - neverReached.length,
    defined: defined.length,
    neverReached,
    missingMustReach: (scenario.mustReach ?? []).filter((point) => tally[point] === undefined),
  };
}

/** `coverage: reached X of Y points`, and each declared point never reached, by name. */
export function formatCoverage(summary: CoverageSummary): string[] {
  return [
    `coverage: ${summary.scenario} reached ${summary.reached} of ${summary.defined} points`,
    ...summary.missingMustReach.map((point) => `  MUST-REACH point never reached: ${point}`),
  ];
}
