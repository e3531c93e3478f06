/**
 * Stream joins as keyed (co-)process functions, the four joins of Flink SQL:
 *
 * - `regularJoin`: every record of one side joins every past and future record of the other
 *   side with the same key. Both sides stay in keyed state forever, unless a state TTL
 *   (Flink SQL's idle state retention) drops a key's buffers after `stateTtlMs` of
 *   processing time without a write: smaller state, but a record arriving after that joins
 *   nothing it should have joined with. The TTL trades correctness for state size; what it
 *   loses depends on processing time, so it differs between interleavings.
 * - `intervalJoin`: `l.ts + lowerMs <= r.ts <= l.ts + upperMs`. Each side is buffered by
 *   timestamp and cleaned when the watermark passes the last timestamp a partner can have;
 *   a record at or behind the watermark is late and dropped (counted, optionally to a side
 *   output): its partners may already be cleaned.
 * - `temporalJoin`: the right side is a versioned table (a changelog of versions per key,
 *   each valid from its timestamp); every left record joins the version valid at its event
 *   timestamp. Left records wait in state until the watermark passes them, so every version
 *   up to their time has arrived (Flink's event-time temporal join).
 * - `lookupJoin`: the processing-time temporal join: each record looks up the latest
 *   version in an external store (e.g. Redis) when it is processed. Its result depends on
 *   when the lookup runs relative to the store's updates: it is not reproducible from the
 *   input alone, and that is its definition, not a bug.
 *
 * Lateness: the watermark W promises that no record with timestamp <= W follows (a bounded
 * out-of-orderness watermark is `max - bound - 1`), so a record with `ts <= W` is late.
 * (Flink's IntervalJoinOperator drops only `ts < W`, and then a record exactly at W can miss
 * a partner cleaned at W; `<=` keeps cleanup and lateness consistent.)
 *
 * All four are functions on the user API (`functions.ts`), not special cases of the runtime.
 */
import type { Key, ListState } from '../connectors/api.ts';
import type {
  Collector,
  FunctionFactory,
  KeyedCoProcessFunction,
  KeyedContext,
  KeyedProcessFunction,
  KeyedRuntimeContext,
  MapState,
  OnTimerContext,
  OutputTag,
} from './functions.ts';

/** A record a join dropped as late, on the side output a join was given. */
export interface LateJoinRecord<L, R> {
  readonly side: 'left' | 'right';
  readonly value: L | R;
  readonly timestampMs: number;
  /** The join's watermark when the record arrived. */
  readonly watermarkMs: number;
}

/** Late records a join instance dropped (per subtask and attempt: a metric, not state). */
export interface LateRecordCounter {
  readonly lateRecordsDropped: number;
}

function eventTimestamp(join: string, side: 'left' | 'right', context: KeyedContext): number {
  const timestamp = context.timestamp;
  if (timestamp === undefined) {
    throw new Error(`${join}: the ${side} record has no event timestamp; give its source a WatermarkStrategy with a timestamp assigner (or assignTimestampsAndWatermarks)`);
  }
  return timestamp;
}

function checkJoinFunction(join: string, fn: unknown): void {
  if (typeof fn !== 'function') throw new Error(`${join}: 'join' must be a function (left, right) => output`);
}

// ---------------------------------------------------------------- regular join

export interface RegularJoinOptions<L, R, O> {
  readonly join: (left: L, right: R) => O;
  /**
   * Idle state retention (processing time, ms): a key's buffered records are dropped when the
   * key's buffer of that side was not written for this long. Omit to keep everything.
   */
  readonly stateTtlMs?: number;
  /**
   * PLANTED BUGS for `streamcheck selftest` (never set them otherwise): 'left-not-buffered'
   * keeps only the right side, so a left record joins past right records but no future ones;
   * 'buffers-in-fields' keeps both sides in a field of the function instead of keyed state, so
   * they are in no snapshot and a restore forgets them.
   */
  readonly plantedBug?: 'left-not-buffered' | 'buffers-in-fields';
}

