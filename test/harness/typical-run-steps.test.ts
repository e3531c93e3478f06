import { fc } from '@fast-check/vitest';
import { describe, expect, test } from 'vitest';
import { intervalJoinScenario } from '../../scenarios/interval-join.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { defineScenario } from '../../src/harness/define-scenario.ts';
import { caseArbitrary } from '../../src/harness/explore.ts';
import { typicalRunSteps } from '../../src/harness/run-case.ts';
import type { Scenario } from '../../src/harness/scenario.ts';
import { pipeline } from '../../src/runtime/pipeline.ts';

function faultSteps(scenario: Scenario): number[] {
  const base = { scenario: scenario.name, size: scenario.defaultSize, mode: 'exactly-once' as const, backend: 'fs' as const, bug: undefined };
  return fc.sample(caseArbitrary(scenario, base, 3), { numRuns: 300, seed: 7 }).flatMap((spec) => spec.faults.map((fault) => fault.atStep));
}

describe('Scenario.typicalRunSteps', () => {
  test('places generated faults over the run length a scenario declares', () => {
    const declared = intervalJoinScenario.typicalRunSteps!(intervalJoinScenario.defaultSize);
    const byDefault = typicalRunSteps(intervalJoinScenario.defaultSize);
    expect(declared).toBeGreaterThan(2 * byDefault);
    const steps = faultSteps(intervalJoinScenario);
    expect(Math.max(...steps)).toBeLessThanOrEqual(declared);
    expect(steps.filter((step) => step > byDefault).length).toBeGreaterThan(steps.length / 3);
  });

  test('without one, faults stay within the default from the input size', () => {
    expect(oddEvenSum.typicalRunSteps).toBeUndefined();
    // odd-even-sum's cases may read one partition more: the default is taken for that size.
    const largest = { ...oddEvenSum.defaultSize, partitions: oddEvenSum.defaultSize.partitions + 1 };
    expect(Math.max(...faultSteps(oddEvenSum))).toBeLessThanOrEqual(typicalRunSteps(largest));
  });

  test("defineScenario passes a user's value through and names a bad one", () => {
    const definition = (typical: (size: { partitions: number; recordsPerPartition: number }) => number) =>
      defineScenario({
        name: 'typical-steps',
        module: 'test/harness/typical-run-steps.test.ts',
        typicalRunSteps: typical,
        build: () => ({ pipeline: pipeline('p').source('s', 1, () => { throw new Error('never run'); }).sink('k', () => ({ write: () => {} })).build() }),
      });
    expect(definition((size) => 50 * size.recordsPerPartition).typicalRunSteps!({ partitions: 2, recordsPerPartition: 40 })).toBe(2000);
    expect(() => definition(() => Number.NaN).typicalRunSteps!({ partitions: 2, recordsPerPartition: 40 })).toThrow(/typical-steps.*typicalRunSteps\(\) must return a positive integer \(steps\), got null/);
  });
});
