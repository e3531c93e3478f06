import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { caseArbitrary, runJudged } from '../../src/harness/explore.ts';
import { runCase } from '../../src/harness/run-case.ts';

const SIZE = { partitions: 2, recordsPerPartition: 30 };
const base = { scenario: oddEvenSum.name, size: SIZE, mode: 'exactly-once' as const, bug: undefined };

function violationsOf(result: { violations: { property: string; message: string }[] }): string[] {
  return result.violations.map((v) => `${v.property}: ${v.message}`);
}

describe('odd-even-sum under generated fault plans (exactly-once mode)', () => {
  for (const [mode, backend] of [['exactly-once', 'memory'], ['exactly-once', 'fs'], ['unaligned', 'memory'], ['unaligned', 'fs']] as const) {
    test.prop([caseArbitrary(oddEvenSum, { ...base, mode, backend }, 3)], { numRuns: 150, seed: 11 })(
      `exactly-once, consistent cuts, barrier alignment and liveness hold (${mode}, ${backend} backend)`,
      async (spec) => {
        const result = await runCase(oddEvenSum, spec);
        expect(violationsOf(result)).toEqual([]);
        expect(result.observations.outcome).toBe('finished');
      },
    );
  }

  test.prop([caseArbitrary(oddEvenSum, { ...base, backend: 'memory' }, 3)], { numRuns: 60, seed: 12 })(
    'determinism: the same case twice gives the same trace hash',
    async (spec) => {
      const result = await runJudged(oddEvenSum, spec, { checkDeterminism: true });
      expect(violationsOf(result)).toEqual([]);
    },
  );

  test.prop([fc.nat({ max: 10_000 })], { numRuns: 40, seed: 13 })('random exploration by seed: every invariant holds with up to 3 crashes', async (seed) => {
    const faults = [
      { kind: 'crash-task' as const, atStep: 20 + (seed % 90), task: seed % 4 },
      { kind: 'crash-job' as const, atStep: 60 + (seed % 70) },
      { kind: 'crash-task' as const, atStep: 100 + (seed % 50), task: (seed + 1) % 4 },
    ].sort((a, b) => a.atStep - b.atStep);
    const result = await runCase(oddEvenSum, { ...base, backend: 'fs', faults, schedule: { kind: 'seed', seed } });
    expect(violationsOf(result)).toEqual([]);
    expect(result.observations.restores.length).toBeGreaterThanOrEqual(2);
  });
});

describe('state backend survival semantics', () => {
  const crashJob = [{ kind: 'crash-job' as const, atStep: 150 }];
  test('memory: a job crash loses the completed checkpoints, so the job restarts from scratch', async () => {
    const result = await runCase(oddEvenSum, { ...base, backend: 'memory', faults: crashJob, schedule: { kind: 'seed', seed: 3 } });
    expect(result.observations.restores.map((r) => r.checkpointId)).toEqual([undefined, undefined]);
    expect(result.violations).toEqual([]);
  });
  test('fs: a job crash restores the latest completed checkpoint', async () => {
    const result = await runCase(oddEvenSum, { ...base, backend: 'fs', faults: crashJob, schedule: { kind: 'seed', seed: 3 } });
    const restoredFrom = result.observations.restores[1]!.checkpointId;
    expect(restoredFrom).toBeGreaterThan(0);
    const completedBefore = result.observations.checkpoints.filter((c) => c.outcome === 'completed' && c.endedAtStep < 150).map((c) => c.checkpointId);
    expect(restoredFrom).toBe(Math.max(...completedBefore));
    expect(result.violations).toEqual([]);
  });
  test('a task crash restores the latest completed checkpoint with either backend', async () => {
    const result = await runCase(oddEvenSum, { ...base, backend: 'memory', faults: [{ kind: 'crash-task', atStep: 150, task: 3 }], schedule: { kind: 'seed', seed: 3 } });
    expect(result.observations.restores[1]!.checkpointId).toBeGreaterThan(0);
  });
});

describe('unaligned checkpoints', () => {
  test('in-flight records become channel state and are replayed on restore', async () => {
    let checkpointsWithChannelState = 0;
    for (let seed = 0; seed < 40; seed++) {
      const result = await runCase(oddEvenSum, {
        ...base,
        mode: 'unaligned',
        backend: 'fs',
        faults: [{ kind: 'crash-task', atStep: 100 + (seed % 60), task: seed % 4 }],
        schedule: { kind: 'seed', seed },
      });
      expect(violationsOf(result)).toEqual([]);
      for (const checkpoint of result.observations.checkpoints) {
        if (checkpoint.outcome === 'completed' && checkpoint.tasks!.some((task) => (task.channelState ?? []).some((records) => records.length > 0))) {
          checkpointsWithChannelState++;
        }
      }
    }
    // Otherwise the unaligned runs above would prove nothing about channel state.
    expect(checkpointsWithChannelState).toBeGreaterThan(10);
  });
});
