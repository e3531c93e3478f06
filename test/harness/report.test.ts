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
  expect(report).toMatch(/Checkpoint \d+ of job odd-even-sum expired before completing\./);
  expect(report).toMatch(/Checkpoint \d+ of job odd-even-sum declined by task sum>redis\[0\]: the task declined the checkpoint \(fault plan\)/);
  expect(report).toMatch(/slowest was \d+, \d+ steps from trigger to completion, waiting last on \S+; backpressure: producers found a full channel \d+ times/);
  expect(report).toMatch(/^PASS /);
  const timeline = formatTimeline(result.trace);
  expect(timeline).toMatch(/!! step +\d+ .*expired before completing/);
  expect(timeline).toMatch(/\*\* step +\d+ .*checkpoint \d+ completed/);
});
