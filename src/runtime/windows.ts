/**
 * Windows as keyed process functions (Flink's WindowOperator, rebuilt on the public API of
 * `functions.ts`): nothing here is a special case of the runtime. A window's contents live in
 * keyed MapState, each window has timers in the timer service, so windows are checkpointed,
 * restored and fired after a restore exactly as any user's process function would be.
 *
 * Semantics follow Flink's:
 * - A window is [startMs, endMs); its last timestamp (`maxTimestamp`) is endMs - 1.
 * - Event time: the window fires when the watermark reaches endMs - 1 (an event-time timer at
 *   that timestamp), and its state is dropped at endMs - 1 + allowedLatenessMs (a second timer,
 *   the same one when the lateness is 0). A record whose every window is already past that
 *   cleanup time is late: it goes to `lateDataTag` (or is dropped without one). A record that
 *   arrives after its window fired but within the allowed lateness fires the window again at
 *   once with the updated result (a late firing, as Flink's EventTimeTrigger).
 * - Processing time: the record's time is the task's virtual clock when it arrives, the window
 *   fires on a processing-time timer at endMs - 1; nothing is ever late.
 * - Session windows start as [t, t + gap) and merge with every window of the key they
 *   overlap or touch (Flink's TimeWindow.intersects), merging the accumulators.
 */
import type { Key } from '../connectors/api.ts';
import type { TimeDomain } from './functions.ts';
import { MIN_WATERMARK, type Collector, type FunctionFactory, type KeyedContext, type KeyedProcessFunction, type KeyedRuntimeContext, type MapState, type OnTimerContext, type OutputTag } from './functions.ts';

/** [startMs, endMs): the window's time range (event or processing time). */
export interface TimeWindow {
  readonly startMs: number;
  readonly endMs: number;
}

/** The last timestamp that belongs to the window; its timers fire there (Flink's maxTimestamp). */
export function windowMaxTimestamp(window: TimeWindow): number {
  return window.endMs - 1;
}

/** How records are put into windows (Flink's WindowAssigner). */
export interface WindowAssigner {
  readonly timeDomain: TimeDomain;
  /** Session windows merge; tumbling and sliding windows never do. */
  readonly merging: boolean;
  /** Words for errors and reports, e.g. `tumbling event-time windows of 100 ms`. */
  readonly description: string;
  /** The windows a record with this timestamp belongs to, in ascending start order. */
  assignWindows(timestampMs: number): readonly TimeWindow[];
}

function checkPositiveMs(call: string, name: string, value: number): void {
  if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`${call}: ${name} must be a positive integer (ms), got ${String(value)}`);
}

/** The start of the window of `sizeMs` (aligned to 0) that holds `timestampMs`; correct for negative timestamps too. */
function alignedStart(timestampMs: number, sizeMs: number): number {
  return timestampMs - (((timestampMs % sizeMs) + sizeMs) % sizeMs);
}

function tumbling(call: string, timeDomain: TimeDomain, sizeMs: number): WindowAssigner {
  checkPositiveMs(call, 'sizeMs', sizeMs);
  // Records come in bursts of one window: the last answer is handed out again (frozen, as the
  // result is read-only) instead of a new array and window for every record.
  let lastStartMs = Number.NaN;
  let lastWindows: readonly TimeWindow[] = [];
  return {
    timeDomain,
    merging: false,
    description: `tumbling ${timeDomain} windows of ${sizeMs} ms`,
    assignWindows: (timestampMs) => {
      const startMs = alignedStart(timestampMs, sizeMs);
      if (startMs !== lastStartMs) {
        lastStartMs = startMs;
        lastWindows = Object.freeze([Object.freeze({ startMs, endMs: startMs + sizeMs })]);
      }
      return lastWindows;
    },
  };
}

