import { describe, expect, test } from 'vitest';
import { checkRunningSumLog, type RunningSumEntry } from '../../model/running-sum-log.ts';

function logOf(inputs: readonly number[]): RunningSumEntry[] {
  let sum = 0;
  return inputs.map((last, index) => ({ sum: (sum += last), count: index + 1, last }));
}
const partitionOf = (n: number): number => (n <= 10 ? 0 : 1);
const positionOf = (n: number): number => (n - 1) % 10;

describe('checkRunningSumLog', () => {
  test('accepts any interleaving that keeps each partition in order', () => {
    expect(checkRunningSumLog('odd', logOf([1, 11, 3, 13, 5]), [1, 3, 5, 11, 13], partitionOf, positionOf)).toEqual([]);
  });
  test('names a duplicate, a lost write and a reordering', () => {
    const duplicate = [...logOf([1, 3]), { sum: 7, count: 3, last: 3 }];
    expect(checkRunningSumLog('odd', duplicate, [1, 3], partitionOf, positionOf).map((a) => a.anomaly)).toContain('duplicate');
    expect(checkRunningSumLog('odd', logOf([1]), [1, 3], partitionOf, positionOf).map((a) => a.anomaly)).toEqual(['lost write']);
    expect(checkRunningSumLog('odd', logOf([3, 1]), [1, 3], partitionOf, positionOf).map((a) => a.anomaly)).toEqual(['nonmonotonic poll']);
  });
});
