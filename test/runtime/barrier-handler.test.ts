import { describe, expect, test } from 'vitest';
import { BarrierHandler } from '../../src/runtime/barrier-handler.ts';

describe('BarrierHandler, exactly-once (aligned)', () => {
  test('blocks a channel that delivered barrier n until every channel did, then snapshots once', () => {
    const handler = new BarrierHandler('exactly-once', 3);
    expect(handler.onBarrier(0, 1)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.isBlocked(0)).toBe(true);
    expect(handler.isBlocked(1)).toBe(false);
    expect(handler.onBarrier(2, 1).snapshotId).toBe(0);
    expect(handler.onBarrier(1, 1).snapshotId).toBe(1);
    expect([0, 1, 2].map((slot) => handler.isBlocked(slot))).toEqual([false, false, false]);
  });

  test('a newer barrier during alignment aborts the older checkpoint', () => {
    const handler = new BarrierHandler('exactly-once', 2);
    handler.onBarrier(0, 1);
    expect(handler.onBarrier(1, 2)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 1 });
    expect(handler.isBlocked(1)).toBe(true);
    expect(handler.onBarrier(0, 2).snapshotId).toBe(2);
    // A late barrier 1 is stale now.
    expect(handler.onBarrier(0, 1)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
  });

  test('an input that ends stops being waited for', () => {
    const handler = new BarrierHandler('exactly-once', 2);
    handler.onBarrier(0, 4);
    expect(handler.onEndOfInput(1).snapshotId).toBe(4);
    expect(handler.allInputsEnded).toBe(false);
  });

  test('an aborted checkpoint releases its alignment', () => {
    const handler = new BarrierHandler('exactly-once', 2);
    handler.onBarrier(0, 3);
    handler.onCheckpointAborted(3);
    expect(handler.isBlocked(0)).toBe(false);
    expect(handler.onBarrier(1, 3).snapshotId).toBe(0);
  });

  test('an abort of checkpoint n before its barriers leaves an older checkpoint aligning (a decline of 3 does not abort 2)', () => {
    const handler = new BarrierHandler('exactly-once', 2);
    handler.onCheckpointAborted(3);
    expect(handler.onBarrier(0, 2)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.isBlocked(0)).toBe(true);
    expect(handler.onBarrier(1, 2).snapshotId).toBe(2);
    // Barrier 3 itself, aborted before it came, is ignored on every input.
    expect(handler.onBarrier(0, 3)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.isBlocked(0)).toBe(false);
    expect(handler.onBarrier(1, 3).snapshotId).toBe(0);
    expect(handler.onBarrier(0, 4).snapshotId).toBe(0);
    expect(handler.onBarrier(1, 4).snapshotId).toBe(4);
  });

  test('impossible events throw', () => {
    const handler = new BarrierHandler('exactly-once', 2);
    handler.onEndOfInput(0);
    expect(() => handler.onEndOfInput(0)).toThrow(/ended twice/);
    expect(() => handler.onBarrier(0, 1)).toThrow(/ended input/);
    expect(() => new BarrierHandler('exactly-once', 0)).toThrow(/inputCount/);
  });

  test('a second barrier n on an input during the alignment of n, and the end of an input held back behind its barrier, throw', () => {
    // Unaligned does not hold the input back, so the handler itself must notice the repeat.
    const unaligned = new BarrierHandler('unaligned', 2);
    unaligned.onBarrier(0, 1);
    expect(() => unaligned.onBarrier(0, 1)).toThrow(/second barrier 1 on input 0 during alignment/);
    const aligned = new BarrierHandler('exactly-once', 2);
    aligned.onBarrier(0, 1);
    expect(() => aligned.onEndOfInput(0)).toThrow(/end of input 0 behind a blocked barrier/);
  });

  test('the barrier of an older checkpoint arriving during the alignment of a newer one is ignored (its upstream skipped the older one)', () => {
    const handler = new BarrierHandler('exactly-once', 2);
    handler.onBarrier(0, 3);
    expect(handler.onBarrier(1, 2)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.aligningCheckpointId).toBe(3);
    expect(handler.hasDelivered(1)).toBe(false);
    expect(handler.isBlocked(1)).toBe(false);
    expect(handler.onBarrier(1, 3).snapshotId).toBe(3);
  });

  test('markHandled never lowers the handled mark: barriers at or below the highest handled checkpoint stay stale', () => {
    const handler = new BarrierHandler('exactly-once', 2);
    handler.markHandled(3);
    handler.markHandled(1);
    expect(handler.onBarrier(0, 2)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.aligningCheckpointId).toBe(0);
    handler.onBarrier(0, 4);
    expect(handler.aligningCheckpointId).toBe(4);
  });
});