function sliding(call: string, timeDomain: TimeDomain, sizeMs: number, slideMs: number): WindowAssigner {
  checkPositiveMs(call, 'sizeMs', sizeMs);
  checkPositiveMs(call, 'slideMs', slideMs);
  if (slideMs > sizeMs) throw new Error(`${call}: slideMs (${slideMs}) must not exceed sizeMs (${sizeMs}), or records between windows belong to none`);
  return {
    timeDomain,
    merging: false,
    description: `sliding ${timeDomain} windows of ${sizeMs} ms every ${slideMs} ms`,
    assignWindows: (timestampMs) => {
      const windows: TimeWindow[] = [];
      // At most ceil(size / slide) windows hold one timestamp: the loop is bounded by that.
      for (let startMs = alignedStart(timestampMs, slideMs); startMs > timestampMs - sizeMs; startMs -= slideMs) {
        windows.push({ startMs, endMs: startMs + sizeMs });
      }
      return windows.reverse();
    },
  };
}

function session(call: string, timeDomain: TimeDomain, gapMs: number): WindowAssigner {
  checkPositiveMs(call, 'gapMs', gapMs);
  return {
    timeDomain,
    merging: true,
    description: `${timeDomain} session windows with a gap of ${gapMs} ms`,
    assignWindows: (timestampMs) => [{ startMs: timestampMs, endMs: timestampMs + gapMs }],
  };
}

export function tumblingEventTimeWindows(sizeMs: number): WindowAssigner {
  return tumbling('tumblingEventTimeWindows', 'event-time', sizeMs);
}

export function slidingEventTimeWindows(sizeMs: number, slideMs: number): WindowAssigner {
  return sliding('slidingEventTimeWindows', 'event-time', sizeMs, slideMs);
}

export function eventTimeSessionWindows(gapMs: number): WindowAssigner {
  return session('eventTimeSessionWindows', 'event-time', gapMs);
}

export function tumblingProcessingTimeWindows(sizeMs: number): WindowAssigner {
  return tumbling('tumblingProcessingTimeWindows', 'processing-time', sizeMs);
}

export function slidingProcessingTimeWindows(sizeMs: number, slideMs: number): WindowAssigner {
  return sliding('slidingProcessingTimeWindows', 'processing-time', sizeMs, slideMs);
}

export function processingTimeSessionWindows(gapMs: number): WindowAssigner {
  return session('processingTimeSessionWindows', 'processing-time', gapMs);
}

/** Incremental aggregation of a window's records (Flink's AggregateFunction). */
export interface WindowAggregate<I, A, R> {
  createAccumulator(): A;
  /** Returns the new accumulator; must not mutate `accumulator` (snapshots may share it). */
  add(value: I, accumulator: A): A;
  getResult(accumulator: A): R;
  /** Combines the accumulators of two merged session windows; required by session windows. */
  merge?(a: A, b: A): A;
}

/** What a window emits by default: the key, the window and the aggregate's result. */
export interface WindowResult<R> {
  readonly key: Key;
  readonly window: TimeWindow;
  readonly result: R;
}

export interface WindowedOptions<I, A, R, O> {
  readonly assigner: WindowAssigner;
  readonly aggregate: WindowAggregate<I, A, R>;
  /** Event time only: how long after its end a window still takes records (and fires again). Default 0. */
  readonly allowedLatenessMs?: number;
  /** Event time only: where late records go (Flink's sideOutputLateData); dropped without one. */
  readonly lateDataTag?: OutputTag<I>;
  /** Builds the output record of one firing; default `{ key, window, result }`. */
  readonly emit?: (key: Key, window: TimeWindow, result: R) => O;
  /**
   * PLANTED BUG for `streamcheck selftest` (scenario event-time-window, bug fired-windows-kept):
   * fired windows are kept instead of purged, and every record of a key registers the timers
   * of all its windows again, fired ones included, so a fired window fires once more at the
   * next watermark. Never set it otherwise.
   */
  readonly plantedBugKeepFiredWindows?: boolean;
}

/** One window of the current key, as stored in keyed MapState under its id. */
interface WindowEntry<A> {
  readonly startMs: number;
  readonly endMs: number;
  readonly accumulator: A;
}

/** MapState keys: fixed width, so the state's ascending key order is the windows' start order. */
function windowId(window: TimeWindow): string {
  return `${String(window.startMs).padStart(16, '0')}:${window.endMs}`;
}

/** The MapState name of the window contents (visible in snapshots as `<operator>/windows`). */
export const WINDOW_STATE_NAME = 'windows';

