import type { FunctionInitializationContext, ListState, SourcePosition, SourceReader } from './api.ts';
import { END_OF_INPUT, type EndOfInput } from './api.ts';

/** What a partition source reads from: a simulated log, or records pre-fetched from Kafka. */
export interface PartitionLog<T> {
  endOffset(partition: number): number;
  read(partition: number, offset: number): T;
}

/**
 * A bounded source subtask reading one partition (subtask i reads partition i), with its
 * next offset in operator list state `offsets`: a restore rewinds to the checkpointed offset.
 */
export class PartitionSourceReader<T> implements SourceReader<T> {
  private offset = 0;
  private offsets: ListState<number> | undefined;

  constructor(
    private readonly log: PartitionLog<T>,
    readonly partition: number,
    /** Splits are named `<splitPrefix>-<partition>`. */
    private readonly splitPrefix = 'partition',
  ) {}

  initializeState(context: FunctionInitializationContext): void {
    this.offsets = context.getOperatorStateStore().getListState<number>('offsets');
    const restored = this.offsets.get();
    if (restored.length > 1) throw new Error(`partition source ${this.partition}: expected one restored offset, got ${restored.length}`);
    this.offset = restored[0] ?? 0;
  }

  snapshotState(): void {
    this.offsets!.update([this.offset]);
  }

  pollNext(): T | EndOfInput {
    if (this.offset >= this.log.endOffset(this.partition)) return END_OF_INPUT;
    return this.log.read(this.partition, this.offset++);
  }

  currentPosition(): SourcePosition {
    return { split: `${this.splitPrefix}-${this.partition}`, offset: this.offset };
  }

  describePosition(): string {
    return `partition ${this.partition} @ offset ${this.offset}`;
  }
}
