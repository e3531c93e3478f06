import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { kafka2pc } from '../../../scenarios/kafka-2pc.ts';
import { decodeCase, encodeCase } from '../../../src/harness/case-token.ts';
import { caseArbitrary } from '../../../src/harness/explore.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';
import { SWARM_CHANNEL_CAPACITIES, SWARM_CHECKPOINT_TIMEOUTS_MS, SWARM_RESTART_DELAYS_MS } from '../../../src/harness/swarm.ts';
import { DEFAULT_JOB_OPTIONS } from '../../../src/runtime/job.ts';

const base = { scenario: 'odd-even-sum', size: oddEvenSum.defaultSize, mode: 'exactly-once' as const, backend: 'memory' as const, bug: undefined };
const taskCount = (_: string, size: CaseSpec['size']): number => oddEvenSum.taskCount(size);

describe('configuration swarm', () => {
  test('generated cases draw every swarm value, mode and backend only among what the scenario runs with', () => {
    const specs = fc.sample(caseArbitrary(oddEvenSum, base, 3), { numRuns: 400, seed: 5 });
    const seen = (key: keyof CaseSpec): Set<unknown> => new Set(specs.map((spec) => spec[key]));
    expect(seen('mode')).toEqual(new Set(['exactly-once', 'unaligned']));
    expect(seen('backend')).toEqual(new Set(['memory', 'fs']));
    for (const value of SWARM_CHANNEL_CAPACITIES) expect(seen('channelCapacity')).toContain(value);
    for (const value of SWARM_CHECKPOINT_TIMEOUTS_MS) expect(seen('checkpointTimeoutMs')).toContain(value);
    for (const value of SWARM_RESTART_DELAYS_MS) expect(seen('restartDelayMs')).toContain(value);
    // odd-even-sum does not declare concurrentCheckpoints: every scenario still draws them.
    expect(seen('maxConcurrentCheckpoints')).toContain(2);
    // Half the cases keep the asked-for configuration.
    expect(specs.filter((spec) => spec.channelCapacity === undefined && spec.mode === 'exactly-once' && spec.backend === 'memory').length).toBeGreaterThan(100);

    const kafkaSpecs = fc.sample(caseArbitrary(kafka2pc, { ...base, scenario: 'kafka-2pc', size: kafka2pc.defaultSize, backend: 'fs' }, 3), { numRuns: 200, seed: 5 });
    expect(new Set(kafkaSpecs.map((spec) => spec.backend))).toEqual(new Set(['fs']));
  });

  test('a case failing only for one option shrinks to that option alone, every other option at its default', () => {
    const details = fc.check(fc.property(caseArbitrary(oddEvenSum, base, 3), (spec) => spec.channelCapacity !== 32), { seed: 7, numRuns: 500 });
    expect(details.failed).toBe(true);
    const [shrunk] = details.counterexample!;
    expect(shrunk).toEqual({ ...base, channelCapacity: 32, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null } });
  });

  test('swarm fields reach the job and round-trip through replay tokens; out-of-bounds values are refused by name', async () => {
    const spec: CaseSpec = { ...base, size: { partitions: 2, recordsPerPartition: 4 }, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null }, channelCapacity: 32, checkpointTimeoutMs: 150, restartDelayMs: 0 };
    const result = await runCase(oddEvenSum, spec);
    expect(result.jobOptions).toMatchObject({ channelCapacity: 32, checkpointTimeoutMs: 150, restartDelayMs: 0, checkpointIntervalMs: DEFAULT_JOB_OPTIONS.checkpointIntervalMs });
    expect(decodeCase(encodeCase(spec), taskCount)).toEqual(spec);
    const body = JSON.parse(Buffer.from(encodeCase(spec).split(':')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const token = (change: Record<string, unknown>): string => `odd-even-sum:${Buffer.from(JSON.stringify({ ...body, ...change })).toString('base64url')}`;
    expect(() => decodeCase(token({ channelCapacity: 0 }), taskCount)).toThrow(/replay: channelCapacity must be in \[1, 4096\]/);
    expect(() => decodeCase(token({ restartDelayMs: -1 }), taskCount)).toThrow(/replay: restartDelayMs must be in \[0, /);
    expect(() => decodeCase(token({ checkpointTimeoutMs: 'soon' }), taskCount)).toThrow(/replay: checkpointTimeoutMs must be a whole number/);
  });
});
