/**
 * Reference semantics of the event-time window scenario: sensor readings in key-partitioned
 * partitions (a sensor's readings all live in one partition, as with a keyed Kafka topic),
 * counted per sensor in tumbling event-time windows. The model is a batch over the whole
 * input: which windows exist and how many readings each holds. Pure: knows nothing of the runtime.
 *
 * THE LATENESS RULE. Whether a reading is late depends on the watermark when the window
 * task takes it, and that watermark depends on the interleaving (the minimum over the
 * partitions, with idle partitions left out) and on faults (a watermark is not checkpointed,
 * as in Flink: a restored task starts again at MIN_WATERMARK, so a reading that was late
 * before a crash can be on time after it). The model therefore classifies each reading as
 *
 * - SURELY ON TIME: its timestamp is within the watermark bound of the largest timestamp
 *   before it in its own partition (ts >= maxBefore - maxOutOfOrdernessMs), and its
 *   partition has not been idle before it (no arrival gap of `idleTimeoutMs` or more before
 *   it). Such a reading is on time under EVERY interleaving and fault plan: the window task's
 *   watermark is the minimum over its active inputs, so at most its own partition's
 *   watermark, which is below the reading's timestamp; after a restore it is lower still.
 * - A LATE CANDIDATE: later than the bound (the scenario's "offline" sensors upload their
 *   readings long after they were taken), or read after its partition was idle. An input
 *   that comes back from idleness behind the task's watermark does not pull it back (Flink's
 *   StatusWatermarkValve): until its own watermark catches up, the task's watermark is the
 *   others', which may be past its readings. How long that takes depends on how far its
 *   source lags, which the interleaving decides, so every later reading of it is a candidate.
 *   A candidate may be late or on time depending on the interleaving and the faults.
 *
 * A window cell (sensor, window) is EXACT when all its readings are surely on time: its
 * count is the model's under every interleaving and fault. Otherwise it is UNCERTAIN: its
 * count lies between 1 and its readings, and without a restore every reading of it is
 * either counted or in the late-data side output. The scenario's input keeps candidates in
 * cells of their own (offline sensors; the idle partition after its gap).
 *
 * The lateness rule needs no assumption about the schedule. The progress check (windows
 * of the other partitions fire while one is idle) does: it assumes a runnable task is
 * never starved for PROGRESS_MARGIN_MS of virtual time.
 */
import { disorderDraw, type InputDisorder } from './input-disorder.ts';

export interface SensorReading {
  /** `p<partition>-<offset>`: unique, stable across runs. */
  readonly id: string;
  readonly sensor: string;
  readonly timestampMs: number;
}

export interface TimedReading {
  readonly value: SensorReading;
  /** When the reading becomes readable from its partition (virtual ms). */
  readonly arrivalMs: number;
}

export interface EventTimeWindowSettings {
  readonly windowSizeMs: number;
  readonly maxOutOfOrdernessMs: number;
  readonly idleTimeoutMs: number;
}

/**
 * The scenario's timeline (virtual ms). The simulation spends 1 virtual ms per step, so
 * arrivals are paced to what the job can take (a reading costs a few steps: read, deliver,
 * watermarks): a partition gets a reading every ARRIVAL_SPACING_MS on average, plus the idle
 * gap. Faster arrivals would pile up behind a busy source, and a source that lags behind its
 * arrivals never sees its partition idle.
 */
export const EVENT_TIME_WINDOW_TIMELINE = {
  arrivalSpacingMs: 10,
  /** The idle partition's gap, in the middle of its arrivals. */
  idleGapMs: 500,
  /** Offline sensors upload a reading this long after it was taken (far beyond the bound). */
  offlineDelayMs: 150,
  /** Every OFFLINE_EVERY-th reading of a partition (at offset % OFFLINE_EVERY === OFFLINE_AT) is an offline upload. */
  offlineEvery: 8,
  offlineAt: 5,
  sensorsPerPartition: 3,
} as const;

