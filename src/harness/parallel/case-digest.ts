import type { CaseResult } from '../run-case.ts';
import type { ExploreStats } from '../explore.ts';
import { countCoverage, reachedCoveragePoints } from '../coverage.ts';

/**
 * What the summary needs of one judged case, small enough to post between threads on
 * every case (a full CaseResult carries the whole run's observations and output).
 */
export interface CaseDigest {
  readonly failed: boolean;
  readonly steps: number;
  readonly traceHash: string;
  readonly checkpointsCompleted: number;
  readonly faults: readonly { readonly kind: string; readonly situation: string }[];
  readonly restores: number;
  readonly faultsNotReached: number;
  /** Coverage points the run reached (coverage.ts). */
  readonly coverage: readonly string[];
}

export function digestOf(result: CaseResult): CaseDigest {
  const observations = result.observations;
  return {
    failed: result.violations.length > 0,
    steps: observations.steps,
    traceHash: observations.traceHash,
    checkpointsCompleted: observations.checkpoints.filter((c) => c.outcome === 'completed').length,
    faults: observations.faults.map((f) => ({ kind: f.kind, situation: f.situation })),
    restores: observations.restores.length,
    faultsNotReached: observations.faultsNotReached.length,
    coverage: reachedCoveragePoints(observations),
  };
}

export function emptyStats(): ExploreStats {
  return { runs: 0, checkpointsCompleted: 0, crashesInjected: 0, faultsInjected: 0, restores: 0, faultPointsReached: {}, faultsNotReached: 0, faultPointsNeverReached: [], steps: 0, coverage: {}, lastTraceHash: '' };
}

/** Adds one case to the summary exactly as the one-thread `explore` does (a test holds the two equal). */
export function accumulateDigest(stats: ExploreStats, digest: CaseDigest): void {
  stats.runs++;
  stats.steps += digest.steps;
  stats.lastTraceHash = digest.traceHash;
  stats.checkpointsCompleted += digest.checkpointsCompleted;
  stats.faultsInjected += digest.faults.length;
  stats.crashesInjected += digest.faults.filter((f) => f.kind === 'crash-task' || f.kind === 'crash-job').length;
  stats.restores += digest.restores - 1;
  stats.faultsNotReached += digest.faultsNotReached;
  for (const fault of digest.faults) {
    const point = `${fault.kind} @ ${fault.situation}`;
    stats.faultPointsReached[point] = (stats.faultPointsReached[point] ?? 0) + 1;
  }
  countCoverage(stats.coverage, digest.coverage);
}
