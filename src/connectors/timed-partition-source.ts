import type { FunctionInitializationContext, ListState, SourcePosition, SourceReader } from './api.ts';
import { END_OF_INPUT, NOTHING_AVAILABLE, type EndOfInput, type NothingAvailable } from './api.ts';

/** A partitioned log whose records each arrive at a virtual time (ms since the run started). */
export interface TimedPartitionLog<T> {
  endOffset(partition: number): number;
  read(partition: number, offset: number): T;
  /** When the record at `offset` becomes readable; non-decreasing along a partition. */
  arrivalMs(partition: number, offset: number): number;
}

/** A TimedPartitionLog over arrays of `{ value, arrivalMs }`, one array per partition. */
export function timedPartitionLog<T>(partitions: ReadonlyArray<ReadonlyArray<{ readonly value: T; readonly arrivalMs: number }>>): TimedPartitionLog<T> {
  partitions.forEach((records, partition) => {
    for (let offset = 1; offset < records.length; offset++) {
      if (records[offset]!.arrivalMs < records[offset - 1]!.arrivalMs) {
        throw new Error(`timedPartitionLog: partition ${partition}: arrivalMs goes back at offset ${offset} (${records[offset]!.arrivalMs} after ${records[offset - 1]!.arrivalMs})`);
      }
    }
  });
  const at = (partition: number, offset: number): { readonly value: T; readonly arrivalMs: number } => {
    const record = partitions[partition]?.[offset];
    if (record === undefined) throw new Error(`timedPartitionLog: no record at partition ${partition} offset ${offset}`);
    return record;
  };
  const log: TimedPartitionLog<T> = {
    endOffset: (partition) => partitions[partition]?.length ?? 0,
    read: (partition, offset) => at(partition, offset).value,
    arrivalMs: (partition, offset) => at(partition, offset).arrivalMs,
  };
  partitionsOfLog.set(log, partitions);
  return log;
}

/**
 * The partitions behind each log `timedPartitionLog` made: its readers index them directly,
 * one array read where the interface takes five calls per record (a source polls for every
 * record, and sleeps on the next one's arrival). A log of another making goes through its interface.
 */
const partitionsOfLog = new WeakMap<TimedPartitionLog<unknown>, ReadonlyArray<ReadonlyArray<{ readonly value: unknown; readonly arrivalMs: number }>>>();

/**
 * A bounded source subtask reading one partition of a timed log: a record is returned only
 * once the virtual clock reached its arrival time, before that pollNext answers
 * NOTHING_AVAILABLE, and `availableAtMs()` says when it will have one, so the runtime sleeps
 * until then instead of polling. Scenarios use it for disorder (arrival order differs from event time),
 * late data and idle partitions (a long gap between arrivals). The next offset is operator
 * list state `offsets`, as in PartitionSourceReader; after a restore, records whose arrival
 * time has passed are readable at once (they wait in the log, as in Kafka).
 */
export class TimedPartitionSourceReader<T> implements SourceReader<T> {
  private offset = 0;
  private offsets: ListState<number> | undefined;

  constructor(
    private readonly log: TimedPartitionLog<T>,
    readonly partition: number,
    /** The virtual clock (ms): the scheduler's `nowMs`. */
    private readonly clockMs: () => number,
    /** Splits are named `<splitPrefix>-<partition>`. */
    private readonly splitPrefix = 'partition',
  ) {
    const partitions = partitionsOfLog.get(log as TimedPartitionLog<unknown>);
    this.records = partitions === undefined ? undefined : ((partitions[partition] ?? []) as ReadonlyArray<{ readonly value: T; readonly arrivalMs: number }>);
  }

  /** This partition's records when the log is one of `timedPartitionLog`'s (undefined: read through the log's interface). */
  private readonly records: ReadonlyArray<{ readonly value: T; readonly arrivalMs: number }> | undefined;

  initializeState(context: FunctionInitializationContext): void {
    this.offsets = context.getOperatorStateStore().getListState<number>('offsets');
    const restored = this.offsets.get();
    if (restored.length > 1) throw new Error(`timed partition source ${this.partition}: expected one restored offset, got ${restored.length}`);
    this.offset = restored[0] ?? 0;
  }

  snapshotState(): void {
    this.offsets!.update([this.offset]);
  }

  pollNext(): T | EndOfInput | NothingAvailable {
    const records = this.records;
    if (records !== undefined) {
      const record = records[this.offset];
      if (record === undefined) return END_OF_INPUT;
      if (record.arrivalMs > this.clockMs()) return NOTHING_AVAILABLE;
      this.offset++;
      return record.value;
    }
    if (this.offset >= this.log.endOffset(this.partition)) return END_OF_INPUT;
    if (this.log.arrivalMs(this.partition, this.offset) > this.clockMs()) return NOTHING_AVAILABLE;
    return this.log.read(this.partition, this.offset++);
  }

  /** When the next record arrives (undefined at the end of the partition: the next poll answers END_OF_INPUT). */
  availableAtMs(): number | undefined {
    const records = this.records;
    if (records !== undefined) return records[this.offset]?.arrivalMs;
    if (this.offset >= this.log.endOffset(this.partition)) return undefined;
    return this.log.arrivalMs(this.partition, this.offset);
  }

  currentPosition(): SourcePosition {
    return { split: `${this.splitPrefix}-${this.partition}`, offset: this.offset };
  }

  describePosition(): string {
    return `partition ${this.partition} @ offset ${this.offset}`;
  }
}
