import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';
import { parseFaultPlan, type Fault } from '../../src/runtime/faults.ts';
import { checkFaultEffects } from '../../properties/fault-effects.ts';

function spec(faults: Fault[]): CaseSpec {
  return { scenario: 'odd-even-sum', size: oddEvenSum.defaultSize, mode: 'exactly-once', backend: 'fs', bug: undefined, faults, schedule: { kind: 'seed', seed: 3 } };
}

describe('fault timings added by issue 17', () => {
  test('a lost acknowledgement makes its checkpoint outlive the timeout; every invariant still holds', async () => {
    const result = await runCase(oddEvenSum, spec([{ kind: 'drop-ack', atStep: 0 }]));
    expect(result.violations).toEqual([]);
    const observations = result.observations;
    expect(observations.lostMessages.map((lost) => lost.kind)).toEqual(['ack']);
    const victim = observations.checkpoints.find((c) => c.checkpointId === observations.lostMessages[0]!.checkpointId)!;
    expect(victim.outcome).toBe('expired');
    expect(victim.endedAtMs - victim.triggeredAtMs).toBeGreaterThanOrEqual(observations.settings.checkpointTimeoutMs);
    expect(observations.outcome).toBe('finished');
    // Had the checkpoint completed anyway, the fault would have had no effect.
    const tampered = structuredClone(observations);
    tampered.checkpointEvents.push({ seq: 10_000, checkpointId: victim.checkpointId, event: 'completed', atStep: victim.endedAtStep, atMs: victim.endedAtMs });
    expect(checkFaultEffects(tampered).map((v) => v.anomaly)).toContain('checkpoint completed without a lost acknowledgement');
  });

  test('initializeState throwing synchronously on the next deployment fails the job over again, and it recovers', async () => {
    const result = await runCase(oddEvenSum, spec([{ kind: 'fail-initialize', atStep: 10, task: 2 }, { kind: 'crash-task', atStep: 60, task: 0 }]));
    expect(result.violations).toEqual([]);
    const causes = result.observations.failovers.map((failover) => failover.cause);
    expect(causes).toHaveLength(2);
    expect(causes[1]).toMatch(/initializeState threw synchronously/);
    expect(result.observations.outcome).toBe('finished');
  });

  test('an initializeState failure armed while a rescale restart is pending is not judged: the new layout folds its task away', async () => {
    // Found by a plan aimed at the pair rescale then fail-initialize: task 3 (sum>redis[1]) is gone after the rescale down.
    const folded = await runCase(oddEvenSum, { ...spec([{ kind: 'rescale', atStep: 5, by: -1 }, { kind: 'fail-initialize', atStep: 5, task: 3 }]), backend: 'memory', schedule: { kind: 'choices', choices: [], tailSeed: null } });
    expect(folded.observations.taskNames.length).toBe(4);
    expect(folded.observations.failovers.some((failover) => failover.cause.includes('initializeState threw'))).toBe(false);
    expect(folded.violations).toEqual([]);
    // Armed after the restore that laid the job out anew, the failure is judged again.
    const tampered = structuredClone(folded.observations);
    const rescale = tampered.faults.find((fault) => fault.kind === 'rescale')!;
    tampered.restores.push({ seq: rescale.seq + 0.5, atStep: 5, atMs: 0, attempt: 1, checkpointId: undefined });
    expect(checkFaultEffects(tampered).map((v) => v.anomaly)).toContain('initialize failure ignored');
  });

  test('the new kinds parse from a plan and name a task where they need one', () => {
    expect(parseFaultPlan([{ kind: 'drop-ack', atStep: 4 }, { kind: 'fail-initialize', atStep: 5, task: 1 }], 4, 'test')).toHaveLength(2);
    expect(() => parseFaultPlan([{ kind: 'fail-initialize', atStep: 5 }], 4, 'test')).toThrow(/task must be an integer in \[0, 4\)/);
  });
});
