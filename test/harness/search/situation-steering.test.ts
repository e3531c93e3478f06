import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { countCoverage, summarizeCoverage } from '../../../src/harness/coverage.ts';
import { caseArbitrary, explorationPlans, explore, type ExploreOptions } from '../../../src/harness/explore.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';
import { steeringFrom } from '../../../src/harness/steering.ts';
import type { Fault } from '../../../src/runtime/faults.ts';

const base = { scenario: 'odd-even-sum', size: oddEvenSum.defaultSize, mode: 'exactly-once' as const, backend: 'fs' as const, bug: undefined };

describe('faults placed by situation in generation', () => {
  test('a plan that fails for a placement shrinks to one fault at the first entry into the situation, armed from step 0', () => {
    // Steering that aims at the situation, so the failing plans are drawn often.
    const steering = steeringFrom(oddEvenSum, {});
    const details = fc.check(
      fc.property(caseArbitrary(oddEvenSum, base, 3, steering), (spec) => !spec.faults.some((fault) => fault.kind === 'crash-task' && fault.when?.situation === 'during-alignment')),
      { seed: 3, numRuns: 2_000 },
    );
    expect(details.failed).toBe(true);
    const [shrunk] = details.counterexample!;
    expect(shrunk.faults).toEqual([{ kind: 'crash-task', atStep: 0, task: 0, when: { situation: 'during-alignment', occurrence: 1 } }]);
  });

  test('a run that fails when a crash hits an alignment shrinks toward one fault, placed by step where a step reproduces it', async () => {
    const crashedDuringAlignment = async (spec: CaseSpec): Promise<boolean> =>
      (await runCase(oddEvenSum, spec)).observations.faults.some((fault) => fault.kind === 'crash-task' && fault.situation === 'during-alignment');
    const steering = steeringFrom(oddEvenSum, {});
    const details = await fc.check(
      fc.asyncProperty(caseArbitrary(oddEvenSum, { ...base, size: { partitions: 2, recordsPerPartition: 8 } }, 3, steering), async (spec) => !(await crashedDuringAlignment(spec))),
      { seed: 5, numRuns: 300 },
    );
    expect(details.failed).toBe(true);
    const [shrunk] = details.counterexample!;
    expect(shrunk.faults).toHaveLength(1);
    const fault = shrunk.faults[0]! as Fault;
    expect(fault.kind).toBe('crash-task');
    // Either a plain step placement reproduces it, or the placement waits for the first entry.
    expect(fault.when === undefined || fault.when.occurrence === 1).toBe(true);
    expect(await crashedDuringAlignment(shrunk)).toBe(true);
  }, 120_000);

  // The main job's generation, configuration after configuration, steering past the plans before
  // (src/cli/main.ts): at a generous 300 cases per configuration (the main job runs 200) every
  // point of odd-even-sum is reached. Generous, so that a small change to the generators does not
  // turn it red; the main job itself prints what it reached.
  test('the main job generation reaches every defined point of odd-even-sum', async () => {
    const coverage: Record<string, number> = {};
    let priorPlans: (readonly Fault[])[] = [];
    for (const mode of oddEvenSum.modes ?? ['exactly-once', 'unaligned']) {
      for (const backend of oddEvenSum.backends) {
        const options: ExploreOptions = { size: oddEvenSum.defaultSize, mode, backend, bug: undefined, runs: 300, seed: 1, maxFaults: 3, checkDeterminism: false, priorPlans };
        const report = await explore(oddEvenSum, options);
        expect(report.counterexample).toBeUndefined();
        for (const [point, count] of Object.entries(report.stats.coverage)) countCoverage(coverage, Array.from({ length: count }, () => point));
        priorPlans = [...priorPlans, ...explorationPlans(oddEvenSum, options)];
      }
    }
    const summary = summarizeCoverage(oddEvenSum, coverage);
    expect(summary.neverReached).toEqual([]);
    expect(summary.defined).toBe(104);
  }, 300_000);
});
