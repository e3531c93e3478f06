import { expect, test } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { checkCheckpointProgress } from '../../properties/progress.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';

/**
 * Unaligned: a backpressured task that took barrier n on every input but not yet the records
 * the barrier overtook is still working towards n (those records become channel state), not
 * sitting on it; once they are taken (a 'drained' event), holding n is sitting again.
 */
test('checkpoint progress: records an unaligned barrier overtook and the task has not taken yet explain a slow acknowledgement', async () => {
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
  observations.faults.length = 0; // nothing explains the expiry now but the task's own progress
  const heldSinceMs = expired.endedAtMs - 0.6 * observations.settings.checkpointTimeoutMs;
  const task = observations.taskInputCounts.findIndex((inputs, t) => inputs > 0 && expired.snapshotCauses[t] === undefined);
  expect(task).toBeGreaterThanOrEqual(0);
  const attempt = observations.barrierEvents.find((e) => e.task === task)?.attempt ?? 0;
  const base = { task, attempt, checkpointId: expired.checkpointId, atStep: expired.triggeredAtStep, atMs: heldSinceMs, blockedSlots: [] };
  for (let inputSlot = 0; inputSlot < observations.taskInputCounts[task]!; inputSlot++) {
    observations.barrierEvents.push({ ...base, inputSlot, ...(inputSlot === 0 ? { recordsOvertaken: 3 } : {}) });
  }
  expect(checkCheckpointProgress(observations)).toEqual([]);
  observations.barrierEvents.push({ ...base, inputSlot: 0, kind: 'drained' });
  expect(checkCheckpointProgress(observations).map((v) => v.anomaly)).toEqual(['unexplained expired checkpoint']);
});