describe('BarrierHandler, at-least-once (tracker)', () => {
  test('never blocks and snapshots when the last channel delivered the barrier', () => {
    const handler = new BarrierHandler('at-least-once', 2);
    handler.onBarrier(0, 1);
    expect(handler.isBlocked(0)).toBe(false);
    expect(handler.onBarrier(1, 1).snapshotId).toBe(1);
  });
});

describe('BarrierHandler, unaligned', () => {
  test('snapshots at the first barrier, never blocks, and completes when every live input delivered it', () => {
    const handler = new BarrierHandler('unaligned', 3);
    expect(handler.onBarrier(1, 7)).toEqual({ snapshotId: 7, completedId: 0, abortedId: 0 });
    expect(handler.isBlocked(1)).toBe(false);
    expect(handler.onBarrier(0, 7)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.onEndOfInput(2)).toEqual({ snapshotId: 0, completedId: 7, abortedId: 0 });
  });

  test('an input may end after delivering the barrier while others have not yet', () => {
    const handler = new BarrierHandler('unaligned', 2);
    expect(handler.onBarrier(0, 3).snapshotId).toBe(3);
    expect(handler.onEndOfInput(0)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    expect(handler.onBarrier(1, 3).completedId).toBe(3);
  });
});

describe('BarrierHandler, unaligned snapshot bookkeeping (issue 17)', () => {
  test('the snapshot at the first barrier leaves the checkpoint pending until every input delivered it', () => {
    const handler = new BarrierHandler('unaligned', 2);
    expect(handler.onBarrier(0, 1).snapshotId).toBe(1);
    expect(handler.aligningCheckpointId).toBe(1);
    expect(handler.onBarrier(1, 1)).toEqual({ snapshotId: 0, completedId: 1, abortedId: 0 });
    expect(handler.aligningCheckpointId).toBe(0);
  });

  test('the checkpoint being aligned runs unaligned in unaligned mode, and only while one is open', () => {
    const handler = new BarrierHandler('unaligned', 2);
    expect(handler.pendingIsUnaligned).toBe(false);
    handler.onBarrier(0, 1);
    expect(handler.pendingIsUnaligned).toBe(true);
    handler.onBarrier(1, 1);
    expect(handler.pendingIsUnaligned).toBe(false);
  });

  test('marking the checkpoint handled at its first barrier (the old runtime) drops the other barrier as stale', () => {
    const handler = new BarrierHandler('unaligned', 2);
    handler.onBarrier(0, 1);
    handler.markHandled(1);
    expect(handler.onBarrier(1, 1)).toEqual({ snapshotId: 0, completedId: 0, abortedId: 0 });
    // ... and only the end of an input completes it.
    expect(handler.onEndOfInput(1).completedId).toBe(1);
  });

  test('the planted hold-inputs bug blocks an unaligned input after its barrier; the correct handler never does', () => {
    const planted = new BarrierHandler('unaligned', 2, { holdInputsWhenUnaligned: true });
    planted.onBarrier(0, 1);
    expect(planted.isBlocked(0)).toBe(true);
    const correct = new BarrierHandler('unaligned', 2);
    correct.onBarrier(0, 1);
    expect(correct.isBlocked(0)).toBe(false);
  });
});
