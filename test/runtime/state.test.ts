import { describe, expect, test } from 'vitest';
import { RocksDbKeyedStateSnapshotter, type StateBackendObservations } from '../../src/runtime/backends/rocksdb-backend.ts';
import { checkpointedSplitPositions, CheckpointStore, STATE_BACKEND_KINDS, SubtaskState, type CompletedCheckpoint, type StateBackendKind, type SubtaskSnapshot } from '../../src/runtime/state.ts';

/**
 * The state of a subtask and the checkpoint store, driven directly (issue 14: mutants of
 * state.ts the main job does not tell apart).
 */

const OPTIONS = { retainedCheckpoints: 1, deleteSharedFileStillReferenced: false };

function checkpoint(checkpointId: number, tasks: SubtaskSnapshot[] = [{ operatorState: { offsets: [checkpointId] }, keyedState: { counts: [['a', checkpointId]] } }]): CompletedCheckpoint {
  return { checkpointId, triggeredAtStep: checkpointId * 10, completedAtStep: checkpointId * 10 + 5, tasks };
}

describe('SubtaskState', () => {
  test('a list state starts empty and is the same object every time it is asked for by name', () => {
    const state = new SubtaskState();
    const offsets = state.getListState<number>('offsets');
    expect(offsets.get()).toEqual([]);
    offsets.add(1);
    offsets.add(2);
    expect(state.getListState<number>('offsets')).toBe(offsets);
    expect(state.getListState<number>('offsets').get()).toEqual([1, 2]);
    offsets.update([7]);
    expect(offsets.get()).toEqual([7]);
    offsets.clear();
    expect(offsets.get()).toEqual([]);
    expect(state.getListState<number>('other')).not.toBe(offsets);
  });

  test('keyed state of an operator is one map, kept between calls', () => {
    const state = new SubtaskState();
    state.keyedState('sum').set('k', 3);
    expect(state.keyedState('sum')).toBe(state.keyedState('sum'));
    expect(state.keyedState('sum').get('k')).toBe(3);
    expect(state.keyedState('other').size).toBe(0);
  });

  test('a snapshot is a copy: later writes do not change it; union states are listed sorted, and only when there are some', () => {
    const state = new SubtaskState();
    state.getListState<number>('offsets').add(1);
    state.keyedState('sum').set('k', 1);
    const plain = state.snapshot();
    expect(plain).toEqual({ operatorState: { offsets: [1] }, keyedState: { sum: [['k', 1]] } });
    expect('unionStates' in plain).toBe(false);
    state.getListState<number>('offsets').add(2);
    state.keyedState('sum').set('k', 2);
    expect(plain).toEqual({ operatorState: { offsets: [1] }, keyedState: { sum: [['k', 1]] } });

    state.getUnionListState<string>('zeta').add('z');
    state.getUnionListState<string>('alpha').add('a');
    expect(state.snapshot().unionStates).toEqual(['alpha', 'zeta']);
  });

  test('restore replaces everything with the snapshot, union names included', () => {
    const state = new SubtaskState();
    state.getUnionListState<number>('gone').add(9);
    state.keyedState('gone').set('x', 1);
    state.restore({ operatorState: { offsets: [4, 5] }, keyedState: { sum: [['k', 6]] } });
    expect(state.snapshot()).toEqual({ operatorState: { offsets: [4, 5] }, keyedState: { sum: [['k', 6]] } });
    expect('unionStates' in state.snapshot()).toBe(false);
    state.restore({ operatorState: { splits: ['s'] }, keyedState: {}, unionStates: ['splits'] });
    expect(state.snapshot().unionStates).toEqual(['splits']);
  });
});

describe('checkpointedSplitPositions', () => {
  test('every split of every source subtask: its split positions if it has them, else its source position', () => {
    const at = (split: string, offset: number) => ({ split, offset }) as unknown as NonNullable<SubtaskSnapshot['sourcePosition']>;
    const tasks: SubtaskSnapshot[] = [
      { operatorState: {}, keyedState: {}, sourcePosition: at('p0', 3) },
      { operatorState: {}, keyedState: {}, splitPositions: [at('p1', 4), at('p2', 5)], sourcePosition: at('ignored', 0) },
      { operatorState: {}, keyedState: {} },
      { operatorState: {}, keyedState: {}, splitPositions: [] },
    ];
    expect([...checkpointedSplitPositions(tasks)]).toEqual([
      ['p0', at('p0', 3)],
      ['p1', at('p1', 4)],
      ['p2', at('p2', 5)],
    ]);
  });
});

