import { describe, expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { keyGroupOf, keyGroupRangeOf, operatorIndexOf, subtaskOfKey } from '../../src/runtime/key-groups.ts';
import { redistributeCheckpoint, rescalableVertexOf } from '../../src/runtime/rescale.ts';
import type { CompletedCheckpoint, SubtaskSnapshot } from '../../src/runtime/state.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { kafka2pc } from '../../scenarios/kafka-2pc.ts';
import { runCase } from '../../src/harness/run-case.ts';
import { parseFaultPlan } from '../../src/runtime/faults.ts';
import { checkRescaleState } from '../../properties/rescale.ts';
import { encodeCase, decodeCase } from '../../src/harness/case-token.ts';
import type { CaseSpec } from '../../src/harness/run-case.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import { SimEnvironment } from '../../src/connectors/sim/environment.ts';
import { pipelineToJobGraph } from '../../src/runtime/job-graph.ts';

const RUN_TIMEOUT_MS = 120_000;

describe('key groups (Flink KeyGroupRangeAssignment)', () => {
  propTest.prop([fc.integer({ min: 1, max: 256 }), fc.integer({ min: 1, max: 64 })])('the ranges of p subtasks cover every key group once, in order, and operatorIndexOf agrees', (maxParallelism: number, p: number) => {
    const parallelism = Math.min(p, maxParallelism);
    let next = 0;
    for (let subtask = 0; subtask < parallelism; subtask++) {
      const range = keyGroupRangeOf(maxParallelism, parallelism, subtask);
      expect(range.first).toBe(next);
      for (let keyGroup = range.first; keyGroup <= range.last; keyGroup++) expect(operatorIndexOf(keyGroup, maxParallelism, parallelism)).toBe(subtask);
      next = range.last + 1;
    }
    expect(next).toBe(maxParallelism);
  });

  propTest.prop([fc.oneof(fc.string(), fc.integer()), fc.integer({ min: 1, max: 128 })])('a key routes to the subtask whose range holds its key group', (key: string | number, maxParallelism: number) => {
    const parallelism = 1 + (Math.abs(keyGroupOf(key, 7)) % Math.min(maxParallelism, 8));
    const subtask = subtaskOfKey(key, maxParallelism, parallelism);
    const range = keyGroupRangeOf(maxParallelism, parallelism, subtask);
    const keyGroup = keyGroupOf(key, maxParallelism);
    expect(keyGroup).toBeGreaterThanOrEqual(range.first);
    expect(keyGroup).toBeLessThanOrEqual(range.last);
  });

  test('the parity keys of the built-in scenarios spread over both keyed subtasks at the default 32 key groups', () => {
    expect(new Set([0, 1].map((key) => subtaskOfKey(key, 32, 2))).size).toBe(2);
  });
});

const snapshot = (keys: number[], list: unknown[], union: unknown[] = []): SubtaskSnapshot => ({
  operatorState: { list, union },
  unionStates: ['union'],
  keyedState: { sum: keys.map((key) => [key, key * 10] as const) },
  timers: keys.map((key) => ({ operator: 'fn', key, timestampMs: key, domain: 'event-time' as const })),
});

describe('redistributing a checkpoint to another parallelism', () => {
  const source: SubtaskSnapshot = { operatorState: { offsets: [7] }, keyedState: {} };
  const checkpoint: CompletedCheckpoint = {
    checkpointId: 3,
    triggeredAtStep: 1,
    completedAtStep: 2,
    tasks: [source, snapshot([0, 2, 4, 6], ['a', 'b'], ['u0']), snapshot([1, 3, 5, 7, 9], ['c'], ['u1'])],
  };
  const vertex = { vertex: 1, firstTask: 1, parallelism: 2 };

  for (const to of [1, 3, 4]) {
    test(`2 -> ${to}: keyed state and timers by key group, list state split evenly, union state whole everywhere, sources untouched`, () => {
      const { checkpoint: fitted, moved } = redistributeCheckpoint(checkpoint, vertex, to, { maxParallelism: 32, keyedStateByOldSubtask: false, dropsOperatorStatePart: false });
      expect(fitted.tasks).toHaveLength(1 + to);
      expect(fitted.tasks[0]).toBe(source);
      const keys = fitted.tasks.slice(1).flatMap((task, subtask) => (task.keyedState['sum'] ?? []).map(([key]) => (expect(subtaskOfKey(key, 32, to)).toBe(subtask), key)));
      expect(keys.sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 9]);
      fitted.tasks.slice(1).forEach((task, subtask) => {
        for (const timer of task.timers ?? []) expect(subtaskOfKey(timer.key, 32, to)).toBe(subtask);
        expect(task.operatorState['union']).toEqual(['u0', 'u1']);
      });
      const shares = fitted.tasks.slice(1).map((task) => task.operatorState['list']!.length);
      expect(fitted.tasks.slice(1).flatMap((task) => task.operatorState['list'])).toEqual(['a', 'b', 'c']);
      expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      expect(checkRescaleState({ rescales: [{ ...moved, seq: 0, atStep: 0, attempt: 1, vertexName: 'sum' }] } as never)).toEqual([]);
    });
  }

  test('the planted bugs are judged by rescale-state: state on a subtask that does not own its key group, a dropped list-state part', () => {
    const wrong = redistributeCheckpoint(checkpoint, vertex, 3, { maxParallelism: 32, keyedStateByOldSubtask: true, dropsOperatorStatePart: false }).moved;
    const dropped = redistributeCheckpoint(checkpoint, vertex, 3, { maxParallelism: 32, keyedStateByOldSubtask: false, dropsOperatorStatePart: true }).moved;
    const judge = (moved: typeof wrong) => checkRescaleState({ rescales: [{ ...moved, seq: 0, atStep: 0, attempt: 1, vertexName: 'sum' }] } as never).map((v) => v.anomaly);
    expect(judge(wrong)).toContain('inconsistent offsets');
    expect(judge(dropped)).toContain('lost write');
  });

  test('the rescalable part of a job is its keyed last vertex, after every vertex that keeps its tasks', () => {
    const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100, keepTrace: false });
    const built = oddEvenSum.build({ scheduler, env: new SimEnvironment(scheduler), size: oddEvenSum.defaultSize, bug: undefined });
    const spec = 'stages' in built.pipeline ? pipelineToJobGraph(built.pipeline) : built.pipeline;
    expect(rescalableVertexOf(spec)).toEqual({ vertex: spec.vertices.length - 1, firstTask: oddEvenSum.defaultSize.partitions, parallelism: 2 });
  });
});

