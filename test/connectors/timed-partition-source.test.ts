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

  it('reads a log of its own making through the interface exactly as timedPartitionLog\'s (which it indexes directly)', () => {
    const built = timedPartitionLog([[{ value: 'a', arrivalMs: 0 }, { value: 'b', arrivalMs: 50 }, { value: 'c', arrivalMs: 50 }], []]);
    // The same records behind plain closures: not known to the reader, so every read goes through endOffset/arrivalMs/read.
    const wrapped = { endOffset: (p: number) => built.endOffset(p), arrivalMs: (p: number, o: number) => built.arrivalMs(p, o), read: (p: number, o: number) => built.read(p, o) };
    const answers = (log: typeof built, partition: number): unknown[] => {
      const clock = { nowMs: 0 };
      const reader = new TimedPartitionSourceReader(log, partition, () => clock.nowMs);
      reader.initializeState(context(new Map(), false));
      const seen: unknown[] = [];
      for (const nowMs of [0, 0, 10, 50, 50, 50, 60]) {
        clock.nowMs = nowMs;
        seen.push(reader.pollNext(), reader.availableAtMs?.(), reader.currentPosition().offset);
      }
      return seen;
    };
    expect(answers(built, 0)).toEqual(answers(wrapped, 0));
    expect(answers(built, 0).slice(0, 6)).toEqual(['a', 50, 1, NOTHING_AVAILABLE, 50, 1]);
    expect(answers(built, 0)).toContain(END_OF_INPUT);
    // An empty partition, and one the log does not have, end at once either way.
    expect(answers(built, 1)).toEqual(answers(wrapped, 1));
    expect(answers(built, 7)).toEqual(answers(wrapped, 7));
    expect(answers(built, 7)[0]).toBe(END_OF_INPUT);
  });

  it('refuses arrival times that go back', () => {
    expect(() => timedPartitionLog([[{ value: 1, arrivalMs: 5 }, { value: 2, arrivalMs: 4 }]])).toThrow(/arrivalMs goes back at offset 1/);
  });
});
