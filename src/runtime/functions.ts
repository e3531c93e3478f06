/**
 * The user-function API of event-time jobs: keyed process functions, keyed state, the timer
 * service, side outputs and watermark strategies. Names and semantics follow Flink's
 * (KeyedProcessFunction, KeyedCoProcessFunction, ValueState, ListState, MapState,
 * TimerService, OutputTag, WatermarkStrategy), so what a Flink user knows carries over:
 *
 * - Keyed state is scoped to the key of the element (or timer) being processed. A state
 *   handle obtained in `open` reads and writes the current key's value; it is snapshotted
 *   with every checkpoint and restored per key on the subtask that owns the key.
 * - Timers are keyed too: one timer per (key, timestamp, domain), registered twice it fires
 *   once. Event-time timers fire when the task's watermark passes their timestamp;
 *   processing-time timers when the task's (virtual) clock reaches it. Timers are part of
 *   the snapshot and fire after a restore.
 * - Time is virtual: processing time is the scheduler's clock, never the machine's.
 *
 * Windows and joins are process functions built on this API (`src/runtime/windows.ts`,
 * `src/runtime/joins.ts`), not special cases of the runtime.
 */
import type { Key, ListState, SubtaskInfo } from '../connectors/api.ts';

/** The watermark before any watermark arrived (Flink's Long.MIN_VALUE); JSON-safe, unlike -Infinity. */
export const MIN_WATERMARK = Number.MIN_SAFE_INTEGER;
/** The watermark at the end of a bounded input: it fires every event-time timer (Flink's Long.MAX_VALUE). */
export const MAX_WATERMARK = Number.MAX_SAFE_INTEGER;

// ---------------------------------------------------------------- keyed state

/**
 * State time-to-live, as Flink's StateTtlConfig: a value not written (or, with
 * 'on-read-and-write', not read) for `ttlMs` of processing time is expired and reads as
 * absent; expired values are dropped from the next snapshot.
 */
export interface StateTtlConfig {
  readonly ttlMs: number;
  readonly updateType?: 'on-create-and-write' | 'on-read-and-write';
}

export interface StateOptions {
  readonly ttl?: StateTtlConfig;
}

export interface ValueState<T> {
  /** The current key's value, or undefined. */
  value(): T | undefined;
  update(value: T): void;
  clear(): void;
}

export interface MapState<UK extends Key, UV> {
  get(key: UK): UV | undefined;
  put(key: UK, value: UV): void;
  remove(key: UK): void;
  contains(key: UK): boolean;
  /** In ascending key order (deterministic whatever the insertion order). */
  entries(): ReadonlyArray<readonly [UK, UV]>;
  keys(): readonly UK[];
  isEmpty(): boolean;
  clear(): void;
}

/** Keyed state by name; each name holds one kind of state (asking for two kinds under one name throws). */
export interface KeyedStateStore {
  getState<T>(name: string, options?: StateOptions): ValueState<T>;
  getListState<T>(name: string, options?: StateOptions): ListState<T>;
  getMapState<UK extends Key, UV>(name: string, options?: StateOptions): MapState<UK, UV>;
}

// ---------------------------------------------------------------- time

export type TimeDomain = 'event-time' | 'processing-time';

export interface TimerService {
  /** The task's virtual clock (ms). */
  currentProcessingTime(): number;
  /** The task's current watermark: MIN_WATERMARK before the first one. */
  currentWatermark(): number;
  registerEventTimeTimer(timestampMs: number): void;
  registerProcessingTimeTimer(timestampMs: number): void;
  deleteEventTimeTimer(timestampMs: number): void;
  deleteProcessingTimeTimer(timestampMs: number): void;
}

// ---------------------------------------------------------------- outputs

/** Names a side output (Flink's OutputTag): late data, rejected records, ... */
export interface OutputTag<T> {
  readonly id: string;
  /** Type marker only; never set. */
  readonly __type?: T;
}

export function outputTag<T>(id: string): OutputTag<T> {
  if (typeof id !== 'string' || id.length === 0) throw new Error('outputTag: id must be a non-empty string');
  return { id };
}

export interface Collector<T> {
  /**
   * Emits a record downstream. Its timestamp is the timestamp of the element or timer being
   * processed (Flink's TimestampedCollector), unless `timestampMs` is given.
   */
  collect(value: T, timestampMs?: number): void;
}

// ---------------------------------------------------------------- process functions

export interface KeyedContext {
  /** The event timestamp of the element being processed (or the timer's timestamp); undefined without event time. */
  readonly timestamp: number | undefined;
  getCurrentKey(): Key;
  timerService(): TimerService;
  /** Emits to a side output (the record keeps the current timestamp). */
  output<X>(tag: OutputTag<X>, value: X): void;
}

