import { expect, test } from 'vitest';
import { expectedStore, expectedTotals, oddEvenInput } from '../../model/odd-even-sum.ts';

test('the model sums each parity over exactly the records before the offsets', () => {
  const input = oddEvenInput(2, 4); // [1,2,3,4] and [5,6,7,8]
  expect(input).toEqual([[1, 2, 3, 4], [5, 6, 7, 8]]);
  expect(expectedTotals(input)).toEqual({ even: { sum: 20, count: 4 }, odd: { sum: 16, count: 4 } });
  expect(expectedTotals(input, [1, 2])).toEqual({ even: { sum: 6, count: 1 }, odd: { sum: 6, count: 2 } });
  expect(expectedStore('p', expectedTotals(input, [1, 0]))).toEqual({ 'p:odd:count': '1', 'p:odd:sum': '1' });
  expect(() => oddEvenInput(0, 1)).toThrow(/partitionCount/);
});
