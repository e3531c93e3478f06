/**
 * Cost of credit-based flow control and of Flink's task metrics and checkpoint details (issue
 * 11) on odd-even-sum's runs per second, three ways in alternating rounds (the same cases, so
 * the machine's load hits all alike): credit-based flow control with the metrics (the default),
 * the same without the metrics (`flowMetrics: false`), and bounded queues of 8 elements without
 * the metrics (`channelCapacity: 8`: the runtime before issue 11's flow control, which it runs
 * exactly, as a special case of the credit model). Prints figures; asserts nothing (no timed
 * assertions in tests). Credit changes the schedules (a receiver holds other counts than a
 * bounded queue), so the steps per run are printed beside the runs per second. The costs are
 * taken from runs per CPU-second of this process (process.cpuUsage): on a machine shared with
 * other work, wall time swings with the load, CPU time much less.
 *
 *   npm run bench:flow            # 5 rounds of 150 runs each way
 *   npm run bench:flow -- 8 300
 */
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { runCase, type CaseSpec } from '../src/harness/run-case.ts';
import type { Scenario } from '../src/harness/scenario.ts';

const ROUNDS = Number(process.argv[2] ?? 5);
const RUNS_PER_ROUND = Number(process.argv[3] ?? 150);
for (const [name, value] of [['rounds', ROUNDS], ['runs per round', RUNS_PER_ROUND]] as const) {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`bench:flow: ${name} must be a positive integer, got ${value}`);
}
/** The bounded queues' capacity before credit-based flow control (the old default). */
const BOUNDED_QUEUE_ELEMENTS = 8;

interface Variant {
  readonly label: string;
  readonly scenario: Scenario;
  readonly spec: Partial<CaseSpec>;
  ms: number;
  cpuMs: number;
  steps: number;
}

const withoutMetrics: Scenario = { ...oddEvenSum, jobOptions: { ...oddEvenSum.jobOptions, flowMetrics: false } };
const variants: Variant[] = [
  { label: 'credit flow control, metrics on ', scenario: oddEvenSum, spec: {}, ms: 0, cpuMs: 0, steps: 0 },
  { label: 'credit flow control, metrics off', scenario: withoutMetrics, spec: {}, ms: 0, cpuMs: 0, steps: 0 },
  { label: `bounded queues (${BOUNDED_QUEUE_ELEMENTS}), metrics off `, scenario: withoutMetrics, spec: { channelCapacity: BOUNDED_QUEUE_ELEMENTS }, ms: 0, cpuMs: 0, steps: 0 },
];

async function round(variant: Variant, firstSeed: number): Promise<{ ms: number; cpuMs: number; steps: number }> {
  const started = performance.now();
  const cpuStarted = process.cpuUsage();
  let steps = 0;
  for (let i = 0; i < RUNS_PER_ROUND; i++) {
    const result = await runCase(variant.scenario, {
      scenario: oddEvenSum.name, size: oddEvenSum.defaultSize, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'seed', seed: firstSeed + i }, ...variant.spec,
    });
    steps += result.observations.steps;
  }
  const cpu = process.cpuUsage(cpuStarted);
  return { ms: performance.now() - started, cpuMs: (cpu.user + cpu.system) / 1000, steps };
}

for (const variant of variants) await round(variant, 1); // warm up the JIT for every path
for (let r = 0; r < ROUNDS; r++) {
  const seed = 1000 + r * RUNS_PER_ROUND;
  // Rotate which goes first, so a load spike does not always hit the same one.
  for (let i = 0; i < variants.length; i++) {
    const variant = variants[(r + i) % variants.length]!;
    const { ms, cpuMs, steps } = await round(variant, seed);
    variant.ms += ms;
    variant.cpuMs += cpuMs;
    variant.steps += steps;
  }
}
const runs = ROUNDS * RUNS_PER_ROUND;
const rate = (variant: Variant): number => (runs / variant.ms) * 1000;
const cpuRate = (variant: Variant): number => (runs / variant.cpuMs) * 1000;
const [full, noMetrics, bounded] = variants as [Variant, Variant, Variant];
console.log(`odd-even-sum ${oddEvenSum.defaultSize.partitions}x${oddEvenSum.defaultSize.recordsPerPartition}, ${runs} runs each way, ${ROUNDS} rotating rounds`);
for (const variant of variants) {
  console.log(`  ${variant.label}: ${cpuRate(variant).toFixed(0)} runs per CPU-second, ${rate(variant).toFixed(0)} runs/s (${Math.round(variant.steps / runs)} steps per run, ${((variant.cpuMs * 1000) / variant.steps).toFixed(2)} CPU-us per step)`);
}
const fewer = (base: Variant, other: Variant): string => `${(((cpuRate(base) - cpuRate(other)) / cpuRate(base)) * 100).toFixed(1)}%`;
console.log(`  cost of the metrics: ${fewer(noMetrics, full)} fewer runs per CPU-second`);
console.log(`  cost of credit flow control: ${fewer(bounded, noMetrics)} fewer runs per CPU-second`);
console.log(`  cost of credit flow control and metrics (against bounded queues without metrics): ${fewer(bounded, full)} fewer runs per CPU-second (aim: under 15%)`);
