import type { EventTimeWindowModel } from '../model/event-time-windows.ts';
import type { Violation } from '../src/harness/scenario.ts';
import { MIN_WATERMARK } from '../src/runtime/functions.ts';
import type { TimerFiringObservation, WatermarkObservation } from '../src/runtime/observations.ts';

/**
 * Invariants of event-time windows, judged on what a run leaves behind (the sink's store)
 * and on the runtime's observations (watermark changes, timer firings, restores). They know
 * the scenario only through its model (model/event-time-windows.ts), whose lateness rule
 * says which window counts are exact under every interleaving and fault plan.
 *
 * The observation shapes are the fields of the runtime's observations the checks read, so
 * a user's scenario or a recorded run with only those fields can be judged too.
 */

export type WatermarkChange = Pick<WatermarkObservation, 'task' | 'attempt' | 'step' | 'watermarkMs' | 'idle'>;

export type TimerFiring = Omit<TimerFiringObservation, 'atMs'>;

export interface RestoreEvent {
  readonly attempt: number;
  readonly atStep: number;
  readonly checkpointId: number | undefined;
}

export interface CheckpointTrigger {
  readonly checkpointId: number;
  readonly triggeredAtStep: number;
}

/** Redis keys of the scenario's two sinks: window counts and late readings. */
export function windowCountKey(prefix: string, cellId: string): string {
  return `${prefix}:count:${cellId}`;
}

export function lateReadingKey(prefix: string, readingId: string): string {
  return `${prefix}:late:${readingId}`;
}

/** Per model and key prefix, the store key of each cell's count, in the model's cell order. */
const countKeysByModel = new WeakMap<EventTimeWindowModel, Map<string, readonly string[]>>();

/** The store keys of the model's cells: built once per model (the model is cached per input), not once per run. */
function countKeysOf(model: EventTimeWindowModel, prefix: string): readonly string[] {
  let byPrefix = countKeysByModel.get(model);
  if (byPrefix === undefined) countKeysByModel.set(model, (byPrefix = new Map()));
  let keys = byPrefix.get(prefix);
  // A model is read-only; the size check only guards against one changed in place after all.
  if (keys === undefined || keys.length !== model.cells.size) byPrefix.set(prefix, (keys = [...model.cells.values()].map((cell) => windowCountKey(prefix, cell.id))));
  return keys;
}

/**
 * Event-time output equals the batch model: every exact window cell holds the model's count
 * (none lost, none counted twice); an uncertain cell holds between 1 and all of its readings;
 * no window the model does not have; only late candidates in the late-data output, never a
 * reading that is on time under every run. Without a restore, each reading of an uncertain
 * cell is counted or reported late (none vanishes).
 */
