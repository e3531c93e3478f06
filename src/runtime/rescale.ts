/**
 * Rescaling on restore (Flink's StateAssignmentOperation): a restart may run the job's keyed
 * part with another parallelism than the checkpoint it restores was taken at. Which part
 * rescales: the job's last vertex when it is keyed (every input a hash exchange, no output
 * edge), that is the keyed operator with its chained sink. Every other vertex keeps its
 * parallelism, so its task indices and its state stay as they are (a source rescale keeps
 * the source's task slots and reassigns its splits instead: split-reassignment.ts, job.ts).
 *
 * How the rescaled vertex's state moves to the new subtasks:
 * - keyed state, timers and the in-flight records of unaligned checkpoints: by key group,
 *   to the subtask whose key-group range holds the key (key-groups.ts);
 * - operator list state (getListState): every old part in old-subtask order, split evenly
 *   into contiguous runs (RoundRobinOperatorStateRepartitioner's even-split);
 * - union list state (getUnionListState): every new subtask gets every old part.
 * rocksdb keyed state is handed over as entries: a rescaled subtask starts a new local store
 * (the next checkpoint uploads all of it), as Flink's rocksdb backend ingests key-group ranges.
 */
import type { Key } from '../connectors/api.ts';
import type { JobGraphSpec } from './job-graph.ts';
import { keyGroupOf, keyGroupRangeOf, subtaskOfKey } from './key-groups.ts';
import { evenSplitShare, type SplitReassignment } from './split-reassignment.ts';
import type { CompletedCheckpoint, SubtaskSnapshot } from './state.ts';
import type { TimerSnapshot } from './timer-service.ts';

/** The part of a job that rescales: its last vertex, when keyed; undefined when the job has none. */
export interface RescalableVertex {
  readonly vertex: number;
  /** Global task index of its subtask 0 (every vertex before it keeps its tasks). */
  readonly firstTask: number;
  readonly parallelism: number;
}

export function rescalableVertexOf(spec: JobGraphSpec): RescalableVertex | undefined {
  const last = spec.vertices.at(-1);
  if (last === undefined || last.source !== undefined) return undefined;
  const inputs = spec.edges.filter((edge) => edge.to === last.id);
  if (inputs.length === 0 || inputs.some((edge) => edge.partitioning.kind !== 'hash')) return undefined;
  if (spec.edges.some((edge) => edge.from === last.id)) return undefined;
  const firstTask = spec.vertices.slice(0, -1).reduce((sum, vertex) => sum + vertex.parallelism, 0);
  return { vertex: last.id, firstTask, parallelism: last.parallelism };
}

/** The job graph with its rescalable vertex at `parallelism`. */
export function withParallelism(spec: JobGraphSpec, vertex: number, parallelism: number): JobGraphSpec {
  return { ...spec, vertices: spec.vertices.map((v) => (v.id === vertex ? { ...v, parallelism } : v)) };
}

/** What a rescaled restore moved, for the rescale-state invariant (properties/rescale.ts). */
export interface RescaleObservation {
  readonly seq: number;
  readonly atStep: number;
  readonly attempt: number;
  readonly checkpointId: number;
  readonly vertexName: string;
  readonly firstTask: number;
  readonly fromParallelism: number;
  readonly toParallelism: number;
  readonly maxParallelism: number;
  /** Per keyed state (and `timers:<operator>`): every key the checkpoint held, over all old subtasks. */
  readonly keysBefore: Readonly<Record<string, readonly Key[]>>;
  /** Per operator list state: its elements over all old subtasks, and whether it is a union state. */
  readonly listStatesBefore: Readonly<Record<string, { readonly elements: number; readonly union: boolean }>>;
  /** Per new subtask: the keys it got per keyed state, and the elements it got per list state. */
  readonly subtasks: ReadonlyArray<{ readonly keys: Readonly<Record<string, readonly Key[]>>; readonly listElements: Readonly<Record<string, number>> }>;
  /** A rescaled source vertex: where its splits went, with their positions (split-reassignment.ts); absent for other vertices. */
  readonly splits?: SplitReassignment;
}

export interface RescaleOptions {
  readonly maxParallelism: number;
  /** Planted bug: keyed state, timers and channel state go to the old subtask's index modulo the new parallelism. */
  readonly keyedStateByOldSubtask: boolean;
  /** Planted bug: the last old subtask's part of every list state is dropped. */
  readonly dropsOperatorStatePart: boolean;
}

const TIMERS = 'timers:';

/**
 * The checkpoint as the new layout restores it: tasks before `firstTask` unchanged, the
 * rescalable vertex's snapshots redistributed to `toParallelism` subtasks.
 */
