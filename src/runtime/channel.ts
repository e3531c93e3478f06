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
 *
 * Elements are stored as parallel arrays (kind, key, value or checkpoint id), not as objects:
 * the hot path (`pushRecord`, `takeNext`) moves a record through a channel without allocating,
 * since a record crosses a channel at almost every step. `push`, `take`, `peek` and `inFlight`
 * still speak in element objects for the rare paths (barriers, snapshots, timelines).
 */
export class Channel {
  private kinds: ElementKind[];
  private keys: (Key | undefined)[];
  /** A record's value, or a barrier's checkpoint id. */
  private values: unknown[];
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
  /** The key of the record `takeNext` just took. */
  takenKey: Key | undefined = undefined;
  /** The value of the record (or the checkpoint id of the barrier) `takeNext` just took. */
  takenValue: unknown = undefined;

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
    this.kinds = new Array<ElementKind>(this.slots).fill(ElementKind.EndOfInput);
    this.keys = new Array<Key | undefined>(this.slots).fill(undefined);
    this.values = new Array<unknown>(this.slots).fill(undefined);
  }

  get hasRoom(): boolean {
    return this.size < this.capacity;
  }

  private slotForPush(): number {
    if (this.size >= this.slots) {
      throw new Error(`Channel ${this.index}: push into a full channel (capacity ${this.capacity})`);
    }
    const slot = (this.head + this.size) % this.slots;
    this.size++;
    return slot;
  }

  /** A record, without an element object: the data path's push. */
  pushRecord(key: Key | undefined, value: unknown): void {
    const slot = this.slotForPush();
    this.kinds[slot] = ElementKind.Record;
    this.keys[slot] = key;
    this.values[slot] = value;
    this.recordsPushed++;
  }

  push(element: StreamElement): void {
    if (element.kind === ElementKind.Record) return this.pushRecord(element.key, element.value);
    const slot = this.slotForPush();
    this.store(slot, element);
    if (element.kind === ElementKind.Barrier) this.barrierPositions.set(element.checkpointId, this.recordsPushed);
  }

  private store(slot: number, element: StreamElement): void {
    this.kinds[slot] = element.kind;
    this.keys[slot] = element.kind === ElementKind.Record ? element.key : undefined;
    this.values[slot] = element.kind === ElementKind.Record ? element.value : element.kind === ElementKind.Barrier ? element.checkpointId : undefined;
  }

  private elementAt(slot: number): StreamElement {
    const kind = this.kinds[slot]!;
    if (kind === ElementKind.Record) return { kind, key: this.keys[slot], value: this.values[slot] };
    if (kind === ElementKind.Barrier) return { kind, checkpointId: this.values[slot] as number };
    return END_OF_INPUT_ELEMENT;
  }

  /**
   * Unaligned checkpoints: the barrier overtakes the records in flight (never an older
   * barrier). The records it overtook stay in front of it logically (its position counts them).
   */
  pushFront(element: BarrierElement): void {
    if (this.size >= this.slots) {
      throw new Error(`Channel ${this.index}: push into a full channel (capacity ${this.capacity})`);
    }
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
   * key and value (a barrier's checkpoint id in `takenValue`) in `takenKey`/`takenValue`.
   */
  takeNext(): ElementKind {
    const kind = this.peekKind();
    const head = this.head;
    this.takenKey = this.keys[head];
    this.takenValue = this.values[head];
    // Let go of the record now: a channel must not keep consumed values alive.
    this.keys[head] = undefined;
    this.values[head] = undefined;
    this.head = (head + 1) % this.slots;
    this.size--;
    if (kind === ElementKind.Record) this.recordsTaken++;
    else if (kind === ElementKind.EndOfInput) this.ended = true;
    return kind;
  }

  take(): StreamElement {
    const kind = this.takeNext();
    if (kind === ElementKind.Record) return { kind, key: this.takenKey, value: this.takenValue };
    if (kind === ElementKind.Barrier) return { kind, checkpointId: this.takenValue as number };
    return END_OF_INPUT_ELEMENT;
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
    this.head = 0;
    this.size = 0;
    this.recordsPushed = 0;
    this.recordsTaken = 0;
    this.barrierPositions.clear();
    this.ended = false;
    this.takenKey = undefined;
    this.takenValue = undefined;
  }
}
