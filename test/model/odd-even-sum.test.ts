import { expect, test } from 'vitest';
import { fc, test as propTest } from '@fast-check/vitest';
import { expectedStore, expectedTotals, oddEvenInput, prefixTotals } from '../../model/odd-even-sum.ts';

test('the model sums each parity over exactly the records before the offsets', () => {
  const input = oddEvenInput(2, 4); // [1,2,3,4] and [5,6,7,8]
  expect(input).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
  expect(expectedTotals(input)).toEqual({ even: { sum: 20, count: 4 }, odd: { sum: 16, count: 4 } });
  expect(expectedTotals(input, [1, 2])).toEqual({ even: { sum: 6, count: 1 }, odd: { sum: 6, count: 2 } });
  expect(expectedStore('p', expectedTotals(input, [1, 0]))).toEqual({ 'p:odd:count': '1', 'p:odd:sum': '1' });
  expect(() => oddEvenInput(0, 1)).toThrow(/partitionCount/);
});

propTest.prop([fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 30 }), fc.array(fc.nat(), { minLength: 3, maxLength: 3 })])(
  'prefixTotals agrees with expectedTotals for every offset vector',
  (partitions, records, rawOffsets) => {
    const input = oddEvenInput(partitions, records);
    const offsets = rawOffsets.slice(0, partitions).map((o) => o % (records + 1));
    expect(prefixTotals(input)(offsets)).toEqual(expectedTotals(input, offsets));
  },
);
