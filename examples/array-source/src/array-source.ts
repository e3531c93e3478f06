import { END_OF_INPUT, type EndOfInput, type FunctionInitializationContext, type ListState, type SimClient, type SourcePosition, type SourceReader } from 'streamcheck';

/** The author's store: numbered splits of records, read in pages. */
export class ArrayStore<T> {
  readonly splits: T[][] = [];
  read(split: number, from: number, max: number): T[] {
    return (this.splits[split] ?? []).slice(from, from + max);
  }
}

/** Reads split `subtaskIndex` from its checkpointed offset; pages are fetched ahead, so `pollNext` stays synchronous. */
export class ArraySource<T> implements SourceReader<T> {
  protected offset = 0;
  private offsets: ListState<number> | undefined;
  private page: T[] = [];

  constructor(private readonly store: SimClient<ArrayStore<T>>, private readonly split: number) {}

  async initializeState(context: FunctionInitializationContext): Promise<void> {
    this.offsets = context.getOperatorStateStore().getListState<number>('offset');
    this.offset = this.offsets.get()[0] ?? 0;
    this.page = await this.store.read(this.split, this.offset, 1_000_000);
  }

  snapshotState(): void {
    this.offsets!.update([this.offset]);
  }

  pollNext(): T | EndOfInput {
    const next = this.page.shift();
    if (next === undefined) return END_OF_INPUT;
    this.offset++;
    return next;
  }

  currentPosition(): SourcePosition {
    return { split: `array-${this.split}`, offset: this.offset };
  }
}

/** The bug a suite must catch: a restore resumes one record past the checkpointed offset. */
export class SkippingArraySource<T> extends ArraySource<T> {
  override async initializeState(context: FunctionInitializationContext): Promise<void> {
    await super.initializeState(context);
    if (context.isRestored()) this.pollNext();
  }
}
