/**
 * Reference semantics of keyed-counts: natural numbers 1..P*N in P partitions, keyed by
 * `n mod keyCount` (keyCount = max(1, floor(N / 2)), so every partition reaches every key
 * about twice), a running count and sum per key. Pure: knows nothing of the runtime.
 */
export interface KeyTotals {
  readonly count: number;
  readonly sum: number;
}

export function keyCountFor(recordsPerPartition: number): number {
  return Math.max(1, Math.floor(recordsPerPartition / 2));
}

export function keyOf(n: number, keyCount: number): string {
  return `k${n % keyCount}`;
}

/** Final count and sum of every key over all input. */
export function expectedKeyTotals(input: readonly (readonly number[])[], keyCount: number): Map<string, KeyTotals> {
  const totals = new Map<string, KeyTotals>();
  for (const records of input) {
    for (const n of records) {
      const key = keyOf(n, keyCount);
      const previous = totals.get(key) ?? { count: 0, sum: 0 };
      totals.set(key, { count: previous.count + 1, sum: previous.sum + n });
    }
  }
  return totals;
}
