import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { caseArbitrary, explore, type ExploreOptions, type ExploreReport } from '../../../src/harness/explore.ts';
import { checksDeterminism, exploreParallel, type ParallelReport } from '../../../src/harness/parallel/explore-parallel.ts';
import { InProcessExecutor, WorkerPool } from '../../../src/harness/parallel/worker-pool.ts';
import { loadScenarioModule } from '../../../src/harness/scenario-loader.ts';

const SLOW_TEST_MS = 300_000;
const CASE_TIMEOUT_MS = 120_000;
const cwd = process.cwd();
const pool = new WorkerPool(2, cwd, CASE_TIMEOUT_MS);
afterAll(() => pool.close());

function options(overrides: Partial<ExploreOptions>): ExploreOptions {
  return {
    size: { partitions: 2, recordsPerPartition: 6 },
    mode: 'exactly-once',
    backend: 'memory',
    bug: undefined,
    runs: 40,
    seed: 7,
    maxFaults: 3,
    checkDeterminism: true,
    ...overrides,
  };
}

/** Everything a summary prints and a failure reports, as comparable data. */
function figures(report: ExploreReport) {
  const counterexample = report.counterexample;
  return {
    stats: report.stats,
    counterexample:
      counterexample === undefined
        ? undefined
        : {
            spec: counterexample.result.spec,
            violations: counterexample.result.violations,
            traceHash: counterexample.result.observations.traceHash,
            foundAfterRuns: counterexample.foundAfterRuns,
            shrinkSteps: counterexample.shrinkSteps,
            originalFaultCount: counterexample.originalFaultCount,
          },
  };
}

