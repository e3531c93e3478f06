import { describe, expect, test } from 'vitest';
import type { ConnectorEvent, FunctionInitializationContext, ListState } from '../../src/connectors/api.ts';
import { TwoPhaseCommitSink, describeTransaction, type TwoPhaseCommitState } from '../../src/connectors/two-phase-commit-sink.ts';

/**
 * Unit tests of the two-phase-commit base class, driven directly with a sink whose external
 * system is a list of calls: the base's defaults (recovery by commit and abort, no lingering
 * transactions), its argument and order checks, and the rescaled restore's hand-over. Written
 * for the mutation survivors of two-phase-commit-sink.ts (mutation/survivors/two-phase-commit-sink.md).
 */

interface Txn {
  readonly id: string;
}

/** A sink whose every call to its external system is recorded (`begin t0`, `write t0 x`, ...). */
class RecordingSink extends TwoPhaseCommitSink<string, Txn> {
  readonly calls: string[] = [];
  private counter = 0;

  constructor(private readonly prefix = 't') {
    super();
  }

  protected beginTransaction(): Promise<Txn> {
    const txn = { id: `${this.prefix}${this.counter++}` };
    this.calls.push(`begin ${txn.id}`);
    return Promise.resolve(txn);
  }
  protected invoke(txn: Txn, value: string): void {
    this.calls.push(`write ${txn.id} ${value}`);
  }
  protected preCommit(txn: Txn): Promise<void> {
    this.calls.push(`pre-commit ${txn.id}`);
    return Promise.resolve();
  }
  protected commit(txn: Txn): Promise<void> {
    this.calls.push(`commit ${txn.id}`);
    return Promise.resolve();
  }
  protected abort(txn: Txn): Promise<void> {
    this.calls.push(`abort ${txn.id}`);
    return Promise.resolve();
  }
}

/** Records the lingering-abort hooks as well (a sink with ids of its own, like the Kafka sink). */
class LingeringSink extends RecordingSink {
  protected override abortLingering(inFlight: Txn | undefined): Promise<void> {
    this.calls.push(`abort-lingering after ${inFlight?.id ?? 'none'} (subtask ${this.subtask} of ${this.parallelism}, handed over ${[...this.handedOverSubtasks].join(',')})`);
    return Promise.resolve();
  }
  protected override abortLingeringOfSubtask(subtask: number, inFlight: Txn | undefined): Promise<void> {
    this.calls.push(`abort-lingering of subtask ${subtask} after ${inFlight?.id ?? 'none'}`);
    return Promise.resolve();
  }
}

type Entry = TwoPhaseCommitState<Txn>;

function listState(entries: Entry[]): ListState<Entry> {
  return {
    get: () => entries,
    update: (values) => void entries.splice(0, entries.length, ...values),
    add: (value) => void entries.push(value),
    clear: () => void entries.splice(0),
  };
}

/** A context over `entries`, with a union list state unless `union` is false. */
function context(entries: Entry[], events: ConnectorEvent[] = [], { subtaskIndex = 0, parallelism = 1, union = true } = {}): FunctionInitializationContext {
  const state = listState(entries);
  const none = listState([]);
  return {
    isRestored: () => entries.length > 0,
    restoredCheckpointId: entries.length > 0 ? 1 : undefined,
    getOperatorStateStore: () => ({
      getListState: <T>(name: string) => (name === 'two-phase-commit' && !union ? state : none) as unknown as ListState<T>,
      ...(union ? { getUnionListState: <T>(name: string) => (name === 'two-phase-commit' ? state : none) as unknown as ListState<T> } : {}),
    }),
    subtaskIndex,
    parallelism,
    attemptNumber: 0,
    report: (event) => void events.push(event),
  };
}

describe('TwoPhaseCommitSink: order checks', () => {
  test('write and snapshotState before initializeState, a second snapshot of one checkpoint, and a write after the end of input throw', async () => {
    const sink = new RecordingSink();
    expect(() => sink.write('x')).toThrow(/^TwoPhaseCommitSink: write before initializeState$/);
    await expect(sink.snapshotState({ checkpointId: 1 })).rejects.toThrow(/^TwoPhaseCommitSink: snapshotState before initializeState$/);
    await sink.initializeState(context([]));
    await sink.snapshotState({ checkpointId: 1 });
    await expect(sink.snapshotState({ checkpointId: 1 })).rejects.toThrow(/^TwoPhaseCommitSink: checkpoint 1 snapshotted twice$/);
    sink.finish();
    await sink.snapshotState({ checkpointId: 2 });
    expect(() => sink.write('x')).toThrow(/^TwoPhaseCommitSink: write after end of input$/);
  });
});

