/**
 * A simulated Kafka-like partitioned log for sources: per partition an append-only array
 * of values addressed by offset. (Transactions live in the simulated broker; a source
 * reading committed data only needs offsets.)
 */
export class SimPartitionedLog<T> {
  constructor(readonly partitions: readonly (readonly T[])[]) {
    if (partitions.length === 0) throw new Error('SimPartitionedLog: needs at least one partition');
  }

  endOffset(partition: number): number {
    return this.partitionAt(partition).length;
  }

  read(partition: number, offset: number): T {
    const records = this.partitionAt(partition);
    if (!Number.isSafeInteger(offset) || offset < 0 || offset >= records.length) {
      throw new Error(`SimPartitionedLog: offset ${offset} out of range [0, ${records.length}) in partition ${partition}`);
    }
    return records[offset]!;
  }

  private partitionAt(partition: number): readonly T[] {
    const records = this.partitions[partition];
    if (records === undefined) throw new Error(`SimPartitionedLog: no partition ${partition} (has ${this.partitions.length})`);
    return records;
  }
}
