import { describe, expect, test } from 'vitest';
import { kafka2pc } from '../../scenarios/kafka-2pc.ts';
import { explore } from '../../src/harness/explore.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';

/** 300 generated runs plus shrinking, on a loaded 2-core machine. */
const SEARCH_TIMEOUT_MS = 180_000;

const base: Omit<CaseSpec, 'faults'> = { scenario: kafka2pc.name, size: kafka2pc.defaultSize, mode: 'exactly-once', backend: 'fs', bug: undefined, schedule: { kind: 'seed', seed: 8 } };

describe('a pre-committed Kafka transaction fenced before its commit', () => {
  test('by a zombie producer (fence-transactions) without prepared transactions: the commit fails as fenced, the run ends, and the loss is reported per transaction', async () => {
    // Find the moment a pre-committed transaction waits for its notification, then fence it.
    const probe = await runCase(kafka2pc, { ...base, faults: [] });
    const firstCompleted = probe.observations.checkpoints.find((c) => c.outcome === 'completed')!;
    const result = await runCase(kafka2pc, { ...base, preparedTransactions: false, faults: [{ kind: 'fence-transactions', atStep: firstCompleted.endedAtStep }] });
    expect(result.observations.faults.map((fault) => fault.situation)).toEqual(['completed-before-notify']);
    expect(result.observations.failovers[0]?.cause).toMatch(/failed in notifyCheckpointComplete\(1\): PRODUCER_FENCED/);
    expect(result.observations.outcome).toBe('finished');
    const lost = result.violations.filter((v) => v.property === 'completed-implies-committed');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.every((v) => v.anomaly === 'lost write' && /pre-committed in completed checkpoint 1, was never committed \(fence-abort\)/.test(v.message))).toBe(true);
    // Kafka aborts what it fences: no sink survives this, so a plan with a fence runs with prepared transactions unless it says otherwise.
    expect(kafka2pc.faultSettings?.['fence-transactions']).toEqual({ preparedTransactions: true });
  });

  test('by a zombie instance with KIP-939 prepared transactions (what generated plans get): the sink fails over and the new instance commits the kept transaction', async () => {
    const probe = await runCase(kafka2pc, { ...base, preparedTransactions: true, faults: [] });
    const firstCompleted = probe.observations.checkpoints.find((c) => c.outcome === 'completed')!;
    // The plan leaves preparedTransactions unset: the fault's setting applies.
    const result = await runCase(kafka2pc, { ...base, faults: [{ kind: 'fence-transactions', atStep: firstCompleted.endedAtStep }] });
    expect(result.observations.faults.map((fault) => fault.situation)).toEqual(['completed-before-notify']);
    expect(result.observations.failovers[0]?.cause).toMatch(/failed in notifyCheckpointComplete\(1\): PRODUCER_FENCED/);
    expect(result.observations.restores.at(-1)?.checkpointId).toBe(1);
    expect(result.violations).toEqual([]);
    expect(kafka2pc.faultKinds).toContain('fence-transactions');
  });

  test('the planted bug fenced-commit-taken-as-done leaves the kept transaction uncommitted, and completed-implies-committed says so', async () => {
    const probe = await runCase(kafka2pc, { ...base, preparedTransactions: true, faults: [] });
    const firstCompleted = probe.observations.checkpoints.find((c) => c.outcome === 'completed')!;
    const result = await runCase(kafka2pc, { ...base, bug: 'fenced-commit-taken-as-done', faults: [{ kind: 'fence-transactions', atStep: firstCompleted.endedAtStep }] });
    expect(result.observations.failovers).toEqual([]);
    const lost = result.violations.filter((v) => v.property === 'completed-implies-committed');
    expect(lost.length).toBeGreaterThan(0);
    expect(lost.some((v) => /pre-committed in completed checkpoint 1, was never committed/.test(v.message))).toBe(true);
  });

  test('a fence while no transaction is pre-committed costs nothing', async () => {
    const probe = await runCase(kafka2pc, { ...base, faults: [] });
    const firstTriggered = probe.observations.checkpoints[0]!;
    const result = await runCase(kafka2pc, { ...base, faults: [{ kind: 'fence-transactions', atStep: firstTriggered.triggeredAtStep - 10 }] });
    expect(result.observations.faults.map((fault) => fault.situation)).toEqual(['between-checkpoints']);
    expect(result.violations).toEqual([]);
  });

  test('by the sink itself on restore (planted bug restore-aborts-pending): generated plans reach it and shrink it', async () => {
    const report = await explore(kafka2pc, {
      size: kafka2pc.defaultSize,
      mode: 'exactly-once',
      backend: 'fs',
      bug: 'restore-aborts-pending',
      runs: 300,
      seed: 424242,
      maxFaults: 3,
      properties: ['completed-implies-committed'],
      checkDeterminism: false,
    });
    const counterexample = report.counterexample;
    expect(counterexample).toBeDefined();
    expect(counterexample!.result.spec.faults.length).toBeLessThanOrEqual(2);
    expect(counterexample!.result.violations.some((v) => /was never committed \(fence-abort\)/.test(v.message))).toBe(true);
  }, SEARCH_TIMEOUT_MS);

  test('a plan naming fence-transactions for a scenario without the hook is refused by name', async () => {
    const { oddEvenSum } = await import('../../scenarios/odd-even-sum.ts');
    await expect(runCase(oddEvenSum, { ...base, scenario: oddEvenSum.name, backend: 'memory', size: oddEvenSum.defaultSize, faults: [{ kind: 'fence-transactions', atStep: 5 }] })).rejects.toThrow(/cannot be injected into odd-even-sum: its environment has no fenceTransactions/);
  });
});
