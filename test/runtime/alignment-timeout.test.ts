import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { checkModeSemantics } from '../../properties/mode-semantics.ts';
import { BarrierHandler } from '../../src/runtime/barrier-handler.ts';
import { ALIGNMENT_TIMED_OUT } from '../../src/runtime/observations.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';

describe('BarrierHandler: aligned with an alignment timeout', () => {
  test('the switch snapshots at once, unblocks the aligned inputs, and completes n at the last barrier without a second snapshot', () => {
    const handler = new BarrierHandler('exactly-once', 3);
    handler.onBarrier(0, 5);
    expect(handler.isBlocked(0)).toBe(true);
    // The runtime asks which inputs delivered n when it switches (their channel state is complete).
    expect([0, 1, 2].map((slot) => handler.hasDelivered(slot))).toEqual([true, false, false]);
    expect(handler.switchToUnaligned(5)).toEqual({ snapshotId: 5, completedId: 0, abortedId: 0 });
    expect(handler.pendingIsUnaligned).toBe(true);
    expect([0, 1, 2].map((slot) => handler.isBlocked(slot))).toEqual([false, false, false]);
    expect(handler.switchToUnaligned(5).snapshotId).toBe(0); // once
    expect(handler.onBarrier(1, 5)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.onEndOfInput(0).completedId).toBe(0); // an aligned input may end once it is no longer held back
    expect(handler.onBarrier(2, 5)).toEqual({ snapshotId: 0, completedId: 5, abortedId: 0 });
    // The next checkpoint aligns again.
    handler.onBarrier(1, 6);
    expect(handler.isBlocked(1)).toBe(true);
    expect(handler.pendingIsUnaligned).toBe(false);
  });

  test('nothing to switch: no alignment open, another checkpoint, or not aligned mode', () => {
    const aligned = new BarrierHandler('exactly-once', 2);
    expect(aligned.switchToUnaligned(1).snapshotId).toBe(0);
    aligned.onBarrier(0, 2);
    expect(aligned.switchToUnaligned(1).snapshotId).toBe(0);
    const unaligned = new BarrierHandler('unaligned', 2);
    unaligned.onBarrier(0, 1);
    expect(unaligned.switchToUnaligned(1).snapshotId).toBe(0);
  });
});

function spec(seed: number, alignedCheckpointTimeoutMs: number, extra: Partial<CaseSpec> = {}): CaseSpec {
  return {
    scenario: 'odd-even-sum',
    size: { partitions: 2, recordsPerPartition: 60 },
    mode: 'exactly-once',
    backend: seed % 2 === 0 ? 'memory' : 'fs',
    bug: undefined,
    faults: seed % 3 === 0 ? [] : [{ kind: 'crash-task', atStep: 80 + 13 * seed, task: seed % 4 }],
    schedule: { kind: 'seed', seed },
    channelCapacity: 16,
    sinkBufferKeys: 1,
    alignedCheckpointTimeoutMs,
    ...extra,
  };
}

describe('aligned checkpoints with an alignment timeout, end to end', () => {
  test('checkpoints switched to unaligned keep every invariant of both modes, with and without crashes', async () => {
    let switches = 0;
    let switchedWithChannelState = 0;
    for (const timeoutMs of [0, 3]) {
      for (let seed = 1; seed <= 8; seed++) {
        const result = await runCase(oddEvenSum, spec(seed, timeoutMs));
        expect(result.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
        const switched = result.observations.barrierEvents.filter((e) => e.inputSlot === ALIGNMENT_TIMED_OUT);
        switches += switched.length;
        const completed = new Set(result.observations.checkpoints.filter((c) => c.outcome === 'completed').map((c) => c.checkpointId));
        switchedWithChannelState += result.observations.alignment.filter((a) => completed.has(a.checkpointId) && a.recordsInChannelState > 0).length;
      }
    }
    expect(switches).toBeGreaterThan(20);
    expect(switchedWithChannelState).toBeGreaterThan(5);
  }, 180_000);

  test('mode-semantics: a switch before the timeout passed, or in a mode without one, is a violation', async () => {
    const result = await runCase(oddEvenSum, spec(3, 3));
    const switched = result.observations.barrierEvents.find((e) => e.inputSlot === ALIGNMENT_TIMED_OUT);
    expect(switched).toBeDefined();
    expect(checkModeSemantics(result.observations)).toEqual([]);
    const tooEarly = structuredClone(result.observations);
    (tooEarly.settings as { alignedCheckpointTimeoutMs?: number }).alignedCheckpointTimeoutMs = 10_000;
    expect(checkModeSemantics(tooEarly).map((v) => v.anomaly)).toContain('alignment switched to unaligned without a timeout');
    const noTimeout = structuredClone(result.observations);
    delete (noTimeout.settings as { alignedCheckpointTimeoutMs?: number }).alignedCheckpointTimeoutMs;
    expect(checkModeSemantics(noTimeout).map((v) => v.anomaly)).toContain('alignment switched to unaligned without a timeout');
  }, 60_000);

  test('planted bug: a switch that forgets the records in front of the barrier on the inputs not yet aligned is caught', async () => {
    const result = await runCase(oddEvenSum, { ...spec(1, 0), bug: 'alignment-timeout-drops-channel-state', faults: [] });
    const properties = new Set(result.violations.map((v) => v.property));
    expect(properties.has('barrier-alignment')).toBe(true);
    expect(properties.has('consistent-cut')).toBe(true);
  }, 60_000);
});
