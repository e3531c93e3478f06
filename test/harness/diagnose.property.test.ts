import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { flowScenario, keyedTaskName, type FlowScenarioOptions } from '../../scenarios/flow-diagnosis.ts';
import { diagnose, type Diagnosis } from '../../src/harness/diagnose.ts';
import { runCase, type CaseResult } from '../../src/harness/run-case.ts';
import type { Fault } from '../../src/runtime/faults.ts';
import { partitionOf } from '../../src/runtime/task.ts';

/**
 * Properties with planted causes (issue 11): for generated placements of a slow operator, a
 * hot key and a slow asynchronous snapshot phase, the diagnosis names the planted subtask.
 * Fault-free otherwise, on random schedules; each run's case is in the failure message.
 */
const BASE: Omit<FlowScenarioOptions, 'name' | 'keys' | 'jobOptions'> = {
  description: 'a keyed count with a cause planted by the test',
  defaultSize: { partitions: 2, recordsPerPartition: 80 },
  faultKinds: ['slow-operator', 'slow-snapshot'],
  property: 'diagnosis',
  bugs: [],
  judgeDiagnosis: () => [],
};
const KEYED_PARALLELISM = 2;
const plain = flowScenario({ ...BASE, name: 'flow-plain', keys: { keyCount: (size) => size.recordsPerPartition, hotKeyPercent: 0 }, jobOptions: {} });

async function run(scenario: typeof plain, faults: readonly Fault[], seed: number, partitions: number): Promise<{ result: CaseResult; diagnosis: Diagnosis }> {
  const result = await runCase(scenario, { scenario: scenario.name, size: { partitions, recordsPerPartition: 80 }, mode: 'exactly-once', backend: 'memory', bug: undefined, faults, schedule: { kind: 'seed', seed } });
  expect(result.observations.outcome).toBe('finished');
  expect(result.violations).toEqual([]);
  return { result, diagnosis: diagnose(result.observations) };
}

const PROPERTY_RUNS = 12;

describe('the diagnosis names the planted cause', () => {
  test('a slow operator at a generated keyed subtask is the backpressure root cause', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: KEYED_PARALLELISM - 1 }), fc.integer({ min: 6, max: 12 }), fc.nat(), fc.integer({ min: 2, max: 3 }), async (subtask, extraMsPerRecord, seed, partitions) => {
        const task = partitions + subtask;
        const { result, diagnosis } = await run(plain, [{ kind: 'slow-operator', atStep: 0, task, extraMsPerRecord }], seed, partitions);
        const backpressure = diagnosis.backpressure!;
        // A slow operator behind full buffers backpressures its senders: the first backpressured subtask is a source, the root its slow downstream.
        expect(backpressure.rows.some((row) => row.level !== 'OK'), 'the slow operator backpressures something').toBe(true);
        expect(result.observations.taskNames[backpressure.firstBackpressured!]).toMatch(/^numbers\[/);
        expect(result.observations.taskNames[backpressure.rootCause!]).toBe(keyedTaskName(subtask));
      }),
      { numRuns: PROPERTY_RUNS, seed: 11 },
    );
  }, 300_000);

  test('a generated hot key is found skewed on the subtask that owns it, and is the backpressure root', async () => {
    await fc.assert(
      fc.asyncProperty(fc.stringMatching(/^[a-z]{1,6}$/), fc.integer({ min: 60, max: 90 }), fc.nat(), async (hotKey, hotKeyPercent, seed) => {
        const keyedMs = 4;
        const scenario = flowScenario({
          ...BASE,
          name: 'flow-hot-key',
          keys: { keyCount: (size) => size.recordsPerPartition, hotKeyPercent, hotKey: `hot-${hotKey}` },
          jobOptions: { slowSubtasks: { [keyedTaskName(0)]: keyedMs, [keyedTaskName(1)]: keyedMs } },
        });
        const owner = partitionOf(`hot-${hotKey}`, KEYED_PARALLELISM);
        const { result, diagnosis } = await run(scenario, [], seed, 2);
        const finding = diagnosis.skew.find((f) => f.vertex === 'count>redis')!;
        expect(result.observations.taskNames[finding.hotSubtask!]).toBe(keyedTaskName(owner));
        expect(result.observations.taskNames[diagnosis.backpressure!.rootCause!]).toBe(keyedTaskName(owner));
      }),
      { numRuns: PROPERTY_RUNS, seed: 12 },
    );
  }, 300_000);

  test('a slow asynchronous phase at a generated subtask is the slow checkpoint\'s cause', async () => {
    await fc.assert(
      fc.asyncProperty(fc.nat({ max: 3 }), fc.integer({ min: 200, max: 350 }), fc.integer({ min: 0, max: 60 }), fc.nat(), async (task, extraMs, atStep, seed) => {
        const { result, diagnosis } = await run(plain, [{ kind: 'slow-snapshot', atStep, task, phase: 'async', extraMs }], seed, 2);
        const slow = diagnosis.slowCheckpoint!;
        expect(slow.cause?.item).toBe('async-phase');
        expect(result.observations.taskNames[slow.cause!.task!]).toBe(result.observations.taskNames[task]);
        expect(slow.cause!.ms).toBeGreaterThanOrEqual(extraMs);
      }),
      { numRuns: PROPERTY_RUNS, seed: 13 },
    );
  }, 300_000);

  test('a slow synchronous phase is named as such, and holds the task (its barrier waits behind it)', async () => {
    const { result, diagnosis } = await run(plain, [{ kind: 'slow-snapshot', atStep: 0, task: 2, phase: 'sync', extraMs: 250 }], 5, 2);
    const slow = diagnosis.slowCheckpoint!;
    expect(slow.cause?.item).toBe('sync-phase');
    expect(result.observations.taskNames[slow.cause!.task!]).toBe(keyedTaskName(0));
  }, 120_000);
});