export interface OnTimerContext extends KeyedContext {
  readonly timeDomain: TimeDomain;
}

/** What `open` receives: keyed state handles and the subtask's place. */
export interface KeyedRuntimeContext extends KeyedStateStore, SubtaskInfo {
  /** The operator's name in the job graph. */
  readonly operatorName: string;
}

/**
 * A function over a keyed stream. Methods may return a promise (e.g. a lookup in an external
 * store): the task is busy until it settles, as with a connector call.
 */
export interface KeyedProcessFunction<I, O> {
  open?(context: KeyedRuntimeContext): void;
  processElement(value: I, context: KeyedContext, out: Collector<O>): void | Promise<void>;
  onTimer?(timestampMs: number, context: OnTimerContext, out: Collector<O>): void | Promise<void>;
}

/** A function over two connected keyed streams with the same key (Flink's KeyedCoProcessFunction). */
export interface KeyedCoProcessFunction<I1, I2, O> {
  open?(context: KeyedRuntimeContext): void;
  processElement1(value: I1, context: KeyedContext, out: Collector<O>): void | Promise<void>;
  processElement2(value: I2, context: KeyedContext, out: Collector<O>): void | Promise<void>;
  onTimer?(timestampMs: number, context: OnTimerContext, out: Collector<O>): void | Promise<void>;
}

/** One function instance per subtask and attempt, as connectors are created (functions hold state handles). */
export type FunctionFactory<F> = (info: SubtaskInfo) => F;

// ---------------------------------------------------------------- watermarks

/**
 * How a source (or an assigner) stamps records and derives watermarks (Flink's
 * WatermarkStrategy). The watermark after seeing timestamps up to `max` is
 * `max - maxOutOfOrdernessMs - 1` (BoundedOutOfOrdernessWatermarks); a source subtask with no
 * record for `idleTimeoutMs` of virtual time marks itself idle, so it does not hold back the
 * minimum downstream, and becomes active with its next record.
 */
export interface WatermarkStrategy<T> {
  /** 'event': from `timestampOf`; 'ingestion': the source's virtual clock at read. */
  readonly timeCharacteristic: 'event' | 'ingestion';
  readonly timestampOf: ((value: T) => number) | undefined;
  readonly maxOutOfOrdernessMs: number;
  readonly idleTimeoutMs: number | undefined;
  withTimestampAssigner(timestampOf: (value: T) => number): WatermarkStrategy<T>;
  withIdleness(idleTimeoutMs: number): WatermarkStrategy<T>;
}

function strategy<T>(fields: Omit<WatermarkStrategy<T>, 'withTimestampAssigner' | 'withIdleness'>): WatermarkStrategy<T> {
  if (!Number.isSafeInteger(fields.maxOutOfOrdernessMs) || fields.maxOutOfOrdernessMs < 0) {
    throw new Error(`WatermarkStrategy: maxOutOfOrdernessMs must be a non-negative integer, got ${String(fields.maxOutOfOrdernessMs)}`);
  }
  if (fields.idleTimeoutMs !== undefined && !(Number.isSafeInteger(fields.idleTimeoutMs) && fields.idleTimeoutMs > 0)) {
    throw new Error(`WatermarkStrategy: idleTimeoutMs must be a positive integer, got ${String(fields.idleTimeoutMs)}`);
  }
  return {
    ...fields,
    withTimestampAssigner: (timestampOf) => {
      if (fields.timeCharacteristic === 'ingestion') throw new Error('WatermarkStrategy: ingestion time takes no timestamp assigner');
      return strategy({ ...fields, timestampOf });
    },
    withIdleness: (idleTimeoutMs) => strategy({ ...fields, idleTimeoutMs }),
  };
}

export const WatermarkStrategy = {
  forBoundedOutOfOrderness<T>(maxOutOfOrdernessMs: number): WatermarkStrategy<T> {
    return strategy<T>({ timeCharacteristic: 'event', timestampOf: undefined, maxOutOfOrdernessMs, idleTimeoutMs: undefined });
  },
  forMonotonousTimestamps<T>(): WatermarkStrategy<T> {
    return strategy<T>({ timeCharacteristic: 'event', timestampOf: undefined, maxOutOfOrdernessMs: 0, idleTimeoutMs: undefined });
  },
  /** Ingestion time: each record is stamped with the source's virtual clock when it is read. */
  forIngestionTime<T>(): WatermarkStrategy<T> {
    return strategy<T>({ timeCharacteristic: 'ingestion', timestampOf: undefined, maxOutOfOrdernessMs: 0, idleTimeoutMs: undefined });
  },
};