describe('CheckpointStore', () => {
  test('the backends are memory, fs and rocksdb', () => {
    expect(STATE_BACKEND_KINDS).toEqual(['memory', 'fs', 'rocksdb']);
  });

  test('retainedCheckpoints must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new CheckpointStore('fs', { ...OPTIONS, retainedCheckpoints: bad })).toThrow(`retainedCheckpoints must be a positive integer, got ${String(bad)}`);
    }
    expect(() => new CheckpointStore('fs', { ...OPTIONS, retainedCheckpoints: 1 })).not.toThrow();
    expect(() => new CheckpointStore('fs', { ...OPTIONS, retainedCheckpoints: 3 })).not.toThrow();
  });

  for (const backend of ['memory', 'fs', 'rocksdb'] as const satisfies readonly StateBackendKind[]) {
    test(`${backend}: empty at first; latest() is the newest checkpoint added, whatever the number retained`, () => {
      for (const retainedCheckpoints of [1, 2]) {
        const store = new CheckpointStore(backend, { ...OPTIONS, retainedCheckpoints });
        expect(store.latest()).toBeUndefined();
        for (const id of [1, 2, 3]) {
          store.add(checkpoint(id));
          expect(store.latest()).toEqual(checkpoint(id));
        }
      }
    });

    test(`${backend}: checkpoints are added in increasing order of id`, () => {
      const store = new CheckpointStore(backend);
      store.add(checkpoint(2));
      expect(() => store.add(checkpoint(2))).toThrow('CheckpointStore: checkpoint 2 completed after checkpoint 2');
      expect(() => store.add(checkpoint(1))).toThrow('CheckpointStore: checkpoint 1 completed after checkpoint 2');
      store.add(checkpoint(3));
      expect(store.latest()?.checkpointId).toBe(3);
    });
  }

  test('a coordinator crash loses the memory backend\'s checkpoints only', () => {
    for (const backend of ['memory', 'fs', 'rocksdb'] as const) {
      const store = new CheckpointStore(backend);
      store.add(checkpoint(1));
      store.onCoordinatorCrash();
      expect(store.latest()).toEqual(backend === 'memory' ? undefined : checkpoint(1));
    }
  });

  test('fs and rocksdb: a checkpoint that is not serialisable is refused', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    for (const backend of ['fs', 'rocksdb'] as const) {
      const store = new CheckpointStore(backend);
      expect(() => store.add(checkpoint(1, [{ operatorState: { bad: [cyclic] }, keyedState: {} }]))).toThrow(`${backend} state backend: checkpoint 1 is not serialisable: `);
    }
  });

  test('rocksdb: the store reports into the run\'s observations (created when absent, kept when present); other backends leave them alone', () => {
    const fresh: { stateBackend?: StateBackendObservations } = {};
    new CheckpointStore('rocksdb', OPTIONS, fresh);
    expect(fresh).toEqual({ stateBackend: { checkpoints: [], restores: [] } });
    const existing: StateBackendObservations = { checkpoints: [], restores: [] };
    const kept = { stateBackend: existing };
    new CheckpointStore('rocksdb', OPTIONS, kept);
    expect(kept.stateBackend).toBe(existing);
    for (const backend of ['memory', 'fs'] as const) {
      const untouched: { stateBackend?: StateBackendObservations } = {};
      new CheckpointStore(backend, OPTIONS, untouched);
      expect(untouched).toEqual({});
    }
    expect(() => new CheckpointStore('rocksdb', OPTIONS).add(checkpoint(1))).not.toThrow();
  });

  test('rocksdb: checkpoints keep handles only, restores download the keyed state; cost and restore figures are reported', () => {
    const observations: { stateBackend?: StateBackendObservations } = {};
    const store = new CheckpointStore('rocksdb', { retainedCheckpoints: 1, deleteSharedFileStillReferenced: false }, observations);
    const options = { incremental: true, thresholds: { memtableFlushEntries: 100, compactionTriggerFiles: 10 }, incrementalForgetsCompactedFiles: false };
    const snapshotters = [new RocksDbKeyedStateSnapshotter('task-1', options), new RocksDbKeyedStateSnapshotter('task-2', options)];
    const source: SubtaskSnapshot = { operatorState: { offsets: [3] }, keyedState: {} };
    const stateAt = (id: number, task: number): Record<string, Array<readonly [string, number]>> => ({
      counts: Array.from({ length: 3 + task }, (_, key) => [`k${key}`, id * 10 + key] as const),
    });
    const added = (id: number): CompletedCheckpoint =>
      checkpoint(id, [source, ...snapshotters.map((snapshotter, index): SubtaskSnapshot => ({ operatorState: {}, keyedState: {}, keyedStateHandle: snapshotter.snapshot(id, stateAt(id, index + 1)) }))]);

    const first = added(1);
    store.add(first);
    for (const snapshotter of snapshotters) snapshotter.onCheckpointComplete(1);
    const second = added(2);
    store.add(second);

    const handles = second.tasks.slice(1).map((task) => task.keyedStateHandle!);
    const firstHandles = first.tasks.slice(1).map((task) => task.keyedStateHandle!);
    const sum = (of: (handle: (typeof handles)[number]) => number, among = handles): number => among.reduce((total, handle) => total + of(handle), 0);
    expect(handles.every((handle) => handle.uploaded !== undefined && handle.uploaded.length > 0)).toBe(true);
    const costs = observations.stateBackend!.checkpoints;
    expect(costs).toEqual([
      {
        checkpointId: 1,
        kind: 'incremental',
        bytesUploaded: sum((handle) => handle.bytesUploaded, firstHandles),
        filesUploaded: sum((handle) => handle.uploaded!.length, firstHandles),
        filesReferenced: sum((handle) => handle.fileIds.length, firstHandles),
        bytesReferenced: sum((handle) => handle.bytesReferenced, firstHandles),
        stateEntries: 9,
        storedFiles: 2,
        storedBytes: sum((handle) => handle.bytesUploaded, firstHandles),
        filesDeleted: 0,
      },
      {
        checkpointId: 2,
        kind: 'incremental',
        bytesUploaded: sum((handle) => handle.bytesUploaded),
        filesUploaded: sum((handle) => handle.uploaded!.length),
        filesReferenced: sum((handle) => handle.fileIds.length),
        bytesReferenced: sum((handle) => handle.bytesReferenced),
        stateEntries: 9,
        storedFiles: store.registry.storedFileCount(),
        storedBytes: store.registry.storedBytes(),
        filesDeleted: costs[1]!.filesDeleted,
      },
    ]);
    expect(costs[0]!.bytesUploaded).toBeGreaterThan(0);
    // Incremental: checkpoint 2 refers to checkpoint 1's files too, so discarding 1 deletes none.
    expect(costs[1]!.filesReferenced).toBeGreaterThan(costs[1]!.filesUploaded);
    expect(costs[1]!.filesDeleted).toBe(0);
    expect(costs[1]!.storedFiles).toBe(costs[1]!.filesReferenced);

    const restored = store.latest()!;
    expect(restored.checkpointId).toBe(2);
    expect(restored.tasks[0]).toEqual(source);
    for (const [index, task] of restored.tasks.slice(1).entries()) {
      // Checkpoint storage keeps the handle without the uploaded files; the restore downloads them.
      expect(task.keyedStateHandle).toEqual({ ...handles[index], uploaded: undefined });
      expect(task.keyedState).toEqual(stateAt(2, index + 1));
      expect(task.downloadedFiles!.map((file) => file.id)).toEqual(handles[index]!.fileIds);
    }
    expect(observations.stateBackend!.restores).toEqual(
      handles.map((handle, index) => ({
        checkpointId: 2,
        task: index + 1,
        expectedDigest: handle.digest,
        restoredDigest: handle.digest,
        missingFiles: [],
        bytesDownloaded: handle.bytesReferenced,
      })),
    );
  });

  test('rocksdb: discarding a checkpoint no longer retained deletes the files no retained checkpoint refers to', () => {
    const observations: { stateBackend?: StateBackendObservations } = {};
    const store = new CheckpointStore('rocksdb', OPTIONS, observations);
    const options = { incremental: true, thresholds: { memtableFlushEntries: 100, compactionTriggerFiles: 10 }, incrementalForgetsCompactedFiles: false };
    // A new store each time (a restart from scratch): no file is shared between the checkpoints.
    for (const id of [1, 2]) {
      const handle = new RocksDbKeyedStateSnapshotter(`store-${id}`, options).snapshot(id, { counts: [['a', id]] });
      store.add(checkpoint(id, [{ operatorState: {}, keyedState: {}, keyedStateHandle: handle }]));
    }
    expect(observations.stateBackend!.checkpoints.map((cost) => [cost.filesDeleted, cost.storedFiles])).toEqual([
      [0, 1],
      [1, 1],
    ]);
    expect(store.latest()!.tasks[0]!.keyedState).toEqual({ counts: [['a', 2]] });
  });

  test('rocksdb: a handle whose files checkpoint storage already holds (no uploaded files) uploads nothing', () => {
    const observations: { stateBackend?: StateBackendObservations } = {};
    const store = new CheckpointStore('rocksdb', { retainedCheckpoints: 2, deleteSharedFileStillReferenced: false }, observations);
    const snapshotter = new RocksDbKeyedStateSnapshotter('t', { incremental: true, thresholds: { memtableFlushEntries: 100, compactionTriggerFiles: 10 }, incrementalForgetsCompactedFiles: false });
    const handle = snapshotter.snapshot(1, { counts: [['a', 1]] });
    store.add(checkpoint(1, [{ operatorState: {}, keyedState: {}, keyedStateHandle: handle }]));
    store.add(checkpoint(2, [{ operatorState: {}, keyedState: {}, keyedStateHandle: { ...handle, uploaded: undefined, bytesUploaded: 0 } }]));
    const [first, second] = observations.stateBackend!.checkpoints;
    expect(second).toEqual({ ...first, checkpointId: 2, bytesUploaded: 0, filesUploaded: 0 });
    expect(store.registry.referenceCount(handle.fileIds[0]!)).toBe(2);
    expect(store.latest()!.tasks[0]!.keyedState).toEqual({ counts: [['a', 1]] });
  });

  test('memory and fs: no cost figures, even into observations that hold some', () => {
    for (const backend of ['memory', 'fs'] as const) {
      const observations = { stateBackend: { checkpoints: [], restores: [] } satisfies StateBackendObservations };
      const store = new CheckpointStore(backend, OPTIONS, observations);
      store.add(checkpoint(1));
      expect(store.latest()).toEqual(checkpoint(1));
      expect(observations.stateBackend).toEqual({ checkpoints: [], restores: [] });
    }
  });

  test('rocksdb: the kind of a checkpoint is its first handle\'s, incremental when no task has keyed state', () => {
    const observations: { stateBackend?: StateBackendObservations } = {};
    const store = new CheckpointStore('rocksdb', OPTIONS, observations);
    const full = new RocksDbKeyedStateSnapshotter('t', { incremental: false, thresholds: { memtableFlushEntries: 100, compactionTriggerFiles: 10 }, incrementalForgetsCompactedFiles: false });
    store.add(checkpoint(1, [{ operatorState: {}, keyedState: {} }]));
    store.add(checkpoint(2, [{ operatorState: {}, keyedState: {}, keyedStateHandle: full.snapshot(2, { counts: [['a', 1]] }) }]));
    expect(observations.stateBackend!.checkpoints.map((cost) => [cost.kind, cost.bytesUploaded, cost.filesUploaded, cost.stateEntries])).toEqual([
      ['incremental', 0, 0, 0],
      ['full', expect.any(Number), 1, 1],
    ]);
    expect(store.latest()!.tasks[0]!.keyedState).toEqual({ counts: [['a', 1]] });
  });
});