describe('rescale faults', () => {
  test('a plan names a rescale by a non-zero step; zero or a fraction is refused by name', () => {
    expect(parseFaultPlan([{ kind: 'rescale', atStep: 5, by: -1 }], 4, 'test')).toEqual([{ kind: 'rescale', atStep: 5, by: -1 }]);
    expect(() => parseFaultPlan([{ kind: 'rescale', atStep: 5, by: 0 }], 4, 'test')).toThrow(/by must be a non-zero integer/);
    expect(() => parseFaultPlan([{ kind: 'rescale', atStep: 5, by: 1.5 }], 4, 'test')).toThrow(/by must be a non-zero integer/);
  });

  for (const [scenario, backend] of [[oddEvenSum, 'fs'], [kafka2pc, 'fs']] as const) {
    for (const by of [1, -1, 2]) {
      test(`${scenario.name}: rescaled ${by > 0 ? 'up' : 'down'} by ${Math.abs(by)} after a checkpoint, the job finishes with every invariant holding and the token replays it`, async () => {
        const spec: CaseSpec = { scenario: scenario.name, size: scenario.defaultSize, mode: 'exactly-once', backend, bug: undefined, faults: [{ kind: 'rescale', atStep: 90, by }], schedule: { kind: 'seed', seed: 3 }, checkpointIntervalMs: 30 };
        const result = await runCase(scenario, spec);
        expect(result.violations).toEqual([]);
        expect(result.observations.outcome).toBe('finished');
        const rescales = result.observations.rescales ?? [];
        expect(rescales.length).toBeGreaterThan(0);
        expect(rescales[0]!.toParallelism).toBe(Math.max(1, 2 + by));
        const again = await runCase(scenario, decodeCase(encodeCase(spec), () => scenario.taskCount(scenario.defaultSize)));
        expect(again.observations.traceHash).toBe(result.observations.traceHash);
      }, RUN_TIMEOUT_MS);
    }
  }

  test('the rocksdb backend hands rescaled keyed state over as entries (keyed-counts scenario)', async () => {
    const { keyedCounts } = await import('../../scenarios/keyed-counts.ts');
    const scenario = { ...keyedCounts, faultKinds: [...keyedCounts.faultKinds, 'rescale' as const] };
    for (const by of [1, -1]) {
      const result = await runCase(scenario, { scenario: scenario.name, size: scenario.defaultSize, mode: 'exactly-once', backend: 'rocksdb', bug: undefined, faults: [{ kind: 'rescale', atStep: 120, by }], schedule: { kind: 'seed', seed: 5 }, checkpointIntervalMs: 30 });
      expect(result.violations).toEqual([]);
      expect(result.observations.outcome).toBe('finished');
      expect((result.observations.rescales ?? []).length).toBeGreaterThan(0);
    }
  }, RUN_TIMEOUT_MS);
});

