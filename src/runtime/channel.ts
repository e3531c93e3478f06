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
 * An input gate's floating buffers (Flink's LocalBufferPool of a SingleInputGate): shared by
 * the input channels of one consumer subtask that come from one edge. A channel whose
 * exclusive buffers are all in use borrows floating ones while its sender has data waiting,
 * and gives them back once they are free; a returned buffer goes to the next channel of the
 * gate with data waiting (round robin from the last one served, so no channel starves).
 */
export class InputGate {
  readonly channels: Channel[] = [];
  /** Floating buffers no channel holds now. */
  floatingFree: number;
  /** The channel after the one that got the last returned buffer (round robin). */
  private nextToServe = 0;

  constructor(
    /** The gate's floating buffers (Flink's taskmanager.network.memory.floating-buffers-per-gate). */
    readonly floatingBuffers: number,
  ) {
    this.floatingFree = floatingBuffers;
  }

  /** One floating buffer for `channel`, if one is free. */
  lend(channel: Channel): boolean {
    if (this.floatingFree === 0) return false;
    this.floatingFree--;
    channel.floatingHeld++;
    return true;
  }

  /** Floating buffers a channel no longer needs: to the channels with data waiting for credit. */
  giveBack(buffers: number): void {
    this.floatingFree += buffers;
    const channels = this.channels;
    for (let served = 0; served < channels.length && this.floatingFree > 0; served++) {
      const channel = channels[this.nextToServe]!;
      this.nextToServe = this.nextToServe + 1 === channels.length ? 0 : this.nextToServe + 1;
      if (channel.waitingForCredit) channel.sendWithCredit();
    }
  }

  /** A restart: every floating buffer back in the pool (the job resets every channel of the gate alongside). */
  reset(): void {
    this.floatingFree = this.floatingBuffers;
    this.nextToServe = 0;
  }
}

/**
 * A producer subtask's output buffer pool (Flink's LocalBufferPool of a ResultPartition), one
 * per subtask, shared by all its output channels: it holds what the subtask wrote but could
 * not send yet for want of credit. The subtask may take a record only while the pool has a
 * free buffer, or every output channel has credit (what it writes then goes out at once); a
 * pool of 0 buffers sends only with credit (bounded queues). One step may still write more
 * than the pool holds (a barrier and an end of input after a record, the records a firing of
 * timers emits): the pool is then overdrawn and the subtask waits until it is not.
 */
export class OutputPool {
  /** Elements written to this subtask's output channels and waiting at the sender for credit. */
  waiting = 0;

  constructor(
    /** Buffers the pool holds (set once the subtask's output channels are known). */
    public buffers: number,
  ) {}

  /** The subtask may write a record: the pool has a free buffer (else it needs credit on every output channel). */
  get hasFreeBuffer(): boolean {
    return this.waiting < this.buffers;
  }
}

