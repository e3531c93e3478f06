import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { downloadKeyedState, encodeKeyedState, RocksDbKeyedStateSnapshotter, type KeyedStateHandle, type StateBackendObservations } from '../../../src/runtime/backends/rocksdb-backend.ts';
import { CheckpointStore } from '../../../src/runtime/state.ts';

/**
 * Model test of the rocksdb backend against a plain Map: random writes and deletions,
 * checkpoints (some never complete), restores of the latest completed checkpoint; every
 * retained checkpoint restores to exactly the state the Map had when it was taken.
 */
type Command =
  | { readonly op: 'put'; readonly key: number; readonly value: number }
  | { readonly op: 'delete'; readonly key: number }
  | { readonly op: 'checkpoint'; readonly completes: boolean }
  | { readonly op: 'restore' };

const commandArbitrary: fc.Arbitrary<Command> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ op: fc.constant('put' as const), key: fc.nat(40), value: fc.nat(5) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('delete' as const), key: fc.nat(40) }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('checkpoint' as const), completes: fc.boolean() }) },
  { weight: 1, arbitrary: fc.constant({ op: 'restore' as const }) },
);

const configArbitrary = fc.record({
  incremental: fc.boolean(),
  memtableFlushEntries: fc.integer({ min: 1, max: 6 }),
  compactionTriggerFiles: fc.integer({ min: 2, max: 4 }),
  retainedCheckpoints: fc.integer({ min: 1, max: 3 }),
});

type Bugs = { readonly deleteSharedFileStillReferenced: boolean; readonly incrementalForgetsCompactedFiles: boolean };
const NO_BUGS: Bugs = { deleteSharedFileStillReferenced: false, incrementalForgetsCompactedFiles: false };
const STATE = 'counter/value';

function stateOf(model: ReadonlyMap<number, number>): Record<string, Array<readonly [number, number]>> {
  return { [STATE]: Array.from(model) };
}


/** Runs the commands; returns the first mismatch in words, or undefined if every restore matched the model. */
function check(
  config: { incremental: boolean; memtableFlushEntries: number; compactionTriggerFiles: number; retainedCheckpoints: number },
  commands: readonly Command[],
  bugs: Bugs,
): string | undefined {
  const observations: { stateBackend?: StateBackendObservations } = {};
  const store = new CheckpointStore('rocksdb', { retainedCheckpoints: config.retainedCheckpoints, deleteSharedFileStillReferenced: bugs.deleteSharedFileStillReferenced }, observations);
  const options = {
    incremental: config.incremental,
    thresholds: { memtableFlushEntries: config.memtableFlushEntries, compactionTriggerFiles: config.compactionTriggerFiles },
    incrementalForgetsCompactedFiles: bugs.incrementalForgetsCompactedFiles,
  };
  let stores = 0;
  let snapshotter = new RocksDbKeyedStateSnapshotter(`task-0/store-${++stores}`, options);
  let model = new Map<number, number>();
  let checkpointId = 0;
  const modelAt = new Map<number, Map<number, number>>();
  const handles = new Map<number, KeyedStateHandle>();
  const retained: number[] = [];

  const checkRetained = (): string | undefined => {
    for (const id of retained) {
      const downloaded = downloadKeyedState(handles.get(id)!, store.registry);
      const restored = new Map((downloaded.keyedState[STATE] ?? []) as Array<[number, number]>);
      if (downloaded.missingFiles.length > 0) return `checkpoint ${id}: files missing ${downloaded.missingFiles.join(', ')}`;
      if (!sameMap(restored, modelAt.get(id)!)) return `checkpoint ${id}: restored ${JSON.stringify([...restored])}, checkpointed ${JSON.stringify([...modelAt.get(id)!])}`;
    }
    return undefined;
  };

  for (const command of commands) {
    if (command.op === 'put') model.set(command.key, command.value);
    else if (command.op === 'delete') model.delete(command.key);
    else if (command.op === 'checkpoint') {
      checkpointId++;
      const handle = snapshotter.snapshot(checkpointId, stateOf(model));
      if (!command.completes) continue; // declined or expired: never registered
      store.add({ checkpointId, triggeredAtStep: 0, completedAtStep: 0, tasks: [{ operatorState: {}, keyedState: {}, keyedStateHandle: handle }] });
      snapshotter.onCheckpointComplete(checkpointId);
      modelAt.set(checkpointId, new Map(model));
      handles.set(checkpointId, { ...handle, uploaded: undefined });
      retained.push(checkpointId);
      if (retained.length > config.retainedCheckpoints) retained.shift();
      const mismatch = checkRetained();
      if (mismatch !== undefined) return mismatch;
    } else {
      const latest = store.latest();
      if (latest === undefined) continue;
      const task = latest.tasks[0]!;
      const restored = new Map((task.keyedState[STATE] ?? []) as Array<[number, number]>);
      if (!sameMap(restored, modelAt.get(latest.checkpointId)!)) return `restore of checkpoint ${latest.checkpointId} differs from the model`;
      model = restored;
      snapshotter = new RocksDbKeyedStateSnapshotter(`task-0/store-${++stores}`, options, { files: task.downloadedFiles ?? [], entries: encodeKeyedState(task.keyedState) });
    }
  }
  const restoreMismatch = observations.stateBackend!.restores.find((restore) => restore.expectedDigest !== restore.restoredDigest);
  if (restoreMismatch !== undefined) return `restore observation of checkpoint ${restoreMismatch.checkpointId}: digest ${restoreMismatch.restoredDigest}, expected ${restoreMismatch.expectedDigest}`;
  return checkRetained();
}