/** Every record joins every past and future record of the other side with the same key. */
export function regularJoin<L, R, O>(options: RegularJoinOptions<L, R, O>): FunctionFactory<KeyedCoProcessFunction<L, R, O>> {
  checkJoinFunction('regularJoin', options.join);
  const { join, stateTtlMs, plantedBug } = options;
  if (stateTtlMs !== undefined && !(Number.isSafeInteger(stateTtlMs) && stateTtlMs > 0)) {
    throw new Error(`regularJoin: stateTtlMs must be a positive integer (ms of processing time), got ${String(stateTtlMs)}`);
  }
  const stateOptions = stateTtlMs === undefined ? undefined : { ttl: { ttlMs: stateTtlMs, updateType: 'on-create-and-write' as const } };
  return () => {
    let lefts: ListState<L>;
    let rights: ListState<R>;
    const heap = new Map<string, unknown[]>();
    return {
      open(context: KeyedRuntimeContext) {
        lefts = context.getListState<L>('left', stateOptions);
        rights = context.getListState<R>('right', stateOptions);
      },
      processElement1(left: L, context: KeyedContext, out: Collector<O>) {
        if (plantedBug === 'buffers-in-fields') [lefts, rights] = [heapList<L>(heap, 'left', context), heapList<R>(heap, 'right', context)];
        for (const right of rights.get()) out.collect(join(left, right));
        if (plantedBug !== 'left-not-buffered') lefts.add(left);
      },
      processElement2(right: R, context: KeyedContext, out: Collector<O>) {
        if (plantedBug === 'buffers-in-fields') [lefts, rights] = [heapList<L>(heap, 'left', context), heapList<R>(heap, 'right', context)];
        for (const left of lefts.get()) out.collect(join(left, right));
        rights.add(right);
      },
    };
  };
}

/** PLANTED BUG 'buffers-in-fields': the current key's list on the instance's heap, in no snapshot. */
function heapList<T>(heap: Map<string, unknown[]>, side: string, context: KeyedContext): ListState<T> {
  const id = `${side}/${typeof context.getCurrentKey()}:${context.getCurrentKey()}`;
  const list = (): T[] => (heap.get(id) ?? heap.set(id, []).get(id)!) as T[];
  return {
    get: () => list(),
    add: (value) => void list().push(value),
    update: (values) => void heap.set(id, values.slice()),
    clear: () => void heap.delete(id),
  };
}

// ---------------------------------------------------------------- interval join

export interface IntervalJoinOptions<L, R, O> {
  /** A right record joins a left one when `left.ts + lowerMs <= right.ts <= left.ts + upperMs`. */
  readonly lowerMs: number;
  readonly upperMs: number;
  readonly join: (left: L, right: R) => O;
  /** Where late records go (else they are only counted). */
  readonly lateOutputTag?: OutputTag<LateJoinRecord<L, R>>;
  /**
   * PLANTED BUG for `streamcheck selftest` (never set it otherwise): 'cleanup-one-bound-early'
   * cleans a left record when the watermark passes `ts + lowerMs` instead of `ts + upperMs`.
   */
  readonly plantedBug?: 'cleanup-one-bound-early';
}

/** The keyed state names of an interval join (`<operator>/<name>` in snapshots): timestamp -> records. */
export const INTERVAL_JOIN_STATE = { left: 'left-buffer', right: 'right-buffer' } as const;

/**
 * Flink's IntervalJoinOperator (inner join): both sides buffered by timestamp in keyed map
 * state; an arriving record joins the buffered records of the other side within the
 * interval; an event-time timer cleans each side once the watermark has passed the last
 * timestamp a future partner could have. Output timestamp: the larger of the two.
 */