export function checkEventTimeOutput(store: Readonly<Record<string, string>>, model: EventTimeWindowModel, prefix: string, restored: boolean): Violation[] {
  const violations: Violation[] = [];
  const property = 'event-time-output';
  const countPrefix = `${prefix}:count:`;
  const latePrefix = `${prefix}:late:`;
  const lateReadings = new Set<string>();
  // Violations of stored keys are reported in key order; only they are sorted, not every key of the store (every run comes here).
  const byKey: { readonly key: string; readonly violation: Violation }[] = [];
  for (const key of Object.keys(store)) {
    if (key.startsWith(countPrefix)) {
      if (!model.cells.has(key.slice(countPrefix.length))) {
        byKey.push({ key, violation: { property, anomaly: 'unexpected write', message: `window ${key.slice(countPrefix.length)} is not in the model (key ${key} = ${store[key]})` } });
      }
    } else if (key.startsWith(latePrefix)) {
      const id = key.slice(latePrefix.length);
      const readingClass = model.classOf.get(id);
      if (readingClass === undefined) byKey.push({ key, violation: { property, anomaly: 'unexpected write', message: `late-data output names reading ${id}, which is not in the input` } });
      else if (readingClass === 'on-time') {
        byKey.push({
          key,
          violation: { property, anomaly: 'on-time reading dropped as late', message: `reading ${id} is within the watermark bound of its partition, so no watermark can pass it, yet it went to the late-data output` },
        });
      }
      lateReadings.add(id);
    } else {
      byKey.push({ key, violation: { property, anomaly: 'unexpected write', message: `key ${key} is neither a window count nor a late reading` } });
    }
  }
  byKey.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  for (const { violation } of byKey) violations.push(violation);
  const countKeys = countKeysOf(model, prefix);
  let cellIndex = 0;
  for (const cell of model.cells.values()) {
    const stored = store[countKeys[cellIndex++]!];
    const count = stored === undefined ? 0 : Number(stored);
    const total = cell.readings.length;
    if (cell.exact) {
      if (count === total) continue;
      violations.push({
        property,
        anomaly: count < total ? 'lost write' : 'duplicate',
        message: `window ${cell.id} [${cell.startMs}, ${cell.endMs}) holds only on-time readings: expected count ${total}, found ${stored ?? '(absent)'}`,
      });
      continue;
    }
    if (stored !== undefined && !(Number.isSafeInteger(count) && count >= 1 && count <= total)) {
      violations.push({ property, anomaly: 'duplicate', message: `window ${cell.id} has ${total} readings (some possibly late), but its count is ${stored}` });
    }
    if (!restored) {
      const late = cell.readings.filter((id) => lateReadings.has(id)).length;
      if (count + late !== total) {
        violations.push({
          property,
          anomaly: count + late < total ? 'lost write' : 'duplicate',
          message: `window ${cell.id}: counted ${count} + late ${late} != its ${total} readings, in a run without a restore (each reading is counted or late, once)`,
        });
      }
    }
  }
  return violations;
}

/**
 * Watermarks never regress: at every task, within an attempt, each observed watermark is at
 * least the one before (a restore starts a new attempt at MIN_WATERMARK, as in Flink).
 */
export function checkWatermarksMonotonic(changes: readonly WatermarkChange[], taskNames: readonly string[]): Violation[] {
  /** The highest watermark so far per task, then attempt (no string id per change: every run has thousands). */
  const last = new Map<number, Map<number, WatermarkChange>>();
  const violations: Violation[] = [];
  for (const change of changes) {
    let ofTask = last.get(change.task);
    if (ofTask === undefined) last.set(change.task, (ofTask = new Map()));
    const before = ofTask.get(change.attempt);
    if (before !== undefined && change.watermarkMs < before.watermarkMs) {
      violations.push({
        property: 'watermark-monotonic',
        anomaly: 'watermark regressed',
        message: `task ${taskNames[change.task] ?? change.task} (attempt ${change.attempt}): watermark ${change.watermarkMs} at step ${change.step} after ${before.watermarkMs} at step ${before.step}`,
      });
    }
    if (before === undefined || change.watermarkMs >= before.watermarkMs) ofTask.set(change.attempt, change);
  }
  return violations;
}

/**
 * A window fires once: its event-time timer fires at most once per attempt, and an exact
 * window that fired before a checkpoint was triggered does not fire again after a restore
 * from that checkpoint (its firing, and the purge after it, are in the snapshot). A repeat
 * firing writes the window to the output a second time: with a non-idempotent sink, a duplicate.
 */
