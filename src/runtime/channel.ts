import type { Key } from '../connectors/api.ts';

/**
 * What flows between subtasks. Records carry their key when the channel is keyed, and their
 * event timestamp when the job has event time. Watermarks and watermark status (idle/active)
 * flow in order with records and barriers; an ended channel counts as watermark MAX (no
 * MAX_WATERMARK element precedes an end of input).
 */
export const enum ElementKind {
  Record = 0,
  Barrier = 1,
  EndOfInput = 2,
  Watermark = 3,
  WatermarkStatus = 4,
}

export interface RecordElement {
  readonly kind: ElementKind.Record;
  readonly key: Key | undefined;
  readonly value: unknown;
  /** The event timestamp (undefined: none). */
  readonly timestampMs?: number | undefined;
}
export interface WatermarkElement {
  readonly kind: ElementKind.Watermark;
  readonly timestampMs: number;
}
export interface WatermarkStatusElement {
  readonly kind: ElementKind.WatermarkStatus;
  readonly idle: boolean;
}
export interface BarrierElement {
  readonly kind: ElementKind.Barrier;
  readonly checkpointId: number;
}
export interface EndOfInputElement {
  readonly kind: ElementKind.EndOfInput;
}
export type StreamElement = RecordElement | BarrierElement | EndOfInputElement | WatermarkElement | WatermarkStatusElement;

export const END_OF_INPUT_ELEMENT: EndOfInputElement = { kind: ElementKind.EndOfInput };

/**
 * A bounded FIFO between one producer subtask and one consumer subtask (a ring buffer).
 * Capacity counts elements of every kind: a full channel backpressures its producer. A step
 * may push past the capacity (a barrier and an end of input after a record, a watermark, the
 * records a firing of timers emits): the ring then grows, and the producer stays blocked until
 * the consumer drained it below capacity.
 *
 * Elements are stored as parallel arrays (kind, key, value or checkpoint id), not as objects:
 * the hot path (`pushRecord`, `takeNext`) moves a record through a channel without allocating,
 * since a record crosses a channel at almost every step. `push`, `take`, `peek` and `inFlight`
 * still speak in element objects for the rare paths (barriers, snapshots, timelines).
 */
export class Channel {
  private kinds: ElementKind[];
  private keys: (Key | undefined)[];
  /** A record's value, a barrier's checkpoint id, a watermark's timestamp, or a status's idle flag. */
  private values: unknown[];
  /** A record's event timestamp (undefined: none). */
  private timestamps: (number | undefined)[];
  private head = 0;
  size = 0;
  /** Records pushed in this attempt; the position of each barrier is measured in it. */
  recordsPushed = 0;
  /** Records taken by the consumer in this attempt. */
  recordsTaken = 0;
  /** Records pushed over the whole run, every attempt (Flink's numRecordsOut, per channel). */
  recordsPushedTotal = 0;
  /** Virtual time each barrier was pushed, by checkpoint id (how long it then queued behind records). */
  readonly barrierPushedAtMs = new Map<number, number>();
  /** recordsPushed when each barrier was pushed, by checkpoint id (alignment observations). */
  readonly barrierPositions = new Map<number, number>();
  /** Set once EndOfInput was taken by the consumer. */
  ended = false;
  /** Times a producer found this channel full (a backpressure metric). */
  fullEncounters = 0;
  /** The key of the record `takeNext` just took. */
  takenKey: Key | undefined = undefined;
  /** The value of the record (or the checkpoint id of the barrier, the watermark, the idle flag) `takeNext` just took. */
  takenValue: unknown = undefined;
  /** The event timestamp of the record `takeNext` just took. */
  takenTimestamp: number | undefined = undefined;
  /** The input (1 or 2) of the consumer's first operator this channel feeds. */
  input: 1 | 2 = 1;