/** Where the idle gap lies and how long the timeline is, for `recordsPerPartition` (and a gap other than the designed one). */
export function eventTimeWindowTimeline(
  recordsPerPartition: number,
  idleGapMs: number = EVENT_TIME_WINDOW_TIMELINE.idleGapMs,
): { readonly timelineMs: number; readonly idleFromMs: number; readonly idleUntilMs: number } {
  const t = EVENT_TIME_WINDOW_TIMELINE;
  const activeMs = recordsPerPartition * t.arrivalSpacingMs;
  const idleFromMs = Math.floor(activeMs / 2);
  return { timelineMs: activeMs + idleGapMs, idleFromMs, idleUntilMs: idleFromMs + idleGapMs };
}

export const EVENT_TIME_WINDOW_SETTINGS: EventTimeWindowSettings = {
  windowSizeMs: 100,
  maxOutOfOrdernessMs: 50,
  idleTimeoutMs: 40,
};

/** A deterministic delay in [0, maxMs] for a reading (a multiplicative hash; never Math.random). */
function delayOf(partition: number, offset: number, maxMs: number): number {
  // MurmurHash3's finalizer over (partition, offset): neighbouring offsets get unrelated delays.
  let mixed = Math.imul(partition + 1, 0x9e3779b1) ^ Math.imul(offset + 1, 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
  mixed ^= mixed >>> 16;
  return (mixed >>> 0) % (maxMs + 1);
}

/** The partition that goes idle: the last one, when there are two or more. */
export function idlePartitionOf(partitionCount: number): number | undefined {
  return partitionCount >= 2 ? partitionCount - 1 : undefined;
}

/**
 * The input: partition p holds sensors `p<p>-s0..` and `p<p>-offline`; readings arrive
 * spread over the timeline, event time up to `maxOutOfOrdernessMs` before arrival (bounded
 * disorder); offline readings far before arrival; the idle partition has no arrivals in the
 * idle gap (its readings before and after it are packed into the rest of the timeline).
 *
 * With a case's `disorder` (InputDisorder) the same shape, drawn instead of designed: on-time
 * readings up to `withinBoundPercent` of the bound out of order, 1 in `lateEvery` an offline
 * upload `lateByMs` beyond the bound (a reading of its partition's offline sensor, so late
 * candidates keep windows of their own), and a gap of `idleGapMs` in partition `idlePartition`.
 */
export function eventTimeWindowInput(
  partitionCount: number,
  recordsPerPartition: number,
  settings: EventTimeWindowSettings = EVENT_TIME_WINDOW_SETTINGS,
  disorder?: InputDisorder,
): TimedReading[][] {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) throw new Error(`eventTimeWindowInput: partitionCount must be >= 1, got ${partitionCount}`);
  if (!Number.isSafeInteger(recordsPerPartition) || recordsPerPartition < 0) throw new Error(`eventTimeWindowInput: recordsPerPartition must be >= 0, got ${recordsPerPartition}`);
  if (disorder !== undefined) return disorderedInput(partitionCount, recordsPerPartition, settings, disorder);
  const t = EVENT_TIME_WINDOW_TIMELINE;
  const { timelineMs, idleFromMs, idleUntilMs } = eventTimeWindowTimeline(recordsPerPartition);
  const idlePartition = idlePartitionOf(partitionCount);
  return Array.from({ length: partitionCount }, (_, partition) =>
    Array.from({ length: recordsPerPartition }, (_, offset): TimedReading => {
      let arrivalMs: number;
      if (partition !== idlePartition) {
        arrivalMs = Math.floor((offset * timelineMs) / recordsPerPartition);
      } else {
        // First half before the gap, second half after it, each spread evenly.
        const half = Math.ceil(recordsPerPartition / 2);
        arrivalMs =
          offset < half
            ? Math.floor((offset * idleFromMs) / half)
            : idleUntilMs + Math.floor(((offset - half) * (timelineMs - idleUntilMs)) / Math.max(1, recordsPerPartition - half));
      }
      const offline = offset % t.offlineEvery === t.offlineAt;
      const sensor = offline ? `p${partition}-offline` : `p${partition}-s${offset % t.sensorsPerPartition}`;
      const delayMs = offline ? t.offlineDelayMs : delayOf(partition, offset, settings.maxOutOfOrdernessMs);
      return { value: { id: `p${partition}-${offset}`, sensor, timestampMs: Math.max(0, arrivalMs - delayMs) }, arrivalMs };
    }),
  );
}