export function checkWindowsFireOnce(
  firings: readonly TimerFiring[],
  restores: readonly RestoreEvent[],
  checkpoints: readonly CheckpointTrigger[],
  model: EventTimeWindowModel,
  windowOperator: string,
): Violation[] {
  const property = 'window-fires-once';
  const violations: Violation[] = [];
  /** Exact cells by their window timer: sensor, then the timer's timestamp (the window's last ms). */
  const exactByTimer = new Map<string, Map<number, string>>();
  for (const cell of model.cells.values()) {
    if (!cell.exact) continue;
    const sensor = String(cell.sensor);
    let byTimestamp = exactByTimer.get(sensor);
    if (byTimestamp === undefined) exactByTimer.set(sensor, (byTimestamp = new Map()));
    byTimestamp.set(cell.endMs - 1, cell.id);
  }
  const triggeredAt = new Map(checkpoints.map((checkpoint) => [checkpoint.checkpointId, checkpoint.triggeredAtStep]));
  const restoreOf = new Map(restores.map((restore) => [restore.attempt, restore]));
  const byStep = [...restores].sort((a, b) => a.atStep - b.atStep);
  /** The attempt running at `step`: the last deployment at or before it. */
  const attemptAt = (step: number): number => byStep.filter((restore) => restore.atStep <= step).at(-1)?.attempt ?? 0;
  /**
   * Per window timer (key, then timestamp): its first firing in each task and attempt, in
   * order (`first`, then `later`), and whether it was reported. No string or array per timer:
   * this runs over every firing of every run, and most timers fire once.
   */
  const timers = new Map<string, Map<number, { readonly first: TimerFiring; later: TimerFiring[] | undefined; reported: boolean }>>();
  for (const firing of firings) {
    if (firing.operator !== windowOperator || firing.domain !== 'event-time') continue;
    const key = String(firing.key);
    let byTimestamp = timers.get(key);
    if (byTimestamp === undefined) timers.set(key, (byTimestamp = new Map()));
    let state = byTimestamp.get(firing.timestampMs);
    if (state === undefined) byTimestamp.set(firing.timestampMs, (state = { first: firing, later: undefined, reported: false }));
    else {
      const sameAttempt = (before: TimerFiring): boolean => before.task === firing.task && before.attempt === firing.attempt;
      if (sameAttempt(state.first) || state.later?.some(sameAttempt) === true) {
        // One violation per window: a window that keeps firing would otherwise flood the report.
        if (!state.reported) {
          state.reported = true;
          violations.push({ property, anomaly: 'duplicate', message: `the timer of window ${key}@${firing.timestampMs} fired twice in attempt ${firing.attempt} (again at step ${firing.step})` });
        }
        continue;
      }
      (state.later ??= []).push(firing);
    }
    const cellId = exactByTimer.get(key)?.get(firing.timestampMs);
    const restore = restoreOf.get(firing.attempt);
    if (cellId === undefined || restore?.checkpointId === undefined || state.reported) continue;
    const checkpointTriggeredAt = triggeredAt.get(restore.checkpointId);
    if (checkpointTriggeredAt === undefined) continue;
    // Covered by the checkpoint: fired in the attempt that took it, before it was triggered.
    const attemptOfCheckpoint = attemptAt(checkpointTriggeredAt);
    const coveredBy = (before: TimerFiring): boolean => before !== firing && before.attempt === attemptOfCheckpoint && before.step < checkpointTriggeredAt;
    const covered = coveredBy(state.first) ? state.first : state.later?.find(coveredBy);
    if (covered !== undefined) {
      state.reported = true;
      violations.push({
        property,
        anomaly: 'duplicate',
        message:
          `window ${cellId} fired at step ${covered.step} (attempt ${covered.attempt}), before checkpoint ${restore.checkpointId} was triggered in that attempt (step ${checkpointTriggeredAt}), ` +
          `and fired again at step ${firing.step} after attempt ${firing.attempt} restored that checkpoint`,
      });
    }
  }
  return violations;
}

/** How late after its last reading before the gap the idle source may read it and still count as keeping pace. */
export const CATCH_UP_SLACK_MS = 100;
/** Time a watermark needs to reach the window task and fire its windows, in a schedule that starves no task. */
export const PROPAGATION_MARGIN_MS = 100;

