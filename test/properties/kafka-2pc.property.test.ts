import { test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { kafka2pc } from '../../scenarios/kafka-2pc.ts';
import { caseArbitrary } from '../../src/harness/explore.ts';
import { runCase } from '../../src/harness/run-case.ts';

const base = { scenario: kafka2pc.name, size: { partitions: 2, recordsPerPartition: 25 }, backend: 'fs' as const, bug: undefined };

describe('kafka-2pc under generated fault plans (crashes, failing commits, lost notifications)', () => {
  for (const mode of ['exactly-once', 'unaligned'] as const) {
    test.prop([caseArbitrary(kafka2pc, { ...base, mode }, 3)], { numRuns: 200, seed: 21 })(
      `2PC invariants, exactly-once output and liveness hold (${mode})`,
      async (spec) => {
        const result = await runCase(kafka2pc, spec);
        expect(result.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
      },
    );
  }
});

describe('kafka-2pc recovery paths', () => {
  test('concurrent checkpoints: overlapping checkpoints, subsumed ones, and still exactly-once', async () => {
    let overlapping = 0;
    for (let seed = 0; seed < 30; seed++) {
      const result = await runCase(kafka2pc, {
        ...base,
        mode: seed % 2 === 0 ? 'exactly-once' : 'unaligned',
        faults: [{ kind: 'crash-task', atStep: 60 + seed, task: seed % 4 }],
        schedule: { kind: 'seed', seed },
        maxConcurrentCheckpoints: 2,
        checkpointIntervalMs: 12,
      });
      expect(result.violations).toEqual([]);
      const checkpoints = result.observations.checkpoints;
      for (let i = 1; i < checkpoints.length; i++) if (checkpoints[i]!.triggeredAtStep < checkpoints[i - 1]!.endedAtStep) overlapping++;
    }
    expect(overlapping).toBeGreaterThan(30);
  });

  test('a broker transaction timeout between pre-commit and commit loses data, and the invariants say so', async () => {
    // Find the moment a pre-committed transaction is waiting for its notification, then time it out.
    const probe = await runCase(kafka2pc, { ...base, mode: 'exactly-once', faults: [], schedule: { kind: 'seed', seed: 8 } });
    const firstCompleted = probe.observations.checkpoints.find((c) => c.outcome === 'completed')!;
    const result = await runCase(kafka2pc, { ...base, mode: 'exactly-once', faults: [{ kind: 'expire-transactions', atStep: firstCompleted.endedAtStep }], schedule: { kind: 'seed', seed: 8 } });
    const properties = new Set(result.violations.map((v) => v.property));
    expect(properties.has('completed-implies-committed') || properties.has('exactly-once')).toBe(true);
    expect(result.violations.some((v) => v.anomaly === 'lost write')).toBe(true);
  });

  test('a commit that fails twice is retried through failover and restore until it goes through', async () => {
    const result = await runCase(kafka2pc, { ...base, mode: 'exactly-once', faults: [{ kind: 'fail-commit', atStep: 0, times: 2 }], schedule: { kind: 'seed', seed: 4 } });
    expect(result.violations).toEqual([]);
    expect((result.output as { failedCommits: number }).failedCommits).toBe(2);
    expect(result.observations.restores.length).toBeGreaterThanOrEqual(2);
  });

  test('an abort that fails during recovery fails the recovery, and the next one gets through', async () => {
    let failedAborts = 0;
    for (let seed = 0; seed < 20; seed++) {
      const crashAt = 80 + 7 * seed;
      const result = await runCase(kafka2pc, {
        ...base,
        mode: 'exactly-once',
        // Armed just before a crash: the restore's abort of the in-flight transaction is the next abort.
        faults: [{ kind: 'fail-abort', atStep: crashAt - 1, times: 1 }, { kind: 'crash-task', atStep: crashAt, task: 2 }],
        schedule: { kind: 'seed', seed },
      });
      expect(result.violations).toEqual([]);
      failedAborts += (result.output as { failedAborts: number }).failedAborts;
    }
    // Only an in-flight transaction that already sent records is open at the broker and needs an abort.
    expect(failedAborts).toBeGreaterThan(0);
  });

  test('a lost notify-complete leaves the transaction pending until a later checkpoint commits it', async () => {
    const result = await runCase(kafka2pc, { ...base, mode: 'exactly-once', faults: [{ kind: 'drop-notify', atStep: 0 }], schedule: { kind: 'seed', seed: 5 } }, { keepTrace: true });
    expect(result.violations).toEqual([]);
    expect(result.trace.some((entry) => /notify-complete \d+ to .* lost/.test(entry.event))).toBe(true);
  });

  test('the memory backend cannot keep a Kafka sink exactly-once across a coordinator crash: the search finds the duplicate', async () => {
    // Step 150: after the first checkpoint's transactions were committed, so the restart from scratch writes them again.
    const faults = [{ kind: 'crash-job' as const, atStep: 150 }];
    const result = await runCase(kafka2pc, { ...base, backend: 'memory', mode: 'exactly-once', faults, schedule: { kind: 'seed', seed: 6 } });
    expect(result.observations.restores.map((r) => r.checkpointId)).toEqual([undefined, undefined]);
    expect(result.violations.some((v) => v.anomaly === 'duplicate')).toBe(true);
  });
});
