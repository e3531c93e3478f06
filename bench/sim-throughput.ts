/**
 * Simulation throughput for odd-even-sum at 2 partitions x 1,000 records, a checkpoint
 * every 100 virtual ms, 0 to 3 crashes per run (random by seed): on one core (this thread,
 * with its garbage-collection share and heap growth), on every core (worker threads), and the
 * bare scheduler loop beside them as a yardstick. Prints figures; asserts nothing about time
 * (targets live here, not in tests). Then, untimed, where the garbage comes from: V8's sampling
 * heap profiler (objects collected since included) over a few runs gives bytes allocated per
 * event and the functions that allocate most. On a shared machine the wall-clock figures move
 * with the load (printed with them); events per CPU-second and the cores the run obtained
 * (CPU-seconds over wall seconds) say how much of a shortfall is the machine's.
 *
 *   npm run bench            # default: 300 runs
 *   npm run bench -- 1000    # more runs
 */
import { Session } from 'node:inspector/promises';
import { availableParallelism, loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import seedrandom from 'seedrandom';
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { runCase, typicalRunSteps, type CaseSpec } from '../src/harness/run-case.ts';
import type { CaseTask } from '../src/harness/parallel/case-runner.ts';
import { WorkerPool } from '../src/harness/parallel/worker-pool.ts';
import type { Fault } from '../src/runtime/faults.ts';
import { RandomChoices } from '../src/sim/choice.ts';
import { Scheduler, type EnabledEvents, type SimWorld } from '../src/sim/scheduler.ts';

const RUNS = Number(process.argv[2] ?? 300);
if (!Number.isSafeInteger(RUNS) || RUNS < 1) throw new Error(`bench: runs must be a positive integer, got ${process.argv[2]}`);
const SIZE = { partitions: 2, recordsPerPartition: 1_000 };
const MAX_CRASHES = 3;
const TARGET_EVENTS_PER_SECOND = 3_000_000;
const TARGET_SPEED_UP = 1.8;
const BARE_LOOP_STEPS = 5_000_000;
const CASE_TIMEOUT_MS = 120_000;
/** Runs the allocation profile covers, and its mean bytes between two samples (V8's default is 32 KiB). */
const ALLOCATION_PROFILE_RUNS = 40;
const ALLOCATION_SAMPLING_INTERVAL_BYTES = 16_384;
const TOP_ALLOCATION_SITES = 6;
const CORES = availableParallelism();

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

const format = (value: number): string => Math.round(value).toLocaleString('en-US');
const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
/** CPU seconds of the whole process (every thread) since `before`: on a shared machine, what the work cost whatever else runs. */
const cpuSecondsSince = (before: NodeJS.CpuUsage): number => {
  const used = process.cpuUsage(before);
  return (used.user + used.system) / 1e6;
};
const collect = (): void => (globalThis as { gc?: () => void }).gc?.();

/** Garbage-collection pauses of this thread, summed in ms while `measure` runs. */
async function withGcTime<T>(measure: () => Promise<T>): Promise<{ value: T; gcMs: number }> {
  let gcMs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration;
  });
  observer.observe({ entryTypes: ['gc'] });
  const value = await measure();
  // GC entries are delivered asynchronously: let the last ones arrive.
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  return { value, gcMs };
}

/** The scheduler alone: a world with one always-enabled no-op event, chosen at random among three. */
async function bareSchedulerEventsPerSecond(): Promise<number> {
  let remaining = BARE_LOOP_STEPS;
  const world: SimWorld = {
    collectEnabled(out: EnabledEvents) {
      if (remaining > 0) {
        out.add(0);
        out.add(1);
        out.add(2);
      }
    },
    execute() {
      remaining--;
    },
    describe: (code) => `event ${code}`,
  };
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: BARE_LOOP_STEPS + 1, keepTrace: false });
  scheduler.attach(world);
  const started = performance.now();
  await scheduler.run();
  return scheduler.step / ((performance.now() - started) / 1000);
}

interface SamplingNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string };
  readonly children: readonly SamplingNode[];
}
interface SamplingProfile {
  readonly head: SamplingNode;
  readonly samples: readonly { readonly size: number; readonly nodeId: number }[];
}

/**
 * Bytes allocated by `measure`, estimated from V8's sampling heap profiler with collected
 * objects kept in (a sample of an object of `size` bytes stands for size / (1 - e^(-size/interval))
 * bytes, V8's own scaling), and the share of the functions that allocated most.
 */
async function allocationProfile(measure: () => Promise<void>): Promise<{ bytes: number; sites: { name: string; share: number }[] }> {
  const session = new Session();
  session.connect();
  try {
    await session.post('HeapProfiler.enable');
    await session.post('HeapProfiler.startSampling', { samplingInterval: ALLOCATION_SAMPLING_INTERVAL_BYTES, includeObjectsCollectedByMajorGC: true, includeObjectsCollectedByMinorGC: true } as never);
    await measure();
    const { profile } = (await session.post('HeapProfiler.stopSampling')) as unknown as { profile: SamplingProfile };
    const nodes = new Map<number, SamplingNode>();
    const visit = (node: SamplingNode): void => {
      nodes.set(node.id, node);
      node.children.forEach(visit);
    };
    visit(profile.head);
    let bytes = 0;
    const bySite = new Map<string, number>();
    for (const sample of profile.samples) {
      const estimated = sample.size / (1 - Math.exp(-sample.size / ALLOCATION_SAMPLING_INTERVAL_BYTES));
      bytes += estimated;
      const frame = nodes.get(sample.nodeId)?.callFrame;
      const name = frame === undefined ? '(unknown)' : `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/') || '(native)'}`;
      bySite.set(name, (bySite.get(name) ?? 0) + estimated);
    }
    const sites = [...bySite].sort((a, b) => b[1] - a[1]).slice(0, TOP_ALLOCATION_SITES).map(([name, siteBytes]) => ({ name, share: siteBytes / bytes }));
    return { bytes, sites };
  } finally {
    session.disconnect();
  }
}

