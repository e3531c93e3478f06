import type { Key } from '../connectors/api.ts';

/** What flows between subtasks. Records carry their key when the channel is keyed. */
export const enum ElementKind {
  Record = 0,
  Barrier = 1,
  EndOfInput = 2,
}

export interface RecordElement {
  readonly kind: ElementKind.Record;
  readonly key: Key | undefined;
  readonly value: unknown;
}
export interface BarrierElement {
  readonly kind: ElementKind.Barrier;
  readonly checkpointId: number;
}
export interface EndOfInputElement {
  readonly kind: ElementKind.EndOfInput;
}
export type StreamElement = RecordElement | BarrierElement | EndOfInputElement;

export const END_OF_INPUT_ELEMENT: EndOfInputElement = { kind: ElementKind.EndOfInput };

/**
 * A bounded FIFO between one producer subtask and one consumer subtask (a ring buffer).
 * Capacity counts elements of every kind: a full channel backpressures its producer.
 */
export class Channel {
  private buffer: (StreamElement | undefined)[];
  private head = 0;
  size = 0;
  /** Records pushed in this attempt; the position of each barrier is measured in it. */
  recordsPushed = 0;
  /** Records taken by the consumer in this attempt. */
  recordsTaken = 0;
  /** recordsPushed when each barrier was pushed, by checkpoint id (alignment observations). */
  readonly barrierPositions = new Map<number, number>();
  /** Set once EndOfInput was taken by the consumer. */
  ended = false;
  /** Times a producer found this channel full (a backpressure metric). */
  fullEncounters = 0;

  /** Room past `capacity` for the barrier and end-of-input one step may push after a record check. */
  static readonly CONTROL_SLACK = 2;
  private slots: number;

  constructor(
    readonly index: number,
    readonly fromTask: number,
    readonly toTask: number,
    /** This channel's input slot at its consumer. */
    readonly consumerSlot: number,
    /** Elements the channel holds before it backpressures its producer. */
    readonly capacity: number,
  ) {
    if (!Number.isSafeInteger(capacity) || capacity < 1) {
      throw new Error(`Channel: capacity must be a positive integer, got ${capacity}`);
    }
    this.slots = capacity + Channel.CONTROL_SLACK;
    this.buffer = new Array<StreamElement | undefined>(this.slots);
  }

  get hasRoom(): boolean {
    return this.size < this.capacity;
  }

  push(element: StreamElement): void {
    if (this.size >= this.slots) {
      throw new Error(`Channel ${this.index}: push into a full channel (capacity ${this.capacity})`);
    }
    this.buffer[(this.head + this.size) % this.slots] = element;
    this.size++;
    if (element.kind === ElementKind.Record) this.recordsPushed++;
    else if (element.kind === ElementKind.Barrier) this.barrierPositions.set(element.checkpointId, this.recordsPushed);
  }

  /**
   * Unaligned checkpoints: the barrier overtakes the records in flight (never an older
   * barrier). The records it overtook stay in front of it logically (its position counts them).
   */
  /** Records queued in front of barrier `checkpointId` (undefined when it is not in the channel). */
  recordsAheadOf(checkpointId: number): { ahead: number; queued: number } | undefined {
    let ahead = 0;
    let queued = 0;
    let found = false;
    for (let i = 0; i < this.size; i++) {
      const element = this.buffer[(this.head + i) % this.slots]!;
      if (element.kind === ElementKind.Barrier && element.checkpointId === checkpointId) found = true;
      else if (element.kind === ElementKind.Record) {
        queued++;
        if (!found) ahead++;
      }
    }
    return found ? { ahead, queued } : undefined;
  }

  pushFront(element: BarrierElement): void {
    if (this.size >= this.slots) {
      throw new Error(`Channel ${this.index}: push into a full channel (capacity ${this.capacity})`);
    }
    this.barrierPositions.set(element.checkpointId, this.recordsPushed);
    // Barriers already overtaking sit at the front; the new one goes right behind them.
    let insertAt = 0;
    while (insertAt < this.size && this.buffer[(this.head + insertAt) % this.slots]!.kind === ElementKind.Barrier) insertAt++;
    for (let i = this.size; i > insertAt; i--) {
      this.buffer[(this.head + i) % this.slots] = this.buffer[(this.head + i - 1) % this.slots];
    }
    this.buffer[(this.head + insertAt) % this.slots] = element;
    this.size++;
  }

  /**
   * Restore: the channel state of an unaligned checkpoint is replayed ahead of new input.
   * It may exceed the capacity; producers stay blocked until it drains below it.
   */
  replayInFlight(records: readonly RecordElement[]): void {
    if (this.size !== 0) throw new Error(`Channel ${this.index}: replay into a channel that is not empty`);
    if (records.length + Channel.CONTROL_SLACK > this.slots) {
      this.slots = records.length + this.capacity + Channel.CONTROL_SLACK;
      this.buffer = new Array<StreamElement | undefined>(this.slots);
    }
    this.head = 0;
    records.forEach((record, i) => {
      this.buffer[i] = record;
    });
    this.size = records.length;
    // They count as pushed in this attempt, so later barrier positions line up with records taken.
    this.recordsPushed = records.length;
  }

  peek(): StreamElement {
    if (this.size === 0) throw new Error(`Channel ${this.index}: peek on an empty channel`);
    return this.buffer[this.head]!;
  }

  take(): StreamElement {
    const element = this.peek();
    this.buffer[this.head] = undefined;
    this.head = (this.head + 1) % this.slots;
    this.size--;
    if (element.kind === ElementKind.Record) this.recordsTaken++;
    else if (element.kind === ElementKind.EndOfInput) this.ended = true;
    return element;
  }

  /** Everything in flight, oldest first (unaligned checkpoints persist this). */
  inFlight(): StreamElement[] {
    const out: StreamElement[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.buffer[(this.head + i) % this.slots]!);
    return out;
  }

  /** A restart discards everything in flight: it is replayed from the sources. */
  reset(): void {
    this.buffer.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.recordsPushed = 0;
    this.recordsTaken = 0;
    this.barrierPositions.clear();
    this.ended = false;
  }
}
