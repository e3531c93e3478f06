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
});
