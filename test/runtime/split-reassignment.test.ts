import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { reassignSplits, rescalableSourceOf, type SplitReassignment, type SplitState } from '../../src/runtime/split-reassignment.ts';
import { checkRescaleState } from '../../properties/rescale.ts';
import type { RunObservations } from '../../src/runtime/observations.ts';
import type { JobGraphSpec, VertexSpec } from '../../src/runtime/job-graph.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import { SimEnvironment } from '../../src/connectors/sim/environment.ts';
import { pipelineToJobGraph } from '../../src/runtime/job-graph.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';

const split = (partition: number, offset: number): SplitState => ({ index: partition, position: { split: `partition-${partition}`, offset }, operatorState: { offsets: [offset] } });

/** The rescale-state verdicts on one rescaled source restore. */
function judge(splits: SplitReassignment, toParallelism: number): string[] {
  const rescale = { seq: 0, atStep: 0, attempt: 1, checkpointId: 3, vertexName: 'numbers', firstTask: 0, fromParallelism: splits.before.length, toParallelism, maxParallelism: 32, keysBefore: {}, listStatesBefore: {}, subtasks: [], splits };
  return checkRescaleState({ rescales: [rescale] } as unknown as RunObservations).map((violation) => violation.anomaly);
}

describe('reassigning source splits on a rescaled restore (FLIP-27 reader state, even-split)', () => {
  test('2 -> 1: the one subtask gets both splits, in old-subtask order, at their checkpointed offsets', () => {
    const { subtasks, reassignment } = reassignSplits([[split(0, 7)], [split(1, 4)]], 1, { dropsSplitState: false });
    expect(subtasks).toEqual([[split(0, 7), split(1, 4)]]);
    expect(reassignment.moves).toEqual([
      { split: 'partition-0', fromSubtask: 0, toSubtask: 0, checkpointedOffset: 7, restoredOffset: 7 },
      { split: 'partition-1', fromSubtask: 1, toSubtask: 0, checkpointedOffset: 4, restoredOffset: 4 },
    ]);
    expect(judge(reassignment, 1)).toEqual([]);
  });

  test('1 -> 2 (one subtask started with two splits): each new subtask gets one, state and position with it', () => {
    const { subtasks } = reassignSplits([[split(0, 7), split(1, 4)]], 2, { dropsSplitState: false });
    expect(subtasks).toEqual([[split(0, 7)], [split(1, 4)]]);
  });

  test('3 -> 2 over five splits: contiguous runs of 3 and 2 in old-subtask order', () => {
    const { reassignment } = reassignSplits([[split(0, 1), split(1, 2)], [split(2, 3)], [split(3, 4), split(4, 5)]], 2, { dropsSplitState: false });
    expect(reassignment.after.map((positions) => positions.map((p) => p.split))).toEqual([
      ['partition-0', 'partition-1', 'partition-2'],
      ['partition-3', 'partition-4'],
    ]);
  });

  test('a source runs with 1..N subtasks for N splits: more subtasks than splits is refused', () => {
    expect(() => reassignSplits([[split(0, 0)], [split(1, 0)]], 3, { dropsSplitState: false })).toThrow(/runs with 1\.\.2 subtasks, not 3/);
    expect(() => reassignSplits([[split(0, 0)], [split(1, 0)]], 0, { dropsSplitState: false })).toThrow(/not 0/);
  });

  propTest.prop([fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 1, maxLength: 6 }), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 50 })])(
    'every split lands on exactly one new subtask at its checkpointed position, in contiguous even runs, and rescale-state agrees',
    (splitsPerOldSubtask: number[], seed: number, baseOffset: number) => {
      let partition = 0;
      const old = splitsPerOldSubtask.map((count) => Array.from({ length: count }, () => split(partition, baseOffset + ((partition++ * 7 + seed) % 13))));
      const total = partition;
      const toParallelism = 1 + (seed % total);
      const { subtasks, reassignment } = reassignSplits(old, toParallelism, { dropsSplitState: false });
      expect(subtasks).toHaveLength(toParallelism);
      expect(subtasks.flat()).toEqual(old.flat());
      const shares = subtasks.map((states) => states.length);
      expect(Math.min(...shares)).toBeGreaterThanOrEqual(1);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      expect(reassignment.moves.every((move) => move.restoredOffset === move.checkpointedOffset)).toBe(true);
      expect(judge(reassignment, toParallelism)).toEqual([]);
    },
  );

  test('the planted bug (a split state dropped: the split restarts from offset 0) is judged by rescale-state as records read twice', () => {
    const { reassignment } = reassignSplits([[split(0, 7)], [split(1, 4)]], 1, { dropsSplitState: true });
    expect(reassignment.moves[1]).toEqual({ split: 'partition-1', fromSubtask: 1, toSubtask: 0, checkpointedOffset: 4, restoredOffset: 0 });
    const verdicts = checkRescaleState({ rescales: [{ seq: 0, atStep: 0, attempt: 1, checkpointId: 3, vertexName: 'numbers', firstTask: 0, fromParallelism: 2, toParallelism: 1, maxParallelism: 32, keysBefore: {}, listStatesBefore: {}, subtasks: [], splits: reassignment }] } as unknown as RunObservations);
    expect(verdicts.map((v) => v.anomaly)).toEqual(['inconsistent offsets']);
    expect(verdicts[0]!.message).toMatch(/partition-1 \(old subtask 1, checkpointed at offset 4\) resumes on new subtask 0 at offset 0: records 0\.\.3 are read twice/);
  });

  test('rescale-state judges a lost split, a split read by two subtasks, a split never checkpointed and an empty subtask', () => {
    const before = [[{ split: 'a', offset: 1 }], [{ split: 'b', offset: 2 }]];
    const moves: SplitReassignment['moves'] = [];
    expect(judge({ before, after: [[{ split: 'a', offset: 1 }]], moves }, 1)).toEqual(['lost write']);
    expect(judge({ before, after: [[{ split: 'a', offset: 1 }, { split: 'b', offset: 2 }], [{ split: 'b', offset: 2 }]], moves }, 2)).toEqual(['duplicate']);
    expect(judge({ before, after: [[{ split: 'a', offset: 1 }], [{ split: 'b', offset: 2 }, { split: 'c', offset: 0 }]], moves }, 2)).toEqual(['duplicate']);
    expect(judge({ before, after: [[{ split: 'a', offset: 1 }, { split: 'b', offset: 2 }], []], moves }, 2)).toEqual(['uneven split']);
    expect(judge({ before, after: [[{ split: 'a', offset: 1 }], [{ split: 'b', offset: 3 }]], moves }, 2)).toEqual(['inconsistent offsets']);
  });
});

