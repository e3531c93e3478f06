import type { FunctionInitializationContext, ListState, SourcePosition, SourceReader } from './api.ts';
import { END_OF_INPUT, type EndOfInput } from './api.ts';
import type { ConsumedRecord, KafkaClients } from './kafka-api.ts';

/** Records fetched per read call at most is the client's business; this bounds what one subtask holds. */
export const MAX_RECORDS_PER_PARTITION = 1_000_000;

/**
 * A bounded Kafka source subtask: subtask i reads partition i of `topic` under
 * read_committed, from the checkpointed offset to the partition's end as seen at start
 * (its last stable offset). The next offset lives in operator list state `offsets`, so a
 * restore rewinds to it. Records are fetched in initializeState, so pollNext stays synchronous.
 */
export class KafkaPartitionSource<T> implements SourceReader<T> {
  private offset = 0;
  private offsets: ListState<number> | undefined;
  private records: readonly ConsumedRecord[] = [];
  private index = 0;

  constructor(
    private readonly clients: KafkaClients,
    readonly topic: string,
    readonly partition: number,
    private readonly deserialize: (record: ConsumedRecord) => T,
  ) {}

  async initializeState(context: FunctionInitializationContext): Promise<void> {
    this.offsets = context.getOperatorStateStore().getListState<number>('offsets');
    const restored = this.offsets.get();
    if (restored.length > 1) throw new Error(`Kafka source ${this.topic}/${this.partition}: expected one restored offset, got ${restored.length}`);
    this.offset = restored[0] ?? 0;
    this.records = await this.clients.read(this.topic, this.partition, this.offset, 'read_committed');
    if (this.records.length > MAX_RECORDS_PER_PARTITION) {
      throw new Error(`Kafka source ${this.topic}/${this.partition}: ${this.records.length} records exceed the bound of ${MAX_RECORDS_PER_PARTITION}`);
    }
    this.index = 0;
  }

  snapshotState(): void {
    this.offsets!.update([this.offset]);
  }

  pollNext(): T | EndOfInput {
    const record = this.records[this.index];
    if (record === undefined) return END_OF_INPUT;
    this.index++;
    // Offsets can skip (transaction markers, aborted records): resume after the record itself.
    this.offset = record.offset + 1;
    return this.deserialize(record);
  }

  currentPosition(): SourcePosition {
    return { split: `${this.topic}/${this.partition}`, offset: this.offset };
  }

  describePosition(): string {
    return `${this.topic}/${this.partition} @ offset ${this.offset}`;
  }
}