describe('rescale faults that name the source: its splits reassigned', () => {
  test('a plan names the source by vertex "source"; any other vertex is refused by name', () => {
    expect(parseFaultPlan([{ kind: 'rescale', atStep: 5, by: -1, vertex: 'source' }], 4, 'test')).toEqual([{ kind: 'rescale', atStep: 5, by: -1, vertex: 'source' }]);
    expect(() => parseFaultPlan([{ kind: 'rescale', atStep: 5, by: -1, vertex: 'sum' }], 4, 'test')).toThrow(/vertex must be "source" or absent/);
  });

  const plans = {
    '2 -> 1': [{ kind: 'rescale', atStep: 90, by: -1, vertex: 'source' }],
    '2 -> 1 -> 2': [
      { kind: 'rescale', atStep: 90, by: -1, vertex: 'source' },
      { kind: 'rescale', atStep: 200, by: 1, vertex: 'source' },
    ],
  } as const;
  for (const [name, faults] of Object.entries(plans)) {
    for (const mode of ['exactly-once', 'unaligned'] as const) {
      test(`odd-even-sum, ${mode}: the source rescaled ${name}; every split resumes once, at its checkpointed offset, the output is exact and the token replays it`, async () => {
        const spec: CaseSpec = { scenario: oddEvenSum.name, size: oddEvenSum.defaultSize, mode, backend: 'fs', bug: undefined, faults, schedule: { kind: 'seed', seed: 3 }, checkpointIntervalMs: 30 };
        const result = await runCase(oddEvenSum, spec);
        expect(result.violations).toEqual([]);
        expect(result.observations.outcome).toBe('finished');
        const rescales = result.observations.rescales ?? [];
        expect(rescales.map((r) => [r.fromParallelism, r.toParallelism])).toEqual(faults.length === 1 ? [[2, 1]] : [[2, 1], [1, 2]]);
        for (const rescale of rescales) {
          expect(rescale.splits!.moves.map((move) => move.split)).toEqual(['partition-0', 'partition-1']);
          expect(rescale.splits!.moves.every((move) => move.restoredOffset === move.checkpointedOffset && move.checkpointedOffset > 0)).toBe(true);
          expect(rescale.splits!.moves.map((move) => move.toSubtask)).toEqual(rescale.toParallelism === 1 ? [0, 0] : [0, 1]);
          // The subtasks that own the splits start them where the checkpoint holds them.
          const starts = result.observations.sourcePositions.filter((p) => p.kind === 'start' && p.attempt === rescale.attempt);
          expect(starts.map((p) => [result.observations.taskNames[p.task], p.position.split, p.position.offset]).sort()).toEqual(
            rescale.splits!.moves.map((move) => [`numbers>parity[${move.toSubtask}]`, move.split, move.checkpointedOffset]).sort(),
          );
        }
        // Every split ends at the end of its partition, read there by one subtask.
        const ends = result.observations.sourcePositions.filter((p) => p.kind === 'end' && p.attempt === result.observations.restores.at(-1)!.attempt);
        expect(ends.map((p) => `${p.position.split}@${p.position.offset}`).sort()).toEqual(['partition-0@40', 'partition-1@40']);
        const again = await runCase(oddEvenSum, decodeCase(encodeCase(spec), () => oddEvenSum.taskCount(oddEvenSum.defaultSize)));
        expect(again.observations.traceHash).toBe(result.observations.traceHash);
      }, RUN_TIMEOUT_MS);
    }
  }

  test('kafka-2pc: the source rescaled 2 -> 1 -> 2, then the keyed part up; the 2PC sink and every invariant hold', async () => {
    const faults = [
      { kind: 'rescale', atStep: 90, by: -1, vertex: 'source' },
      { kind: 'rescale', atStep: 200, by: 1, vertex: 'source' },
      { kind: 'rescale', atStep: 260, by: 1 },
    ] as const;
    const result = await runCase(kafka2pc, { scenario: kafka2pc.name, size: kafka2pc.defaultSize, mode: 'unaligned', backend: 'fs', bug: undefined, faults, schedule: { kind: 'seed', seed: 4 }, checkpointIntervalMs: 30 });
    expect(result.violations).toEqual([]);
    expect(result.observations.outcome).toBe('finished');
    // The keyed rescale restores a checkpoint taken while one source subtask read both splits: its splits are reassigned again.
    expect((result.observations.rescales ?? []).map((r) => [r.vertexName, r.fromParallelism, r.toParallelism])).toEqual([
      ['numbers>parity', 2, 1],
      ['numbers>parity', 1, 2],
      ['sum>redis', 2, 3],
      ['numbers>parity', 1, 2],
    ]);
  }, RUN_TIMEOUT_MS);

  test('the planted bug rescale-drops-split-state is caught by rescale-state and exactly-once with one source rescale', async () => {
    const result = await runCase(oddEvenSum, { scenario: oddEvenSum.name, size: oddEvenSum.defaultSize, mode: 'exactly-once', backend: 'fs', bug: 'rescale-drops-split-state', faults: plans['2 -> 1'], schedule: { kind: 'seed', seed: 3 }, checkpointIntervalMs: 30 });
    expect(result.violations.find((v) => v.property === 'rescale-state')?.message).toMatch(/split partition-1 \(old subtask 1, checkpointed at offset \d+\) resumes on new subtask 0 at offset 0/);
    expect(result.violations.some((v) => v.property === 'exactly-once' && v.anomaly === 'duplicate')).toBe(true);
  }, RUN_TIMEOUT_MS);
});
