/**
 * Search power in figures (issue 14): for each planted bug of the built-in scenarios, the
 * generated runs until the first failure, without and with steering (median over SEEDS seeds,
 * runs capped at MAX_RUNS: a bug not found counts as MAX_RUNS), and the schedules per second
 * of `prove` at the bounds its test uses. Prints figures; asserts nothing about time.
 *
 *   npm run bench:search                 # 20 seeds, at most 300 runs per search
 *   npm run bench:search -- 5 100        # 5 seeds, at most 100 runs
 *   npm run bench:search -- prove        # only prove: without and with the reduction
 *
 * Measured with faults placed by situation and the main job's plan steering (20 seeds, cap 300,
 * loaded 2-core machine, 2026-11-25), uniform -> plans -> coverage: plan steering lowered the
 * median for 9 of 49 bugs (odd-even-sum initialize-error-swallowed 49 -> 14.5,
 * rescale-keyed-state-to-wrong-subtask 40 -> 25.5, source-end-of-first-partition 9.5 -> 6.5,
 * kafka-2pc fenced-commit-taken-as-done 45.5 -> 29), left 19 equal and raised 21, most by a
 * run or two, some more (at-least-once-mode 7.5 -> 16.5, memory-checkpoints-survive-job-crash
 * 8.5 -> 20.5, regular-join buffers-in-fields 3 -> 12.5, kafka-2pc forget-removed-subtasks
 * 41.5 -> 74 with 1 seed of 20 not found in 300 runs): two thirds of a steered round aim at
 * coverage points, not at the plans that find these bugs. Coverage steering is close to plan
 * steering (their first round is the same).
 * Earlier (5 seeds, cap 100, uniform placement by step only): steering lowered the median
 * runs to first failure for 10 of 26 bugs (e.g. kafka-2pc no-abort-lingering 21 -> 11,
 * lost-notify-delivered 11 -> 5, odd-even-sum memory-checkpoints-survive-job-crash 19 -> 8),
 * left 15 equal (most are found in the first run either way), and raised one
 * (source-end-of-first-partition 5 -> 10: it needs unequal partitions, not a fault kind).
 * prove before the reduction: odd-even-sum 2x2 with 1 fault 976 schedules at 111/s; 1x3 at 2
 * deviations 1,417 at 356/s; kafka-2pc 2x2 with 1 fault 1,495 at 56/s.
 * prove, full -> reduced (runs judged; runs stopped at a state already explored), measured on
 * the same loaded machine (load average 20+ on 2 cores, 2026-11-25; times only indicative):
 *   odd-even-sum 1x2, 1 deviation:   62 -> 20 judged (42 stopped)
 *   odd-even-sum 2x2, 1 deviation:   175 -> 20 judged (155 stopped)
 *   odd-even-sum 2x2, 2 deviations:  14,520 (52-58 s) -> 161 judged, 3,733 stopped, 3 asleep (14 s)
 *   odd-even-sum 2x2, 1 fault:       976 -> 261 judged (715 stopped), about the same time: at
 *                                    0 deviations a stop spares only the rest of one run, which
 *                                    costs about what hashing the states costs
 *   kafka-2pc 2x2, 1 fault:          1,495 -> 372 judged (1,123 stopped), 98 s -> 104 s
 * The reduction buys most where schedules multiply (deviations); with faults alone it only
 * spares run tails.
 */
import { SCENARIOS } from '../scenarios/index.ts';
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { kafka2pc } from '../scenarios/kafka-2pc.ts';
import { explore } from '../src/harness/explore.ts';
import { prove, type ProveOptions } from '../src/harness/prove.ts';
import type { Scenario } from '../src/harness/scenario.ts';

/** `npm run bench:search -- prove`: only the prove figures (the steering part takes long). */
const PROVE_ONLY = process.argv[2] === 'prove';
const SEEDS = PROVE_ONLY ? 1 : Number(process.argv[2] ?? 20);
const MAX_RUNS = PROVE_ONLY ? 1 : Number(process.argv[3] ?? 300);
for (const [name, value] of [['seeds', SEEDS], ['max runs', MAX_RUNS]] as const) {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`bench:search: ${name} must be a positive integer, got ${value}`);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

/** How a search draws its cases: from one unsteered arbitrary, in rounds steered by the plans before (the default), or by the coverage reached. */
type Steering = 'uniform' | 'plans' | 'coverage';

