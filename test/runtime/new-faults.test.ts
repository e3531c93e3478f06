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

  test('the new kinds parse from a plan and name a task where they need one', () => {
    expect(parseFaultPlan([{ kind: 'drop-ack', atStep: 4 }, { kind: 'fail-initialize', atStep: 5, task: 1 }], 4, 'test')).toHaveLength(2);
    expect(() => parseFaultPlan([{ kind: 'fail-initialize', atStep: 5 }], 4, 'test')).toThrow(/task must be an integer in \[0, 4\)/);
  });
});