/**
 * A keyed process function that windows its input (Flink's `keyBy(...).window(assigner)
 * .allowedLateness(...).sideOutputLateData(tag).aggregate(...)`):
 *
 *   keyed.process('counts', windowed({
 *     assigner: tumblingEventTimeWindows(100),
 *     aggregate: { createAccumulator: () => 0, add: (_r, n) => n + 1, getResult: (n) => n },
 *     lateDataTag: LATE,
 *   }))
 */
export function windowed<I, A, R, O = WindowResult<R>>(options: WindowedOptions<I, A, R, O>): FunctionFactory<KeyedProcessFunction<I, O>> {
  const call = 'windowed';
  if (options === null || typeof options !== 'object') throw new Error(`${call}: expected options { assigner, aggregate, ... }`);
  const { assigner, aggregate } = options;
  if (assigner === undefined || typeof assigner.assignWindows !== 'function') {
    throw new Error(`${call}: assigner must be a window assigner, e.g. tumblingEventTimeWindows(100)`);
  }
  if (aggregate === undefined || typeof aggregate.createAccumulator !== 'function' || typeof aggregate.add !== 'function' || typeof aggregate.getResult !== 'function') {
    throw new Error(`${call}: aggregate must have createAccumulator, add and getResult functions`);
  }
  if (assigner.merging && typeof aggregate.merge !== 'function') {
    throw new Error(`${call}: ${assigner.description} merge windows, so the aggregate needs a merge(a, b) function`);
  }
  const allowedLatenessMs = options.allowedLatenessMs ?? 0;
  if (!Number.isSafeInteger(allowedLatenessMs) || allowedLatenessMs < 0) {
    throw new Error(`${call}: allowedLatenessMs must be a non-negative integer (ms), got ${String(allowedLatenessMs)}`);
  }
  const eventTime = assigner.timeDomain === 'event-time';
  if (!eventTime && (allowedLatenessMs > 0 || options.lateDataTag !== undefined)) {
    throw new Error(`${call}: ${assigner.description} have no late records: allowedLatenessMs and lateDataTag apply to event time only`);
  }
  const emit = options.emit ?? ((key: Key, window: TimeWindow, result: R) => ({ key, window, result }) as unknown as O);
  const keepFiredWindows = options.plantedBugKeepFiredWindows === true;
  return () => new WindowFunction<I, A, R, O>(assigner, aggregate, allowedLatenessMs, options.lateDataTag, emit, keepFiredWindows);
}

/** Window ids a window function keeps at most before it forgets them all (a bound on its memory, not a semantic limit). */
const MAX_CACHED_WINDOW_IDS = 1_024;

class WindowFunction<I, A, R, O> implements KeyedProcessFunction<I, O> {
  private windows!: MapState<string, WindowEntry<A>>;
  private readonly eventTime: boolean;
  /**
   * Ids of windows that do not merge, by start: every record and every firing needs its
   * window's id, and building it (a padded string) was a tenth of a window job's garbage.
   * Checked against the end, so an assigner with two windows of one start stays correct.
   */
  private readonly idsByStart = new Map<number, { readonly endMs: number; readonly id: string }>();

  constructor(
    private readonly assigner: WindowAssigner,
    private readonly aggregate: WindowAggregate<I, A, R>,
    private readonly allowedLatenessMs: number,
    private readonly lateDataTag: OutputTag<I> | undefined,
    private readonly emit: (key: Key, window: TimeWindow, result: R) => O,
    private readonly keepFiredWindows: boolean,
  ) {
    this.eventTime = assigner.timeDomain === 'event-time';
  }

  open(context: KeyedRuntimeContext): void {
    this.windows = context.getMapState<string, WindowEntry<A>>(WINDOW_STATE_NAME);
  }

