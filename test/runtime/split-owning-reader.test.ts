import { describe, expect, test } from 'vitest';
import { END_OF_INPUT, NOTHING_AVAILABLE, type SourceReader, type SubtaskInfo } from '../../src/connectors/api.ts';
import { PartitionSourceReader, type PartitionLog } from '../../src/connectors/partition-source.ts';
import { SplitOwningReader, snapshotOfSplits, splitStatesOfSnapshot } from '../../src/runtime/split-owning-reader.ts';
import { reassignSplits } from '../../src/runtime/split-reassignment.ts';
import { SubtaskState, type SubtaskSnapshot } from '../../src/runtime/state.ts';
import { checkRescaleState } from '../../properties/rescale.ts';
import type { RunObservations } from '../../src/runtime/observations.ts';

/** Two partitions of 5 and 7 records; record `100 * partition + offset`. */
const END_OFFSETS = [5, 7];
const log: PartitionLog<number> = { endOffset: (partition) => END_OFFSETS[partition]!, read: (partition, offset) => 100 * partition + offset };
const ALL_RECORDS = END_OFFSETS.flatMap((end, partition) => Array.from({ length: end }, (_, offset) => 100 * partition + offset));
/** The user's connector, unchanged: source subtask i reads partition i. */
const create = (info: SubtaskInfo): SourceReader<number> => new PartitionSourceReader(log, info.subtaskIndex);

/** A source subtask deployed as the runtime deploys it: a fresh store, restored from the snapshot if any, then initializeState. */
function deploy(reader: SourceReader<number>, snapshot: SubtaskSnapshot | undefined, info: SubtaskInfo): { reader: SourceReader<number>; state: SubtaskState } {
  const state = new SubtaskState();
  if (snapshot !== undefined) state.restore(snapshot);
  const result = reader.initializeState({ isRestored: () => snapshot !== undefined, restoredCheckpointId: snapshot === undefined ? undefined : 1, getOperatorStateStore: () => state, ...info, attemptNumber: 0, report: () => {} });
  expect(result).toBeUndefined();
  return { reader, state };
}

/** Up to `count` records (all when omitted), stopping at the end of input. */
function poll(reader: SourceReader<number>, count = Number.POSITIVE_INFINITY): number[] {
  const records: number[] = [];
  while (records.length < count) {
    const next = reader.pollNext();
    if (next === END_OF_INPUT) break;
    if (next === NOTHING_AVAILABLE) throw new Error('a partition source always has a record or has ended');
    records.push(next);
  }
  return records;
}

/** The snapshot the runtime takes: the operator state after snapshotState, and the declared position. */
function checkpoint({ reader, state }: { reader: SourceReader<number>; state: SubtaskState }): SubtaskSnapshot {
  expect(reader.snapshotState({ checkpointId: 1 })).toBeUndefined();
  return { ...state.snapshot(), sourcePosition: reader.currentPosition() };
}

/** Restores the checkpointed source subtasks onto `toParallelism` split-owning subtasks and reads them to the end. */
function restoreAndRead(snapshots: readonly SubtaskSnapshot[], toParallelism: number, dropsSplitState = false) {
  const { subtasks, reassignment } = reassignSplits(snapshots.map((snapshot, subtask) => splitStatesOfSnapshot(snapshot, subtask)), toParallelism, { dropsSplitState });
  const restored = subtasks.map((splits, subtask) => deploy(new SplitOwningReader(create, splits.map((split) => split.index), END_OFFSETS.length), snapshotOfSplits(splits), { subtaskIndex: subtask, parallelism: toParallelism }));
  const startPositions = restored.map(({ reader }) => (reader as SplitOwningReader<number>).positions());
  const records = restored.flatMap(({ reader }) => poll(reader));
  const endPositions = restored.map(({ reader }) => (reader as SplitOwningReader<number>).positions());
  return { reassignment, startPositions, records, endPositions, restored };
}

const sorted = (records: number[]): number[] => [...records].sort((a, b) => a - b);