  /** Room past `capacity` for the barrier and end-of-input one step may push after a record check (before the ring grows). */
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
    this.kinds = new Array<ElementKind>(this.slots).fill(ElementKind.EndOfInput);
    this.keys = new Array<Key | undefined>(this.slots).fill(undefined);
    this.values = new Array<unknown>(this.slots).fill(undefined);
    this.timestamps = new Array<number | undefined>(this.slots).fill(undefined);
  }

  get hasRoom(): boolean {
    return this.size < this.capacity;
  }

  private slotForPush(): number {
    if (this.size >= this.slots) this.grow();
    const slot = (this.head + this.size) % this.slots;
    this.size++;
    return slot;
  }

  /** Doubles the ring, keeping the elements in order from slot 0. */
  private grow(): void {
    const slots = this.slots * 2;
    const kinds = new Array<ElementKind>(slots).fill(ElementKind.EndOfInput);
    const keys = new Array<Key | undefined>(slots).fill(undefined);
    const values = new Array<unknown>(slots).fill(undefined);
    const timestamps = new Array<number | undefined>(slots).fill(undefined);
    for (let i = 0; i < this.size; i++) {
      const from = (this.head + i) % this.slots;
      kinds[i] = this.kinds[from]!;
      keys[i] = this.keys[from];
      values[i] = this.values[from];
      timestamps[i] = this.timestamps[from];
    }
    this.kinds = kinds;
    this.keys = keys;
    this.values = values;
    this.timestamps = timestamps;
    this.head = 0;
    this.slots = slots;
  }

  /** A record, without an element object: the data path's push. */
  pushRecord(key: Key | undefined, value: unknown, timestampMs?: number): void {
    const slot = this.slotForPush();
    this.kinds[slot] = ElementKind.Record;
    this.keys[slot] = key;
    this.values[slot] = value;
    this.timestamps[slot] = timestampMs;
    this.recordsPushed++;
    this.recordsPushedTotal++;
  }

  push(element: StreamElement): void {
    if (element.kind === ElementKind.Record) return this.pushRecord(element.key, element.value, element.timestampMs);
    const slot = this.slotForPush();
    this.store(slot, element);
    if (element.kind === ElementKind.Barrier) this.barrierPositions.set(element.checkpointId, this.recordsPushed);
  }

  private store(slot: number, element: StreamElement): void {
    this.kinds[slot] = element.kind;
    this.keys[slot] = element.kind === ElementKind.Record ? element.key : undefined;
    this.timestamps[slot] = element.kind === ElementKind.Record ? element.timestampMs : undefined;
    switch (element.kind) {
      case ElementKind.Record:
        this.values[slot] = element.value;
        return;
      case ElementKind.Barrier:
        this.values[slot] = element.checkpointId;
        return;
      case ElementKind.Watermark:
        this.values[slot] = element.timestampMs;
        return;
      case ElementKind.WatermarkStatus:
        this.values[slot] = element.idle;
        return;
      default:
        this.values[slot] = undefined;
    }
  }

  private elementAt(slot: number): StreamElement {
    return this.element(this.kinds[slot]!, this.keys[slot], this.values[slot], this.timestamps[slot]);
  }

  private element(kind: ElementKind, key: Key | undefined, value: unknown, timestampMs: number | undefined): StreamElement {
    switch (kind) {
      case ElementKind.Record:
        return timestampMs === undefined ? { kind, key, value } : { kind, key, value, timestampMs };
      case ElementKind.Barrier:
        return { kind, checkpointId: value as number };
      case ElementKind.Watermark:
        return { kind, timestampMs: value as number };
      case ElementKind.WatermarkStatus:
        return { kind, idle: value as boolean };
      default:
        return END_OF_INPUT_ELEMENT;
    }
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
      const slot = (this.head + i) % this.slots;
      const kind = this.kinds[slot];
      if (kind === ElementKind.Barrier && this.values[slot] === checkpointId) found = true;
      else if (kind === ElementKind.Record) {
        queued++;
        if (!found) ahead++;
      }
    }
    return found ? { ahead, queued } : undefined;
  }

  /**
   * The first `count` records queued at the head, copied, not taken (Flink's ChannelStateWriter
   * persists the input buffers an unaligned barrier overtook; the task processes them later as usual).
   */
  copyQueuedRecords(count: number): RecordElement[] {
    const records: RecordElement[] = [];
    for (let i = 0; i < this.size && records.length < count; i++) {
      const slot = (this.head + i) % this.slots;
      if (this.kinds[slot] !== ElementKind.Record) continue;
      const element = this.elementAt(slot) as RecordElement;
      records.push(element);
    }
    if (records.length < count) throw new Error(`Channel ${this.index}: ${count} records expected in front, only ${records.length} queued`);
    return records;
  }

  pushFront(element: BarrierElement): void {
    if (this.size >= this.slots) this.grow();
    this.barrierPositions.set(element.checkpointId, this.recordsPushed);
    // Barriers already overtaking sit at the front; the new one goes right behind them.
    let insertAt = 0;
    while (insertAt < this.size && this.kinds[(this.head + insertAt) % this.slots] === ElementKind.Barrier) insertAt++;
    for (let i = this.size; i > insertAt; i--) {
      const to = (this.head + i) % this.slots;
      const from = (this.head + i - 1) % this.slots;
      this.kinds[to] = this.kinds[from]!;
      this.keys[to] = this.keys[from];
      this.values[to] = this.values[from];
      this.timestamps[to] = this.timestamps[from];
    }
    this.store((this.head + insertAt) % this.slots, element);
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
      this.kinds = new Array<ElementKind>(this.slots).fill(ElementKind.EndOfInput);
      this.keys = new Array<Key | undefined>(this.slots).fill(undefined);
      this.values = new Array<unknown>(this.slots).fill(undefined);
      this.timestamps = new Array<number | undefined>(this.slots).fill(undefined);
    }
    this.head = 0;
    records.forEach((record, i) => this.store(i, record));
    this.size = records.length;
    // They count as pushed in this attempt, so later barrier positions line up with records taken.
    this.recordsPushed = records.length;
  }

  /** The kind of the next element, without taking it. */
  peekKind(): ElementKind {
    if (this.size === 0) throw new Error(`Channel ${this.index}: peek on an empty channel`);
    return this.kinds[this.head]!;
  }

  peek(): StreamElement {
    this.peekKind();
    return this.elementAt(this.head);
  }

  /**
   * Takes the next element without an element object: returns its kind and leaves a record's
   * key, value and timestamp (a barrier's checkpoint id, a watermark's timestamp, a status's
   * idle flag in `takenValue`) in `takenKey`/`takenValue`/`takenTimestamp`.
   */
  takeNext(): ElementKind {
    const kind = this.peekKind();
    const head = this.head;
    this.takenKey = this.keys[head];
    this.takenValue = this.values[head];
    this.takenTimestamp = this.timestamps[head];
    // Let go of the record now: a channel must not keep consumed values alive.
    this.keys[head] = undefined;
    this.values[head] = undefined;
    this.timestamps[head] = undefined;
    this.head = (head + 1) % this.slots;
    this.size--;
    if (kind === ElementKind.Record) this.recordsTaken++;
    else if (kind === ElementKind.EndOfInput) this.ended = true;
    return kind;
  }

  take(): StreamElement {
    const kind = this.takeNext();
    return this.element(kind, this.takenKey, this.takenValue, this.takenTimestamp);
  }

  /** Everything in flight, oldest first (unaligned checkpoints persist this). */
  inFlight(): StreamElement[] {
    const out: StreamElement[] = [];
    for (let i = 0; i < this.size; i++) out.push(this.elementAt((this.head + i) % this.slots));
    return out;
  }

  /** A restart discards everything in flight: it is replayed from the sources. */
  reset(): void {
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.timestamps.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.recordsPushed = 0;
    this.recordsTaken = 0;
    this.barrierPositions.clear();
    this.barrierPushedAtMs.clear();
    this.ended = false;
    this.takenKey = undefined;
    this.takenValue = undefined;
    this.takenTimestamp = undefined;
  }
}