test('a transaction a subclass begins or ends before initializeState is not reported (there is nowhere to report it) and does not fail', async () => {
  class EagerSink extends RecordingSink {
    async early(): Promise<void> {
      const txn = await this.beginTransaction();
      await this.commit(txn);
      await this.abort(txn);
    }
  }
  const sink = new EagerSink();
  await expect(sink.early()).resolves.toBeUndefined();
  expect(sink.calls).toEqual(['begin t0', 'commit t0', 'abort t0']);
});

describe('TwoPhaseCommitSink: a fresh start', () => {
  test('each snapshot pre-commits the open transaction and begins the next; notify commits every pending one up to its id, oldest first', async () => {
    const entries: Entry[] = [];
    const events: ConnectorEvent[] = [];
    const sink = new RecordingSink();
    await sink.initializeState(context(entries, events));
    expect(entries).toEqual([]);
    sink.write('a');
    await sink.snapshotState({ checkpointId: 1 });
    expect(entries).toEqual([{ pending: [[1, { id: 't0' }]], current: { id: 't1' }, subtask: 0 }]);
    sink.write('b');
    await sink.snapshotState({ checkpointId: 3 });
    await sink.snapshotState({ checkpointId: 2 });
    expect(sink.pendingTransactions()).toEqual([[1, { id: 't0' }], [2, { id: 't2' }], [3, { id: 't1' }]]);
    expect(entries).toEqual([{ pending: [[1, { id: 't0' }], [2, { id: 't2' }], [3, { id: 't1' }]], current: { id: 't3' }, subtask: 0 }]);
    await sink.notifyCheckpointComplete(2);
    expect(sink.pendingTransactions()).toEqual([[3, { id: 't1' }]]);
    await sink.notifyCheckpointComplete(2);
    sink.notifyCheckpointAborted();
    await sink.notifyCheckpointComplete(3);
    expect(sink.pendingTransactions()).toEqual([]);
    expect(sink.calls).toEqual(['begin t0', 'write t0 a', 'pre-commit t0', 'begin t1', 'write t1 b', 'pre-commit t1', 'begin t2', 'pre-commit t2', 'begin t3', 'commit t0', 'commit t2', 'commit t1']);
    expect(events.map((event) => `${event.kind} ${event.transaction}${event.checkpointId === undefined ? '' : ` @${event.checkpointId}`}`)).toEqual([
      'begin {"id":"t0"}',
      'pre-commit {"id":"t0"} @1',
      'begin {"id":"t1"}',
      'pre-commit {"id":"t1"} @3',
      'begin {"id":"t2"}',
      'pre-commit {"id":"t2"} @2',
      'begin {"id":"t3"}',
      'commit {"id":"t0"}',
      'commit {"id":"t2"}',
      'commit {"id":"t1"}',
    ]);
  });

  test('after finish the next snapshot pre-commits the last transaction and begins none', async () => {
    const entries: Entry[] = [];
    const sink = new RecordingSink();
    await sink.initializeState(context(entries));
    sink.write('a');
    sink.finish();
    await sink.snapshotState({ checkpointId: 1 });
    expect(entries).toEqual([{ pending: [[1, { id: 't0' }]], current: undefined, subtask: 0 }]);
    await sink.snapshotState({ checkpointId: 2 });
    expect(entries).toEqual([{ pending: [[1, { id: 't0' }]], current: undefined, subtask: 0 }]);
    await sink.notifyCheckpointComplete(2);
    expect(sink.calls).toEqual(['begin t0', 'write t0 a', 'pre-commit t0', 'commit t0']);
  });

  test('a store without union list state is read through getListState', async () => {
    const entries: Entry[] = [{ pending: [[4, { id: 'old0' }]], current: { id: 'old1' } }];
    const sink = new RecordingSink();
    await sink.initializeState(context(entries, [], { union: false }));
    expect(sink.calls).toEqual(['commit old0', 'abort old1', 'begin t0']);
  });
});