  processElement(value: I, context: KeyedContext, out: Collector<O>): void {
    const timerService = context.timerService();
    const timestampMs = this.eventTime ? context.timestamp : timerService.currentProcessingTime();
    if (timestampMs === undefined) {
      throw new Error(
        `windowed: ${this.assigner.description} got a record without an event timestamp; give its source a WatermarkStrategy with a timestamp assigner (or assignTimestampsAndWatermarks)`,
      );
    }
    const watermarkMs = this.eventTime ? timerService.currentWatermark() : MIN_WATERMARK;
    // Merging can remove windows (and so timers); otherwise a record only ever adds a window.
    const timersBefore = this.assigner.merging ? this.timerTimestamps(watermarkMs) : undefined;
    let taken = false;
    for (const assigned of this.assigner.assignWindows(timestampMs)) {
      // A window past its cleanup time is gone for good (Flink's isWindowLate): skip it.
      if (this.eventTime && this.cleanupTime(assigned) <= watermarkMs) continue;
      taken = true;
      // A window that does not merge keeps its range, so its id is computed once (a hot path: every record).
      const assignedId = this.assigner.merging ? undefined : this.fixedWindowId(assigned);
      const existing = assignedId === undefined ? undefined : this.windows.get(assignedId);
      const entry = this.assigner.merging ? this.mergeInto(assigned) : (existing ?? this.emptyEntry(assigned));
      const updated: WindowEntry<A> = { startMs: entry.startMs, endMs: entry.endMs, accumulator: this.aggregate.add(value, entry.accumulator) };
      this.windows.put(assignedId ?? windowId(updated), updated);
      if (!this.assigner.merging && existing === undefined && !this.keepFiredWindows) this.registerTimers(updated, watermarkMs, context);
      // Added after the window fired, within the allowed lateness: fire again with the update.
      if (this.eventTime && windowMaxTimestamp(updated) <= watermarkMs) this.fire(context.getCurrentKey(), updated, out);
    }
    if (!taken && this.lateDataTag !== undefined) context.output(this.lateDataTag, value);
    if (this.keepFiredWindows) this.registerAllTimers(context);
    else if (timersBefore !== undefined) this.syncTimers(timersBefore, watermarkMs, context);
  }

  /**
   * Fires the key's windows whose last timestamp this is, then drops those whose cleanup time
   * came (fire first: with no allowed lateness both are the same timer). A window dropped here
   * needs no timer any more, and the others keep theirs: nothing to register or delete.
   */
  onTimer(timestampMs: number, context: OnTimerContext, out: Collector<O>): void {
    if (context.timeDomain !== this.assigner.timeDomain) return;
    const key = context.getCurrentKey();
    if (!this.assigner.merging && !this.keepFiredWindows) return this.onTimerOfFixedWindows(timestampMs, key, out);
    for (const [id, entry] of this.windows.entries()) {
      if (windowMaxTimestamp(entry) === timestampMs) this.fire(key, entry, out);
      if (this.cleanupTime(entry) <= timestampMs && !this.keepFiredWindows) this.windows.remove(id);
    }
  }

  /**
   * onTimer for windows that never merge: a timer at T can only be the firing of a window whose
   * last timestamp is T or the cleanup of one whose last timestamp is T - allowedLateness (each
   * window has timers at both), and the assigner names those windows: look them up instead of
   * scanning the key's windows (a hot path: every window of every key fires). An older window
   * whose cleanup is before T already had its cleanup timer.
   */
  private onTimerOfFixedWindows(timestampMs: number, key: Key, out: Collector<O>): void {
    for (const window of this.assigner.assignWindows(timestampMs)) {
      if (windowMaxTimestamp(window) !== timestampMs) continue;
      const id = this.fixedWindowId(window);
      const entry = this.windows.get(id);
      if (entry === undefined) continue;
      this.fire(key, entry, out);
      if (this.cleanupTime(entry) <= timestampMs) this.windows.remove(id);
    }
    if (this.allowedLatenessMs === 0 || !this.eventTime) return;
    for (const window of this.assigner.assignWindows(timestampMs - this.allowedLatenessMs)) {
      if (this.cleanupTime(window) !== timestampMs) continue;
      this.windows.remove(this.fixedWindowId(window));
    }
  }

  /** The timers of a new window: its firing (unless the watermark is already past it: it fires inline) and its cleanup. */
  private registerTimers(window: TimeWindow, watermarkMs: number, context: KeyedContext): void {
    const timerService = context.timerService();
    if (!this.eventTime) {
      timerService.registerProcessingTimeTimer(windowMaxTimestamp(window));
      return;
    }
    if (windowMaxTimestamp(window) > watermarkMs) timerService.registerEventTimeTimer(windowMaxTimestamp(window));
    timerService.registerEventTimeTimer(this.cleanupTime(window));
  }

