import { describe, expect, it } from 'vitest';
import { END_OF_INPUT, NOTHING_AVAILABLE, type FunctionInitializationContext, type ListState } from '../../src/connectors/api.ts';
import { timedPartitionLog, TimedPartitionSourceReader } from '../../src/connectors/timed-partition-source.ts';

function context(lists: Map<string, unknown[]>, restored: boolean): FunctionInitializationContext {
  return {
    isRestored: () => restored,
    restoredCheckpointId: restored ? 1 : undefined,
    getOperatorStateStore: () => ({
      getListState: <T>(name: string): ListState<T> => {
        if (!lists.has(name)) lists.set(name, []);
        const list = lists.get(name)! as T[];
        return { get: () => list, update: (v) => list.splice(0, list.length, ...v), add: (v) => list.push(v), clear: () => list.splice(0) };
      },
    }),
    subtaskIndex: 0,
    parallelism: 1,
    attemptNumber: 0,
    report: () => {},
  };
}

describe('TimedPartitionSourceReader', () => {
  it('answers NOTHING_AVAILABLE until a record arrived, then END_OF_INPUT, and rewinds on restore', () => {
    const log = timedPartitionLog([[{ value: 'a', arrivalMs: 0 }, { value: 'b', arrivalMs: 50 }]]);
    const clock = { nowMs: 0 };
    const reader = new TimedPartitionSourceReader(log, 0, () => clock.nowMs);
    const lists = new Map<string, unknown[]>();
    reader.initializeState(context(lists, false));
    expect(reader.pollNext()).toBe('a');
    expect(reader.pollNext()).toBe(NOTHING_AVAILABLE);
    reader.snapshotState();
    clock.nowMs = 50;
    expect(reader.pollNext()).toBe('b');
    expect(reader.pollNext()).toBe(END_OF_INPUT);
    const restored = new TimedPartitionSourceReader(log, 0, () => clock.nowMs);
    restored.initializeState(context(lists, true));
    expect(restored.currentPosition()).toEqual({ split: 'partition-0', offset: 1 });
    expect(restored.pollNext()).toBe('b');
  });

  it('refuses arrival times that go back', () => {
    expect(() => timedPartitionLog([[{ value: 1, arrivalMs: 5 }, { value: 2, arrivalMs: 4 }]])).toThrow(/arrivalMs goes back at offset 1/);
  });
});
