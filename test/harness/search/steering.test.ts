import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { kafka2pc } from '../../../scenarios/kafka-2pc.ts';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { definedCoveragePoints } from '../../../src/harness/coverage.ts';
import { caseArbitrary, explore, type ExploreOptions } from '../../../src/harness/explore.ts';
import { runCase } from '../../../src/harness/run-case.ts';
import { NO_STEERING, steeringFrom } from '../../../src/harness/steering.ts';

const options: ExploreOptions = { size: { partitions: 2, recordsPerPartition: 6 }, mode: 'exactly-once', backend: 'fs', bug: undefined, runs: 60, seed: 9, maxFaults: 3, checkDeterminism: false };

describe('steering', () => {
  test('weights rise for fault kinds with unreached points and stay at 1 for kinds whose points were all reached', () => {
    const reachedEveryCrashTaskPoint = Object.fromEntries(definedCoveragePoints(kafka2pc).filter((point) => point.includes('crash-task')).map((point) => [point, 1]));
    const steering = steeringFrom(kafka2pc, reachedEveryCrashTaskPoint);
    expect(steering.faultKindFactors['crash-task']).toBe(1);
    expect(steering.faultKindFactors['fail-commit']).toBeGreaterThan(1);
    // The generator then draws fail-commit more often than without steering.
    const base = { scenario: 'kafka-2pc', size: kafka2pc.defaultSize, mode: 'exactly-once' as const, backend: 'fs' as const, bug: undefined };
    const share = (specs: { faults: readonly { kind: string }[] }[]): number => {
      const faults = specs.flatMap((spec) => spec.faults);
      return faults.filter((fault) => fault.kind === 'fail-commit').length / faults.length;
    };
    const plain = share(fc.sample(caseArbitrary(kafka2pc, base, 3, NO_STEERING), { numRuns: 400, seed: 4 }));
    const steered = share(fc.sample(caseArbitrary(kafka2pc, base, 3, steering), { numRuns: 400, seed: 4 }));
    expect(steered).toBeGreaterThan(plain);
  });

  // Steering is opt-in, and its gain is not systematic at 60 runs of a 2 x 6 instance: with the
  // fault kinds of rescaling and the zombie fence, kafka-2pc seeds 9/1/2 reached 103/100/90 points
  // steered against 109/103/92 uniform. The test guards against steering losing much coverage,
  // not for a gain one seed cannot show.
  test('a steered exploration is reproducible from its seed, and reaches about the coverage of an unsteered one of the same length', async () => {
    const first = await explore(kafka2pc, { ...options, steer: true });
    const again = await explore(kafka2pc, { ...options, steer: true });
    expect(again.stats).toEqual(first.stats);
    const unsteered = await explore(kafka2pc, options);
    expect(first.stats.runs).toBe(options.runs);
    expect(Object.keys(first.stats.coverage).length).toBeGreaterThanOrEqual(0.9 * Object.keys(unsteered.stats.coverage).length);
  }, 180_000);

  test('a steered failure shrinks and replays like any other', async () => {
    const report = await explore(oddEvenSum, { ...options, backend: 'memory', bug: 'incrby-sink', properties: ['exactly-once'], runs: 200, steer: true });
    const counterexample = report.counterexample!;
    expect(counterexample.result.violations.map((v) => v.property)).toContain('exactly-once');
    expect(counterexample.result.spec.faults.length).toBeLessThanOrEqual(1);
    expect((await runCase(oddEvenSum, counterexample.result.spec)).violations.map((v) => v.property)).toContain('exactly-once');
  }, 180_000);
});