/** Arrival of reading `offset` of a partition: evenly over the timeline, or, on the gapped partition, over the time around its gap. */
function arrivalOf(offset: number, recordsPerPartition: number, gapped: boolean, timeline: ReturnType<typeof eventTimeWindowTimeline>): number {
  const { timelineMs, idleFromMs, idleUntilMs } = timeline;
  if (!gapped) return Math.floor((offset * timelineMs) / recordsPerPartition);
  // First half before the gap, second half after it, each spread evenly.
  const half = Math.ceil(recordsPerPartition / 2);
  return offset < half
    ? Math.floor((offset * idleFromMs) / half)
    : idleUntilMs + Math.floor(((offset - half) * (timelineMs - idleUntilMs)) / Math.max(1, recordsPerPartition - half));
}

/** The input under a drawn disorder (see eventTimeWindowInput); all zero: every reading on its partition's sensors, in order, no gap. */
function disorderedInput(partitionCount: number, recordsPerPartition: number, settings: EventTimeWindowSettings, disorder: InputDisorder): TimedReading[][] {
  const t = EVENT_TIME_WINDOW_TIMELINE;
  const timeline = eventTimeWindowTimeline(recordsPerPartition, disorder.idleGapMs);
  const gappedPartition = disorder.idleGapMs > 0 ? disorder.idlePartition % partitionCount : undefined;
  const withinBoundMs = Math.floor((settings.maxOutOfOrdernessMs * disorder.withinBoundPercent) / 100);
  return Array.from({ length: partitionCount }, (_, partition) =>
    Array.from({ length: recordsPerPartition }, (_, offset): TimedReading => {
      const arrivalMs = arrivalOf(offset, recordsPerPartition, partition === gappedPartition, timeline);
      const late = disorder.lateEvery > 0 && disorderDraw(disorder.seed, partition, offset, 1, disorder.lateEvery) === 0;
      const sensor = late ? `p${partition}-offline` : `p${partition}-s${offset % t.sensorsPerPartition}`;
      const delayMs = late ? settings.maxOutOfOrdernessMs + 1 + disorder.lateByMs : disorderDraw(disorder.seed, partition, offset, 2, withinBoundMs + 1);
      return { value: { id: `p${partition}-${offset}`, sensor, timestampMs: Math.max(0, arrivalMs - delayMs) }, arrivalMs };
    }),
  );
}

export type ReadingClass = 'on-time' | 'late-candidate';

export interface WindowCell {
  /** `<sensor>:<startMs>`: the key the window's count is stored under. */
  readonly id: string;
  readonly sensor: string;
  readonly startMs: number;
  readonly endMs: number;
  /** Ids of the readings in the window, in input order. */
  readonly readings: readonly string[];
  /** True when every reading is surely on time: the count is exact under every run. */
  readonly exact: boolean;
}

export interface EventTimeWindowModel {
  readonly classOf: ReadonlyMap<string, ReadingClass>;
  /** By cell id, in ascending (sensor, start) order. */
  readonly cells: ReadonlyMap<string, WindowCell>;
  /**
   * While the idle partition has no data, the other partitions' windows must still fire:
   * the exact cells of other partitions that end at least `progressMarginMs` before it
   * resumes (and start after it went idle) must fire before `resumesAtMs`.
   */
  readonly idleProgress:
    | {
        readonly partition: number;
        /** When the last reading before the gap arrives. */
        readonly lastArrivalBeforeGapMs: number;
        readonly idleFromMs: number;
        readonly resumesAtMs: number;
        readonly cellsToFire: readonly string[];
      }
    | undefined;
}