describe('parallel exploration finds what one thread finds', () => {
  test('fc.sample draws the cases fc.check runs for the same seed', async () => {
    const arbitrary = caseArbitrary(oddEvenSum, { scenario: oddEvenSum.name, size: { partitions: 2, recordsPerPartition: 6 }, mode: 'exactly-once', backend: 'memory', bug: undefined }, 3);
    const checked: unknown[] = [];
    await fc.check(fc.property(arbitrary, (spec) => {
      checked.push(spec);
      return true;
    }), { seed: 11, numRuns: 300 });
    expect(fc.sample(arbitrary, { seed: 11, numRuns: 300 })).toEqual(checked);
  });

  test('a passing run: the same summary on 2 worker threads, on the calling thread, and from explore', async () => {
    const chosen = options({ runs: 30 });
    const serial = await explore(oddEvenSum, chosen);
    const inProcess = await exploreParallel(oddEvenSum, chosen, { executor: new InProcessExecutor(cwd), determinism: 'all' });
    const threaded = await exploreParallel(oddEvenSum, chosen, { executor: pool, determinism: 'all' });
    expect(serial.counterexample).toBeUndefined();
    expect(serial.stats.runs).toBe(30);
    expect(figures(inProcess)).toEqual(figures(serial));
    expect(figures(threaded)).toEqual(figures(serial));
  }, SLOW_TEST_MS);

  // Not nondeterministic-sink: its figures differ from run to run by design.
  for (const bug of ['incrby-sink', 'restore-latest-triggered', 'coordinator-drops-sink-acks']) {
    test(`planted bug ${bug}: the same first counterexample, shrunk case and figures on 2 workers as in one thread`, async () => {
      const chosen = options({ bug, runs: 200 });
      const serial = await explore(oddEvenSum, chosen);
      const threaded = await exploreParallel(oddEvenSum, chosen, { executor: pool, determinism: 'all' });
      expect(serial.counterexample).toBeDefined();
      expect(threaded.failingIndex).toBe(serial.counterexample!.foundAfterRuns - 1);
      expect(figures(threaded)).toEqual(figures(serial));
    }, SLOW_TEST_MS);
  }

  test('shards split the cases: together they ran exactly the unsharded run, and the lowest failing index over shards is its', async () => {
    const chosen = options({ bug: 'incrby-sink', runs: 120, seed: 3 });
    const whole = await exploreParallel(oddEvenSum, chosen, { executor: pool, determinism: 'all' });
    expect(whole.failingIndex).toBeDefined();
    const shards: ParallelReport[] = [];
    for (let index = 1; index <= 3; index++) shards.push(await exploreParallel(oddEvenSum, chosen, { executor: pool, determinism: 'all', shard: { index, count: 3 } }));
    expect(shards.map((s) => s.caseRange)).toEqual([{ start: 0, end: 40 }, { start: 40, end: 80 }, { start: 80, end: 120 }]);
    const failing = shards.filter((s) => s.failingIndex !== undefined);
    const first = failing.reduce((a, b) => (b.failingIndex! < a.failingIndex! ? b : a));
    expect(first.failingIndex).toBe(whole.failingIndex);
    expect(first.counterexample!.result.spec).toEqual(whole.counterexample!.result.spec);

    const passing = options({ runs: 30, seed: 5 });
    const wholePass = await exploreParallel(oddEvenSum, passing, { executor: pool, determinism: 'all' });
    const passShards: ParallelReport[] = [];
    for (let index = 1; index <= 4; index++) passShards.push(await exploreParallel(oddEvenSum, passing, { executor: pool, determinism: 'all', shard: { index, count: 4 } }));
    expect(passShards.reduce((sum, s) => sum + s.stats.runs, 0)).toBe(wholePass.stats.runs);
    expect(passShards.reduce((sum, s) => sum + s.stats.steps, 0)).toBe(wholePass.stats.steps);
    expect(passShards.reduce((sum, s) => sum + s.stats.faultsInjected, 0)).toBe(wholePass.stats.faultsInjected);
  }, SLOW_TEST_MS);

  test('determinism modes: sampled reruns every 10th case by index, failing none; both report the same counterexample as all', async () => {
    expect([0, 1, 9, 10, 20, 25].map((index) => checksDeterminism('sampled', index))).toEqual([true, false, false, true, true, false]);
    expect(checksDeterminism('failing', 0)).toBe(false);
    expect(checksDeterminism('all', 3)).toBe(true);
    const chosen = options({ bug: 'incrby-sink', runs: 200 });
    const all = await exploreParallel(oddEvenSum, chosen, { executor: pool, determinism: 'all' });
    for (const determinism of ['sampled', 'failing'] as const) {
      const cheaper = await exploreParallel(oddEvenSum, chosen, { executor: pool, determinism });
      expect(cheaper.determinism).toBe(determinism);
      expect(cheaper.failingIndex).toBe(all.failingIndex);
      expect(figures(cheaper)).toEqual(figures(all));
    }
  }, SLOW_TEST_MS);
});

describe('a worker that crashes or hangs is reported with its case', () => {
  const FIXTURE = 'test/fixtures/parallel/misbehaving-worker.scenario.ts';

  test('a hung case ends at the per-case timeout, naming the case and its replay token', async () => {
    const [hanging] = (await loadScenarioModule(FIXTURE, cwd)).filter((s) => s.name === 'hanging-sink');
    const shortPool = new WorkerPool(2, cwd, 3_000);
    try {
      await expect(exploreParallel(hanging!, options({ size: { partitions: 1, recordsPerPartition: 5 }, runs: 5 }), { executor: shortPool, determinism: 'all' })).rejects.toThrow(
        /worker \d hung while running case [01] of hanging-sink \(replay: npx streamcheck replay \S+\): no answer within 3000 ms/,
      );
    } finally {
      await shortPool.close();
    }
  }, SLOW_TEST_MS);

  test('a thread that exits mid-case is reported with the case, not dropped', async () => {
    const [exiting] = (await loadScenarioModule(FIXTURE, cwd)).filter((s) => s.name === 'exiting-sink');
    const crashPool = new WorkerPool(2, cwd, CASE_TIMEOUT_MS);
    try {
      await expect(exploreParallel(exiting!, options({ size: { partitions: 1, recordsPerPartition: 5 }, runs: 5 }), { executor: crashPool, determinism: 'all' })).rejects.toThrow(
        /worker \d exited with code 7 while running case [01] of exiting-sink \(replay: npx streamcheck replay \S+\)/,
      );
    } finally {
      await crashPool.close();
    }
  }, SLOW_TEST_MS);
});
