import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { kafka2pc } from '../../../scenarios/kafka-2pc.ts';
import { EXIT_OK, main } from '../../../src/cli/main.ts';
import { definedCoveragePoints, formatCoverage, reachedCoveragePoints, summarizeCoverage, TRANSACTION_COVERAGE_POINTS, TRANSACTION_SITUATIONS } from '../../../src/harness/coverage.ts';
import { explore } from '../../../src/harness/explore.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';
import { FAULT_SITUATIONS } from '../../../src/runtime/job.ts';

const plain: CaseSpec = { scenario: 'odd-even-sum', size: { partitions: 2, recordsPerPartition: 6 }, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null } };

describe('coverage points', () => {
  test('defined points: every fault kind in every situation, checkpoint ends, ordered fault pairs', () => {
    const points = definedCoveragePoints(kafka2pc);
    const kinds = kafka2pc.faultKinds.length;
    expect(points.length).toBe(kinds * FAULT_SITUATIONS.length + 6 + kinds * kinds + kinds * TRANSACTION_SITUATIONS.length + TRANSACTION_COVERAGE_POINTS.length);
    expect(points).toContain('fault fail-commit @ completed-before-notify');
    expect(points).toContain('fault crash-task @ transaction pre-committed');
    expect(points).toContain('transaction recovered and committed');
    // Only a scenario with a two-phase-commit sink has transaction points.
    expect(definedCoveragePoints(oddEvenSum).filter((point) => point.includes('transaction'))).toEqual([]);
    expect(points).toContain('pair fail-commit then crash-task');
    expect(new Set(points).size).toBe(points.length);
  });

  test('a run reaches the points of what happened in it, and only defined ones', async () => {
    const crashThenCrash = await runCase(oddEvenSum, { ...plain, checkpointIntervalMs: 10, faults: [{ kind: 'crash-task', atStep: 30, task: 2 }, { kind: 'crash-job', atStep: 60 }] });
    const reached = reachedCoveragePoints(crashThenCrash.observations);
    expect(reached).toContain('pair crash-task then crash-job');
    expect(reached).not.toContain('pair crash-job then crash-task');
    expect(reached).toContain('checkpoint completed');
    expect(reached.filter((point) => point.startsWith('fault '))).toHaveLength(2);
    const defined = new Set(definedCoveragePoints(oddEvenSum));
    for (const point of reached) expect(defined).toContain(point);
    const concurrent = await runCase(oddEvenSum, { ...plain, maxConcurrentCheckpoints: 2, checkpointIntervalMs: 3 });
    expect(reachedCoveragePoints(concurrent.observations)).toContain('checkpoint concurrent');
    expect(reachedCoveragePoints((await runCase(oddEvenSum, plain)).observations)).not.toContain('checkpoint concurrent');
  });

  test('a fault is placed in the state of the sink\'s transactions, and transaction ends are points', async () => {
    const kafkaCase: CaseSpec = { scenario: 'kafka-2pc', size: { partitions: 2, recordsPerPartition: 4 }, mode: 'exactly-once', backend: kafka2pc.backends[0]!, bug: undefined, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null }, checkpointIntervalMs: 10 };
    const clean = await runCase(kafka2pc, kafkaCase);
    expect(reachedCoveragePoints(clean.observations)).toContain('transaction committed');
    // A crash at every step of the plain run: each lands in one transaction situation, and together they see more than one.
    const seen = new Set<string>();
    for (let atStep = 0; atStep < clean.observations.steps; atStep += 3) {
      const crashed = await runCase(kafka2pc, { ...kafkaCase, faults: [{ kind: 'crash-task', atStep, task: 0 }] });
      const points = reachedCoveragePoints(crashed.observations).filter((point) => point.startsWith('fault crash-task @ transaction '));
      expect(points).toHaveLength(crashed.observations.faults.length);
      for (const point of points) seen.add(point);
      for (const point of reachedCoveragePoints(crashed.observations)) expect(definedCoveragePoints(kafka2pc)).toContain(point);
    }
    expect(seen).toContain('fault crash-task @ transaction open');
    expect(seen).toContain('fault crash-task @ transaction pre-committed');
  }, 240_000);

  test('explore counts the points of every run; a declared must-reach point never reached is named', async () => {
    const report = await explore(oddEvenSum, { size: { partitions: 2, recordsPerPartition: 6 }, mode: 'exactly-once', backend: 'memory', bug: undefined, runs: 40, seed: 3, maxFaults: 3, checkDeterminism: false });
    const summary = summarizeCoverage({ ...oddEvenSum, mustReach: ['checkpoint completed', 'fault crash-task @ no-such-situation'] }, report.stats.coverage);
    expect(report.stats.coverage['checkpoint completed']).toBe(40);
    expect(summary.reached).toBeGreaterThan(10);
    expect(summary.reached + summary.neverReached.length).toBe(summary.defined);
    expect(summary.missingMustReach).toEqual(['fault crash-task @ no-such-situation']);
    expect(formatCoverage(summary)).toEqual([
      `coverage: odd-even-sum reached ${summary.reached} of ${summary.defined} points`,
      `  never reached: ${summary.neverReached.length === 0 ? '(none)' : summary.neverReached.join(', ')}`,
      ...summary.unreachable.map(({ point, reason }) => `  ${point}: unreachable: ${reason}`),
      '  MUST-REACH point never reached: fault crash-task @ no-such-situation',
    ]);
  }, 120_000);

  test('the run command ends with the coverage in figures', async () => {
    const out: string[] = [];
    const code = await main(['run', '--scenario', 'odd-even-sum', '--runs', '10', '--records', '4', '--workers', '1'], { out: (line) => out.push(line), err: (line) => out.push(line) });
    expect(code).toBe(EXIT_OK);
    // 7 fault kinds (rescale included) x 7 situations + 6 checkpoint points + 7 x 7 fault pairs, plus the transaction points.
    expect(out).toContainEqual(expect.stringMatching(/^coverage: odd-even-sum reached \d+ of 104 points$/));
    expect(out).toContainEqual(expect.stringMatching(/^  never reached: (\(none\)|fault |pair |checkpoint )/));
  }, 120_000);
});
