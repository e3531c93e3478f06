import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { kafka2pc } from '../../../scenarios/kafka-2pc.ts';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { definedCoveragePoints } from '../../../src/harness/coverage.ts';
import { caseArbitrary, explorationPlans, explore, plannedCaseRounds, type ExploreOptions } from '../../../src/harness/explore.ts';
import { runCase } from '../../../src/harness/run-case.ts';
import { NO_STEERING, plannedCoveragePoints, steeringFrom, steeringFromPlans } from '../../../src/harness/steering.ts';

const base = { scenario: 'kafka-2pc', size: kafka2pc.defaultSize, mode: 'exactly-once' as const, backend: 'fs' as const, bug: undefined };
const oddEvenSumBase = { ...base, scenario: 'odd-even-sum', size: oddEvenSum.defaultSize };
const options: ExploreOptions = { size: { partitions: 2, recordsPerPartition: 6 }, mode: 'exactly-once', backend: 'fs', bug: undefined, runs: 60, seed: 9, maxFaults: 3, checkDeterminism: false };

describe('steering', () => {
  test('weights rise for fault kinds with unreached points and stay at 1 for kinds whose points were all reached', () => {
    const reachedEveryCrashTaskPoint = Object.fromEntries(definedCoveragePoints(kafka2pc).filter((point) => point.includes('crash-task')).map((point) => [point, 1]));
    const steering = steeringFrom(kafka2pc, reachedEveryCrashTaskPoint);
    expect(steering.faultKindFactors['crash-task']).toBe(1);
    expect(steering.faultKindFactors['fail-commit']).toBeGreaterThan(1);
    // The generator then draws fail-commit more often than without steering.
    const share = (specs: { faults: readonly { kind: string }[] }[]): number => {
      const faults = specs.flatMap((spec) => spec.faults);
      return faults.filter((fault) => fault.kind === 'fail-commit').length / faults.length;
    };
    const plain = share(fc.sample(caseArbitrary(kafka2pc, base, 3, NO_STEERING), { numRuns: 2_000, seed: 4 }));
    // The kind weights alone (plans aimed at pairs and situations would dilute the share).
    const steered = share(fc.sample(caseArbitrary(kafka2pc, base, 3, { ...steering, pairTargets: [], situationTargets: [] }), { numRuns: 2_000, seed: 4 }));
    expect(steered).toBeGreaterThan(plain);
  });

  test('steering names the pairs and situations not reached, and the generator aims plans at exactly those', () => {
    const reached = Object.fromEntries(definedCoveragePoints(oddEvenSum).filter((point) => point !== 'pair drop-ack then rescale' && point !== 'fault decline-checkpoint @ after-end-of-input').map((point) => [point, 1]));
    const steering = steeringFrom(oddEvenSum, reached);
    expect(steering.pairTargets).toEqual([['drop-ack', 'rescale']]);
    expect(steering.situationTargets).toEqual([['decline-checkpoint', 'after-end-of-input']]);
    const plans = fc.sample(caseArbitrary(oddEvenSum, oddEvenSumBase, 3, steering), { numRuns: 300, seed: 8 }).map((spec) => spec.faults);
    const aimedAtPair = plans.filter((plan) => plan.length === 2 && plan[0]!.kind === 'drop-ack' && plan[1]!.kind === 'rescale' && plan[0]!.atStep <= plan[1]!.atStep);
    const aimedAtSituation = plans.filter((plan) => plan.length === 1 && plan[0]!.kind === 'decline-checkpoint' && plan[0]!.when?.situation === 'after-end-of-input');
    // About a third each (free plans draw such plans too, rarely).
    expect(aimedAtPair.length).toBeGreaterThan(60);
    expect(aimedAtSituation.length).toBeGreaterThan(60);
  });

  test('the plan steering counts a point once a plan aims at it reliably: a placement at the first entry from an early step, a pair placed early by step', () => {
    const bound = 100;
    expect(plannedCoveragePoints([{ kind: 'crash-task', atStep: 90, task: 0 }, { kind: 'drop-ack', atStep: 10 }, { kind: 'crash-job', atStep: 101 }], bound)).toEqual(['pair drop-ack then crash-task']);
    expect(plannedCoveragePoints([{ kind: 'drop-ack', atStep: 5, when: { situation: 'during-alignment', occurrence: 1 } }, { kind: 'crash-job', atStep: 5, when: { situation: 'during-recovery', occurrence: 2 } }], bound)).toEqual(['fault drop-ack @ during-alignment']);
    const steering = steeringFromPlans(oddEvenSum, [[{ kind: 'drop-ack', atStep: 10 }, { kind: 'rescale', atStep: 20, by: 1 }]], bound);
    expect(steering.pairTargets).not.toContainEqual(['drop-ack', 'rescale']);
    expect(steering.pairTargets).toContainEqual(['rescale', 'drop-ack']);
  });

  test('the main job generates its cases from the seed alone: the same rounds twice, the second steered away from the first', () => {
    const exploreOptions = { ...options, runs: 50 };
    const first = plannedCaseRounds(oddEvenSum, oddEvenSumBase, 3, 9, 50);
    const again = plannedCaseRounds(oddEvenSum, oddEvenSumBase, 3, 9, 50);
    expect(again.map((round) => round.specs)).toEqual(first.map((round) => round.specs));
    expect(first.map((round) => round.specs.length)).toEqual([10, 10, 10, 10, 10]);
    // A later configuration that knows the plans before it draws other plans than a first one would.
    const after = explorationPlans(oddEvenSum, { ...exploreOptions, priorPlans: explorationPlans(oddEvenSum, exploreOptions) });
    expect(after).not.toEqual(explorationPlans(oddEvenSum, exploreOptions));
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
