import type { ExpectedJoinOutput, Partitions } from '../model/joins.ts';
import { possiblyLate } from '../model/joins.ts';
import type { Violation } from '../src/harness/scenario.ts';
import type { RunObservations } from '../src/runtime/observations.ts';
import { checkpointedSplitPositions, type SubtaskSnapshot } from '../src/runtime/state.ts';

/** Examples named per anomaly in a message; the rest are counted. */
const EXAMPLES_PER_ANOMALY = 3;

/**
 * Join output equals the model: every required key is in the store, every written key is one
 * the model allows, with a value it allows. Keys outside `prefix` belong to someone else.
 */
export function checkJoinOutput(property: string, operator: string, actual: Readonly<Record<string, string>>, expected: ExpectedJoinOutput, prefix: string): Violation[] {
  const found = { 'lost write': [] as string[], 'unexpected write': [] as string[], 'wrong value': [] as string[] };
  for (const [key, entry] of expected) {
    if (entry.required && actual[key] === undefined) found['lost write'].push(`${key} (expected ${describeValues(entry.values)})`);
  }
  for (const [key, value] of Object.entries(actual)) {
    if (!key.startsWith(`${prefix}:`)) continue;
    const entry = expected.get(key);
    if (entry === undefined) found['unexpected write'].push(`${key}=${value}`);
    else if (!entry.values.has(value)) found['wrong value'].push(`${key}=${value} (expected ${describeValues(entry.values)})`);
  }
  return Object.entries(found).flatMap(([anomaly, keys]) => (keys.length === 0 ? [] : [{ property, anomaly, message: summarize(keys, `${prefix} key(s) of join '${operator}'`) }]));
}

function describeValues(values: ReadonlySet<string>): string {
  const all = [...values];
  return all.length <= EXAMPLES_PER_ANOMALY ? all.join(' or ') : `one of ${all.length} values, e.g. ${all.slice(0, EXAMPLES_PER_ANOMALY).join(', ')}`;
}

function summarize(items: readonly string[], what: string): string {
  const shown = items.slice(0, EXAMPLES_PER_ANOMALY).join('; ');
  const rest = items.length > EXAMPLES_PER_ANOMALY ? ` and ${items.length - EXAMPLES_PER_ANOMALY} more` : '';
  return `${items.length} ${what}: ${shown}${rest}`;
}

/**
 * No on-time record is dropped as late: every record a join sent to its late side output is
 * one the model classifies as possibly late (a record within its partition's bound is never
 * behind the join's watermark, whatever the interleaving).
 */
export function checkLateRecords(property: string, operator: string, droppedIds: readonly string[], possiblyLateIds: ReadonlySet<string>): Violation[] {
  const onTime = droppedIds.filter((id) => !possiblyLateIds.has(id)).sort();
  if (onTime.length === 0) return [];
  return [
    {
      property,
      anomaly: 'lost write',
      message: `${summarize(onTime, `on-time record(s) dropped as late by join '${operator}'`)} (within their partition's out-of-orderness bound, so the join's watermark cannot have passed them)`,
    },
  ];
}

/** Counts of the store against a model: for reports (e.g. what a TTL cost). */
export function joinOutputCoverage(actual: Readonly<Record<string, string>>, expected: ExpectedJoinOutput): { readonly written: number; readonly possible: number } {
  let written = 0;
  for (const key of expected.keys()) if (actual[key] !== undefined) written++;
  return { written, possible: expected.size };
}

/** One input of an interval join, as the retention check needs it. */
export interface BufferedInput<T> {
  /** The partitions in arrival order (the TimedPartitionLog the sources read). */
  readonly partitions: Partitions<T>;
  /** The sources' split names are `<splitPrefix>-<partition>`. */
  readonly splitPrefix: string;
  /** The join's keyed state holding this side (`<operator>/<state>`): key -> [[timestamp, records]]. */
  readonly stateName: string;
  readonly timestampOf: (value: T) => number;
  readonly idOf: (value: T) => string;
  /** A record at ts may be cleaned once the watermark reached ts + retentionMs (left: upper bound; right: -lower bound). */
  readonly retentionMs: number;
}

/**
 * Join state is cleaned no earlier than its bound allows: at every completed checkpoint, every
 * on-time record the sources had read before the cut, whose partners can still arrive (its
 * retention end is past the watermark), is in the join's state or still in flight (channel
 * state). The join's watermark is not observed; it is bounded from above by the sources'
 * positions: a join's watermark is at most the minimum over its input partitions of
 * `max timestamp read - bound - 1` (a partition read to its end may have sent the final
 * watermark and bounds nothing). Sources without idleness only, as in the join scenarios;
 * aligned and unaligned checkpoints only (at-least-once cuts are torn).
 */
