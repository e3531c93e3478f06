/**
 * Barrier handling at a task with one or more input channels, as small state objects
 * (after Flink's BarrierHandlerState): each event method returns what the task must do.
 *
 * - aligned (exactly-once): a channel that delivered barrier n is blocked until every live
 *   channel delivered n; then the task snapshots, forwards n and unblocks. A newer barrier
 *   during alignment aborts the older checkpoint.
 * - at-least-once (Flink's CheckpointBarrierTracker): never blocks; snapshots when the last
 *   live channel delivered n, so records behind the barrier on faster channels end up in
 *   the snapshot (duplicates after a restore). Kept as the negative control.
 * - unaligned: never blocks; snapshots at the *first* barrier n. The records in front of
 *   barrier n on the other inputs (and those it overtook) are taken after the snapshot, so
 *   the task keeps them as channel state of n, replayed on restore; n is complete for the
 *   task once every live input delivered n.
 * - aligned with a timeout (Flink's execution.checkpointing.aligned-checkpoint-timeout, the
 *   alternating handler states): aligned as above, but when the alignment of n takes longer
 *   than the timeout the task switches n to unaligned (`switchToUnaligned`): it snapshots at
 *   once, unblocks its inputs, and the records still in front of barrier n on the inputs not
 *   yet aligned become channel state, exactly as in unaligned mode. The next checkpoint starts
 *   aligned again.
 */
export type CheckpointingMode = 'exactly-once' | 'at-least-once' | 'unaligned';

export interface BarrierDecision {
  /** Take snapshot `snapshotId` now (0: none). */
  snapshotId: number;
  /** Every live input delivered barrier `completedId` (0: none); aligned modes snapshot at this moment. */
  completedId: number;
  /** Checkpoint abandoned by this task because a newer one overtook it (0: none). */
  abortedId: number;
}

const NOTHING: BarrierDecision = Object.freeze({ snapshotId: 0, completedId: 0, abortedId: 0 });

export class BarrierHandler {
  /** Checkpoint being aligned, 0 when waiting for the first barrier. */
  private pendingId = 0;
  /** Highest checkpoint this task has snapshotted or given up on; older barriers are stale. */
  private handledUpToId = 0;
  private readonly arrived: boolean[];
  private arrivedCount = 0;
  private readonly ended: boolean[];
  private liveCount: number;
  /** The checkpoint being aligned was switched to unaligned by the alignment timeout. */
  private pendingSwitched = false;
  /**
   * Checkpoints the coordinator aborted before any of their barriers reached this task: their
   * barriers are ignored when they come. Only those ids: an older checkpoint whose barriers
   * are still on their way is still live (a decline of n+1 does not abort n), so its barriers
   * must still align. Ids at or below handledUpToId are dropped (stale anyway).
   */
  private readonly abortedBeforeArrival = new Set<number>();

  constructor(
    readonly mode: CheckpointingMode,
    readonly inputCount: number,
    /** Planted bug: unaligned mode holds back an input after its barrier, as aligned mode does. */
    private readonly planted: { readonly holdInputsWhenUnaligned?: boolean } = {},
  ) {
    if (!Number.isSafeInteger(inputCount) || inputCount < 1) {
      throw new Error(`BarrierHandler: inputCount must be >= 1, got ${inputCount}`);
    }
    this.arrived = new Array<boolean>(inputCount).fill(false);
    this.ended = new Array<boolean>(inputCount).fill(false);
    this.liveCount = inputCount;
  }

  /** Aligned mode holds back a channel that already delivered the pending barrier; the other modes never block. */
  isBlocked(slot: number): boolean {
    // The slot first: the scheduler asks for every channel with data at every step, and most have not delivered a barrier.
    if (this.arrived[slot] !== true) return false;
    return (this.mode === 'exactly-once' && !this.pendingSwitched) || (this.mode === 'unaligned' && this.planted.holdInputsWhenUnaligned === true);
  }

  /** Whether the checkpoint being aligned runs unaligned at this task (unaligned mode, or switched by the alignment timeout). */
  get pendingIsUnaligned(): boolean {
    return this.pendingId !== 0 && (this.mode === 'unaligned' || this.pendingSwitched);
  }

