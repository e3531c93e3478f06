import { expect, test } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { ExecutionIds, hex128, jobIdOf } from '../../src/runtime/execution-ids.ts';
import { runCase } from '../../src/harness/run-case.ts';

test('ids are 32 hex digits, the same for the same case, different per job, attempt and task; subtask i runs on tm-<i+1>', () => {
  expect(hex128('x')).toMatch(/^[0-9a-f]{32}$/);
  expect(jobIdOf('odd-even-sum')).toBe(jobIdOf('odd-even-sum'));
  expect(jobIdOf('odd-even-sum')).not.toBe(jobIdOf('kafka-2pc'));
  const named: ExecutionIds['named'] = [];
  const ids = new ExecutionIds(named, 'odd-even-sum', ['numbers[0]', 'numbers[1]', 'sum[0]'], [0, 1, 0]);
  const first = ids.executionAttemptId(2, 0);
  expect(first).toMatch(/^[0-9a-f]{32}$/);
  expect(ids.executionAttemptId(2, 0)).toBe(first);
  expect(new Set([first, ids.executionAttemptId(2, 1), ids.executionAttemptId(1, 0)]).size).toBe(3);
  expect([0, 1, 2].map((task) => ids.taskManager(task))).toEqual(['tm-1', 'tm-2', 'tm-1']);
  expect(named.map((entry) => [entry.taskName, entry.attempt, entry.taskManager])).toEqual([
    ['sum[0]', 0, 'tm-1'],
    ['sum[0]', 1, 'tm-1'],
    ['numbers[1]', 0, 'tm-2'],
  ]);
});

test("an acknowledgement after the checkpoint expired is Flink's late message, naming the execution attempt listed in the observations", async () => {
  const result = await runCase(
    oddEvenSum,
    { scenario: 'odd-even-sum', size: { partitions: 2, recordsPerPartition: 40 }, mode: 'exactly-once', backend: 'fs', bug: undefined, faults: [{ kind: 'expire-checkpoint', atStep: 105 }], schedule: { kind: 'choices', choices: [], tailSeed: null } },
    { keepTrace: true },
  );
  const jobId = result.observations.jobId;
  const late = result.trace.map((entry) => /^Received late message for now expired checkpoint attempt (\d+) from task ([0-9a-f]{32}) of job ([0-9a-f]{32}) at (tm-\d+)\.$/.exec(entry.event)).find((match) => match !== null);
  expect(late).toBeDefined();
  expect(late![3]).toBe(jobId);
  const expired = result.observations.checkpoints.find((c) => c.outcome === 'expired')!;
  expect(Number(late![1])).toBe(expired.checkpointId);
  expect(expired.reason).toBe(`Checkpoint ${expired.checkpointId} of job ${jobId} expired before completing.`);
  const attempt = result.observations.executionAttempts.find((entry) => entry.executionAttemptId === late![2]);
  expect(attempt?.taskManager).toBe(late![4]);
});
