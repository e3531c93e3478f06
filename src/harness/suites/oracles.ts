import type { SourcePosition } from '../../connectors/api.ts';
import { partitionOf } from '../../runtime/job.ts';
import type { RunObservations } from '../../runtime/observations.ts';
import { LOST_WRITE } from '../run-case.ts';
import type { Violation } from '../scenario.ts';
import { parseTestValue, type TestRecord } from './test-data.ts';
import { checkpointedSplitPositions } from '../../runtime/state.ts';

/**
 * The judges of the connector suites. None needs a hand-written model: outputs are compared
 * with a fault-free run of the same job (the golden-run oracle), overwriting sinks are read
 * at every completed checkpoint, sources are judged by the positions they declare, and
 * two-phase-commit sinks by the transaction steps the base class reports.
 */

/** What a read-back returns: per key, the value the system holds (overwrite) or every value it holds (append). */
export type ReadBack = Readonly<Record<string, unknown>> | ReadonlyMap<string, unknown>;

export const EXACTLY_ONCE = 'exactly-once';
export const AT_LEAST_ONCE = 'at-least-once';
export const SOURCE_POSITIONS = 'source-positions';
export const COMMITTED_IMPLIES_COMPLETED = 'committed-implies-completed';
export const COMPLETED_IMPLIES_COMMITTED = 'completed-implies-committed';
export const NO_OPEN_TRANSACTION = 'no-open-transaction';

export interface OutputComparison {
  readonly violations: Violation[];
  /** Records found more often than the fault-free run wrote them (allowed at-least-once, counted). */
  readonly duplicates: number;
}

