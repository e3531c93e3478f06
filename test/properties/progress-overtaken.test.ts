import { expect, test } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { checkCheckpointProgress } from '../../properties/progress.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';
import type { CheckpointingMode } from '../../src/runtime/barrier-handler.ts';

/** A backpressured job: wide channels fill up in front of a sink that writes every key. */
function backpressured(mode: CheckpointingMode, seed: number): CaseSpec {
  return {
    scenario: 'odd-even-sum',
    size: { partitions: 2, recordsPerPartition: 200 },
    mode,
    backend: 'memory',
    bug: undefined,
    faults: [],
    schedule: { kind: 'seed', seed },
    channelCapacity: 32,
    sinkBufferKeys: 1,
  };
}

/**
 * Unaligned checkpoints exist for backpressure: the records a barrier overtook are copied into
 * the channel state when the task takes the barrier, so the acknowledgement does not wait for
 * them to drain. Before, an unaligned task acknowledged only once it had taken them, and
 * completed fewer checkpoints than aligned mode on this job.
 */
test('unaligned checkpoints complete under backpressure without waiting for the overtaken records to drain', async () => {
  for (const seed of [1, 2, 3]) {
    const unaligned = await runCase(oddEvenSum, backpressured('unaligned', seed));
    const aligned = await runCase(oddEvenSum, backpressured('exactly-once', seed));
    expect(unaligned.violations).toEqual([]);
    expect(aligned.violations).toEqual([]);
    // The barriers did overtake queued records, and those records are in the completed checkpoints' channel state.
    expect(unaligned.observations.barrierEvents.some((e) => (e.recordsOvertaken ?? 0) > 0)).toBe(true);
    const completedIds = new Set(unaligned.observations.checkpoints.filter((c) => c.outcome === 'completed').map((c) => c.checkpointId));
    expect(unaligned.observations.alignment.some((a) => completedIds.has(a.checkpointId) && a.recordsInChannelState > 0)).toBe(true);
    const completed = (result: typeof unaligned): number => result.observations.checkpoints.filter((c) => c.outcome === 'completed').length;
    expect(completed(unaligned)).toBeGreaterThan(completed(aligned));
  }
}, 120_000);

/**
 * The stricter progress rule: a task that took barrier n on every live input and then held n
 * for more than half the timeout sat on it, in unaligned mode too, even if the barriers
 * overtook records it has not processed yet (they are channel state already).
 */
test('checkpoint progress: records an unaligned barrier overtook do not excuse a late acknowledgement', async () => {
  const spec: CaseSpec = {
    scenario: 'odd-even-sum',
    size: oddEvenSum.defaultSize,
    mode: 'unaligned',
    backend: 'memory',
    bug: undefined,
    faults: [{ kind: 'expire-checkpoint', atStep: 101 }],
    schedule: { kind: 'choices', choices: [], tailSeed: null },
  };
  const observations = structuredClone((await runCase(oddEvenSum, spec)).observations);
  const expired = observations.checkpoints.find((c) => c.outcome === 'expired')!;
  expect(expired).toBeDefined();
  expect(checkCheckpointProgress(observations)).toEqual([]); // the expiry fault explains it
  observations.faults.length = 0; // nothing explains the expiry now but the task's own progress
  const heldSinceMs = expired.endedAtMs - 0.6 * observations.settings.checkpointTimeoutMs;
  const task = observations.taskInputCounts.findIndex((inputs, t) => inputs > 0 && expired.snapshotCauses[t] === undefined);
  expect(task).toBeGreaterThanOrEqual(0);
  const attempt = observations.barrierEvents.find((e) => e.task === task)?.attempt ?? 0;
  const base = { task, attempt, checkpointId: expired.checkpointId, atStep: expired.triggeredAtStep, atMs: heldSinceMs, blockedSlots: [] };
  for (let inputSlot = 0; inputSlot < observations.taskInputCounts[task]!; inputSlot++) {
    observations.barrierEvents.push({ ...base, inputSlot, ...(inputSlot === 0 ? { recordsOvertaken: 3 } : {}) });
  }
  expect(checkCheckpointProgress(observations).map((v) => v.anomaly)).toEqual(['unexplained expired checkpoint']);
});
