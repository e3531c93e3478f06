import fc from 'fast-check';
import { FAULT_SITUATIONS } from '../../runtime/job.ts';
import { encodeCase } from '../case-token.ts';
import { caseBase, plannedCaseRounds, runJudged, type ExploreOptions, type ExploreReport } from '../explore.ts';
import type { CaseResult, CaseSpec } from '../run-case.ts';
import { isUserCodeError, type Scenario } from '../scenario.ts';
import { accumulateDigest, emptyStats } from './case-digest.ts';
import { scenarioRefOf, type CaseOutcome, type CaseTask } from './case-runner.ts';
import { shardRange, type Shard } from './shard.ts';
import { isFailure, type CaseExecutor } from './worker-pool.ts';

/**
 * Which generated cases also run a second time to compare traces: every one (CI, selftest),
 * every DETERMINISM_SAMPLE_EVERY-th by index, or none; the reported counterexample is
 * always checked.
 */
export type DeterminismMode = 'all' | 'sampled' | 'failing';
export const DETERMINISM_MODES: readonly DeterminismMode[] = ['all', 'sampled', 'failing'];
export const DETERMINISM_SAMPLE_EVERY = 10;

export function checksDeterminism(mode: DeterminismMode, index: number): boolean {
  return mode === 'all' || (mode === 'sampled' && index % DETERMINISM_SAMPLE_EVERY === 0);
}

export interface Progress {
  readonly scenario: string;
  readonly done: number;
  readonly total: number;
  readonly faultsReached: number;
}

export interface ParallelOptions {
  readonly executor: CaseExecutor;
  readonly shard?: Shard;
  readonly determinism: DeterminismMode;
  readonly onProgress?: (progress: Progress) => void;
}

export interface ParallelReport extends ExploreReport {
  /** The generated-case indexes this run covered: all of them, or its shard's slice. */
  readonly caseRange: { readonly start: number; readonly end: number };
  /** Index (in the whole seed's sequence) of the first failing case, before shrinking. */
  readonly failingIndex: number | undefined;
  readonly determinism: DeterminismMode;
}

/** Tasks posted per round: bounds the outcomes held at once, and a failure stops the next round. */
const TASKS_PER_ROUND = 2_048;

/**
 * `explore` over an executor (worker threads, or the calling thread): the same cases from the
 * same seed, generated up front here; the lowest failing index wins whichever worker found it
 * first; the summary counts the cases up to it in index order; the shrink runs here, with
 * fast-check replaying that index (`path`), so the shrunk case and its shrink steps are the
 * ones a single thread finds.
 */
export async function exploreParallel(scenario: Scenario, options: ExploreOptions, parallel: ParallelOptions): Promise<ParallelReport> {
  if (!Number.isSafeInteger(options.runs) || options.runs < 1) throw new Error(`explore: runs must be a positive integer, got ${options.runs}`);
  if (!Number.isSafeInteger(options.seed)) throw new Error(`explore: seed must be an integer, got ${options.seed}`);
  const base = caseBase(scenario, options);
  const range = shardRange(options.runs, parallel.shard);
  // fc.sample draws exactly the values fc.check would with the same seed (a test holds it); each
  // round's steering depends on the plans before it only, so the rounds up to the shard's end are the whole run's.
  const rounds = range.end === 0 ? [] : plannedCaseRounds(scenario, base, options.maxFaults, options.seed, range.end, options.priorPlans);
  const specs: CaseSpec[] = rounds.flatMap((round) => round.specs).slice(range.start);
  const ref = scenarioRefOf(scenario);

  const outcomes: CaseOutcome[] = [];
  let lowestFailure: number | undefined;
  let done = 0;
  let faultsReached = 0;
  const total = specs.length;
  for (let roundStart = 0; roundStart < specs.length && lowestFailure === undefined; roundStart += TASKS_PER_ROUND) {
    const tasks: CaseTask[] = specs.slice(roundStart, roundStart + TASKS_PER_ROUND).map((spec, offset) => {
      const index = range.start + roundStart + offset;
      return { index, scenario: ref, spec, checkDeterminism: checksDeterminism(parallel.determinism, index), properties: options.properties };
    });
    const round = await parallel.executor.runAll(tasks, (outcome) => {
      done++;
      if (outcome.kind === 'ran') faultsReached += outcome.digest.faults.length;
      parallel.onProgress?.({ scenario: scenario.name, done, total, faultsReached });
    });
    for (const outcome of round) {
      outcomes.push(outcome);
      if (isFailure(outcome) && (lowestFailure === undefined || outcome.index < lowestFailure)) lowestFailure = outcome.index;
    }
  }

  const stats = emptyStats();
  outcomes.sort((a, b) => a.index - b.index);
  for (const outcome of outcomes) {
    if (lowestFailure !== undefined && outcome.index > lowestFailure) break;
    // One thread's fast-check counts no case whose run threw: neither does this.
    if (outcome.kind === 'ran') accumulateDigest(stats, outcome.digest);
  }
  stats.faultPointsNeverReached = scenario.faultKinds.flatMap((kind) => FAULT_SITUATIONS.map((situation) => `${kind} @ ${situation}`)).filter((point) => stats.faultPointsReached[point] === undefined);
  const report = { stats, caseRange: range, determinism: parallel.determinism };
  if (lowestFailure === undefined) return { ...report, counterexample: undefined, failingIndex: undefined };

  const failing = specs[lowestFailure - range.start]!;
  const judgeOptions = { checkDeterminism: parallel.determinism === 'all', ...(options.properties === undefined ? {} : { properties: options.properties }) };
  const round = [...rounds].reverse().find((candidate) => candidate.start <= lowestFailure!)!;
  const property = fc.asyncProperty(round.arbitrary, async (spec) => (await runJudged(scenario, spec, judgeOptions)).violations.length === 0);
  const details = await fc.check(property, { numRuns: round.specs.length, seed: round.seed, path: String(lowestFailure - round.start) });
  // Failed in a worker but passes here: nondeterminism; the final run below (determinism always checked) says so.
  const shrunk = details.failed && details.counterexample !== null ? details.counterexample[0] : failing;
  let result: CaseResult;
  try {
    result = await runJudged(scenario, shrunk, { ...judgeOptions, checkDeterminism: true }, true);
  } catch (error) {
    if (isUserCodeError(error)) throw error;
    throw new Error(`internal error while running case ${encodeCase(shrunk)}: ${error instanceof Error ? error.stack ?? error.message : String(error)}`);
  }
  return {
    ...report,
    failingIndex: lowestFailure,
    counterexample: { result, foundAfterRuns: lowestFailure + 1, shrinkSteps: details.failed ? details.numShrinks : 0, originalFaultCount: failing.faults.length },
  };
}
