import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { caseArbitrary, explore, type ExploreOptions } from '../../src/harness/explore.ts';
import { decodeCase, encodeCase } from '../../src/harness/case-token.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';
import type { RunObservations } from '../../src/runtime/observations.ts';

/** 300 generated runs plus shrinking, on a loaded 2-core machine. */
const SEARCH_TIMEOUT_MS = 180_000;
const BUG = 'source-end-of-first-partition';

const options: ExploreOptions = {
  size: oddEvenSum.defaultSize,
  mode: 'exactly-once',
  backend: 'memory',
  bug: BUG,
  runs: 300,
  seed: 424242,
  maxFaults: 3,
  properties: ['exactly-once'],
  checkDeterminism: false,
};

/** A task that held back an input for a pending barrier when another of its inputs ended. */
function inputEndedDuringAlignment(observations: RunObservations): boolean {
  const lastBlocked = new Map<string, boolean>();
  for (const event of observations.barrierEvents) {
    const key = `${event.task}/${event.attempt}`;
    if (event.checkpointId === 0 && event.inputSlot >= 0 && lastBlocked.get(key) === true) return true;
    lastBlocked.set(key, event.blockedSlots.length > 0);
  }
  return false;
}

describe('partitions of unequal length (odd-even-sum)', () => {
  test('the planted source bug that only unequal partitions reach is caught, with a shorter partition 0', async () => {
    const report = await explore(oddEvenSum, options);
    const counterexample = report.counterexample;
    expect(counterexample, `${BUG} was not caught in 300 runs`).toBeDefined();
    const spec = counterexample!.result.spec;
    expect(spec.faults.length).toBeLessThanOrEqual(2);
    expect(spec.partitionRecords).toBeDefined();
    expect(spec.partitionRecords![0]).toBeLessThan(Math.max(...spec.partitionRecords!.slice(1)));
    expect(counterexample!.result.violations.map((v) => v.anomaly)).toContain('lost write');
  }, SEARCH_TIMEOUT_MS);

  test('without unequal partitions the same search does not reach the bug', async () => {
    const report = await explore({ ...oddEvenSum, unequalPartitions: false }, options);
    expect(report.counterexample).toBeUndefined();
    expect(report.stats.runs).toBe(300);
  }, SEARCH_TIMEOUT_MS);

  test('generated cases shorten partitions now and then, and some end an input while a task aligns; the correct job holds', async () => {
    const base = { scenario: oddEvenSum.name, size: oddEvenSum.defaultSize, mode: 'exactly-once' as const, backend: 'memory' as const, bug: undefined };
    // Aligned throughout: an alignment timeout (drawn now and then) would end the alignments this test looks for.
    const specs = fc.sample(caseArbitrary(oddEvenSum, base, 3), { numRuns: 300, seed: 424242 }).map(({ alignedCheckpointTimeoutMs: _timeout, ...spec }) => spec);
    const unequal = specs.filter((spec) => spec.partitionRecords !== undefined);
    expect(unequal.length).toBeGreaterThan(30);
    expect(unequal.some((spec) => new Set(spec.partitionRecords).size > 1)).toBe(true);
    let endedDuringAlignment = 0;
    for (const spec of unequal) {
      const result = await runCase(oddEvenSum, spec);
      expect(result.violations, encodeCase(spec)).toEqual([]);
      if (inputEndedDuringAlignment(result.observations)) endedDuringAlignment++;
    }
    expect(endedDuringAlignment).toBeGreaterThan(0);
  }, SEARCH_TIMEOUT_MS);

  test('a token carries the partition lengths, checked against the size', () => {
    const spec: CaseSpec = {
      scenario: oddEvenSum.name, size: { partitions: 2, recordsPerPartition: 10 }, mode: 'exactly-once', backend: 'memory', bug: undefined,
      faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null }, partitionRecords: [3, 10],
    };
    const taskCount = () => 4;
    expect(decodeCase(encodeCase(spec), taskCount).partitionRecords).toEqual([3, 10]);
    expect(() => decodeCase(encodeCase({ ...spec, partitionRecords: [3] }), taskCount)).toThrow(/replay: partitionRecords must name 2 partitions \(the size's\), got 1/);
    expect(() => decodeCase(encodeCase({ ...spec, partitionRecords: [3, 11] }), taskCount)).toThrow(/replay: partitionRecords\[1\] must be at most the size's 10 records per partition, got 11/);
    expect(() => decodeCase(encodeCase({ ...spec, partitionRecords: [3, -1] }), taskCount)).toThrow(/replay: partitionRecords\[1\] must be in \[0, 1000000\]/);
  });
});