export function redistributeCheckpoint(checkpoint: CompletedCheckpoint, vertex: RescalableVertex, toParallelism: number, options: RescaleOptions): { checkpoint: CompletedCheckpoint; moved: Omit<RescaleObservation, 'seq' | 'atStep' | 'attempt' | 'vertexName'> } {
  const { firstTask } = vertex;
  const old = checkpoint.tasks.slice(firstTask);
  const fromParallelism = old.length;
  const ownerOf = (key: Key | undefined, oldSubtask: number): number =>
    key === undefined || options.keyedStateByOldSubtask ? oldSubtask % toParallelism : subtaskOfKey(key, options.maxParallelism, toParallelism);

  const keyed: Record<string, Array<readonly [Key, unknown]>>[] = Array.from({ length: toParallelism }, () => ({}));
  const timers: TimerSnapshot[][] = Array.from({ length: toParallelism }, () => []);
  const slotCount = Math.max(0, ...old.map((snapshot) => snapshot.channelState?.length ?? 0));
  const anyChannelState = old.some((snapshot) => snapshot.channelState !== undefined);
  const channelState: NonNullable<SubtaskSnapshot['channelState']>[number][][] = Array.from({ length: toParallelism }, () => Array.from({ length: slotCount }, () => []));
  const keysBefore: Record<string, Key[]> = {};
  old.forEach((snapshot, oldSubtask) => {
    for (const [name, entries] of Object.entries(snapshot.keyedState)) {
      (keysBefore[name] ??= []).push(...entries.map(([key]) => key));
      for (const entry of entries) {
        const target = keyed[ownerOf(entry[0], oldSubtask)]!;
        (target[name] ??= []).push(entry);
      }
    }
    for (const timer of snapshot.timers ?? []) {
      (keysBefore[`${TIMERS}${timer.operator}`] ??= []).push(timer.key);
      timers[ownerOf(timer.key, oldSubtask)]!.push(timer);
    }
    snapshot.channelState?.forEach((records, slot) => {
      for (const record of records) (channelState[ownerOf(record.key, oldSubtask)]![slot] as typeof records[number][]).push(record);
    });
  });

  const listStatesBefore: Record<string, { elements: number; union: boolean }> = {};
  const unionNames = new Set(old.flatMap((snapshot) => snapshot.unionStates ?? []));
  const names = [...new Set(old.flatMap((snapshot) => Object.keys(snapshot.operatorState)))].sort();
  const lists: Record<string, unknown[]>[] = Array.from({ length: toParallelism }, () => ({}));
  for (const name of names) {
    const parts = old.map((snapshot) => snapshot.operatorState[name] ?? []);
    const union = unionNames.has(name);
    listStatesBefore[name] = { elements: parts.reduce((sum, part) => sum + part.length, 0), union };
    const kept = options.dropsOperatorStatePart ? parts.slice(0, -1) : parts;
    const all = kept.flat();
    if (union) {
      for (const target of lists) target[name] = all.slice();
      continue;
    }
    let next = 0;
    lists.forEach((target, subtask) => {
      const share = evenSplitShare(all.length, toParallelism, subtask);
      target[name] = all.slice(next, next + share);
      next += share;
    });
  }

  const unionStates = [...unionNames].sort();
  const rescaled: SubtaskSnapshot[] = Array.from({ length: toParallelism }, (_, subtask) => ({
    operatorState: lists[subtask]!,
    keyedState: keyed[subtask]!,
    ...(unionStates.length === 0 ? {} : { unionStates }),
    ...(anyChannelState ? { channelState: channelState[subtask]! } : {}),
    ...(timers[subtask]!.length === 0 ? {} : { timers: timers[subtask]! }),
  }));
  const subtasks = rescaled.map((snapshot) => {
    const keys: Record<string, Key[]> = {};
    for (const [name, entries] of Object.entries(snapshot.keyedState)) keys[name] = entries.map(([key]) => key);
    for (const timer of snapshot.timers ?? []) (keys[`${TIMERS}${timer.operator}`] ??= []).push(timer.key);
    const listElements: Record<string, number> = {};
    for (const [name, values] of Object.entries(snapshot.operatorState)) listElements[name] = values.length;
    return { keys, listElements };
  });
  return {
    checkpoint: { ...checkpoint, tasks: [...checkpoint.tasks.slice(0, firstTask), ...rescaled] },
    moved: { checkpointId: checkpoint.checkpointId, firstTask, fromParallelism, toParallelism, maxParallelism: options.maxParallelism, keysBefore, listStatesBefore, subtasks },
  };
}

/** Whether subtask `subtask` of `parallelism` owns the key's key group. */
export function ownsKey(key: Key, maxParallelism: number, parallelism: number, subtask: number): boolean {
  const range = keyGroupRangeOf(maxParallelism, parallelism, subtask);
  const keyGroup = keyGroupOf(key, maxParallelism);
  return keyGroup >= range.first && keyGroup <= range.last;
}