export function intervalJoin<L, R, O>(options: IntervalJoinOptions<L, R, O>): FunctionFactory<KeyedCoProcessFunction<L, R, O> & LateRecordCounter> {
  checkJoinFunction('intervalJoin', options.join);
  const { lowerMs, upperMs, join, lateOutputTag, plantedBug } = options;
  if (!Number.isSafeInteger(lowerMs) || !Number.isSafeInteger(upperMs) || lowerMs > upperMs) {
    throw new Error(`intervalJoin: lowerMs and upperMs must be integers with lowerMs <= upperMs, got [${String(lowerMs)}, ${String(upperMs)}]`);
  }
  // A left record at ts is needed while a right record up to ts + upperMs can still come;
  // a right record at ts while a left record down to ts - lowerMs can.
  const leftCleanupOffsetMs = plantedBug === 'cleanup-one-bound-early' ? lowerMs : upperMs;
  const rightCleanupOffsetMs = -lowerMs;
  return () => {
    let lefts: MapState<number, L[]>;
    let rights: MapState<number, R[]>;
    const fn = {
      lateRecordsDropped: 0,
      open(context: KeyedRuntimeContext) {
        lefts = context.getMapState<number, L[]>(INTERVAL_JOIN_STATE.left);
        rights = context.getMapState<number, R[]>(INTERVAL_JOIN_STATE.right);
      },
      processElement1(left: L, context: KeyedContext, out: Collector<O>) {
        const ts = eventTimestamp('intervalJoin', 'left', context);
        if (dropIfLate('left', left, ts, context)) return;
        buffer(lefts, ts, left);
        for (const [rightTs, bucket] of rights.entries()) {
          if (rightTs < ts + lowerMs || rightTs > ts + upperMs) continue;
          for (const right of bucket) out.collect(join(left, right), Math.max(ts, rightTs));
        }
        context.timerService().registerEventTimeTimer(ts + leftCleanupOffsetMs);
      },
      processElement2(right: R, context: KeyedContext, out: Collector<O>) {
        const ts = eventTimestamp('intervalJoin', 'right', context);
        if (dropIfLate('right', right, ts, context)) return;
        buffer(rights, ts, right);
        for (const [leftTs, bucket] of lefts.entries()) {
          if (ts < leftTs + lowerMs || ts > leftTs + upperMs) continue;
          for (const left of bucket) out.collect(join(left, right), Math.max(ts, leftTs));
        }
        context.timerService().registerEventTimeTimer(ts + rightCleanupOffsetMs);
      },
      onTimer(timestampMs: number, _context: OnTimerContext) {
        // One timer per (key, timestamp) serves both sides: clean whatever is due by now.
        for (const leftTs of lefts.keys()) if (leftTs + leftCleanupOffsetMs <= timestampMs) lefts.remove(leftTs);
        for (const rightTs of rights.keys()) if (rightTs + rightCleanupOffsetMs <= timestampMs) rights.remove(rightTs);
      },
    };
    function dropIfLate(side: 'left' | 'right', value: L | R, ts: number, context: KeyedContext): boolean {
      const watermarkMs = context.timerService().currentWatermark();
      if (ts > watermarkMs) return false;
      fn.lateRecordsDropped++;
      if (lateOutputTag !== undefined) context.output(lateOutputTag, { side, value, timestampMs: ts, watermarkMs });
      return true;
    }
    return fn;
  };
}

function buffer<T>(state: MapState<number, T[]>, ts: number, value: T): void {
  // A new array each time: the stored one may be shared with a snapshot.
  state.put(ts, [...(state.get(ts) ?? []), value]);
}

// ---------------------------------------------------------------- temporal join (event time)

export interface TemporalJoinOptions<L, R, O> {
  /** The time from which a right record (a version) is valid; default: its event timestamp. */
  readonly versionTimestamp?: (version: R) => number;
  readonly join: (left: L, version: R) => O;
  /** Where late left records and late versions go (else they are only counted). */
  readonly lateOutputTag?: OutputTag<LateJoinRecord<L, R>>;
  /**
   * PLANTED BUG for `streamcheck selftest` (never set it otherwise): 'latest-version' joins
   * each left record with the newest version in state instead of the one valid at its time.
   */
  readonly plantedBug?: 'latest-version';
}

/** The keyed state names of a temporal join: left records by timestamp, versions by validity start. */
export const TEMPORAL_JOIN_STATE = { pending: 'pending-left', versions: 'versions' } as const;

/**
 * Flink's event-time temporal join (TemporalRowTimeJoinOperator, inner join): left records
 * wait in state until the watermark passes their timestamp, then join the version with the
 * greatest validity start <= their timestamp (no such version: no output). Versions that no
 * future left record can pick (older than the newest version at or before the watermark) are
 * dropped. A late left record or a late version (timestamp <= watermark) is dropped: a left
 * record at that time was already emitted with the versions known then. Two versions of one
 * key with the same validity start: the later arrival wins, so give them distinct times.
 */
