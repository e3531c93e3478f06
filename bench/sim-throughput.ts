/**
 * Simulation throughput for odd-even-sum at 2 partitions x 1,000 records, a checkpoint
 * every 100 virtual ms, 0 to 3 crashes per run (random by seed). Prints figures; asserts
 * nothing about time (targets live here, not in tests).
 *
 *   npm run bench            # default: 300 runs
 *   npm run bench -- 1000    # more runs
 */
import seedrandom from 'seedrandom';
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { runCase, typicalRunSteps, type CaseSpec } from '../src/harness/run-case.ts';
import type { Fault } from '../src/runtime/faults.ts';

const RUNS = Number(process.argv[2] ?? 300);
if (!Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error(`bench: runs must be a positive integer, got ${process.argv[2]}`);
const SIZE = { partitions: 2, recordsPerPartition: 1_000 };
const MAX_CRASHES = 3;
const TARGET_EVENTS_PER_SECOND = 2_000_000;
const TARGET_RUNS_PER_SECOND = 500;

function casesFor(runs: number): CaseSpec[] {
  const random = seedrandom.alea('bench');
  const tasks = oddEvenSum.taskCount(SIZE);
  return Array.from({ length: runs }, (_, seed) => {
    const crashes = Math.floor(random() * (MAX_CRASHES + 1));
    const faults: Fault[] = Array.from({ length: crashes }, () => ({
      kind: 'crash-task' as const,
      atStep: Math.floor(random() * typicalRunSteps(SIZE)),
      task: Math.floor(random() * tasks),
    })).sort((a, b) => a.atStep - b.atStep);
    return { scenario: oddEvenSum.name, size: SIZE, mode: 'exactly-once', backend: 'memory', bug: undefined, faults, schedule: { kind: 'seed', seed } };
  });
}

const cases = casesFor(RUNS);
// Warm up the JIT on a few runs before measuring.
for (const spec of cases.slice(0, 10)) await runCase(oddEvenSum, spec);

let steps = 0;
let checkpoints = 0;
let crashes = 0;
let violations = 0;
const heapBefore = process.memoryUsage().heapUsed;
const started = performance.now();
for (const spec of cases) {
  const result = await runCase(oddEvenSum, spec);
  steps += result.observations.steps;
  checkpoints += result.observations.checkpoints.filter((c) => c.outcome === 'completed').length;
  crashes += result.observations.faults.length;
  violations += result.violations.length;
}
const seconds = (performance.now() - started) / 1000;
const eventsPerSecond = steps / seconds;
const runsPerSecond = RUNS / seconds;
console.log(`odd-even-sum ${SIZE.partitions}x${SIZE.recordsPerPartition}, checkpoint every 100 virtual ms, up to ${MAX_CRASHES} crashes, ${RUNS} runs (one core):`);
console.log(`  simulated events/s: ${Math.round(eventsPerSecond).toLocaleString('en-US')} (target ${TARGET_EVENTS_PER_SECOND.toLocaleString('en-US')})`);
console.log(`  runs/s:             ${runsPerSecond.toFixed(0)} (target ${TARGET_RUNS_PER_SECOND})`);
console.log(`  steps per run:      ${Math.round(steps / RUNS)}, checkpoints completed per run: ${(checkpoints / RUNS).toFixed(1)}, crashes: ${crashes}`);
console.log(`  heap growth:        ${((process.memoryUsage().heapUsed - heapBefore) / 2 ** 20).toFixed(1)} MiB`);
console.log(`  invariant violations: ${violations}`);
if (violations > 0) process.exitCode = 1;