describe('a source subtask owning several splits (one user reader per split, state scoped to its split)', () => {
  test('polls its splits in turn in a fixed order, skips an ended one, and ends when all ended', () => {
    const { reader } = deploy(new SplitOwningReader(create, [0, 1], 2), undefined, { subtaskIndex: 0, parallelism: 1 });
    expect(poll(reader)).toEqual([0, 100, 1, 101, 2, 102, 3, 103, 4, 104, 105, 106]);
    expect((reader as SplitOwningReader<number>).positions()).toEqual([
      { split: 'partition-0', offset: 5 },
      { split: 'partition-1', offset: 7 },
    ]);
  });

  test('rescaled 2 -> 1: the one subtask resumes both partitions at their checkpointed offsets; every record read once', () => {
    const subtasks = [0, 1].map((subtaskIndex) => deploy(create({ subtaskIndex, parallelism: 2 }), undefined, { subtaskIndex, parallelism: 2 }));
    const before = [...poll(subtasks[0]!.reader, 2), ...poll(subtasks[1]!.reader, 3)];
    const snapshots = subtasks.map(checkpoint);
    poll(subtasks[0]!.reader, 1); // read after the checkpoint: lost with the crash, read again after the restore
    const { startPositions, records, endPositions, reassignment } = restoreAndRead(snapshots, 1);
    expect(startPositions).toEqual([[{ split: 'partition-0', offset: 2 }, { split: 'partition-1', offset: 3 }]]);
    expect(sorted([...before, ...records])).toEqual(ALL_RECORDS);
    expect(endPositions).toEqual([[{ split: 'partition-0', offset: 5 }, { split: 'partition-1', offset: 7 }]]);
    expect(reassignment.moves.map((move) => `${move.split}: ${move.fromSubtask} -> ${move.toSubtask} @ ${move.restoredOffset}`)).toEqual(['partition-0: 0 -> 0 @ 2', 'partition-1: 1 -> 0 @ 3']);
  });

  test('rescaled 1 -> 2 (one subtask started with both splits): each new subtask takes one split with its state; and back 2 -> 1', () => {
    const one = deploy(new SplitOwningReader(create, [0, 1], 2), undefined, { subtaskIndex: 0, parallelism: 1 });
    const before = poll(one.reader, 3);
    const up = restoreAndRead([checkpoint(one)], 2);
    expect(up.startPositions).toEqual([[{ split: 'partition-0', offset: 2 }], [{ split: 'partition-1', offset: 1 }]]);
    expect(sorted([...before, ...up.records])).toEqual(ALL_RECORDS);
    // The split-owning layout redistributes again: checkpoint both new subtasks at their end and restore onto one.
    const down = restoreAndRead(up.restored.map(checkpoint), 1);
    expect(down.startPositions).toEqual([[{ split: 'partition-0', offset: 5 }, { split: 'partition-1', offset: 7 }]]);
    expect(down.records).toEqual([]);
  });

  test('the planted bug (one split state dropped on the rescaled restore) reads that split again from offset 0, and rescale-state names it', () => {
    const subtasks = [0, 1].map((subtaskIndex) => deploy(create({ subtaskIndex, parallelism: 2 }), undefined, { subtaskIndex, parallelism: 2 }));
    const before = [...poll(subtasks[0]!.reader, 2), ...poll(subtasks[1]!.reader, 3)];
    const { records, reassignment } = restoreAndRead(subtasks.map(checkpoint), 1, true);
    const all = [...before, ...records];
    expect(all.filter((record, i) => all.indexOf(record) !== i).sort()).toEqual([100, 101, 102]);
    const rescale = { seq: 0, atStep: 0, attempt: 1, checkpointId: 1, vertexName: 'numbers', firstTask: 0, fromParallelism: 2, toParallelism: 1, maxParallelism: 32, keysBefore: {}, listStatesBefore: {}, subtasks: [], splits: reassignment };
    expect(checkRescaleState({ rescales: [rescale] } as unknown as RunObservations).map((violation) => violation.message)).toEqual([expect.stringMatching(/split partition-1 .* resumes on new subtask 0 at offset 0: records 0\.\.2 are read twice/)]);
  });

  test('a subtask that owns no split ends at once and declares no position', () => {
    const { reader } = deploy(new SplitOwningReader(create, [], 2), undefined, { subtaskIndex: 1, parallelism: 2 });
    expect(reader.pollNext()).toBe(END_OF_INPUT);
    expect((reader as SplitOwningReader<number>).positions()).toEqual([]);
    expect(reader.describePosition!()).toBe('no split');
  });
});
