import { ALIGNMENT_TIMED_OUT, CHECKPOINT_ABORTED, type BarrierEvent, type RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

export const MODE_SEMANTICS = 'mode-semantics';

/** What a task's barrier handling must look like from outside, tracked from the events alone. */
export class AlignmentModel {
  /** The checkpoint the last event completed (every live input delivered its barrier), 0 if none. */
  completedId = 0;
  private pendingId = 0;
  /** The alignment of the pending checkpoint timed out: it runs unaligned at this task. */
  private switched = false;
  private handledUpToId = 0;
  /** Aborted before any of their barriers came (as the runtime's BarrierHandler): only these ids are stale, not older live ones. */
  private readonly abortedBeforeArrival = new Set<number>();
  private readonly arrived = new Set<number>();
  private readonly ended = new Set<number>();

  constructor(private readonly inputCount: number) {}

  apply(event: BarrierEvent): void {
    this.completedId = 0;
    this.switchedId = 0;
    if (event.inputSlot === CHECKPOINT_ABORTED) return this.aborted(event.checkpointId);
    if (event.inputSlot === ALIGNMENT_TIMED_OUT) {
      const aligning = event.checkpointId === this.pendingId && !this.switched;
      this.switchedId = aligning ? event.checkpointId : 0;
      if (aligning) this.switched = true;
      return;
    }
    if (event.checkpointId === 0) {
      this.ended.add(event.inputSlot);
      this.arrived.delete(event.inputSlot);
      if (this.pendingId !== 0) this.completeIfAligned();
      return;
    }
    const id = event.checkpointId;
    if (id <= this.handledUpToId || this.abortedBeforeArrival.has(id)) return; // stale: its checkpoint was completed or given up here
    if (this.pendingId !== 0 && id > this.pendingId) {
      this.handledUpToId = this.pendingId; // overtaken: the older alignment is abandoned
      this.reset();
    }
    if (this.pendingId === 0) this.pendingId = id;
    if (id < this.pendingId) return;
    this.arrived.add(event.inputSlot);
    this.completeIfAligned();
  }

  /** After an ALIGNMENT_TIMED_OUT event: its checkpoint if the task was aligning it (and had not switched yet), else 0. */
  switchedId = 0;

  /** The inputs that delivered the checkpoint being aligned. */
  get deliveredPending(): number[] {
    return [...this.arrived].sort((a, b) => a - b);
  }

  /** The inputs aligned mode holds back now: none once the alignment timed out. */
  get heldBack(): number[] {
    return this.switched ? [] : this.deliveredPending;
  }

  private aborted(id: number): void {
    if (id === this.pendingId) {
      this.handledUpToId = id;
      this.reset();
    } else if (id > this.handledUpToId && this.pendingId === 0) {
      this.abortedBeforeArrival.add(id);
    }
    for (const aborted of this.abortedBeforeArrival) if (aborted <= this.handledUpToId) this.abortedBeforeArrival.delete(aborted);
  }

  private completeIfAligned(): void {
    if (this.arrived.size < this.inputCount - this.ended.size) return;
    this.completedId = this.pendingId;
    this.handledUpToId = this.pendingId;
    this.reset();
  }

  private reset(): void {
    this.pendingId = 0;
    this.switched = false;
    this.arrived.clear();
  }
}

/**
 * Mode semantics, from every barrier, end of input and abort a task saw: aligned mode
 * (exactly-once) holds back exactly the inputs that delivered the barrier being aligned,
 * until the alignment completes or, with an alignment timeout, until the task switched the
 * checkpoint to unaligned (only after aligning it for the timeout; it then holds none back);
 * unaligned and at-least-once modes never hold an input back (an unaligned checkpoint
 * exists to let barriers overtake data under backpressure instead of waiting for it). A
 * forwarded barrier overtakes every record in flight in unaligned mode and none otherwise.
 */
/**
 * Every barrier event of the run, each with the alignment model of its task attempt after
 * the event was applied.
 */
export function* replayAlignment(observations: RunObservations): Generator<[RunObservations['barrierEvents'][number], AlignmentModel]> {
  // One model per task attempt, keyed by a number (not a `${task}/${attempt}` string built per event).
  const taskCount = observations.taskInputCounts.length;
  const models = new Map<number, AlignmentModel>();
  for (const event of observations.barrierEvents) {
    const key = event.attempt * taskCount + event.task;
    let model = models.get(key);
    if (model === undefined) {
      model = new AlignmentModel(observations.taskInputCounts[event.task]!);
      models.set(key, model);
    }
    model.apply(event);
    yield [event, model];
  }
}

/**
 * Undefined when the switch of a checkpoint to unaligned at a task is allowed: aligned mode
 * with an alignment timeout, the task was aligning that checkpoint, and its first barrier of
 * it arrived at least the timeout before.
 */
function switchNotAllowed(observations: RunObservations, event: BarrierEvent, switchedId: number): string | undefined {
  const timeoutMs = observations.settings.alignedCheckpointTimeoutMs;
  if (observations.settings.mode !== 'exactly-once' || timeoutMs === undefined) return `${observations.settings.mode} mode has no alignment timeout`;
  if (switchedId === 0) return 'the task was not aligning it';
  const first = observations.barrierEvents.find((e) => e.task === event.task && e.attempt === event.attempt && e.checkpointId === event.checkpointId && e.inputSlot >= 0);
  if (first === undefined) return 'no barrier of it had arrived';
  if (event.atMs - first.atMs < timeoutMs) return `it had aligned for ${event.atMs - first.atMs} ms only, less than the ${timeoutMs} ms timeout`;
  return undefined;
}

export function checkModeSemantics(observations: RunObservations): Violation[] {
  const mode = observations.settings.mode;
  const violations: Violation[] = [];
  for (const [event, model] of replayAlignment(observations)) {
    if (event.inputSlot === ALIGNMENT_TIMED_OUT) {
      const why = switchNotAllowed(observations, event, model.switchedId);
      if (why !== undefined) {
        violations.push({
          property: MODE_SEMANTICS,
          anomaly: 'alignment switched to unaligned without a timeout',
          message: `task ${observations.taskNames[event.task]} switched checkpoint ${event.checkpointId} to unaligned (step ${event.atStep}), but ${why}`,
        });
        if (violations.length >= 5) break;
      }
    }
    const expected = mode === 'exactly-once' ? model.heldBack : [];
    if (expected.join(',') === event.blockedSlots.join(',')) continue;
    const what =
      event.inputSlot === CHECKPOINT_ABORTED
        ? `the abort of checkpoint ${event.checkpointId}`
        : event.inputSlot === ALIGNMENT_TIMED_OUT
          ? `the alignment timeout of checkpoint ${event.checkpointId}`
          : event.checkpointId === 0
            ? `end of input ${event.inputSlot}`
            : `barrier ${event.checkpointId} on input ${event.inputSlot}`;
    violations.push({
      property: MODE_SEMANTICS,
      anomaly: expected.length === 0 ? `input held back in ${mode} mode` : 'wrong inputs held back during alignment',
      message: `after ${what} (step ${event.atStep}), task ${observations.taskNames[event.task]} holds back inputs [${event.blockedSlots.join(', ')}]; ${mode} mode holds back [${expected.join(', ')}]`,
    });
    if (violations.length >= 5) break; // the first few say it; a whole run of them says nothing more
  }
  for (const forwarded of observations.forwardedBarriers) {
    if (violations.length >= 5) break;
    // Unaligned barriers overtake every record in flight; aligned ones (and at-least-once) queue behind them.
    const expectedAhead = mode === 'unaligned' ? 0 : forwarded.recordsQueued;
    if (forwarded.recordsAhead === expectedAhead) continue;
    violations.push({
      property: MODE_SEMANTICS,
      anomaly: mode === 'unaligned' ? 'unaligned barrier queued behind data' : 'aligned barrier overtook data',
      message:
        `task ${observations.taskNames[forwarded.task]} forwarded barrier ${forwarded.checkpointId} (step ${forwarded.atStep}) with ${forwarded.recordsAhead} of ` +
        `${forwarded.recordsQueued} records in flight in front of it; ${mode} mode puts ${expectedAhead} in front`,
    });
  }
  return violations;
}