/** How long before the idle partition resumes a window must end to be required to fire during the idle gap. */
export const PROGRESS_MARGIN_MS = 250;

export function windowStartOf(timestampMs: number, windowSizeMs: number): number {
  return timestampMs - (((timestampMs % windowSizeMs) + windowSizeMs) % windowSizeMs);
}

/** The batch model: classifies every reading (see the lateness rule above) and groups them into window cells. */
export function eventTimeWindowModel(input: readonly (readonly TimedReading[])[], settings: EventTimeWindowSettings = EVENT_TIME_WINDOW_SETTINGS): EventTimeWindowModel {
  const classOf = new Map<string, ReadingClass>();
  const cellReadings = new Map<string, { sensor: string; startMs: number; readings: string[] }>();
  let idleProgress: EventTimeWindowModel['idleProgress'];
  const partitionOfSensor = new Map<string, number>();
  input.forEach((readings, partition) => {
    let maxBeforeMs = Number.NEGATIVE_INFINITY;
    let wasIdle = false;
    readings.forEach((reading, offset) => {
      const previous = readings[offset - 1];
      if (previous !== undefined && reading.arrivalMs - previous.arrivalMs >= settings.idleTimeoutMs) {
        wasIdle = true;
        // The progress check follows the longest gap (the scenario's idle partition).
        if (idleProgress === undefined || reading.arrivalMs - previous.arrivalMs > idleProgress.resumesAtMs - idleProgress.idleFromMs + settings.idleTimeoutMs) {
          idleProgress = { partition, lastArrivalBeforeGapMs: previous.arrivalMs, idleFromMs: previous.arrivalMs + settings.idleTimeoutMs, resumesAtMs: reading.arrivalMs, cellsToFire: [] };
        }
      }
      const { id, sensor, timestampMs } = reading.value;
      const beyondBound = timestampMs < maxBeforeMs - settings.maxOutOfOrdernessMs;
      classOf.set(id, beyondBound || wasIdle ? 'late-candidate' : 'on-time');
      maxBeforeMs = Math.max(maxBeforeMs, timestampMs);
      const startMs = windowStartOf(timestampMs, settings.windowSizeMs);
      const cellId = `${sensor}:${startMs}`;
      let cell = cellReadings.get(cellId);
      if (cell === undefined) {
        cell = { sensor, startMs, readings: [] };
        cellReadings.set(cellId, cell);
      }
      cell.readings.push(id);
      partitionOfSensor.set(sensor, partition);
    });
  });
  const cells = new Map<string, WindowCell>();
  const ordered = [...cellReadings.entries()].sort(([, a], [, b]) => (a.sensor < b.sensor ? -1 : a.sensor > b.sensor ? 1 : a.startMs - b.startMs));
  for (const [id, cell] of ordered) {
    const exact = cell.readings.every((reading) => classOf.get(reading) === 'on-time');
    cells.set(id, { id, sensor: cell.sensor, startMs: cell.startMs, endMs: cell.startMs + settings.windowSizeMs, readings: cell.readings, exact });
  }
  if (idleProgress !== undefined) {
    const { partition, idleFromMs, resumesAtMs } = idleProgress;
    const cellsToFire = [...cells.values()]
      .filter((cell) => cell.exact && partitionOfSensor.get(cell.sensor) !== partition && cell.startMs >= idleFromMs && cell.endMs <= resumesAtMs - PROGRESS_MARGIN_MS)
      .map((cell) => cell.id);
    idleProgress = cellsToFire.length === 0 ? undefined : { ...idleProgress, cellsToFire };
  }
  return { classOf, cells, idleProgress };
}
