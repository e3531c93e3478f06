/**
 * Cost of Flink's task metrics and checkpoint details (issue 11) on odd-even-sum: runs per
 * second with the metrics measured (the default) and with them off (`flowMetrics: false`),
 * the same cases in alternating rounds so the machine's load hits both alike. Prints figures;
 * asserts nothing (no timed assertions in tests). Credit-based flow control is not modelled
 * (channels stay bounded queues), so this is the whole of issue 11's cost on the data path.
 *
 *   npm run bench:flow            # 5 rounds of 150 runs each way
 *   npm run bench:flow -- 8 300
 */
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { runCase } from '../src/harness/run-case.ts';
import type { Scenario } from '../src/harness/scenario.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const RUNS_PER_ROUND = Number(process.argv[3] ?? 150);
for (const [name, value] of [['rounds', ROUNDS], ['runs per round', RUNS_PER_ROUND]] as const) {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`bench:flow: ${name} must be a positive integer, got ${value}`);
}

const withoutMetrics: Scenario = { ...oddEvenSum, jobOptions: { ...oddEvenSum.jobOptions, flowMetrics: false } };

async function round(scenario: Scenario, firstSeed: number): Promise<{ ms: number; steps: number }> {
  const started = performance.now();
  let steps = 0;
  for (let i = 0; i < RUNS_PER_ROUND; i++) {
    const result = await runCase(scenario, { scenario: oddEvenSum.name, size: oddEvenSum.defaultSize, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'seed', seed: firstSeed + i } });
    steps += result.observations.steps;
  }
  return { ms: performance.now() - started, steps };
}

let onMs = 0;
let offMs = 0;
let steps = 0;
await round(oddEvenSum, 1); // warm up the JIT for both paths
await round(withoutMetrics, 1);
for (let r = 0; r < ROUNDS; r++) {
  const seed = 1000 + r * RUNS_PER_ROUND;
  // Alternate which goes first, so a load spike does not always hit the same side.
  const [on, off] = r % 2 === 0 ? [await round(oddEvenSum, seed), await round(withoutMetrics, seed)] : (([b, a]) => [a, b])([await round(withoutMetrics, seed), await round(oddEvenSum, seed)]);
  onMs += on!.ms;
  offMs += off!.ms;
  steps += on!.steps;
}
const runs = ROUNDS * RUNS_PER_ROUND;
const onRate = (runs / onMs) * 1000;
const offRate = (runs / offMs) * 1000;
console.log(`odd-even-sum ${oddEvenSum.defaultSize.partitions}x${oddEvenSum.defaultSize.recordsPerPartition}, ${runs} runs each way (${Math.round(steps / runs)} steps per run), ${ROUNDS} alternating rounds`);
console.log(`  metrics off: ${offRate.toFixed(0)} runs/s`);
console.log(`  metrics on:  ${onRate.toFixed(0)} runs/s`);
console.log(`  cost of the metrics: ${(((offRate - onRate) / offRate) * 100).toFixed(1)}% fewer runs per second (aim: under 15%)`);
