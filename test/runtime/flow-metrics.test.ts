import { fc, test } from '@fast-check/vitest';
import { expect } from 'vitest';
import { estimateBytes } from '../../src/runtime/flow-metrics.ts';

/** What estimateBytes means for anything but a top-level number, string or boolean: the length of its JSON. */
const jsonLength = (value: unknown): number => JSON.stringify(value)?.length ?? 0;

// Strings with quotes, backslashes, control characters and lone or paired surrogates: every escape JSON writes.
const awkwardString = fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', '\n', '\b', '\u0001', '\u001f', '\u007f', '\ud800', '\udc00', '\ud83d\ude00', 'é'), fc.string({ unit: 'binary', minLength: 1, maxLength: 1 })) });
const plainValue = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.double(),
    fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER }),
    fc.constantFrom(0, -0, 1e21, -1e-7, Number.MAX_SAFE_INTEGER + 2, NaN, Infinity),
    awkwardString,
    fc.boolean(),
    fc.constantFrom(null, undefined),
    fc.array(tie('value')),
    fc.sparseArray(tie('value')),
    fc.dictionary(awkwardString, tie('value')),
    fc.dictionary(fc.string(), tie('value'), { noNullPrototype: false }),
  ),
})).value;

test.prop([fc.array(plainValue)])('estimateBytes of plain objects and arrays is the length of their JSON, without building it', (items) => {
  expect(estimateBytes(items)).toBe(jsonLength(items));
  expect(estimateBytes({ items, note: 'x' })).toBe(jsonLength({ items, note: 'x' }));
});

test('estimateBytes leaves what is not plain data to JSON itself', () => {
  class Position {
    constructor(readonly offset: number) {}
  }
  const withToJson = { a: 1, toJSON: () => ({ replaced: true }) };
  const deep: unknown[] = [];
  let cursor = deep;
  for (let i = 0; i < 100; i++) cursor.push((cursor = []));
  const values: unknown[] = [[new Position(3)], withToJson, [new Date(0)], { m: new Map([[1, 2]]) }, [Object(5)], deep, { f: () => 1, s: Symbol('s'), u: undefined }, [() => 1, undefined]];
  for (const value of values) expect(estimateBytes(value)).toBe(jsonLength(value));
  // Top-level primitives keep their fixed sizes; a function alone serialises to nothing.
  expect([estimateBytes(7.5), estimateBytes('ab"'), estimateBytes(true), estimateBytes(undefined), estimateBytes(null)]).toEqual([8, 5, 1, 0, 4]);
  const cyclic: Record<string, unknown> = {};
  cyclic.self = cyclic;
  expect(() => estimateBytes(cyclic)).toThrow(/circular/);
  expect(() => estimateBytes([1n])).toThrow(TypeError);
});