const cases = casesFor(RUNS);
// Warm up the JIT on a few runs before measuring.
for (const spec of cases.slice(0, 10)) await runCase(oddEvenSum, spec);

// One core: this thread.
collect();
const heapBefore = process.memoryUsage().heapUsed;
let steps = 0;
let checkpoints = 0;
let crashes = 0;
let violations = 0;
const oneStarted = performance.now();
const oneCpuBefore = process.cpuUsage();
const { gcMs } = await withGcTime(async () => {
  for (const spec of cases) {
    const result = await runCase(oddEvenSum, spec);
    steps += result.observations.steps;
    checkpoints += result.observations.checkpoints.filter((c) => c.outcome === 'completed').length;
    crashes += result.observations.faults.length;
    violations += result.violations.length;
  }
});
const oneSeconds = (performance.now() - oneStarted) / 1000;
const oneCpuSeconds = cpuSecondsSince(oneCpuBefore);
const heapAfterRuns = process.memoryUsage().heapUsed;
collect();
const heapRetained = process.memoryUsage().heapUsed;

// Every core: worker threads, the same cases (their start-up is not counted: they are warmed on the first round).
const pool = new WorkerPool(CORES, process.cwd(), CASE_TIMEOUT_MS);
const tasks: CaseTask[] = cases.map((spec, index) => ({ index, scenario: { name: oddEvenSum.name, module: undefined }, spec, checkDeterminism: false, properties: undefined }));
await pool.runAll(tasks.slice(0, CORES * 10));
const allStarted = performance.now();
const allCpuBefore = process.cpuUsage();
const outcomes = await pool.runAll(tasks);
const allSeconds = (performance.now() - allStarted) / 1000;
const allCpuSeconds = cpuSecondsSince(allCpuBefore);
await pool.close();
const allSteps = outcomes.reduce((total, outcome) => total + (outcome.kind === 'ran' ? outcome.digest.steps : 0), 0);
const allFailures = outcomes.filter((outcome) => outcome.kind !== 'ran' || outcome.digest.failed).length;

const bare = await bareSchedulerEventsPerSecond();
let profiledSteps = 0;
const allocation = await allocationProfile(async () => {
  for (const spec of cases.slice(0, ALLOCATION_PROFILE_RUNS)) profiledSteps += (await runCase(oddEvenSum, spec)).observations.steps;
});

const oneEvents = steps / oneSeconds;
const allEvents = allSteps / allSeconds;
console.log(`odd-even-sum ${SIZE.partitions}x${SIZE.recordsPerPartition}, checkpoint every 100 virtual ms, up to ${MAX_CRASHES} crashes, ${RUNS} runs, every run judged:`);
console.log(`  machine: ${CORES} cores, load average ${loadavg().map((load) => load.toFixed(1)).join(' / ')} (1/5/15 min) at the end; other processes share these cores`);
console.log(`  1 worker (this thread):   ${format(oneEvents)} events/s, ${(RUNS / oneSeconds).toFixed(0)} runs/s (target ${format(TARGET_EVENTS_PER_SECOND)} events/s)`);
console.log(`  ${CORES} workers (all cores):  ${format(allEvents)} events/s, ${(outcomes.length / allSeconds).toFixed(0)} runs/s; speed-up ${(allEvents / oneEvents).toFixed(2)}x (target ${TARGET_SPEED_UP}x on 2 cores)`);
console.log(`  per CPU-second:           ${format(steps / oneCpuSeconds)} events (1 worker), ${format(allSteps / allCpuSeconds)} events (all cores): throughput a loaded machine does not hide`);
console.log(`  cores obtained:           ${(oneCpuSeconds / oneSeconds).toFixed(2)} (1 worker; GC threads count too), ${(allCpuSeconds / allSeconds).toFixed(2)} of ${CORES} (all cores): below ${CORES}, the machine gave the run less than every core`);
console.log(`  bare scheduler loop:      ${format(bare)} events/s (no runtime, no judging: the ceiling)`);
console.log(`  GC share (1 worker):      ${((gcMs / 1000 / oneSeconds) * 100).toFixed(1)} % of wall time (${gcMs.toFixed(0)} ms)`);
console.log(`  heap growth (1 worker):   ${mib(heapAfterRuns - heapBefore)} over the runs, ${mib(heapRetained - heapBefore)} retained after ${typeof (globalThis as { gc?: unknown }).gc === 'function' ? 'a full GC' : 'the runs (run with --expose-gc for a full GC first)'}`);
console.log(`  allocation (${ALLOCATION_PROFILE_RUNS} runs, sampled): ${format(allocation.bytes / profiledSteps)} bytes per event; most from ${allocation.sites.map((site) => `${site.name} ${(site.share * 100).toFixed(0)} %`).join(', ')}`);
console.log(`  steps per run: ${Math.round(steps / RUNS)}, checkpoints completed per run: ${(checkpoints / RUNS).toFixed(1)}, crashes: ${crashes}`);
console.log(`  invariant violations: ${violations} (1 worker), ${allFailures} (all cores)`);
if (violations > 0 || allFailures > 0 || allSteps !== steps) {
  console.log(`  MISMATCH or violation: ${allSteps} steps on all cores vs ${steps} on one`);
  process.exitCode = 1;
}