describe('TwoPhaseCommitSink: restore', () => {
  test('by default pending transactions are recovered by commit and the in-flight one by abort, each reported; a restore on the same object starts over', async () => {
    const entries: Entry[] = [{ pending: [[1, { id: 'old0' }], [2, { id: 'old1' }]], current: { id: 'old2' }, subtask: 0 }];
    const events: ConnectorEvent[] = [];
    const sink = new RecordingSink();
    await sink.initializeState(context(entries, events));
    expect(sink.calls).toEqual(['commit old0', 'commit old1', 'abort old2', 'begin t0']);
    expect(events.map((event) => [event.kind, event.transaction, event.checkpointId])).toEqual([
      ['commit', '{"id":"old0"}', undefined],
      ['recover-commit', '{"id":"old0"}', 1],
      ['commit', '{"id":"old1"}', undefined],
      ['recover-commit', '{"id":"old1"}', 2],
      ['abort', '{"id":"old2"}', undefined],
      ['recover-abort', '{"id":"old2"}', undefined],
      ['begin', '{"id":"t0"}', undefined],
    ]);
    // The restored state is consumed; the next snapshot writes this attempt's.
    expect(entries).toEqual([]);
    // Restored again on the same object, after a finish and a pending checkpoint: nothing of the old attempt is kept.
    sink.finish();
    await sink.snapshotState({ checkpointId: 5 });
    sink.calls.length = 0;
    await sink.initializeState(context([], []));
    expect(sink.pendingTransactions()).toEqual([]);
    sink.write('c');
    await sink.snapshotState({ checkpointId: 6 });
    expect(sink.calls).toEqual(['begin t1', 'write t1 c', 'pre-commit t1', 'begin t2']);
  });

  test('an entry without a subtask is the restoring subtask\'s own', async () => {
    const sink = new LingeringSink();
    await sink.initializeState(context([{ pending: [], current: { id: 'old0' } }], [], { subtaskIndex: 1, parallelism: 2 }));
    expect(sink.calls).toEqual(['abort old0', 'abort-lingering after old0 (subtask 1 of 2, handed over )', 'begin t0']);
  });

  test('rescaled down, a subtask recovers its own entry and those of removed subtasks that fold onto it, and aborts what each began later', async () => {
    const entries = (): Entry[] => [0, 1, 2, 3, 4].map((subtask) => ({ pending: [[7, { id: `p${subtask}` }]], current: { id: `c${subtask}` }, subtask }));
    const recovered = async (subtaskIndex: number) => {
      const sink = new LingeringSink();
      await sink.initializeState(context(entries(), [], { subtaskIndex, parallelism: 2 }));
      return sink.calls;
    };
    expect(await recovered(1)).toEqual([
      'commit p1',
      'abort c1',
      'commit p3',
      'abort c3',
      'abort-lingering of subtask 3 after c3',
      'abort-lingering after c1 (subtask 1 of 2, handed over 3)',
      'begin t0',
    ]);
    expect(await recovered(0)).toEqual([
      'commit p0',
      'abort c0',
      'commit p2',
      'abort c2',
      'commit p4',
      'abort c4',
      'abort-lingering of subtask 2 after c2',
      'abort-lingering of subtask 4 after c4',
      'abort-lingering after c0 (subtask 0 of 2, handed over 2,4)',
      'begin t0',
    ]);
  });

  test('rescaled up, a new subtask recovers nothing and aborts lingering transactions with nothing in flight', async () => {
    const sink = new LingeringSink();
    await sink.initializeState(context([{ pending: [], current: { id: 'c0' }, subtask: 0 }], [], { subtaskIndex: 1, parallelism: 2 }));
    expect(sink.calls).toEqual(['abort-lingering after none (subtask 1 of 2, handed over )', 'begin t0']);
  });

  test('by default nothing is aborted as lingering', async () => {
    const sink = new RecordingSink();
    await expect(sink.initializeState(context([{ pending: [], current: undefined, subtask: 0 }]))).resolves.toBeUndefined();
    expect(sink.calls).toEqual(['begin t0']);
  });
});

test('describeTransaction is the transaction\'s JSON', () => {
  expect(describeTransaction({ transactionalId: 'x-0-1', epoch: 2 })).toBe('{"transactionalId":"x-0-1","epoch":2}');
});