async function runsToFirstFailure(scenario: Scenario, bug: string, property: string, seed: number, steering: Steering): Promise<number> {
  const report = await explore(scenario, {
    size: scenario.defaultSize,
    mode: 'exactly-once',
    backend: scenario.backends[0] ?? 'memory',
    bug,
    runs: MAX_RUNS,
    seed,
    maxFaults: 3,
    properties: [property],
    checkDeterminism: property === 'determinism',
    steer: steering === 'coverage',
    planSteering: steering === 'plans',
    shrink: false,
  });
  return report.counterexample?.foundAfterRuns ?? MAX_RUNS;
}

if (!PROVE_ONLY) console.log(`runs to first failure per planted bug (median over ${SEEDS} seeds, capped at ${MAX_RUNS}): uniform -> steered by plans (default) -> steered by coverage`);
for (const scenario of PROVE_ONLY ? [] : SCENARIOS) {
  for (const bug of scenario.bugs) {
    const property = bug.caughtBy[0]!;
    const runs: Record<Steering, number[]> = { uniform: [], plans: [], coverage: [] };
    for (let seed = 1; seed <= SEEDS; seed++) {
      for (const steering of ['uniform', 'plans', 'coverage'] as const) runs[steering].push(await runsToFirstFailure(scenario, bug.name, property, seed, steering));
    }
    const figure = (found: number[]): string => `${median(found)}${found.some((r) => r >= MAX_RUNS) ? ` (${found.filter((r) => r >= MAX_RUNS).length} seeds not found)` : ''}`;
    console.log(`  ${scenario.name} / ${bug.name} by ${property}: ${figure(runs.uniform)} -> ${figure(runs.plans)} -> ${figure(runs.coverage)}`);
  }
}

// What the reduction buys on the smallest instances, and the schedules per second of each search.
const size22 = { partitions: 2, recordsPerPartition: 2 };
const proveBounds: { scenario: Scenario; options: ProveOptions }[] = [
  { scenario: oddEvenSum, options: { size: { partitions: 1, recordsPerPartition: 2 }, maxFaults: 0, maxDeviations: 1, bug: undefined, maxSchedules: 100_000, checkDeterminism: false } },
  { scenario: oddEvenSum, options: { size: size22, maxFaults: 0, maxDeviations: 1, bug: undefined, maxSchedules: 100_000, checkDeterminism: false } },
  { scenario: oddEvenSum, options: { size: size22, maxFaults: 0, maxDeviations: 2, bug: undefined, maxSchedules: 100_000, checkDeterminism: false } },
  { scenario: oddEvenSum, options: { size: size22, maxFaults: 1, maxDeviations: 0, bug: undefined, maxSchedules: 100_000, checkDeterminism: false } },
  { scenario: kafka2pc, options: { size: size22, maxFaults: 0, maxDeviations: 1, bug: undefined, maxSchedules: 100_000, checkDeterminism: false } },
  { scenario: kafka2pc, options: { size: size22, maxFaults: 1, maxDeviations: 0, bug: undefined, maxSchedules: 100_000, checkDeterminism: false } },
];
console.log('prove, without -> with partial-order reduction and the state cache (runs judged; pruned; wall time; runs started per second):');
for (const { scenario, options } of proveBounds) {
  const cells: string[] = [];
  for (const reduce of [false, true]) {
    const startedMs = performance.now();
    const report = await prove(scenario, { ...options, reduce });
    const seconds = (performance.now() - startedMs) / 1000;
    const started = report.explored + report.prunedBy.stateCache;
    cells.push(
      `${report.explored} judged, ${report.pruned} pruned (${report.prunedBy.sleepSets} asleep, ${report.prunedBy.stateCache} at a known state, ${report.prunedBy.sameTrace} same trace), ` +
        `${report.exhausted ? '' : 'NOT exhausted, '}${report.counterexample === undefined ? 'no violation' : 'VIOLATION'}, ${seconds.toFixed(1)} s, ${(started / seconds).toFixed(0)} schedules/s`,
    );
  }
  console.log(`  ${scenario.name} ${options.size.partitions}x${options.size.recordsPerPartition}, ${options.maxFaults} fault(s), ${options.maxDeviations} deviation(s):`);
  console.log(`    full:    ${cells[0]}`);
  console.log(`    reduced: ${cells[1]}`);
}
