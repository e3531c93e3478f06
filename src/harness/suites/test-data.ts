import type { PartitionLog } from '../../connectors/partition-source.ts';

/**
 * One record of a connector suite's test data. Every key belongs to one partition (split),
 * so the order of a key's records is the split's order, whatever the interleaving: the
 * output a fault-free run produces per key is the same in every run.
 */
export interface TestRecord {
  /** `p<partition>-k<n>`. */
  readonly key: string;
  /** 1-based position of the record among its key's records. */
  readonly seq: number;
  /** `<key>@<seq>`: what an overwriting sink stores, so a read-back value names the record it came from. */
  readonly value: string;
}

export interface TestDataShape {
  /** Splits (source partitions). */
  readonly partitions: number;
  readonly recordsPerPartition: number;
  /** Distinct keys per partition. */
  readonly keysPerPartition: number;
}

export const MAX_KEYS_PER_PARTITION = 10_000;

export function testRecord(key: string, seq: number): TestRecord {
  return { key, seq, value: `${key}@${seq}` };
}

/** Parses a value written as `<key>@<seq>`; undefined when it is anything else. */
export function parseTestValue(value: unknown): { readonly key: string; readonly seq: number } | undefined {
  if (typeof value !== 'string') return undefined;
  const at = value.lastIndexOf('@');
  if (at <= 0) return undefined;
  const seq = Number(value.slice(at + 1));
  if (!Number.isSafeInteger(seq) || seq < 1 || String(seq) !== value.slice(at + 1)) return undefined;
  return { key: value.slice(0, at), seq };
}

/** Deterministic test data: partition p cycles through its own keys. */
export function generateTestData(shape: TestDataShape): TestRecord[][] {
  const { partitions, recordsPerPartition, keysPerPartition } = shape;
  if (!Number.isSafeInteger(keysPerPartition) || keysPerPartition < 1 || keysPerPartition > MAX_KEYS_PER_PARTITION) {
    throw new Error(`test data: keysPerPartition must be an integer in [1, ${MAX_KEYS_PER_PARTITION}], got ${String(keysPerPartition)}`);
  }
  return Array.from({ length: partitions }, (_, partition) =>
    Array.from({ length: recordsPerPartition }, (_, index) => testRecord(`p${partition}-k${index % keysPerPartition}`, Math.floor(index / keysPerPartition) + 1)),
  );
}

/** The test data as a partitioned log for `PartitionSourceReader`. */
export function testDataLog(data: readonly (readonly TestRecord[])[]): PartitionLog<TestRecord> {
  return {
    endOffset: (partition) => data[partition]?.length ?? 0,
    read: (partition, offset) => {
      const record = data[partition]?.[offset];
      if (record === undefined) throw new Error(`test data: partition ${partition} has no offset ${offset}`);
      return record;
    },
  };
}