/**
 * One channel between a producer subtask and a consumer subtask, with credit-based flow
 * control as Flink's network stack does it (CreditBasedPartitionRequestClientHandler,
 * RemoteInputChannel): the receiver holds `exclusiveBuffers` buffers for the channel plus the
 * floating buffers its gate lent it, and the sender sends an element only while the receiver
 * has a free one of those (its credit); the rest waits at the sender, in its output pool. A
 * buffer is one element slot (a record, watermark, status, barrier or end of input); an
 * unaligned barrier overtakes as a priority event, sent without credit (Flink sends priority
 * events ahead of the data), and takes a buffer at the receiver, beyond the credit if none is
 * free. Credit is announced and used at once, within the step that freed a buffer: the
 * network takes no steps of its own.
 *
 * The channel is one ring: the first `atReceiver` elements are at the receiver, the rest wait
 * at the sender. Elements are stored as parallel arrays (kind, key, value or checkpoint id),
 * not as objects: the hot path (`pushRecord`, `takeNext`) moves a record through a channel
 * without allocating, since a record crosses a channel at almost every step. `push`, `take`,
 * `peek` and `inFlight` still speak in element objects for the rare paths (barriers,
 * snapshots, timelines).
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
  /** Times a producer found this channel without credit (a backpressure metric). */
  fullEncounters = 0;
  /** Elements at the receiver (the ring's first `atReceiver`). */
  atReceiver = 0;
  /** Receiver buffers in use: one per element at the receiver (an overtaking barrier takes one too, beyond the credit if none is free). */
  buffersUsed = 0;
  /** Floating buffers the gate lent this channel (returned once free). */
  floatingHeld = 0;
  /** Unaligned barriers at the front of the ring: sent without credit. */
  private priorityBarriers = 0;
  /** Planted bug: the sender sends whether or not the receiver has a buffer for it. */
  sendsWithoutCredit = false;
  /** The most elements the receiver ever held in buffers beyond the buffers it had for the channel (0 while flow control holds). */
  peakBuffersOverdrawn = 0;
  /** Told each time `peakBuffersOverdrawn` grows (the job observes it for the flow-control invariant). */
  onOverdrawn: ((channel: Channel) => void) | undefined = undefined;
  /** The consumer's input gate (floating buffers) and the producer's output pool. */
  readonly gate: InputGate;
  readonly pool: OutputPool;
  /** The key of the record `takeNext` just took. */
  takenKey: Key | undefined = undefined;
  /** The value of the record (or the checkpoint id of the barrier, the watermark, the idle flag) `takeNext` just took. */
  takenValue: unknown = undefined;
  /** The event timestamp of the record `takeNext` just took. */
  takenTimestamp: number | undefined = undefined;
  /** The input (1 or 2) of the consumer's first operator this channel feeds. */
  input: 1 | 2 = 1;

  /** Room past the exclusive buffers for the barrier and end-of-input one step may push after a record check (before the ring grows). */
  static readonly CONTROL_SLACK = 2;
  private slots: number;

  constructor(
    readonly index: number,
    readonly fromTask: number,
    readonly toTask: number,
    /** This channel's input slot at its consumer. */
    readonly consumerSlot: number,
    /** Buffers the receiver keeps for this channel alone (Flink's taskmanager.network.memory.buffers-per-channel). */
    readonly exclusiveBuffers: number,
    /** Absent: a gate without floating buffers and a producer without an output pool (a bounded queue of `exclusiveBuffers` elements). */
    flow?: { readonly gate: InputGate; readonly pool: OutputPool },
  ) {
    if (!Number.isSafeInteger(exclusiveBuffers) || exclusiveBuffers < 1) {
      throw new Error(`Channel: exclusiveBuffers must be a positive integer, got ${exclusiveBuffers}`);
    }
    this.gate = flow?.gate ?? new InputGate(0);
    this.pool = flow?.pool ?? new OutputPool(0);
    this.gate.channels.push(this);
    this.slots = exclusiveBuffers + Channel.CONTROL_SLACK;
    this.kinds = new Array<ElementKind>(this.slots).fill(ElementKind.EndOfInput);
    this.keys = new Array<Key | undefined>(this.slots).fill(undefined);
    this.values = new Array<unknown>(this.slots).fill(undefined);
    this.timestamps = new Array<number | undefined>(this.slots).fill(undefined);
  }

  /** Buffers the receiver has for this channel now: its exclusive ones and the floating ones it holds. */
  get credit(): number {
    return this.exclusiveBuffers + this.floatingHeld;
  }

  /** Whatever the producer writes next goes out at once: nothing waits at the sender, and the receiver has a buffer (or can borrow one). */
  get hasRoom(): boolean {
    return this.atReceiver === this.size && (this.buffersUsed < this.exclusiveBuffers + this.floatingHeld || this.gate.floatingFree > 0);
  }

  /** Elements wait at the sender for a buffer at the receiver. */
  get waitingForCredit(): boolean {
    return this.atReceiver < this.size;
  }

  /**
   * Sends what waits at the sender while the receiver has buffers for it, borrowing floating
   * buffers from the gate when the exclusive ones are in use (Flink: the receiver asks for
   * floating buffers when the sender announces a backlog).
   */
  sendWithCredit(): void {
    const pool = this.pool;
    while (this.atReceiver < this.size) {
      if (this.buffersUsed >= this.exclusiveBuffers + this.floatingHeld && !this.gate.lend(this) && !this.sendsWithoutCredit) return;
      this.buffersUsed++;
      this.atReceiver++;
      pool.waiting--;
      // The invariant's measure: what came with credit never exceeds the buffers (overtaking barriers came without).
      const overdrawn = this.buffersUsed - this.priorityBarriers - this.exclusiveBuffers - this.floatingHeld;
      if (overdrawn > this.peakBuffersOverdrawn) {
        this.peakBuffersOverdrawn = overdrawn;
        this.onOverdrawn?.(this);
      }
    }
  }

  /** The consumer freed a buffer: the sender uses the credit, and floating buffers the channel no longer needs go back to the gate. */
  private onBufferFreed(): void {
    if (this.atReceiver < this.size) this.sendWithCredit();
    if (this.floatingHeld === 0) return;
    const free = this.exclusiveBuffers + this.floatingHeld - this.buffersUsed;
    if (free <= 0) return;
    const returned = free < this.floatingHeld ? free : this.floatingHeld;
    this.floatingHeld -= returned;
    this.gate.giveBack(returned);
  }

  private slotForPush(): number {
    if (this.size >= this.slots) this.grow();
    const slot = (this.head + this.size) % this.slots;
    this.size++;
    this.pool.waiting++;
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
    this.sendWithCredit();
  }

  push(element: StreamElement): void {
    if (element.kind === ElementKind.Record) return this.pushRecord(element.key, element.value, element.timestampMs);
    const slot = this.slotForPush();
    this.store(slot, element);
    if (element.kind === ElementKind.Barrier) this.barrierPositions.set(element.checkpointId, this.recordsPushed);
    this.sendWithCredit();
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

  /** A priority event: at the receiver at once, without credit (Flink sends priority events ahead of the data). */
  pushFront(element: BarrierElement): void {
    if (this.size >= this.slots) this.grow();
    this.barrierPositions.set(element.checkpointId, this.recordsPushed);
    // Barriers already overtaking sit at the front; the new one goes right behind them.
    const insertAt = this.priorityBarriers;
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
    this.atReceiver++;
    this.buffersUsed++;
    this.priorityBarriers++;
  }

  /**
   * Restore: the channel state of an unaligned checkpoint is replayed ahead of new input. It
   * comes in with credit like any data (what does not fit waits at the sender, whose output
   * pool it may overdraw: the producer stays blocked until it drained).
   */
  replayInFlight(records: readonly RecordElement[]): void {
    if (this.size !== 0) throw new Error(`Channel ${this.index}: replay into a channel that is not empty`);
    if (records.length + Channel.CONTROL_SLACK > this.slots) {
      this.slots = records.length + this.exclusiveBuffers + Channel.CONTROL_SLACK;
      this.kinds = new Array<ElementKind>(this.slots).fill(ElementKind.EndOfInput);
      this.keys = new Array<Key | undefined>(this.slots).fill(undefined);
      this.values = new Array<unknown>(this.slots).fill(undefined);
      this.timestamps = new Array<number | undefined>(this.slots).fill(undefined);
    }
    this.head = 0;
    records.forEach((record, i) => this.store(i, record));
    this.size = records.length;
    this.pool.waiting += records.length;
    // They count as pushed in this attempt, so later barrier positions line up with records taken.
    this.recordsPushed = records.length;
    this.sendWithCredit();
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
    if (this.atReceiver === 0) throw new Error(`Channel ${this.index}: take before anything reached the receiver (no credit was given)`);
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
    this.atReceiver--;
    if (kind === ElementKind.Record) this.recordsTaken++;
    else if (kind === ElementKind.EndOfInput) this.ended = true;
    this.buffersUsed--;
    if (this.priorityBarriers !== 0) this.priorityBarriers--;
    this.onBufferFreed();
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

  /** A restart discards everything in flight (it is replayed from the sources) and gives every buffer back. */
  reset(): void {
    this.keys.fill(undefined);
    this.values.fill(undefined);
    this.timestamps.fill(undefined);
    this.head = 0;
    this.size = 0;
    this.atReceiver = 0;
    this.buffersUsed = 0;
    this.floatingHeld = 0;
    this.priorityBarriers = 0;
    // Every channel of the gate and of the pool is reset alongside (a restart resets them all).
    this.gate.reset();
    this.pool.waiting = 0;
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
