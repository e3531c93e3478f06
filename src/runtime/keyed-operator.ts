/**
 * A keyed process (or co-process) operator: one user function instance with its keyed state
 * and timers (Flink's KeyedProcessOperator / KeyedCoProcessOperator). The runtime's tasks and
 * the operator test harness both run user functions through this class, so a function tested
 * in the harness behaves the same in a job.
 *
 * The host (a task, or the harness) feeds it elements, watermarks and processing time, and
 * receives what the function emits. A user method that returns a promise makes the call
 * return a promise that settles once that method and everything after it in the same call
 * (e.g. the remaining due timers) ran; the host must not feed anything else meanwhile.
 */
import type { Key, SubtaskInfo } from '../connectors/api.ts';
import type {
  Collector,
  FunctionFactory,
  KeyedCoProcessFunction,
  KeyedProcessFunction,
  KeyedRuntimeContext,
  OnTimerContext,
  OutputTag,
  TimeDomain,
  TimerService,
} from './functions.ts';
import { MIN_WATERMARK } from './functions.ts';
import { KeyedStateBackend, type KeyedStateEntries } from './keyed-state.ts';
import { InternalTimerService, type TimerSnapshot } from './timer-service.ts';

/** A call that may have to wait on a user function's promise. */
export type MaybeAsync = void | Promise<void>;

export function isPromiseLike(value: unknown): value is Promise<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

export interface KeyedOperatorHost {
  /** The subtask's virtual clock (ms). */
  currentProcessingTime(): number;
  /** A record the function collected, with its timestamp (undefined: none). */
  emit(value: unknown, timestampMs: number | undefined): void;
  /** A record for side output `tagId`. */
  emitSide(tagId: string, value: unknown, timestampMs: number | undefined): void;
  /** A new processing-time timer: the host wakes the operator at `timestampMs` (firing early or twice is harmless). */
  onProcessingTimerAdded(timestampMs: number): void;
  /** Observes every timer firing (runtime observations). */
  onTimerFired?(key: Key, timestampMs: number, domain: TimeDomain): void;
}

export type KeyedFunctionSpec =
  | { readonly kind: 'process'; readonly name: string; readonly create: FunctionFactory<KeyedProcessFunction<unknown, unknown>> }
  | { readonly kind: 'co-process'; readonly name: string; readonly create: FunctionFactory<KeyedCoProcessFunction<unknown, unknown, unknown>> };

/** What a keyed operator restores from: a subtask snapshot's keyed state and timers. */
export interface KeyedOperatorRestore {
  readonly keyedState: Readonly<Record<string, ReadonlyArray<readonly [Key, unknown]>>>;
  readonly timers?: readonly TimerSnapshot[];
}

type AnyFunction = KeyedProcessFunction<unknown, unknown> & Partial<KeyedCoProcessFunction<unknown, unknown, unknown>>;

export class KeyedProcessOperator {
  readonly state: KeyedStateBackend;
  readonly timers: InternalTimerService;
  private readonly fn: AnyFunction;
  private watermarkMs = MIN_WATERMARK;
  /** One context and one collector per operator, reset per call (no allocation per record). */
  private readonly context: OnTimerContext & { timestamp: number | undefined; timeDomain: TimeDomain };
  private readonly collector: Collector<unknown>;
  /** The timestamp `collect` gives a record by default: the element's or the event-time timer's. */
  private outputTimestamp: number | undefined = undefined;

