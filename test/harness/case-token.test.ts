import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { decodeCase, encodeCase } from '../../src/harness/case-token.ts';
import { caseArbitrary } from '../../src/harness/explore.ts';

const taskCount = (_: string, size: { partitions: number; recordsPerPartition: number }): number => oddEvenSum.taskCount(size);
const base = { scenario: 'odd-even-sum', size: oddEvenSum.defaultSize, mode: 'exactly-once' as const, backend: 'fs' as const, bug: undefined };

describe('replay tokens', () => {
  test.prop([caseArbitrary(oddEvenSum, base, 3)], { numRuns: 50 })('decode(encode(case)) is the case', (spec) => {
    expect(decodeCase(encodeCase(spec), taskCount)).toEqual({ ...spec, bug: undefined });
  });

  test('bad tokens are rejected with the reason', () => {
    expect(() => decodeCase('no-separator', taskCount)).toThrow(/expected <scenario>:<case>/);
    expect(() => decodeCase('odd-even-sum:%%%', taskCount)).toThrow(/not valid base64url JSON/);
    const bad = (body: unknown): string => `odd-even-sum:${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
    const good = JSON.parse(Buffer.from(encodeCase({ ...base, faults: [], schedule: { kind: 'seed', seed: 1 } }).split(':')[1]!, 'base64url').toString());
    expect(() => decodeCase(bad({ ...good, mode: 'maybe-once' }), taskCount)).toThrow(/mode must be/);
    expect(() => decodeCase(bad({ ...good, faults: [{ kind: 'crash-task', atStep: 3, task: 99 }] }), taskCount)).toThrow(/task must be an integer in \[0, 4\)/);
    expect(() => decodeCase(bad({ ...good, faults: [{ kind: 'meteor', atStep: 3 }] }), taskCount)).toThrow(/kind must be one of/);
    expect(() => decodeCase(bad({ ...good, schedule: { kind: 'seed', seed: -4 } }), taskCount)).toThrow(/schedule.seed must be in \[0, 2147483647\]/);
  });

  test('tokens carry format version 1 and an optional module path; version 0 (no v) still reads; other versions are refused by name', () => {
    const spec = { ...base, faults: [], schedule: { kind: 'seed' as const, seed: 1 } };
    const encoded = encodeCase({ ...spec, module: 'scenarios/user/my-job.ts' });
    const body = JSON.parse(Buffer.from(encoded.split(':')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(body['v']).toBe(1);
    expect(body['module']).toBe('scenarios/user/my-job.ts');
    expect(decodeCase(encoded, taskCount)).toEqual({ ...spec, module: 'scenarios/user/my-job.ts' });
    expect(decodeCase(encodeCase(spec), taskCount)).not.toHaveProperty('module');

    const bad = (changes: Record<string, unknown>): string => `odd-even-sum:${Buffer.from(JSON.stringify({ ...body, ...changes })).toString('base64url')}`;
    const { v: _version, module: _module, ...version0 } = body;
    expect(decodeCase(`odd-even-sum:${Buffer.from(JSON.stringify(version0)).toString('base64url')}`, taskCount).size).toEqual(base.size);
    expect(() => decodeCase(bad({ v: 4 }), taskCount)).toThrow(/token format version 4 is not one this streamcheck reads \(it reads 0, 1, 2, 3\)/);
    expect(() => decodeCase(bad({ v: '1' }), taskCount)).toThrow(/token format version '1'/);
    expect(() => decodeCase(bad({ module: 'a\\b.ts' }), taskCount)).toThrow(/posix separators/);
    expect(() => decodeCase(bad({ module: 'x'.repeat(1025) }), taskCount)).toThrow(/at most 1024 chars, got 1025 chars/);
    expect(() => decodeCase(bad({ module: 'a\u0000b' }), taskCount)).toThrow(/control characters/);
  });

  test('the envelope settings (restart delay, transaction timeout, prepared transactions) make a version-2 token; a version-1 token may not carry them', () => {
    const spec = { ...base, faults: [], schedule: { kind: 'seed' as const, seed: 1 } };
    const withSettings = { ...spec, restartDelayMs: 300, transactionTimeoutMs: 50, preparedTransactions: true };
    const encoded = encodeCase(withSettings);
    const body = JSON.parse(Buffer.from(encoded.split(':')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(body['v']).toBe(2);
    expect(decodeCase(encoded, taskCount)).toEqual(withSettings);
    const bad = (changes: Record<string, unknown>): string => `odd-even-sum:${Buffer.from(JSON.stringify({ ...body, ...changes })).toString('base64url')}`;
    expect(() => decodeCase(bad({ v: 1 }), taskCount)).toThrow(/restartDelayMs, transactionTimeoutMs, preparedTransactions need\(s\) token format version 2 or later, the token says 1/);
    expect(() => decodeCase(bad({ transactionTimeoutMs: 0 }), taskCount)).toThrow(/transactionTimeoutMs must be in \[1, 900000\]/);
    expect(() => decodeCase(bad({ restartDelayMs: -1 }), taskCount)).toThrow(/restartDelayMs must be in \[0, 3600000\]/);
    expect(() => decodeCase(bad({ preparedTransactions: 'yes' }), taskCount)).toThrow(/preparedTransactions must be true or false, got 'yes'/);
  });

  test('a fault placed by situation makes a version-3 token that round-trips; an older version may not carry one; a bad placement is refused by name', () => {
    const placed = { kind: 'crash-task' as const, atStep: 5, task: 1, when: { situation: 'checkpoint-partially-acked' as const, occurrence: 3 } };
    const spec = { ...base, faults: [{ kind: 'crash-job' as const, atStep: 2 }, placed], schedule: { kind: 'seed' as const, seed: 1 } };
    const encoded = encodeCase(spec);
    const body = JSON.parse(Buffer.from(encoded.split(':')[1]!, 'base64url').toString()) as Record<string, unknown>;
    expect(body['v']).toBe(3);
    expect(decodeCase(encoded, taskCount)).toEqual(spec);
    // Step placement alone keeps the version it had, so older builds read it.
    expect(JSON.parse(Buffer.from(encodeCase({ ...spec, faults: [{ kind: 'crash-job', atStep: 2 }] }).split(':')[1]!, 'base64url').toString())).toMatchObject({ v: 1 });
    const bad = (changes: Record<string, unknown>): string => `odd-even-sum:${Buffer.from(JSON.stringify({ ...body, ...changes })).toString('base64url')}`;
    expect(() => decodeCase(bad({ v: 2 }), taskCount)).toThrow(/fault #1 is placed by situation \(when\), which needs token format version 3 or later, the token says 2/);
    expect(() => decodeCase(bad({ faults: [{ ...placed, when: { situation: 'on-a-tuesday', occurrence: 1 } }] }), taskCount)).toThrow(/when.situation must be one of between-checkpoints, .*transaction pre-committed, got "on-a-tuesday"/);
    expect(() => decodeCase(bad({ faults: [{ ...placed, when: { situation: 'during-recovery', occurrence: 0 } }] }), taskCount)).toThrow(/when.occurrence must be an integer in \[1, 64\], got 0/);
    expect(() => decodeCase(bad({ faults: [{ ...placed, when: { situation: 'during-recovery', occurrence: 1, step: 3 } }] }), taskCount)).toThrow(/when has unknown field\(s\) "step"/);
  });

  test('sizes are held to the CLI bounds before anything runs (1e9 records used to run out of memory)', () => {
    const spec = { ...base, faults: [], schedule: { kind: 'seed' as const, seed: 1 } };
    const body = JSON.parse(Buffer.from(encodeCase(spec).split(':')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const bad = (changes: Record<string, unknown>): string => `odd-even-sum:${Buffer.from(JSON.stringify({ ...body, ...changes })).toString('base64url')}`;
    let asked = 0;
    const counting = (scenario: string, size: { partitions: number; recordsPerPartition: number }): number => {
      asked++;
      return taskCount(scenario, size);
    };
    expect(() => decodeCase(bad({ size: { partitions: 2, recordsPerPartition: 1e9 } }), counting)).toThrow(/size.recordsPerPartition must be in \[0, 1000000\]/);
    expect(() => decodeCase(bad({ size: { partitions: 1e6, recordsPerPartition: 1 } }), counting)).toThrow(/size.partitions must be in \[1, 16\]/);
    expect(() => decodeCase(bad({ schedule: { kind: 'choices', choices: new Array(100_001).fill(0), tailSeed: null } }), counting)).toThrow(/schedule.choices must be in \[0, 100000\]/);
    expect(() => decodeCase(bad({ maxConcurrentCheckpoints: 1000 }), counting)).toThrow(/maxConcurrentCheckpoints must be in \[1, 16\]/);
    expect(() => decodeCase('odd-even-sum:' + 'A'.repeat(1_000_001), counting)).toThrow(/the token is 1000014 chars/);
    expect(asked).toBe(0); // refused before the scenario is even asked for its tasks
  });
});

