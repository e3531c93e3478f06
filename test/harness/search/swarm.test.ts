import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { kafka2pc } from '../../../scenarios/kafka-2pc.ts';
import { decodeCase, encodeCase } from '../../../src/harness/case-token.ts';
import { caseArbitrary } from '../../../src/harness/explore.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';
import {
  SWARM_CHANNEL_CAPACITIES,
  SWARM_CHECKPOINT_INTERVALS_MS,
  SWARM_CHECKPOINT_TIMEOUTS_MS,
  SWARM_MIN_CHECKPOINT_TIMEOUT_MS,
  SWARM_RESTART_DELAYS_MS,
  SWARM_TRANSACTION_TIMEOUTS_MS,
} from '../../../src/harness/swarm.ts';
import { DEFAULT_JOB_OPTIONS } from '../../../src/runtime/job.ts';

const base = { scenario: 'odd-even-sum', size: oddEvenSum.defaultSize, mode: 'exactly-once' as const, backend: 'memory' as const, bug: undefined };
const taskCount = (_: string, size: CaseSpec['size']): number => oddEvenSum.taskCount(size);

describe('configuration swarm', () => {
  test('generated cases draw every swarm value, mode and backend only among what the scenario runs with', () => {
    const specs = fc.sample(caseArbitrary(oddEvenSum, base, 3), { numRuns: 600, seed: 5 });
    const seen = (key: keyof CaseSpec): Set<unknown> => new Set(specs.map((spec) => spec[key]));
    expect(seen('mode')).toEqual(new Set(['exactly-once', 'unaligned']));
    expect(seen('backend')).toEqual(new Set(['memory', 'fs']));
    for (const value of SWARM_CHANNEL_CAPACITIES) expect(seen('channelCapacity')).toContain(value);
    for (const value of SWARM_CHECKPOINT_TIMEOUTS_MS) expect(seen('checkpointTimeoutMs')).toContain(value);
    for (const value of SWARM_CHECKPOINT_INTERVALS_MS) expect(seen('checkpointIntervalMs')).toContain(value);
    for (const value of SWARM_RESTART_DELAYS_MS) expect(seen('restartDelayMs')).toContain(value);
    // odd-even-sum does not declare concurrentCheckpoints: every scenario still draws them.
    expect(seen('maxConcurrentCheckpoints')).toContain(2);
    // odd-even-sum has no transaction timeout to draw.
    expect(seen('transactionTimeoutMs')).toEqual(new Set([undefined]));
    // Half the cases keep the asked-for configuration.
    expect(specs.filter((spec) => spec.channelCapacity === undefined && spec.mode === 'exactly-once' && spec.backend === 'memory').length).toBeGreaterThan(200);
    // Draws stay inside what the invariants and the runtime hold legal.
    for (const spec of specs) {
      if (spec.checkpointTimeoutMs !== undefined) expect(spec.checkpointTimeoutMs).toBeGreaterThanOrEqual(SWARM_MIN_CHECKPOINT_TIMEOUT_MS);
      if (spec.mode === 'unaligned') expect(spec.maxConcurrentCheckpoints).toBeUndefined();
      if ((spec.channelCapacity ?? 8) < 4) expect(spec.checkpointIntervalMs ?? 100).toBeGreaterThanOrEqual(100);
      if (spec.maxConcurrentCheckpoints !== undefined) expect(spec.checkpointIntervalMs).toBeLessThan(DEFAULT_JOB_OPTIONS.checkpointIntervalMs);
    }
  });

  test('an at-least-once exploration stays at-least-once; kafka-2pc draws its transaction timeout and only its backend', () => {
    const atLeastOnce = fc.sample(caseArbitrary(oddEvenSum, { ...base, mode: 'at-least-once' }, 3), { numRuns: 200, seed: 6 });
    expect(new Set(atLeastOnce.map((spec) => spec.mode))).toEqual(new Set(['at-least-once']));
    const kafkaSpecs = fc.sample(caseArbitrary(kafka2pc, { ...base, scenario: 'kafka-2pc', size: kafka2pc.defaultSize, backend: 'fs' }, 3), { numRuns: 300, seed: 5 });
    expect(new Set(kafkaSpecs.map((spec) => spec.backend))).toEqual(new Set(['fs']));
    expect(new Set(kafkaSpecs.map((spec) => spec.transactionTimeoutMs))).toEqual(new Set([undefined, ...SWARM_TRANSACTION_TIMEOUTS_MS]));
  });

  test('a case failing only for one option shrinks to that option alone, every other option at its default', () => {
    const details = fc.check(fc.property(caseArbitrary(oddEvenSum, base, 3), (spec) => spec.restartDelayMs !== 150), { seed: 7, numRuns: 500 });
    expect(details.failed).toBe(true);
    const [shrunk] = details.counterexample!;
    expect(shrunk).toEqual({ ...base, restartDelayMs: 150, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null } });
  });

  test('swarm fields reach the job and round-trip through replay tokens; out-of-bounds values are refused by name', async () => {
    const spec: CaseSpec = { ...base, size: { partitions: 2, recordsPerPartition: 4 }, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null }, channelCapacity: 32, checkpointTimeoutMs: 400, restartDelayMs: 0 };
    const result = await runCase(oddEvenSum, spec);
    expect(result.jobOptions).toMatchObject({ channelCapacity: 32, checkpointTimeoutMs: 400, restartDelayMs: 0, checkpointIntervalMs: DEFAULT_JOB_OPTIONS.checkpointIntervalMs });
    expect(result.observations.settings.checkpointTimeoutMs).toBe(400);
    expect(decodeCase(encodeCase(spec), taskCount)).toEqual(spec);
    const body = JSON.parse(Buffer.from(encodeCase(spec).split(':')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(body['v']).toBe(2);
    const token = (change: Record<string, unknown>): string => `odd-even-sum:${Buffer.from(JSON.stringify({ ...body, ...change })).toString('base64url')}`;
    expect(() => decodeCase(token({ checkpointTimeoutMs: 0 }), taskCount)).toThrow(/replay: checkpointTimeoutMs must be in \[1, /);
    expect(() => decodeCase(token({ checkpointTimeoutMs: 'soon' }), taskCount)).toThrow(/replay: checkpointTimeoutMs/);
    expect(() => decodeCase(token({ v: 1 }), taskCount)).toThrow(/checkpointTimeoutMs need\(s\) token format version 2/);
  });

  test('generated swarm cases of the correct pipelines hold every invariant', { timeout: 240_000 }, async () => {
    for (const [scenario, backend] of [[oddEvenSum, 'memory'], [kafka2pc, 'fs']] as const) {
      for (const mode of ['exactly-once', 'unaligned'] as const) {
        const specs = fc.sample(caseArbitrary(scenario, { ...base, scenario: scenario.name, size: scenario.defaultSize, mode, backend }, 3), { numRuns: 150, seed: 31 });
        for (const spec of specs) {
          const { violations } = await runCase(scenario, spec);
          expect(violations, encodeCase(spec)).toEqual([]);
        }
      }
    }
  });
});
