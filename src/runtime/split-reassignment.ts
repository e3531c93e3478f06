/**
 * Source split reassignment on a rescaled restore, the way Flink's FLIP-27 sources do it: a
 * source subtask keeps the splits it owns, each with its position, in operator list state
 * (SourceOperator's reader state), so a restore with another parallelism redistributes those
 * split states as any list state: every old subtask's splits in old-subtask order, split into
 * contiguous runs whose sizes differ by at most one (RoundRobinOperatorStateRepartitioner's
 * even-split). A split is never lost, never read by two subtasks, and resumes at its
 * checkpointed position.
 *
 * The runtime's unit is the split, not the subtask: a source vertex has N splits (today N is
 * the parallelism it was built with, split i being partition i), a subtask owns a set of them
 * and runs one user `SourceReader` per owned split with operator state scoped to that split,
 * so connectors stay written per split. A rescaled source keeps at least one split per
 * subtask: it runs with at most N subtasks (a subtask without a split would have to be marked
 * idle for watermarks, as Flink does; capping at N avoids that).
 */
import type { SourcePosition } from '../connectors/api.ts';
import type { JobGraphSpec } from './job-graph.ts';

/** One split as a source subtask checkpointed it: its position and its reader's operator state. */
export interface SplitState {
  /** The split's index among the source's splits: its reader is created as source subtask `index` of N. */
  readonly index: number;
  readonly position: SourcePosition;
  /** The split reader's operator list states by name (scoped to the split: no other reader sees them). */
  readonly operatorState: Readonly<Record<string, readonly unknown[]>>;
}

/** One split's way through a rescaled restore. */
export interface SplitMove {
  readonly split: string;
  readonly fromSubtask: number;
  readonly toSubtask: number;
  /** Where the checkpoint holds the split. */
  readonly checkpointedOffset: number;
  /** Where the new subtask resumes it (the checkpointed offset unless the restore is broken). */
  readonly restoredOffset: number;
}

/** What a rescaled restore did with a source vertex's splits (RescaleObservation.splits). */
export interface SplitReassignment {
  /** Per old subtask: the splits it checkpointed, with their positions. */
  readonly before: ReadonlyArray<readonly SourcePosition[]>;
  /** Per new subtask: the splits it restores, with the positions it resumes them at. */
  readonly after: ReadonlyArray<readonly SourcePosition[]>;
  /** Split -> old subtask -> new subtask, in old-subtask order. */
  readonly moves: readonly SplitMove[];
}

export interface SplitReassignmentOptions {
  /** Planted bug: the last split of the last old subtask loses its state and restarts from offset 0 (its records are read twice). */
  readonly dropsSplitState: boolean;
}

/** How many of `elements` subtask `subtask` of `parallelism` gets by even-split: the first `elements % parallelism` subtasks get one more. */
export function evenSplitShare(elements: number, parallelism: number, subtask: number): number {
  return Math.floor(elements / parallelism) + (subtask < elements % parallelism ? 1 : 0);
}

/**
 * The split states of a source vertex's old subtasks, reassigned to `toParallelism` new
 * subtasks by even-split (contiguous runs in old-subtask order), and the observation of it.
 * `toParallelism` must lie within 1 and the number of splits (a rescaled source is capped there).
 */
export function reassignSplits(old: ReadonlyArray<readonly SplitState[]>, toParallelism: number, options: SplitReassignmentOptions): { subtasks: SplitState[][]; reassignment: SplitReassignment } {
  const all = old.flatMap((splits, fromSubtask) => splits.map((state) => ({ state, fromSubtask, checkpointedOffset: state.position.offset })));
  if (!Number.isSafeInteger(toParallelism) || toParallelism < 1 || toParallelism > all.length) {
    throw new Error(`reassignSplits: a source of ${all.length} split(s) runs with 1..${all.length} subtasks, not ${toParallelism}`);
  }
  if (options.dropsSplitState) {
    const last = all.at(-1)!;
    all[all.length - 1] = { ...last, state: { index: last.state.index, position: { split: last.state.position.split, offset: 0 }, operatorState: {} } };
  }
  const subtasks: SplitState[][] = [];
  const moves: SplitMove[] = [];
  let next = 0;
  for (let toSubtask = 0; toSubtask < toParallelism; toSubtask++) {
    const run = all.slice(next, next + evenSplitShare(all.length, toParallelism, toSubtask));
    next += run.length;
    subtasks.push(run.map(({ state }) => state));
    for (const { state, fromSubtask, checkpointedOffset } of run) moves.push({ split: state.position.split, fromSubtask, toSubtask, checkpointedOffset, restoredOffset: state.position.offset });
  }
  return {
    subtasks,
    reassignment: {
      before: old.map((splits) => splits.map((state) => state.position)),
      after: subtasks.map((splits) => splits.map((state) => state.position)),
      moves,
    },
  };
}

/** A job's source vertex as a rescale fault could rescale it, or why it cannot. */
export type SourceRescalability =
  | { readonly vertex: number; readonly firstTask: number; readonly parallelism: number; readonly splits: number }
  | { readonly excluded: string };

/**
 * Whether a job's source vertex can rescale alone: it must be the job's only source, every
 * edge out of it a hash exchange (a forward edge ties the next vertex's subtask i to source
 * subtask i, so that vertex would have to rescale with it), its chain stateless after the
 * source (map and filter: other state is kept per subtask, not per split), and without a
 * watermark strategy (Flink keeps watermarks per split; not modelled). Its splits are the
 * parallelism it was built with.
 */
export function rescalableSourceOf(spec: JobGraphSpec): SourceRescalability {
  const sources = spec.vertices.filter((vertex) => vertex.source !== undefined);
  if (sources.length !== 1) return { excluded: `${spec.name} has ${sources.length} source vertices; a source rescale names one source and only single-source jobs are supported` };
  const source = sources[0]!;
  const forward = spec.edges.find((edge) => edge.from === source.id && edge.partitioning.kind !== 'hash');
  if (forward !== undefined) {
    return { excluded: `${source.name} feeds ${spec.vertices[forward.to]!.name} by a forward edge: subtask i of one is tied to subtask i of the other, so the source cannot rescale alone` };
  }
  const stateful = source.operators.find((operator) => operator.kind !== 'map' && operator.kind !== 'filter');
  if (stateful !== undefined) return { excluded: `${source.name} chains ${stateful.kind} ${stateful.name} after its source: that state is kept per subtask, not per split` };
  if (source.source!.watermarks !== undefined) return { excluded: `${source.name} has a watermark strategy: Flink keeps watermarks per split, which the runtime does not model` };
  const firstTask = spec.vertices.slice(0, source.id).reduce((sum, vertex) => sum + vertex.parallelism, 0);
  return { vertex: source.id, firstTask, parallelism: source.parallelism, splits: source.parallelism };
}