/**
 * Event time makes progress while a partition is idle. Judged per attempt in which the idle
 * partition's source kept pace with its arrivals up to the gap (it read its last reading
 * before the gap within CATCH_UP_SLACK_MS of its arrival; a source still replaying a
 * backlog reads through the gap without waiting, so for it the gap is no idle time) and then
 * read data from after the gap:
 * - it must have marked itself idle in between;
 * - every window of the other partitions that the model lists must fire before the source
 *   resumes, if the other sources' watermarks passed its end, while it was idle, at least
 *   PROPAGATION_MARGIN_MS before it resumed.
 * A source that never marks itself idle holds every window back until its data resumes.
 */
export function checkIdleProgress(
  /** Watermark changes of every source task, with the virtual time of each. */
  sourceWatermarks: readonly (WatermarkChange & { readonly atMs: number })[],
  idleSourceTask: number,
  firings: readonly TimerFiring[],
  model: EventTimeWindowModel,
  windowOperator: string,
  /** The largest watermark the idle partition's readings before its gap can produce. */
  watermarkBeforeGapMs: number,
): Violation[] {
  const idle = model.idleProgress;
  if (idle === undefined) return [];
  const property = 'event-time-progress';
  const violations: Violation[] = [];
  const attempts = [...new Set(sourceWatermarks.map((change) => change.attempt))];
  for (const attempt of attempts) {
    const changes = sourceWatermarks.filter((change) => change.attempt === attempt && change.task === idleSourceTask);
    // The source read data from before the gap in this attempt (a watermark above MIN: a
    // source restored from a checkpoint taken in the gap reads none), then data from after it.
    const before = changes.find((change) => !change.idle && change.watermarkMs > MIN_WATERMARK && change.watermarkMs <= watermarkBeforeGapMs);
    const after = changes.find((change) => !change.idle && change.watermarkMs > watermarkBeforeGapMs);
    if (before === undefined || after === undefined || after.step < before.step) continue;
    const lastBeforeGap = [...changes].reverse().find((change) => !change.idle && change.step < after.step && change.watermarkMs <= watermarkBeforeGapMs)!;
    if (lastBeforeGap.atMs > idle.lastArrivalBeforeGapMs + CATCH_UP_SLACK_MS) continue;
    const wentIdle = changes.find((change) => change.idle && change.step > before.step && change.step <= after.step);
    if (wentIdle === undefined) {
      violations.push({
        property,
        anomaly: 'idle partition not marked idle',
        message: `partition ${idle.partition} had no data from ${idle.idleFromMs} ms to ${idle.resumesAtMs} ms (attempt ${attempt}), but its source never marked itself idle before it took data again (step ${after.step}): it held back the watermark of every window downstream`,
      });
      continue;
    }
    const others = [...new Set(sourceWatermarks.filter((change) => change.task !== idleSourceTask).map((change) => change.task))];
    const late = idle.cellsToFire.filter((cellId) => {
      const cell = model.cells.get(cellId)!;
      // When every other source had passed the window's end in this attempt (never: nothing to expect).
      const passedAtMs = others.map((task) => sourceWatermarks.find((change) => change.task === task && change.attempt === attempt && change.watermarkMs >= cell.endMs - 1)?.atMs ?? Number.POSITIVE_INFINITY);
      const dueAtMs = Math.max(wentIdle.atMs, ...passedAtMs);
      if (dueAtMs > idle.resumesAtMs - PROPAGATION_MARGIN_MS) return false;
      return !firings.some((firing) => firing.operator === windowOperator && firing.key === cell.sensor && firing.timestampMs === cell.endMs - 1 && firing.step < after.step);
    });
    if (late.length > 0) {
      violations.push({
        property,
        anomaly: 'window held back by an idle partition',
        message: `window${late.length > 1 ? 's' : ''} ${late.join(', ')} ended before partition ${idle.partition} resumed at ${idle.resumesAtMs} ms, but did not fire while it was idle (attempt ${attempt}; its source took data again at step ${after.step})`,
      });
    }
  }
  return violations;
}