/** JSON with object keys sorted: equal values print equally. */
export function canonical(value: unknown): string {
  return JSON.stringify(value, (_key, inner: unknown) => {
    if (inner instanceof Map) return Object.fromEntries([...inner.entries()].sort(([a], [b]) => (String(a) < String(b) ? -1 : 1)));
    if (inner !== null && typeof inner === 'object' && !Array.isArray(inner)) {
      return Object.fromEntries(Object.entries(inner as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
    }
    return inner;
  });
}

export function readBackEntries(readBack: ReadBack, what: string): Map<string, unknown> {
  if (readBack instanceof Map) return new Map([...readBack.entries()].map(([key, value]) => [String(key), value]));
  if (readBack === null || typeof readBack !== 'object' || Array.isArray(readBack)) {
    throw new Error(`${what} must return an object or a Map of key -> value, got ${Array.isArray(readBack) ? 'an array' : typeof readBack}`);
  }
  return new Map(Object.entries(readBack));
}

const MAX_VIOLATIONS_PER_CHECK = 20;

function short(value: unknown): string {
  const text = value === undefined ? '(absent)' : canonical(value);
  return text.length > 120 ? `${text.slice(0, 117)}...` : text;
}

/**
 * Compares what the external system holds with what a fault-free run of the same job left
 * there, per key. Overwriting sinks: the value per key must be equal. Appending sinks: the
 * values per key (arrays) must be the same multiset, in the same order when `ordered`;
 * at-least-once allows (and counts) duplicates but nothing lost.
 */
export function compareWithGolden(
  actual: ReadonlyMap<string, unknown>,
  golden: ReadonlyMap<string, unknown>,
  options: { readonly writes: 'overwrite' | 'append'; readonly ordered: boolean; readonly semantic: 'exactly-once' | 'at-least-once' },
): OutputComparison {
  const property = options.semantic === 'exactly-once' ? EXACTLY_ONCE : AT_LEAST_ONCE;
  const violations: Violation[] = [];
  let duplicates = 0;
  const keys = [...new Set([...golden.keys(), ...actual.keys()])].sort();
  for (const key of keys) {
    const want = golden.get(key);
    const got = actual.get(key);
    if (options.writes === 'overwrite' || !Array.isArray(want) || !Array.isArray(got)) {
      if (options.writes === 'append' && got !== undefined && !Array.isArray(got)) {
        violations.push({ property, anomaly: 'unexpected write', message: `key ${key}: an appending sink's read-back must give an array of values per key, got ${short(got)}` });
        continue;
      }
      if (canonical(want) === canonical(got)) continue;
      const anomaly = got === undefined ? LOST_WRITE : want === undefined ? 'unexpected write' : typeof got === 'number' && typeof want === 'number' && got > want ? 'duplicate' : 'wrong value';
      violations.push({ property, anomaly, message: `key ${key}: a fault-free run leaves ${short(want)}, found ${short(got)}` });
      continue;
    }
    const remaining = new Map<string, number>();
    for (const value of want) remaining.set(canonical(value), (remaining.get(canonical(value)) ?? 0) + 1);
    const wanted = new Map(remaining);
    const extra: unknown[] = [];
    for (const value of got) {
      const text = canonical(value);
      const left = remaining.get(text) ?? 0;
      if (left > 0) remaining.set(text, left - 1);
      else extra.push(value);
    }
    const missing = [...remaining.entries()].filter(([, count]) => count > 0);
    const duplicated = extra.filter((value) => wanted.has(canonical(value)));
    const junk = extra.filter((value) => !wanted.has(canonical(value)));
    duplicates += duplicated.length;
    if (missing.length > 0) {
      violations.push({ property, anomaly: LOST_WRITE, message: `key ${key}: ${missing.reduce((n, [, c]) => n + c, 0)} value(s) of the fault-free run missing, first ${missing[0]![0]}` });
    }
    if (junk.length > 0) violations.push({ property, anomaly: 'unexpected write', message: `key ${key}: ${junk.length} value(s) no fault-free run writes, first ${short(junk[0])}` });
    if (duplicated.length > 0 && options.semantic === 'exactly-once') {
      violations.push({ property, anomaly: 'duplicate', message: `key ${key}: ${duplicated.length} value(s) written more than once, first ${short(duplicated[0])}` });
    }
    if (options.ordered && missing.length === 0 && extra.length === 0 && canonical(want) !== canonical(got)) {
      violations.push({ property, anomaly: 'nonmonotonic poll', message: `key ${key}: the values are all there but out of order: ${short(got)} (fault-free: ${short(want)})` });
    }
  }
  return { violations: violations.slice(0, MAX_VIOLATIONS_PER_CHECK), duplicates };
}

/**
 * An overwriting sink read at checkpoint n must hold, for every key, a value at least as new
 * as the newest record that checkpoint n covers (a record before the sources' checkpointed
 * positions that is not in the checkpoint's channel state): a restore never replays it, so a
 * write the checkpoint acknowledged but the system lacks is lost even if a later write
 * overwrites it. The values must be the records' own values (`<key>@<seq>`).
 */
export function checkOverwriteReadsAtCheckpoints(
  reads: ReadonlyArray<readonly [number, ReadonlyMap<string, unknown>]>,
  observations: RunObservations,
  data: readonly (readonly TestRecord[])[],
  sourceTasks: readonly number[],
  property: string,
): Violation[] {
  const violations: Violation[] = [];
  for (const [checkpointId, read] of reads) {
    const checkpoint = observations.checkpoints.find((c) => c.checkpointId === checkpointId);
    if (checkpoint?.tasks === undefined) continue;
    const inChannelState = new Set<string>();
    for (const snapshot of checkpoint.tasks) for (const records of snapshot.channelState ?? []) for (const record of records) inChannelState.add((record.value as TestRecord).value);
    const newestCovered = new Map<string, number>();
    sourceTasks.forEach((task, partition) => {
      const position = checkpoint.tasks![task]?.sourcePosition;
      const covered = position === undefined ? 0 : position.offset;
      for (const record of data[partition]!.slice(0, covered)) {
        if (!inChannelState.has(record.value)) newestCovered.set(record.key, Math.max(newestCovered.get(record.key) ?? 0, record.seq));
      }
    });
    for (const [key, value] of read) {
      if (parseTestValue(value)?.key !== key) {
        violations.push({ property, anomaly: 'unexpected write', message: `at checkpoint ${checkpointId} key ${key} holds ${short(value)}, not a record's value '<key>@<seq>' (an overwriting sink must store record.value)` });
      }
    }
    for (const [key, seq] of newestCovered) {
      const held = parseTestValue(read.get(key));
      if (held !== undefined && held.seq >= seq) continue;
      violations.push({
        property,
        anomaly: LOST_WRITE,
        message: `when checkpoint ${checkpointId} completed, key ${key} held ${short(read.get(key))} although the checkpoint covers ${key}@${seq}: a write it acknowledged was not in the system (acknowledged before it was flushed?)`,
      });
      if (violations.length >= MAX_VIOLATIONS_PER_CHECK) return violations;
    }
  }
  return violations;
}

/**
 * Sources, from the positions they declare: a restore rewinds exactly to the checkpointed
 * position (a start from scratch to where the first attempt started), no split is read by
 * two subtasks of one attempt, and at end of input every split stands where a fault-free
 * run's does.
 */
export function checkSourcePositions(observations: RunObservations, finalPositions: ReadonlyMap<string, SourcePosition>): Violation[] {
  const violations: Violation[] = [];
  // By split: a rescaled source moves splits between subtasks.
  const firstStart = new Map<string, SourcePosition>();
  const splitsByAttempt = new Map<number, Map<string, number>>();
  const same = (a: SourcePosition | undefined, b: SourcePosition | undefined): boolean => a !== undefined && b !== undefined && a.split === b.split && a.offset === b.offset;
  const words = (p: SourcePosition | undefined): string => (p === undefined ? '(none)' : `${p.split} @ ${p.offset}`);
  for (const observed of observations.sourcePositions) {
    const task = observations.taskNames[observed.task] ?? `task ${observed.task}`;
    if (observed.kind === 'start') {
      let splits = splitsByAttempt.get(observed.attempt);
      if (splits === undefined) splitsByAttempt.set(observed.attempt, (splits = new Map()));
      const owner = splits.get(observed.position.split);
      if (owner !== undefined && owner !== observed.task) {
        violations.push({ property: SOURCE_POSITIONS, anomaly: 'duplicate', message: `attempt ${observed.attempt}: split ${observed.position.split} is read by ${observations.taskNames[owner]} and ${task}` });
      }
      splits.set(observed.position.split, observed.task);
      if (observed.checkpointId === undefined) {
        const first = firstStart.get(observed.position.split);
        if (first === undefined) firstStart.set(observed.position.split, observed.position);
        else if (!same(first, observed.position)) {
          violations.push({ property: SOURCE_POSITIONS, anomaly: 'inconsistent offsets', message: `${task} restarted from scratch at ${words(observed.position)}, but its first start was at ${words(first)}` });
        }
        continue;
      }
      const checkpoint = observations.checkpoints.find((c) => c.checkpointId === observed.checkpointId);
      const checkpointed = checkpoint?.tasks === undefined ? undefined : checkpointedSplitPositions(checkpoint.tasks).get(observed.position.split);
      if (!same(checkpointed, observed.position)) {
        violations.push({
          property: SOURCE_POSITIONS,
          anomaly: 'inconsistent offsets',
          message: `${task} restored from checkpoint ${observed.checkpointId} stands at ${words(observed.position)}, but the checkpoint holds ${words(checkpointed)}`,
        });
      }
    } else {
      const expected = finalPositions.get(observed.position.split);
      if (!same(expected, observed.position)) {
        violations.push({ property: SOURCE_POSITIONS, anomaly: 'poll skip', message: `${task} ended its input at ${words(observed.position)}; a fault-free run ends that split at ${words(expected)}` });
      }
    }
  }
  return violations.slice(0, MAX_VIOLATIONS_PER_CHECK);
}

/**
 * Two-phase commit, from what `TwoPhaseCommitSink` reports and the checkpoints hold:
 * committed => completed (a transaction is committed only once a completed checkpoint holds
 * it as pending), completed => eventually committed (every transaction a completed
 * checkpoint holds is committed by the end of a finished run), and no transaction of the
 * final attempt left open when the job finished.
 */
export function checkTwoPhaseCommitEvents(observations: RunObservations, sinkTasks: readonly number[]): Violation[] {
  const violations: Violation[] = [];
  const heldBy = new Map<string, { checkpointId: number; completedAtStep: number }>();
  for (const checkpoint of observations.checkpoints) {
    if (checkpoint.outcome !== 'completed' || checkpoint.tasks === undefined) continue;
    for (const task of sinkTasks) {
      for (const state of (checkpoint.tasks[task]?.operatorState['two-phase-commit'] ?? []) as { pending?: ReadonlyArray<readonly [number, unknown]> }[]) {
        for (const [, transaction] of state.pending ?? []) {
          const id = JSON.stringify(transaction);
          const known = heldBy.get(id);
          if (known === undefined || known.completedAtStep > checkpoint.endedAtStep) heldBy.set(id, { checkpointId: checkpoint.checkpointId, completedAtStep: checkpoint.endedAtStep });
        }
      }
    }
  }
  const committed = new Set<string>();
  const ended = new Set<string>();
  for (const event of observations.connectorEvents) {
    if (event.type !== 'transaction') continue;
    if (event.kind === 'commit' || event.kind === 'recover-commit') {
      committed.add(event.transaction);
      ended.add(event.transaction);
      const held = heldBy.get(event.transaction);
      if (held === undefined || held.completedAtStep > event.step) {
        violations.push({
          property: COMMITTED_IMPLIES_COMPLETED,
          anomaly: 'precommitted read',
          message: `${observations.taskNames[event.task]} committed transaction ${event.transaction} at step ${event.step}, ` +
            (held === undefined ? 'which no completed checkpoint holds' : `before checkpoint ${held.checkpointId} that holds it completed (step ${held.completedAtStep})`),
        });
      }
    } else if (event.kind === 'abort' || event.kind === 'recover-abort') {
      ended.add(event.transaction);
    }
  }
  if (observations.outcome === 'finished') {
    for (const [transaction, held] of heldBy) {
      if (committed.has(transaction)) continue;
      violations.push({ property: COMPLETED_IMPLIES_COMMITTED, anomaly: LOST_WRITE, message: `transaction ${transaction} is held by completed checkpoint ${held.checkpointId} but was never committed` });
    }
    const finalAttempt = observations.restores.at(-1)?.attempt;
    for (const event of observations.connectorEvents) {
      if (event.type !== 'transaction' || event.kind !== 'begin' || event.attempt !== finalAttempt) continue;
      if (ended.has(event.transaction)) continue;
      violations.push({ property: NO_OPEN_TRANSACTION, anomaly: 'lingering transaction', message: `${observations.taskNames[event.task]} began transaction ${event.transaction} and the job finished with it neither committed nor aborted` });
    }
  }
  return violations.slice(0, MAX_VIOLATIONS_PER_CHECK);
}

export const CONSISTENT_CUT = 'consistent-cut';

/**
 * Consistent cut, per key and per subtask: at every completed checkpoint, each key's keyed
 * state (the sequence numbers it has seen), followed by its records in the checkpoint's
 * channel state, is a gap-free, duplicate-free prefix 1..n of its records, held by the
 * subtask the key is routed to. Sums over keys could hide a record restored to the wrong
 * place; this cannot.
 */
export function checkKeyedCutsPerKey(observations: RunObservations, operatorName: string, keyedTasks: readonly number[], property = CONSISTENT_CUT): Violation[] {
  const violations: Violation[] = [];
  for (const checkpoint of observations.checkpoints) {
    if (checkpoint.outcome !== 'completed' || checkpoint.tasks === undefined) continue;
    // A checkpoint taken after a rescale holds the keyed vertex at the parallelism it ran with then: its subtasks are the
    // tasks from the first keyed one on, of the same vertex, that the checkpoint has (task names only grow, in place).
    const first = keyedTasks[0] ?? 0;
    const vertexOf = (task: number): string | undefined => observations.taskVertices[task]?.vertex;
    const tasksAtCheckpoint = keyedTasks.length === 0 ? keyedTasks : Array.from({ length: Math.max(0, checkpoint.tasks.length - first) }, (_, i) => first + i).filter((task) => vertexOf(task) === vertexOf(first));
    tasksAtCheckpoint.forEach((task, subtask) => {
      const snapshot = checkpoint.tasks![task];
      if (snapshot === undefined) return;
      const inFlight = new Map<string, number[]>();
      for (const records of snapshot.channelState ?? []) {
        for (const record of records) {
          const value = record.value as TestRecord;
          inFlight.set(value.key, [...(inFlight.get(value.key) ?? []), value.seq]);
        }
      }
      const keys = new Set<string>([...(snapshot.keyedState[operatorName] ?? []).map(([key]) => String(key)), ...inFlight.keys()]);
      const held = new Map((snapshot.keyedState[operatorName] ?? []).map(([key, seqs]) => [String(key), seqs as readonly number[]]));
      for (const key of keys) {
        const owner = partitionOf(key, tasksAtCheckpoint.length, observations.settings.maxParallelism);
        if (owner !== subtask) {
          violations.push({ property, anomaly: 'inconsistent offsets', message: `checkpoint ${checkpoint.checkpointId}: key ${key} is in the state of subtask ${subtask}, but it is routed to subtask ${owner}` });
          continue;
        }
        const seqs = [...(held.get(key) ?? []), ...(inFlight.get(key) ?? [])];
        const gap = seqs.findIndex((seq, index) => seq !== index + 1);
        if (gap >= 0) {
          violations.push({
            property,
            anomaly: seqs.slice(0, gap).includes(seqs[gap]!) ? 'duplicate' : LOST_WRITE,
            message: `checkpoint ${checkpoint.checkpointId}: key ${key} at subtask ${subtask} holds records ${short(seqs)} in state and channel state; expected 1..${seqs.length} (first difference at position ${gap + 1})`,
          });
        }
      }
    });
    if (violations.length >= MAX_VIOLATIONS_PER_CHECK) break;
  }
  return violations.slice(0, MAX_VIOLATIONS_PER_CHECK);
}
