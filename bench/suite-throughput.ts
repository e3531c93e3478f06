/**
 * Connector-suite throughput: the sink suite around a user-style Redis hash sink (HSET on
 * the simulated Redis, through SimEnvironment) at 2 partitions x 1,000 records, beside the
 * built-in odd-even-sum at the same size, both with 0 to 3 crashes per run, every run judged
 * (the suite's golden run is computed once per size and cached). Prints figures; asserts
 * nothing about time.
 *
 *   npm run bench:suite            # default: 200 runs each
 *   npm run bench:suite -- 500
 */
import seedrandom from 'seedrandom';
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { redisSinkSuite } from '../scenarios/connector-suites.ts';
import { runCase, typicalRunSteps, type CaseSpec } from '../src/harness/run-case.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import type { Fault } from '../src/runtime/faults.ts';

const RUNS = Number(process.argv[2] ?? 200);
if (!Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error(`bench: runs must be a positive integer, got ${process.argv[2]}`);
const SIZE = { partitions: 2, recordsPerPartition: 1_000 };
const MAX_CRASHES = 3;
/** Aim: the suite within 20 % of odd-even-sum's runs per second. */
const TARGET_RATIO = 0.8;

function casesFor(scenario: Scenario, runs: number): CaseSpec[] {
  const random = seedrandom.alea(`bench-${scenario.name}`);
  const tasks = scenario.taskCount(SIZE);
  return Array.from({ length: runs }, (_, seed) => {
    const crashes = Math.floor(random() * (MAX_CRASHES + 1));
    const faults: Fault[] = Array.from({ length: crashes }, () => ({ kind: 'crash-task' as const, atStep: Math.floor(random() * typicalRunSteps(SIZE)), task: Math.floor(random() * tasks) })).sort(
      (a, b) => a.atStep - b.atStep,
    );
    return { scenario: scenario.name, size: SIZE, mode: 'exactly-once', backend: 'memory', bug: undefined, faults, schedule: { kind: 'seed', seed } };
  });
}

async function measure(scenario: Scenario): Promise<{ runsPerSecond: number; stepsPerRun: number; violations: number }> {
  const cases = casesFor(scenario, RUNS);
  for (const spec of cases.slice(0, 10)) await runCase(scenario, spec); // JIT warm-up (and the suite's golden run)
  let steps = 0;
  let violations = 0;
  const started = performance.now();
  for (const spec of cases) {
    const result = await runCase(scenario, spec);
    steps += result.observations.steps;
    violations += result.violations.length;
  }
  const seconds = (performance.now() - started) / 1000;
  return { runsPerSecond: RUNS / seconds, stepsPerRun: steps / RUNS, violations };
}

const baseline = await measure(oddEvenSum);
const suite = await measure(redisSinkSuite);
console.log(`${SIZE.partitions}x${SIZE.recordsPerPartition} records, up to ${MAX_CRASHES} crashes, ${RUNS} runs each (one core):`);
console.log(`  odd-even-sum:             ${baseline.runsPerSecond.toFixed(0)} runs/s, ${Math.round(baseline.stepsPerRun)} steps per run`);
console.log(`  redis-sink-suite (suite): ${suite.runsPerSecond.toFixed(0)} runs/s, ${Math.round(suite.stepsPerRun)} steps per run`);
console.log(`  ratio: ${(suite.runsPerSecond / baseline.runsPerSecond).toFixed(2)} (aim: at least ${TARGET_RATIO})`);
console.log(`  invariant violations: ${baseline.violations + suite.violations}`);
if (baseline.violations + suite.violations > 0) process.exitCode = 1;
