/**
 * Keyed timers of one operator in one subtask (Flink's InternalTimerServiceImpl): one timer
 * per (key, timestamp, domain) - registered twice it fires once -, fired in a deterministic
 * order (timestamp, then key by `compareKeys`), snapshotted and restored with the operator.
 *
 * Each domain keeps a binary min-heap plus the set of live timers; a deleted timer stays in
 * the heap and is skipped when it comes up (cheaper than searching the heap).
 */
import type { Key } from '../connectors/api.ts';
import type { TimeDomain } from './functions.ts';
import { compareKeys } from './keyed-state.ts';

/** A timer as checkpoints hold it (`SubtaskSnapshot.timers`). */
export interface TimerSnapshot {
  readonly operator: string;
  readonly key: Key;
  readonly timestampMs: number;
  readonly domain: TimeDomain;
}

export interface DueTimer {
  readonly key: Key;
  readonly timestampMs: number;
}

/** Firing order: timestamp, then key (`compareKeys`). */
function compareTimers(a: DueTimer, b: DueTimer): number {
  return a.timestampMs < b.timestampMs ? -1 : a.timestampMs > b.timestampMs ? 1 : compareKeys(a.key, b.key);
}

function before(a: DueTimer, b: DueTimer): boolean {
  return a.timestampMs < b.timestampMs || (a.timestampMs === b.timestampMs && compareKeys(a.key, b.key) < 0);
}

/**
 * A set of (key, timestamp) pairs: per timestamp, the keys with a timer there. Keys are
 * numbers or strings and a Set tells 1 from '1', so no string id is built per timer (every
 * record of a window registers one, every watermark polls them).
 */
class TimerSet {
  private readonly byTimestamp = new Map<number, Set<Key>>();
  size = 0;

  has(key: Key, timestampMs: number): boolean {
    const keys = this.byTimestamp.get(timestampMs);
    return keys !== undefined && keys.has(key);
  }

  /** False if the pair was already in. */
  add(key: Key, timestampMs: number): boolean {
    let keys = this.byTimestamp.get(timestampMs);
    if (keys === undefined) {
      keys = new Set();
      this.byTimestamp.set(timestampMs, keys);
    } else if (keys.has(key)) return false;
    keys.add(key);
    this.size++;
    return true;
  }

  delete(key: Key, timestampMs: number): void {
    const keys = this.byTimestamp.get(timestampMs);
    if (keys === undefined || !keys.delete(key)) return;
    this.size--;
    if (keys.size === 0) this.byTimestamp.delete(timestampMs);
  }
}

/** Timers of one domain. */
class TimerQueue {
  private readonly heap: DueTimer[] = [];
  private readonly live = new TimerSet();

  get size(): number {
    return this.live.size;
  }

  add(key: Key, timestampMs: number): boolean {
    if (!this.live.add(key, timestampMs)) return false;
    this.heap.push({ key, timestampMs });
    this.siftUp(this.heap.length - 1);
    return true;
  }

  delete(key: Key, timestampMs: number): void {
    this.live.delete(key, timestampMs);
  }

  /** The earliest live timer, without removing it. */
  peek(): DueTimer | undefined {
    this.dropDeletedHead();
    return this.heap[0];
  }

  /** Removes and returns the earliest live timer with timestamp <= `limitMs`. */
  pollDue(limitMs: number): DueTimer | undefined {
    const head = this.peek();
    if (head === undefined || head.timestampMs > limitMs) return undefined;
    this.live.delete(head.key, head.timestampMs);
    this.removeHead();
    return head;
  }

  /** Live timers in firing order. */
  all(): DueTimer[] {
    // Every live timer is in the heap, so a heap no longer than the live set holds each once and
    // nothing else: the usual case (no deletes), and every checkpoint comes here.
    if (this.heap.length === this.live.size) return this.heap.slice().sort(compareTimers);
    // A timer deleted and registered again is in the heap twice: list it once.
    const listed = new TimerSet();
    const timers = this.heap.filter((timer) => this.live.has(timer.key, timer.timestampMs) && listed.add(timer.key, timer.timestampMs));
    return timers.sort(compareTimers);
  }

  private dropDeletedHead(): void {
    while (this.heap.length > 0) {
      const head = this.heap[0]!;
      if (this.live.has(head.key, head.timestampMs)) return;
      this.removeHead();
    }
  }

  private removeHead(): void {
    const last = this.heap.pop()!;
    if (this.heap.length === 0) return;
    this.heap[0] = last;
    this.siftDown(0);
  }

  private siftUp(index: number): void {
    const heap = this.heap;
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) return;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  private siftDown(index: number): void {
    const heap = this.heap;
    let i = index;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < heap.length && before(heap[left]!, heap[smallest]!)) smallest = left;
      if (right < heap.length && before(heap[right]!, heap[smallest]!)) smallest = right;
      if (smallest === i) return;
      [heap[i], heap[smallest]] = [heap[smallest]!, heap[i]!];
      i = smallest;
    }
  }
}

export class InternalTimerService {
  private readonly eventTime = new TimerQueue();
  private readonly processingTime = new TimerQueue();

  constructor(
    readonly operatorName: string,
    /** Told about every new processing-time timer, so the host can wake up at its time. */
    private readonly onProcessingTimerAdded: (timestampMs: number) => void = () => {},
  ) {}

  register(domain: TimeDomain, key: Key, timestampMs: number): void {
    if (!Number.isSafeInteger(timestampMs)) throw new Error(`timer of operator '${this.operatorName}': the timestamp must be an integer (ms), got ${String(timestampMs)}`);
    if (domain === 'event-time') this.eventTime.add(key, timestampMs);
    else if (this.processingTime.add(key, timestampMs)) this.onProcessingTimerAdded(timestampMs);
  }

  delete(domain: TimeDomain, key: Key, timestampMs: number): void {
    this.queue(domain).delete(key, timestampMs);
  }

  /** Removes and returns the next timer of `domain` due at `limitMs` (timestamp order, then key order). */
  pollDue(domain: TimeDomain, limitMs: number): DueTimer | undefined {
    return this.queue(domain).pollDue(limitMs);
  }

  /** The earliest timestamp among live timers of `domain`. */
  nextTimestamp(domain: TimeDomain): number | undefined {
    return this.queue(domain).peek()?.timestampMs;
  }

  count(domain: TimeDomain): number {
    return this.queue(domain).size;
  }

  snapshotInto(out: TimerSnapshot[]): void {
    for (const domain of ['event-time', 'processing-time'] as const) {
      for (const timer of this.queue(domain).all()) out.push({ operator: this.operatorName, key: timer.key, timestampMs: timer.timestampMs, domain });
    }
  }

  /** Adopts this operator's timers from a subtask's restored timers. */
  restore(timers: readonly TimerSnapshot[]): void {
    for (const timer of timers) if (timer.operator === this.operatorName) this.register(timer.domain, timer.key, timer.timestampMs);
  }

  private queue(domain: TimeDomain): TimerQueue {
    return domain === 'event-time' ? this.eventTime : this.processingTime;
  }
}
