import { expect, test } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { formatTimeline, formatVerdict } from '../../src/harness/report.ts';
import { runCase } from '../../src/harness/run-case.ts';

const base = { scenario: 'odd-even-sum', size: { partitions: 2, recordsPerPartition: 40 }, mode: 'exactly-once' as const, backend: 'fs' as const, bug: undefined };

test('a report names expired and declined checkpoints with Flink messages, the slowest checkpoint and backpressure', async () => {
  // Step 105 falls inside the second checkpoint's window in the plain schedule (one step a virtual ms, a checkpoint every 100).
  const result = await runCase(oddEvenSum, {
    ...base,
    faults: [{ kind: 'expire-checkpoint', atStep: 105 }, { kind: 'decline-checkpoint', atStep: 150, task: 2 }],
    schedule: { kind: 'choices', choices: [], tailSeed: null },
  }, { keepTrace: true });
  const report = formatVerdict(result).join('\n');
  // Flink's words and ids: a 32-hex JobID and ExecutionAttemptID, and a task manager; a table maps the ids back to tasks.
  const jobId = result.observations.jobId;
  expect(jobId).toMatch(/^[0-9a-f]{32}$/);
  expect(report).toContain(`of job ${jobId} expired before completing.`);
  expect(report).toMatch(new RegExp(`Checkpoint \\d+ of job ${jobId} expired before completing\\.`));
  const decline = /Decline checkpoint \d+ by task ([0-9a-f]{32}) of job ([0-9a-f]{32}) at (tm-\d+)\. Reason: the task declined the checkpoint \(fault plan\)/.exec(report);
  expect(decline).not.toBeNull();
  expect(decline![2]).toBe(jobId);
  expect(report).toContain(`job ${jobId} = odd-even-sum; execution attempts:`);
  expect(report).toContain(`${decline![1]}  sum>redis[0], attempt 0, ${decline![3]}`);
  expect(report).toMatch(/slowest was \d+, \d+ steps from trigger to completion, waiting last on \S+; backpressure: producers found a full channel \d+ times/);
  expect(report).toMatch(/^PASS /);
  const timeline = formatTimeline(result.trace);
  expect(timeline).toMatch(/!! step +\d+ .*expired before completing/);
  expect(timeline).toMatch(/\*\* step +\d+ .*checkpoint \d+ completed/);
});