describe('which source vertex can rescale alone', () => {
  test('odd-even-sum: its source, whose splits are the partitions it was built with, feeding the keyed sum by hash', () => {
    const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100, keepTrace: false });
    const built = oddEvenSum.build({ scheduler, env: new SimEnvironment(scheduler), size: oddEvenSum.defaultSize, bug: undefined });
    const spec = 'stages' in built.pipeline ? pipelineToJobGraph(built.pipeline) : built.pipeline;
    expect(rescalableSourceOf(spec)).toEqual({ vertex: 0, firstTask: 0, parallelism: 2, splits: 2 });
  });

  const vertex = (id: number, name: string, source: boolean): VertexSpec => ({
    id,
    name,
    parallelism: 2,
    source: source ? { name, create: () => ({}) as never, watermarks: undefined } : undefined,
    operators: [],
    inputCount: source ? 0 : 1,
  });

  test('a source feeding a forward edge is excluded, naming the vertex it is tied to', () => {
    const spec: JobGraphSpec = { name: 'forwarded', vertices: [vertex(0, 'numbers', true), vertex(1, 'map', false)], edges: [{ from: 0, output: 'main', to: 1, input: 1, partitioning: { kind: 'forward' } }] };
    expect(rescalableSourceOf(spec)).toEqual({ excluded: expect.stringMatching(/numbers feeds map by a forward edge/) });
  });

  test('a source chained with a stateful operator, or with a watermark strategy, is excluded (state and watermarks kept per subtask, not per split)', () => {
    const sink = { ...vertex(0, 'numbers', true), operators: [{ kind: 'sink' as const, name: 'out', create: () => ({ write: () => {} }) }] };
    expect(rescalableSourceOf({ name: 'chained', vertices: [sink], edges: [] })).toEqual({ excluded: expect.stringMatching(/chains sink out after its source/) });
    const timed = vertex(0, 'readings', true);
    const stamped = { ...timed, source: { ...timed.source!, watermarks: {} as never } };
    expect(rescalableSourceOf({ name: 'timed', vertices: [stamped], edges: [] })).toEqual({ excluded: expect.stringMatching(/watermark strategy/) });
  });

  test('a job with two sources is excluded (a source rescale names one source)', () => {
    const spec: JobGraphSpec = { name: 'two-sources', vertices: [vertex(0, 'orders', true), vertex(1, 'payments', true)], edges: [] };
    expect(rescalableSourceOf(spec)).toEqual({ excluded: expect.stringMatching(/2 source vertices/) });
  });
});