function sameMap(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>): boolean {
  if (a.size !== b.size) return false;
  for (const [key, value] of a) if (b.get(key) !== value) return false;
  return true;
}

describe('rocksdb backend against a Map model', () => {
  it('every retained checkpoint restores exactly the state it was taken of (incremental and full, any thresholds)', () => {
    fc.assert(
      fc.property(configArbitrary, fc.array(commandArbitrary, { maxLength: 120 }), (config, commands) => {
        expect(check(config, commands, NO_BUGS)).toBeUndefined();
      }),
      { numRuns: 300, seed: 11 },
    );
  }, 120_000);

  it('incremental checkpoints upload less than full ones once the state is large and changes little', () => {
    const costs = (incremental: boolean): number[] => {
      const store = new CheckpointStore('rocksdb', { retainedCheckpoints: 1, deleteSharedFileStillReferenced: false }, {});
      const snapshotter = new RocksDbKeyedStateSnapshotter('t', { incremental, thresholds: { memtableFlushEntries: 64, compactionTriggerFiles: 4 }, incrementalForgetsCompactedFiles: false });
      const model = new Map<number, number>();
      for (let key = 0; key < 1000; key++) model.set(key, 0);
      const uploaded: number[] = [];
      for (let id = 1; id <= 5; id++) {
        for (let key = 0; key < 10; key++) model.set(id * 10 + key, id);
        const handle = snapshotter.snapshot(id, stateOf(model));
        store.add({ checkpointId: id, triggeredAtStep: 0, completedAtStep: 0, tasks: [{ operatorState: {}, keyedState: {}, keyedStateHandle: handle }] });
        snapshotter.onCheckpointComplete(id);
        uploaded.push(handle.bytesUploaded);
      }
      return uploaded;
    };
    const full = costs(false);
    const incremental = costs(true);
    expect(incremental[0]).toBeGreaterThan(0);
    for (let i = 1; i < 5; i++) expect(incremental[i]!).toBeLessThan(full[i]! / 10);
  });

  for (const bug of ['deleteSharedFileStillReferenced', 'incrementalForgetsCompactedFiles'] as const) {
    it(`planted bug ${bug} makes a retained checkpoint restore something else`, () => {
      const result = fc.check(
        fc.property(configArbitrary.map((config) => ({ ...config, incremental: true })), fc.array(commandArbitrary, { maxLength: 120 }), (config, commands) => check(config, commands, { ...NO_BUGS, [bug]: true }) === undefined),
        { numRuns: 300, seed: 11 },
      );
      expect(result.failed).toBe(true);
    }, 120_000);
  }
});

