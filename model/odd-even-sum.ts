/**
 * Reference semantics of the odd/even sum: two partitions of natural numbers, keyed by
 * parity, a running sum (and count) per key. Under exactly-once every input number is
 * counted once, whatever crashed and restarted. Pure: knows nothing of the runtime.
 */
export type Parity = 0 | 1;

export interface ParityTotals {
  readonly sum: number;
  readonly count: number;
}

export type OddEvenTotals = Readonly<Record<'even' | 'odd', ParityTotals>>;

export function parityName(parity: Parity): 'even' | 'odd' {
  return parity === 0 ? 'even' : 'odd';
}

/** Partition p holds p*N+1 .. (p+1)*N, so both parities arrive from every partition. */
export function oddEvenInput(partitionCount: number, recordsPerPartition: number): number[][] {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) throw new Error(`oddEvenInput: partitionCount must be >= 1, got ${partitionCount}`);
  if (!Number.isSafeInteger(recordsPerPartition) || recordsPerPartition < 0) {
    throw new Error(`oddEvenInput: recordsPerPartition must be >= 0, got ${recordsPerPartition}`);
  }
  // Plain loops, not Array.from with a callback: every generated case builds its input anew.
  const partitions: number[][] = [];
  for (let p = 0; p < partitionCount; p++) {
    const records = new Array<number>(recordsPerPartition);
    for (let i = 0; i < recordsPerPartition; i++) records[i] = p * recordsPerPartition + i + 1;
    partitions.push(records);
  }
  return partitions;
}

/** Totals over each partition's records before `offsets[p]` (all records when omitted). */
export function expectedTotals(input: readonly (readonly number[])[], offsets?: readonly number[]): OddEvenTotals {
  const totals = { even: { sum: 0, count: 0 }, odd: { sum: 0, count: 0 } };
  input.forEach((records, partition) => {
    const end = offsets === undefined ? records.length : offsets[partition]!;
    for (let i = 0; i < end; i++) {
      const value = records[i]!;
      const bucket = value % 2 === 0 ? totals.even : totals.odd;
      bucket.sum += value;
      bucket.count += 1;
    }
  });
  return totals;
}

/**
 * expectedTotals for many offset vectors over the same input: prefix sums per partition and
 * parity, built once, answer each query in O(partitions) instead of O(records).
 */
export function prefixTotals(input: readonly (readonly number[])[]): (offsets: readonly number[]) => OddEvenTotals {
  // Row i of partition p (4 numbers at 4*i): evenSum, evenCount, oddSum, oddCount over its first i records.
  const prefix = input.map((records) => {
    const rows = new Float64Array(4 * (records.length + 1));
    // Running totals carried in locals (no copyWithin per record: every judged case builds these).
    let evenSum = 0;
    let evenCount = 0;
    let oddSum = 0;
    let oddCount = 0;
    for (let i = 0; i < records.length; i++) {
      const value = records[i]!;
      if (value % 2 === 0) {
        evenSum += value;
        evenCount += 1;
      } else {
        oddSum += value;
        oddCount += 1;
      }
      const to = 4 * (i + 1);
      rows[to] = evenSum;
      rows[to + 1] = evenCount;
      rows[to + 2] = oddSum;
      rows[to + 3] = oddCount;
    }
    return rows;
  });
  return (offsets) => {
    if (offsets.length !== input.length) throw new Error(`prefixTotals: expected ${input.length} offsets, got ${offsets.length}`);
    const totals = { even: { sum: 0, count: 0 }, odd: { sum: 0, count: 0 } };
    offsets.forEach((offset, partition) => {
      const rows = prefix[partition]!;
      if (!Number.isSafeInteger(offset) || offset < 0 || 4 * offset >= rows.length) {
        throw new Error(`prefixTotals: offset ${offset} is past the end of partition ${partition}`);
      }
      totals.even.sum += rows[4 * offset]!;
      totals.even.count += rows[4 * offset + 1]!;
      totals.odd.sum += rows[4 * offset + 2]!;
      totals.odd.count += rows[4 * offset + 3]!;
    });
    return totals;
  };
}

/** The key-value store an exactly-once run leaves behind (keys that never saw a record stay absent). */
export function expectedStore(prefix: string, totals: OddEvenTotals): Record<string, string> {
  const store: Record<string, string> = {};
  for (const name of ['even', 'odd'] as const) {
    if (totals[name].count === 0) continue;
    store[`${prefix}:${name}:count`] = String(totals[name].count);
    store[`${prefix}:${name}:sum`] = String(totals[name].sum);
  }
  return Object.fromEntries(Object.entries(store).sort(([a], [b]) => (a < b ? -1 : 1)));
}
