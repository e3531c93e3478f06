/**
 * Simulation throughput of event-time-window beside odd-even-sum, both at 2 partitions x
 * 1,000 records, a checkpoint every 100 virtual ms and the same fault budget (0 to 3 task
 * crashes per run, random by seed, spread over each scenario's own fault-free run length),
 * on one core (this thread), every run judged. Prints figures; asserts nothing about time.
 * Issue 10's aim: event-time-window at least half of odd-even-sum's runs per second.
 *
 *   npm run bench:event-time            # default: 100 runs per scenario
 *   npm run bench:event-time -- 300     # more runs
 */
import seedrandom from 'seedrandom';
import { eventTimeWindow } from '../scenarios/event-time-window.ts';
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { runCase, type CaseSpec } from '../src/harness/run-case.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import type { Fault } from '../src/runtime/faults.ts';

const RUNS = Number(process.argv[2] ?? 100);
if (!Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error(`bench: runs must be a positive integer, got ${process.argv[2]}`);
const SIZE = { partitions: 2, recordsPerPartition: 1_000 };
const MAX_CRASHES = 3;
const WARM_UP_RUNS = 5;
/** Issue 10: event-time-window at no less than this share of odd-even-sum's runs per second. */
const TARGET_SHARE = 0.5;

const base = (scenario: Scenario) => ({ scenario: scenario.name, size: SIZE, mode: 'exactly-once' as const, backend: 'memory' as const, bug: undefined });

/** The same crash counts and relative crash times for every scenario; steps scale to the scenario's run length. */
async function casesFor(scenario: Scenario, runs: number): Promise<CaseSpec[]> {
  const plain = await runCase(scenario, { ...base(scenario), faults: [], schedule: { kind: 'seed', seed: 0 } });
  const runSteps = plain.observations.steps;
  const tasks = scenario.taskCount(SIZE);
  const random = seedrandom.alea('bench-event-time');
  return Array.from({ length: runs }, (_, seed) => {
    const crashes = Math.floor(random() * (MAX_CRASHES + 1));
    const faults: Fault[] = Array.from({ length: crashes }, () => ({
      kind: 'crash-task' as const,
      atStep: Math.floor(random() * runSteps),
      task: Math.floor(random() * tasks),
    })).sort((a, b) => a.atStep - b.atStep);
    return { ...base(scenario), faults, schedule: { kind: 'seed', seed } };
  });
}

interface Figures {
  readonly runsPerSecond: number;
  readonly eventsPerSecond: number;
  readonly stepsPerRun: number;
  readonly violations: number;
  readonly crashes: number;
}

async function measure(scenario: Scenario): Promise<Figures> {
  const cases = await casesFor(scenario, RUNS);
  for (const spec of cases.slice(0, WARM_UP_RUNS)) await runCase(scenario, spec);
  let steps = 0;
  let violations = 0;
  let crashes = 0;
  const started = performance.now();
  for (const spec of cases) {
    const result = await runCase(scenario, spec);
    steps += result.observations.steps;
    violations += result.violations.length;
    crashes += result.observations.faults.length;
  }
  const seconds = (performance.now() - started) / 1000;
  return { runsPerSecond: RUNS / seconds, eventsPerSecond: steps / seconds, stepsPerRun: steps / RUNS, violations, crashes };
}

const format = (value: number): string => Math.round(value).toLocaleString('en-US');
const oddEven = await measure(oddEvenSum);
const eventTime = await measure(eventTimeWindow);
console.log(`${SIZE.partitions}x${SIZE.recordsPerPartition} records, checkpoint every 100 virtual ms, up to ${MAX_CRASHES} task crashes, ${RUNS} runs each, 1 worker, every run judged:`);
for (const [name, figures] of [['odd-even-sum', oddEven], ['event-time-window', eventTime]] as const) {
  console.log(
    `  ${name.padEnd(18)} ${figures.runsPerSecond.toFixed(1)} runs/s, ${format(figures.eventsPerSecond)} events/s, ${format(figures.stepsPerRun)} steps/run, ${figures.crashes} crashes, ${figures.violations} violations`,
  );
}
const share = eventTime.runsPerSecond / oddEven.runsPerSecond;
console.log(`  event-time-window / odd-even-sum: ${(share * 100).toFixed(0)} % of the runs per second (aim: at least ${TARGET_SHARE * 100} %)`);
if (oddEven.violations > 0 || eventTime.violations > 0) process.exitCode = 1;