export function checkJoinStateRetention(observations: RunObservations, operator: string, inputs: readonly BufferedInput<unknown>[], maxOutOfOrdernessMs: number): Violation[] {
  // At-least-once snapshots are torn: a task takes records and watermarks behind a barrier
  // before it snapshots, so its watermark is not bounded by the cut (consistent-cut and
  // barrier-alignment judge that mode; this check would blame the join for it).
  if (observations.settings.mode === 'at-least-once') return [];
  const sides = inputs.map((input) => ({
    input,
    late: possiblyLate(input.partitions, input.timestampOf, maxOutOfOrdernessMs),
    // maxPrefix[p][k]: the greatest timestamp among the first k records of partition p.
    maxPrefix: input.partitions.map((records) => {
      const prefix = [Number.NEGATIVE_INFINITY];
      for (const { value } of records) prefix.push(Math.max(prefix.at(-1)!, input.timestampOf(value)));
      return prefix;
    }),
  }));
  const violations: Violation[] = [];
  for (const checkpoint of observations.checkpoints) {
    if (checkpoint.outcome !== 'completed' || checkpoint.tasks === undefined) continue;
    const offsets = splitOffsets(checkpoint.tasks);
    const sideOffsets = sides.map(({ input }) => input.partitions.map((_, p) => offsets.get(`${input.splitPrefix}-${p}`)));
    if (sideOffsets.some((side) => side.some((offset) => offset === undefined))) continue;
    let watermarkAtMost = Number.POSITIVE_INFINITY;
    sides.forEach(({ input, maxPrefix }, s) => {
      input.partitions.forEach((records, p) => {
        const offset = sideOffsets[s]![p]!;
        if (offset < records.length) watermarkAtMost = Math.min(watermarkAtMost, maxPrefix[p]![offset]! - maxOutOfOrdernessMs - 1);
      });
    });
    const inFlight = channelIds(checkpoint.tasks, inputs);
    const missing: string[] = [];
    sides.forEach(({ input, late }, s) => {
      const held = heldIds(checkpoint.tasks!, input.stateName, input.idOf);
      input.partitions.forEach((records, p) => {
        const offset = sideOffsets[s]![p]!;
        for (let i = 0; i < offset; i++) {
          const value = records[i]!.value;
          const ts = input.timestampOf(value);
          if (late[p]![i] || ts + input.retentionMs <= watermarkAtMost) continue;
          const id = input.idOf(value);
          if (held.has(id) || inFlight.has(id)) continue;
          missing.push(`${id} (ts ${ts}, kept until the watermark reaches ${ts + input.retentionMs})`);
        }
      });
    });
    if (missing.length > 0) {
      violations.push({
        property: 'join-state-retention',
        anomaly: 'state cleaned early',
        message:
          `checkpoint ${checkpoint.checkpointId} (join watermark at most ${watermarkAtMost === Number.POSITIVE_INFINITY ? 'final' : watermarkAtMost}): ` +
          summarize(missing, `record(s) that can still find partners missing from the state of join '${operator}'`),
      });
    }
  }
  return violations;
}

function splitOffsets(tasks: readonly SubtaskSnapshot[]): Map<string, number> {
  return new Map([...checkpointedSplitPositions(tasks)].map(([split, position]) => [split, position.offset]));
}

/** Ids of the records a map state `timestamp -> records[]` holds, over every subtask. */
function heldIds(tasks: readonly SubtaskSnapshot[], stateName: string, idOf: (value: unknown) => string): Set<string> {
  const ids = new Set<string>();
  for (const task of tasks) {
    for (const [, buckets] of task.keyedState[stateName] ?? []) {
      for (const [, records] of buckets as ReadonlyArray<readonly [number, readonly unknown[]]>) for (const record of records) ids.add(idOf(record));
    }
  }
  return ids;
}

/** Ids of the records in flight at an unaligned checkpoint (channel state), as each input names its records. */
function channelIds(tasks: readonly SubtaskSnapshot[], inputs: readonly BufferedInput<unknown>[]): Set<string> {
  const ids = new Set<string>();
  for (const task of tasks) {
    for (const channel of task.channelState ?? []) {
      for (const record of channel) {
        if (typeof record.value !== 'object' || record.value === null) continue;
        for (const input of inputs) ids.add(input.idOf(record.value));
      }
    }
  }
  return ids;
}
