/**
 * `streamcheck merge`: the `run --json` results of CI shards as one summary and one exit code.
 * The counterexample is the one an unsharded run reports: the earliest configuration (scenario,
 * mode, backend, in run order) that failed, and in it the lowest case index. The counts are
 * what the shards ran (a shard stops at its first failing configuration).
 */
export interface ShardCounterexample {
  readonly configuration: number;
  readonly caseIndex: number;
  readonly [field: string]: unknown;
}

export interface RunJson {
  readonly seed: number;
  readonly shard: { readonly index: number; readonly count: number } | null;
  readonly determinism: string;
  readonly runs: number;
  readonly failures: number;
  readonly checkpointsCompleted: number;
  readonly crashesInjected: number;
  readonly faultsInjected: number;
  readonly faultPointsReached: Record<string, number>;
  readonly faultsNotReached: number;
  readonly faultPointsNeverReached: readonly string[];
  readonly invariantsChecked: readonly string[];
  readonly corpus: readonly { readonly name: string; readonly passed: boolean }[];
  readonly scenarios: readonly Record<string, unknown>[];
  readonly counterexample?: ShardCounterexample;
}

export interface MergedResult {
  readonly shards: number;
  readonly seed: number;
  readonly runs: number;
  readonly failures: number;
  readonly checkpointsCompleted: number;
  readonly crashesInjected: number;
  readonly faultsInjected: number;
  readonly faultPointsReached: Record<string, number>;
  readonly faultsNotReached: number;
  readonly faultPointsNeverReached: string[];
  readonly invariantsChecked: string[];
  readonly determinism: string[];
  readonly corpus: readonly { readonly name: string; readonly passed: boolean }[];
  readonly counterexample?: ShardCounterexample;
}

import { InputError } from '../input-bounds.ts';

/** A merge input that is not a complete, consistent set of shard results: bad input (exit 2). */
export class MergeInputError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'MergeInputError';
  }
}

const NUMBER_FIELDS = ['seed', 'runs', 'failures', 'checkpointsCompleted', 'crashesInjected', 'faultsInjected', 'faultsNotReached'] as const;

/** Checks one parsed file has the fields merge reads; `source` names it in errors. */
export function asRunJson(value: unknown, source: string): RunJson {
  if (value === null || typeof value !== 'object') throw new MergeInputError(`merge: ${source} is not a JSON object (expected the output of 'streamcheck run --json')`);
  const record = value as Record<string, unknown>;
  for (const field of NUMBER_FIELDS) {
    if (typeof record[field] !== 'number') throw new MergeInputError(`merge: ${source} has no number '${field}' (expected the output of 'streamcheck run --json' from this version)`);
  }
  if (!('shard' in record)) throw new MergeInputError(`merge: ${source} has no 'shard' field (made by a streamcheck without --shard support?)`);
  const counterexample = record['counterexample'] as Record<string, unknown> | undefined;
  if (counterexample !== undefined && (typeof counterexample['configuration'] !== 'number' || typeof counterexample['caseIndex'] !== 'number')) {
    throw new MergeInputError(`merge: ${source}'s counterexample has no configuration/caseIndex to order it by`);
  }
  return record as unknown as RunJson;
}

export function mergeRuns(inputs: readonly { readonly source: string; readonly run: RunJson }[]): MergedResult {
  if (inputs.length === 0) throw new MergeInputError('merge: give the JSON result files of the shards (streamcheck run --json --shard i/n > shard-i.json)');
  const first = inputs[0]!;
  const count = first.run.shard?.count ?? 1;
  const seen = new Map<number, string>();
  for (const { source, run } of inputs) {
    const shard = run.shard ?? { index: 1, count: 1 };
    if (shard.count !== count) throw new MergeInputError(`merge: ${source} is shard ${shard.index}/${shard.count} but ${first.source} is of ${count} shards`);
    if (run.seed !== first.run.seed) throw new MergeInputError(`merge: ${source} ran seed ${run.seed} but ${first.source} seed ${first.run.seed}: shards of different runs`);
    const earlier = seen.get(shard.index);
    if (earlier !== undefined) throw new MergeInputError(`merge: shard ${shard.index}/${count} given twice (${earlier} and ${source})`);
    seen.set(shard.index, source);
  }
  const missing = Array.from({ length: count }, (_, i) => i + 1).filter((index) => !seen.has(index));
  if (missing.length > 0) throw new MergeInputError(`merge: shard${missing.length === 1 ? '' : 's'} ${missing.map((i) => `${i}/${count}`).join(', ')} missing: a shard that did not report may hide a failure`);

  const runs = inputs.map((input) => input.run);
  const sum = (field: (typeof NUMBER_FIELDS)[number]): number => runs.reduce((total, run) => total + run[field], 0);
  const faultPointsReached: Record<string, number> = {};
  for (const run of runs) for (const [point, reached] of Object.entries(run.faultPointsReached)) faultPointsReached[point] = (faultPointsReached[point] ?? 0) + reached;
  const counterexamples = runs.flatMap((run) => (run.counterexample === undefined ? [] : [run.counterexample]));
  const counterexample = counterexamples.reduce<ShardCounterexample | undefined>(
    (best, candidate) => (best === undefined || candidate.configuration < best.configuration || (candidate.configuration === best.configuration && candidate.caseIndex < best.caseIndex) ? candidate : best),
    undefined,
  );
  const corpus = runs.flatMap((run) => run.corpus);
  return {
    shards: count,
    seed: first.run.seed,
    runs: sum('runs'),
    // One counterexample (as unsharded) plus every corpus case that failed.
    failures: (counterexample === undefined ? 0 : 1) + corpus.filter((entry) => !entry.passed).length,
    checkpointsCompleted: sum('checkpointsCompleted'),
    crashesInjected: sum('crashesInjected'),
    faultsInjected: sum('faultsInjected'),
    faultPointsReached,
    faultsNotReached: sum('faultsNotReached'),
    faultPointsNeverReached: [...new Set(runs.flatMap((run) => run.faultPointsNeverReached))].filter((point) => faultPointsReached[point] === undefined).sort(),
    invariantsChecked: [...new Set(runs.flatMap((run) => run.invariantsChecked))],
    determinism: [...new Set(runs.map((run) => run.determinism))],
    corpus,
    ...(counterexample === undefined ? {} : { counterexample }),
  };
}