  /** `windowId` of a window of a non-merging assigner, built once per window start. */
  private fixedWindowId(window: TimeWindow): string {
    const cached = this.idsByStart.get(window.startMs);
    if (cached !== undefined && cached.endMs === window.endMs) return cached.id;
    const id = windowId(window);
    if (cached === undefined) {
      if (this.idsByStart.size >= MAX_CACHED_WINDOW_IDS) this.idsByStart.clear();
      this.idsByStart.set(window.startMs, { endMs: window.endMs, id });
    }
    return id;
  }

  private fire(key: Key, entry: WindowEntry<A>, out: Collector<O>): void {
    const window: TimeWindow = { startMs: entry.startMs, endMs: entry.endMs };
    out.collect(this.emit(key, window, this.aggregate.getResult(entry.accumulator)), windowMaxTimestamp(window));
  }

  private emptyEntry(window: TimeWindow): WindowEntry<A> {
    return { startMs: window.startMs, endMs: window.endMs, accumulator: this.aggregate.createAccumulator() };
  }

  /** Session windows: removes every window the new one overlaps or touches and returns their union. */
  private mergeInto(assigned: TimeWindow): WindowEntry<A> {
    let merged = this.emptyEntry(assigned);
    for (const [id, entry] of this.windows.entries()) {
      if (entry.startMs > merged.endMs || entry.endMs < merged.startMs) continue;
      this.windows.remove(id);
      merged = {
        startMs: Math.min(merged.startMs, entry.startMs),
        endMs: Math.max(merged.endMs, entry.endMs),
        accumulator: this.aggregate.merge!(merged.accumulator, entry.accumulator),
      };
    }
    // One pass can miss a window that only the grown union touches; windows are few per key, so repeat until stable.
    const again = this.windows.entries().find(([, entry]) => !(entry.startMs > merged.endMs || entry.endMs < merged.startMs));
    if (again !== undefined) {
      this.windows.put(windowId(merged), merged);
      return this.mergeInto(merged);
    }
    return merged;
  }

  private cleanupTime(window: TimeWindow): number {
    return this.eventTime ? windowMaxTimestamp(window) + this.allowedLatenessMs : windowMaxTimestamp(window);
  }

  /**
   * Timer timestamps the current key's windows need: each window's firing and its cleanup.
   * A firing at or below the watermark is not a timer: it fired already, or fires inline
   * (a late firing); a timer registered there would fire the window once more.
   */
  private timerTimestamps(watermarkMs: number): Set<number> {
    const timestamps = new Set<number>();
    for (const [, entry] of this.windows.entries()) {
      if (windowMaxTimestamp(entry) > watermarkMs) timestamps.add(windowMaxTimestamp(entry));
      timestamps.add(this.cleanupTime(entry));
    }
    return timestamps;
  }

  /** PLANTED BUG (keepFiredWindows): the timers of every window of the key, fired ones included. */
  private registerAllTimers(context: KeyedContext): void {
    for (const [, entry] of this.windows.entries()) context.timerService().registerEventTimeTimer(windowMaxTimestamp(entry));
  }

  /**
   * Registers the timers the key's windows now need and deletes those no window needs any more.
   * Timers are per (key, timestamp), so one timestamp may serve two windows: never delete
   * a timer by window, only by what is left over.
   */
  private syncTimers(before: ReadonlySet<number>, watermarkMs: number, context: KeyedContext): void {
    const timerService = context.timerService();
    const after = this.timerTimestamps(watermarkMs);
    for (const timestampMs of before) {
      if (after.has(timestampMs)) continue;
      if (this.eventTime) timerService.deleteEventTimeTimer(timestampMs);
      else timerService.deleteProcessingTimeTimer(timestampMs);
    }
    for (const timestampMs of after) {
      if (before.has(timestampMs)) continue;
      if (this.eventTime) timerService.registerEventTimeTimer(timestampMs);
      else timerService.registerProcessingTimeTimer(timestampMs);
    }
  }
}