  /**
   * Aligned mode: the alignment of `checkpointId` timed out. Returns the snapshot to take now
   * (0: nothing to switch, the alignment already completed or gave up). From here on the
   * task's inputs are not held back, and n completes once every live input delivered it.
   */
  switchToUnaligned(checkpointId: number): BarrierDecision {
    if (this.mode !== 'exactly-once' || this.pendingId !== checkpointId || this.pendingSwitched) return NOTHING;
    this.pendingSwitched = true;
    return { snapshotId: checkpointId, completedId: 0, abortedId: 0 };
  }

  /** Input `slot` delivered the barrier of the checkpoint being aligned. */
  hasDelivered(slot: number): boolean {
    return this.arrived[slot] === true;
  }

  get aligningCheckpointId(): number {
    return this.pendingId;
  }

  onBarrier(slot: number, checkpointId: number): BarrierDecision {
    if (this.ended[slot]) throw new Error(`BarrierHandler: barrier ${checkpointId} on ended input ${slot}`);
    if (checkpointId <= this.handledUpToId || this.abortedBeforeArrival.has(checkpointId)) return NOTHING; // a checkpoint already snapshotted or abandoned
    let abortedId = 0;
    if (this.pendingId !== 0 && checkpointId > this.pendingId) {
      abortedId = this.pendingId; // overtaken: Flink aborts the older alignment
      this.handledUpToId = this.pendingId;
      this.resetAlignment();
    }
    const first = this.pendingId === 0;
    if (first) this.pendingId = checkpointId;
    if (checkpointId < this.pendingId) return { snapshotId: 0, completedId: 0, abortedId };
    if (this.arrived[slot]) {
      throw new Error(`BarrierHandler: second barrier ${checkpointId} on input ${slot} during alignment`);
    }
    this.arrived[slot] = true;
    this.arrivedCount++;
    const switched = this.pendingSwitched;
    const completedId = this.completeIfAligned();
    if (this.mode === 'unaligned') return { snapshotId: first ? checkpointId : 0, completedId, abortedId };
    if (switched) return { snapshotId: 0, completedId, abortedId }; // snapshotted when it switched
    return { snapshotId: completedId, completedId, abortedId };
  }

  /** An input ended: it will never deliver the pending barrier, so stop waiting for it. */
  onEndOfInput(slot: number): BarrierDecision {
    if (this.ended[slot]) throw new Error(`BarrierHandler: input ${slot} ended twice`);
    if (this.arrived[slot]) {
      // Aligned mode blocks such a channel; unaligned lets it run to its end after the barrier.
      if (this.mode === 'exactly-once' && !this.pendingSwitched) throw new Error(`BarrierHandler: end of input ${slot} behind a blocked barrier`);
      this.arrived[slot] = false;
      this.arrivedCount--;
    }
    this.ended[slot] = true;
    this.liveCount--;
    if (this.pendingId === 0) return NOTHING;
    const snapshotted = this.mode === 'unaligned' || this.pendingSwitched;
    const completedId = this.completeIfAligned();
    return { snapshotId: snapshotted ? 0 : completedId, completedId, abortedId: 0 };
  }

  /** The coordinator gave up on a checkpoint: release its alignment. */
  onCheckpointAborted(checkpointId: number): void {
    if (checkpointId === this.pendingId) {
      this.handledUpToId = checkpointId;
      this.resetAlignment();
    } else if (checkpointId > this.handledUpToId && this.pendingId === 0) {
      // Not handledUpToId = n: that would make the barriers of an older, still live checkpoint
      // stale too, so records behind them would flow unaligned into its (later) snapshot.
      this.abortedBeforeArrival.add(checkpointId);
    }
    for (const id of this.abortedBeforeArrival) if (id <= this.handledUpToId) this.abortedBeforeArrival.delete(id);
  }

  /**
   * A snapshot taken on a direct trigger (all inputs ended) also counts as handled. Not to be
   * called for an unaligned snapshot at the first barrier: the task must still see barrier n
   * on every other live input before it acknowledges n.
   */
  markHandled(checkpointId: number): void {
    if (checkpointId > this.handledUpToId) this.handledUpToId = checkpointId;
  }

  get allInputsEnded(): boolean {
    return this.liveCount === 0;
  }

  private completeIfAligned(): number {
    if (this.arrivedCount < this.liveCount) return 0;
    const completed = this.pendingId;
    this.handledUpToId = completed;
    this.resetAlignment();
    return completed;
  }

  private resetAlignment(): void {
    this.pendingId = 0;
    this.pendingSwitched = false;
    this.arrivedCount = 0;
    this.arrived.fill(false);
  }
}