export function temporalJoin<L, R, O>(options: TemporalJoinOptions<L, R, O>): FunctionFactory<KeyedCoProcessFunction<L, R, O> & LateRecordCounter> {
  checkJoinFunction('temporalJoin', options.join);
  const { versionTimestamp, join, lateOutputTag, plantedBug } = options;
  if (versionTimestamp !== undefined && typeof versionTimestamp !== 'function') throw new Error('temporalJoin: versionTimestamp must be a function (version) => ms');
  return () => {
    let pending: MapState<number, L[]>;
    let versions: MapState<number, R>;
    const fn = {
      lateRecordsDropped: 0,
      open(context: KeyedRuntimeContext) {
        pending = context.getMapState<number, L[]>(TEMPORAL_JOIN_STATE.pending);
        versions = context.getMapState<number, R>(TEMPORAL_JOIN_STATE.versions);
      },
      processElement1(left: L, context: KeyedContext) {
        const ts = eventTimestamp('temporalJoin', 'left', context);
        if (dropIfLate('left', left, ts, context)) return;
        buffer(pending, ts, left);
        context.timerService().registerEventTimeTimer(ts);
      },
      processElement2(version: R, context: KeyedContext) {
        const validFromMs = versionTimestamp === undefined ? eventTimestamp('temporalJoin', 'right', context) : versionTimestamp(version);
        if (!Number.isSafeInteger(validFromMs)) throw new Error(`temporalJoin: a version's timestamp must be an integer (ms), got ${String(validFromMs)}`);
        if (dropIfLate('right', version, validFromMs, context)) return;
        versions.put(validFromMs, version);
      },
      onTimer(_timestampMs: number, context: OnTimerContext, out: Collector<O>) {
        const watermarkMs = context.timerService().currentWatermark();
        const history = versions.entries();
        for (const [ts, bucket] of pending.entries()) {
          if (ts > watermarkMs) break;
          const version = plantedBug === 'latest-version' ? history.at(-1)?.[1] : versionAt(history, ts);
          if (version !== undefined) for (const left of bucket) out.collect(join(left, version), ts);
          pending.remove(ts);
        }
        // Versions before the one valid at the watermark can serve no future (on-time) left record.
        let current = 0;
        while (current + 1 < history.length && history[current + 1]![0] <= watermarkMs) current++;
        for (let i = 0; i < current; i++) versions.remove(history[i]![0]);
      },
    };
    function dropIfLate(side: 'left' | 'right', value: L | R, ts: number, context: KeyedContext): boolean {
      const watermarkMs = context.timerService().currentWatermark();
      if (ts > watermarkMs) return false;
      fn.lateRecordsDropped++;
      if (lateOutputTag !== undefined) context.output(lateOutputTag, { side, value, timestampMs: ts, watermarkMs });
      return true;
    }
    return fn;
  };
}

/** The version valid at `ts`: the greatest validity start <= ts (history ascending). */
function versionAt<R>(history: ReadonlyArray<readonly [number, R]>, ts: number): R | undefined {
  let found: R | undefined;
  for (const [validFromMs, version] of history) {
    if (validFromMs > ts) break;
    found = version;
  }
  return found;
}

// ---------------------------------------------------------------- lookup join (processing time)

export interface LookupJoinOptions<L, V, O> {
  /**
   * Reads the current version for the record's key from an external store (a simulated Redis
   * client in scenarios); undefined: no version (no output). Called once per record.
   */
  readonly lookup: (key: Key, record: L) => Promise<V | undefined>;
  readonly join: (left: L, version: V) => O;
}

/**
 * The processing-time temporal join (Flink's lookup join): each record joins the version the
 * store holds when the lookup runs. The task is busy until the lookup settles, as with any
 * connector call; nothing is kept in state. The result depends on timing (a store update
 * before or after the lookup), so two interleavings of the same input can join different
 * versions: the behaviour of a lookup join, not a bug. Use `temporalJoin` for results that
 * depend on the input only.
 */
export function lookupJoin<L, V, O>(options: LookupJoinOptions<L, V, O>): FunctionFactory<KeyedProcessFunction<L, O>> {
  checkJoinFunction('lookupJoin', options.join);
  const { lookup, join } = options;
  if (typeof lookup !== 'function') throw new Error('lookupJoin: lookup must be a function (key, record) => Promise<version | undefined>');
  return () => ({
    async processElement(left: L, context: KeyedContext, out: Collector<O>) {
      const version = await lookup(context.getCurrentKey(), left);
      if (version !== undefined) out.collect(join(left, version));
    },
  });
}