  constructor(
    readonly spec: KeyedFunctionSpec,
    info: SubtaskInfo,
    private readonly host: KeyedOperatorHost,
    restored: KeyedOperatorRestore | undefined,
  ) {
    this.state = new KeyedStateBackend(spec.name, () => host.currentProcessingTime(), restored?.keyedState);
    this.timers = new InternalTimerService(spec.name, (timestampMs) => host.onProcessingTimerAdded(timestampMs));
    if (restored?.timers !== undefined) this.timers.restore(restored.timers);
    const fn = spec.create(info) as AnyFunction | undefined;
    if (fn === null || typeof fn !== 'object') throw new Error(`the factory of operator '${spec.name}' returned ${fn === null ? 'null' : typeof fn}, not a function object`);
    if (spec.kind === 'process' && typeof fn.processElement !== 'function') throw new Error(`operator '${spec.name}': the function has no processElement method`);
    if (spec.kind === 'co-process' && (typeof fn.processElement1 !== 'function' || typeof fn.processElement2 !== 'function')) {
      throw new Error(`operator '${spec.name}': a co-process function needs processElement1 and processElement2`);
    }
    this.fn = fn;
    const state = this.state;
    const timerService: TimerService = {
      currentProcessingTime: () => host.currentProcessingTime(),
      currentWatermark: () => this.watermarkMs,
      registerEventTimeTimer: (timestampMs) => this.timers.register('event-time', this.currentKey('registerEventTimeTimer'), timestampMs),
      registerProcessingTimeTimer: (timestampMs) => this.timers.register('processing-time', this.currentKey('registerProcessingTimeTimer'), timestampMs),
      deleteEventTimeTimer: (timestampMs) => this.timers.delete('event-time', this.currentKey('deleteEventTimeTimer'), timestampMs),
      deleteProcessingTimeTimer: (timestampMs) => this.timers.delete('processing-time', this.currentKey('deleteProcessingTimeTimer'), timestampMs),
    };
    this.context = {
      timestamp: undefined,
      timeDomain: 'event-time',
      getCurrentKey: () => this.currentKey('getCurrentKey'),
      timerService: () => timerService,
      output: <X>(tag: OutputTag<X>, value: X) => host.emitSide(tag.id, value, this.outputTimestamp),
    };
    this.collector = {
      collect: (value, timestampMs) => host.emit(value, timestampMs === undefined ? this.outputTimestamp : timestampMs),
    };
    const runtimeContext: KeyedRuntimeContext = {
      operatorName: spec.name,
      subtaskIndex: info.subtaskIndex,
      parallelism: info.parallelism,
      getState: (name, options) => state.getState(name, options),
      getListState: (name, options) => state.getListState(name, options),
      getMapState: (name, options) => state.getMapState(name, options),
    };
    fn.open?.(runtimeContext);
  }

  get name(): string {
    return this.spec.name;
  }

  get currentWatermark(): number {
    return this.watermarkMs;
  }

  /** An element on input 1 or 2 (2 only for a co-process function). */
  processElement(input: 1 | 2, key: Key, value: unknown, timestampMs: number | undefined): MaybeAsync {
    this.state.currentKey = key;
    this.context.timestamp = timestampMs;
    this.outputTimestamp = timestampMs;
    const fn = this.fn;
    let result: unknown;
    if (this.spec.kind === 'process') {
      if (input !== 1) throw new Error(`operator '${this.spec.name}' has one input, got an element on input ${input}`);
      result = fn.processElement(value, this.context, this.collector);
    } else {
      result = input === 1 ? fn.processElement1!(value, this.context, this.collector) : fn.processElement2!(value, this.context, this.collector);
    }
    return isPromiseLike(result) ? (result as Promise<void>) : undefined;
  }

  /**
   * The watermark advanced to `watermarkMs` (the host never moves it back): fires every
   * event-time timer at or before it, including those registered while firing.
   */
  advanceWatermark(watermarkMs: number): MaybeAsync {
    if (watermarkMs < this.watermarkMs) throw new Error(`operator '${this.spec.name}': watermark ${watermarkMs} after ${this.watermarkMs} (watermarks never go back)`);
    this.watermarkMs = watermarkMs;
    return this.fireDue('event-time', watermarkMs);
  }

  /** Processing time reached `nowMs`: fires every processing-time timer at or before it. */
  advanceProcessingTime(nowMs: number): MaybeAsync {
    return this.fireDue('processing-time', nowMs);
  }

  /** Keyed state into `keyedState` (by `<operator>/<state>`), and timers into `timers` unless left out. */
  snapshotInto(keyedState: KeyedStateEntries, timers: TimerSnapshot[] | undefined): void {
    this.state.snapshotInto(keyedState);
    if (timers !== undefined) this.timers.snapshotInto(timers);
  }

  private fireDue(domain: TimeDomain, limitMs: number): MaybeAsync {
    for (;;) {
      const timer = this.timers.pollDue(domain, limitMs);
      if (timer === undefined) return;
      this.host.onTimerFired?.(timer.key, timer.timestampMs, domain);
      if (this.fn.onTimer === undefined) continue;
      this.state.currentKey = timer.key;
      this.context.timestamp = timer.timestampMs;
      this.context.timeDomain = domain;
      // Flink's TimestampedCollector: event-time timers stamp their output, processing-time ones erase it.
      this.outputTimestamp = domain === 'event-time' ? timer.timestampMs : undefined;
      const result = this.fn.onTimer(timer.timestampMs, this.context, this.collector);
      if (isPromiseLike(result)) return (result as Promise<void>).then(() => this.fireDue(domain, limitMs));
    }
  }

  private currentKey(call: string): Key {
    const key = this.state.currentKey;
    if (key === undefined) throw new Error(`${call} in operator '${this.spec.name}' outside of processElement/onTimer (no current key)`);
    return key;
  }
}
