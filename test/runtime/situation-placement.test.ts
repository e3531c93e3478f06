import { describe, expect, test } from 'vitest';
import { kafka2pc } from '../../scenarios/kafka-2pc.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { reachedCoveragePoints } from '../../src/harness/coverage.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';
import type { Scenario } from '../../src/harness/scenario.ts';
import type { Fault } from '../../src/runtime/faults.ts';
import { describeFault } from '../../src/runtime/job.ts';
import type { FaultSituation } from '../../src/runtime/situations.ts';

function spec(scenario: Scenario, faults: Fault[]): CaseSpec {
  return { scenario: scenario.name, size: scenario.defaultSize, mode: 'exactly-once', backend: 'fs', bug: undefined, faults, schedule: { kind: 'seed', seed: 3 } };
}

/**
 * The job's situation before each step from 0 to lastStep, each read by a run whose only fault
 * is a crash placed at that step: a run is the plain run until its first fault fires, and the
 * fault records the situation it fired in.
 */
async function situationsByStep(lastStep: number): Promise<FaultSituation[]> {
  const situations: FaultSituation[] = [];
  for (let step = 0; step <= lastStep; step++) {
    const probe = await runCase(oddEvenSum, spec(oddEvenSum, [{ kind: 'crash-task', atStep: step, task: 0 }]));
    situations.push(probe.observations.faults[0]!.situation as FaultSituation);
  }
  return situations;
}

describe('faults placed by situation', () => {
  test('a crash placed at the 2nd partially acknowledged checkpoint from step 20 fires at the step the job enters that situation the 2nd time after step 20', async () => {
    const placed: Fault = { kind: 'crash-task', atStep: 20, task: 1, when: { situation: 'checkpoint-partially-acked', occurrence: 2 } };
    const result = await runCase(oddEvenSum, spec(oddEvenSum, [placed]));
    expect(result.violations).toEqual([]);
    const [fired] = result.observations.faults;
    expect(fired!.situation).toBe('checkpoint-partially-acked');
    // The steps where the plain run enters the situation (a step where it holds and did not before), from step 20 on.
    const situations = await situationsByStep(fired!.atStep);
    const entries = situations.flatMap((situation, step) => (step >= 20 && situation === 'checkpoint-partially-acked' && (step === 20 || situations[step - 1] !== situation) ? [step] : []));
    expect(entries).toHaveLength(2);
    expect(entries[1]).toBe(fired!.atStep);
    expect(result.observations.failovers[0]!.atStep).toBe(fired!.atStep);
  });

  test('the fault prints in domain words, and a situation the run never enters that often leaves it not reached', async () => {
    const placed: Fault = { kind: 'crash-task', atStep: 0, task: 2, when: { situation: 'checkpoint-partially-acked', occurrence: 3 } };
    const names = ['source-0', 'source-1', 'sum-0', 'sum-1'];
    expect(describeFault(placed, names)).toBe('task sum-0 crashes while a checkpoint is partially acknowledged (the 3rd time)');
    expect(describeFault({ ...placed, atStep: 7, when: { situation: 'during-recovery', occurrence: 1 } }, names)).toBe('task sum-0 crashes during the recovery from a failure (the first time from step 7)');
    expect(describeFault({ kind: 'drop-ack', atStep: 0, when: { situation: 'during-alignment', occurrence: 2 } }, names)).toBe('the next acknowledgement to the coordinator is lost (while a task aligns the barriers of a checkpoint (the 2nd time))');

    const never: Fault = { kind: 'crash-job', atStep: 0, when: { situation: 'after-end-of-input', occurrence: 64 } };
    const result = await runCase(oddEvenSum, spec(oddEvenSum, [never]));
    expect(result.observations.faults).toEqual([]);
    expect(result.observations.faultsNotReached).toEqual([describeFault(never, result.observations.taskNames)]);
    expect(result.observations.outcome).toBe('finished');
  });

  test('a fault placed at a transaction situation fires while the sink is in it, as the coverage judges it', async () => {
    const placed: Fault = { kind: 'fence-transactions', atStep: 0, when: { situation: 'transaction pre-committed', occurrence: 1 } };
    const result = await runCase(kafka2pc, spec(kafka2pc, [placed]));
    expect(result.violations).toEqual([]);
    expect(result.observations.faults).toHaveLength(1);
    expect(reachedCoveragePoints(result.observations)).toContain('fault fence-transactions @ transaction pre-committed');
    // Placed by step at the step it fired, the same fault makes the same run (the trace differs only in the fault's description).
    const atStep = result.observations.faults[0]!.atStep;
    const byStep = await runCase(kafka2pc, spec(kafka2pc, [{ kind: 'fence-transactions', atStep }]));
    expect(byStep.observations.steps).toBe(result.observations.steps);
    expect(byStep.observations.connectorEvents).toEqual(result.observations.connectorEvents);
    expect(reachedCoveragePoints(byStep.observations)).toContain('fault fence-transactions @ transaction pre-committed');
  });
});
