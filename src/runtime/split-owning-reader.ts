/**
 * A source subtask that owns several splits (after a rescaled restore, or a source built with
 * fewer subtasks than splits), as FLIP-27's SourceOperator runs one reader over the splits
 * assigned to it. The connector API stays per split: the subtask runs one user `SourceReader`
 * per owned split, created as if it were source subtask `split` of `splitCount` (so a
 * partition reader still reads partition `subtaskIndex`), each with its operator state scoped
 * to its split, and polls them in turn in a fixed order. A subtask that owns no split (a
 * source rescaled to fewer subtasks than it was built with) ends its input at once, as a
 * Flink reader with no split and none to come finishes.
 *
 * Snapshot layout (what `splitStatesOfSnapshot` reads back for a redistribution): every split
 * reader's list state `<name>` is kept as `split-<index>/<name>`, and the list state `splits`
 * holds each owned split's index and position after its snapshotState.
 */
import type { FunctionInitializationContext, FunctionSnapshotContext, ListState, OperatorStateStore, SourcePosition, SourceReader, SubtaskInfo } from '../connectors/api.ts';
import { END_OF_INPUT, NOTHING_AVAILABLE, type EndOfInput, type NothingAvailable } from '../connectors/api.ts';
import { isPromiseLike } from './keyed-operator.ts';
import type { SplitState } from './split-reassignment.ts';
import type { SubtaskSnapshot } from './state.ts';

/** The list state of a split-owning subtask that names its splits, with their positions. */
export const OWNED_SPLITS_STATE = 'splits';

/** One entry of OWNED_SPLITS_STATE. */
export interface OwnedSplit {
  readonly index: number;
  readonly position: SourcePosition;
}

const scopeOf = (index: number): string => `split-${index}/`;

/** An operator state store that shows one split reader only its own list states. */
function scopedStore(store: OperatorStateStore, index: number): OperatorStateStore {
  const scope = scopeOf(index);
  return { getListState: <T>(name: string): ListState<T> => store.getListState<T>(`${scope}${name}`) };
}

/** Runs `call` on every reader in order; a promise when any of them answered with one. */
function onEvery<R>(readers: readonly R[], call: (reader: R) => void | Promise<void>): void | Promise<void> {
  const pending = readers.map(call).filter(isPromiseLike);
  return pending.length === 0 ? undefined : Promise.all(pending).then(() => undefined);
}

export class SplitOwningReader<T> implements SourceReader<T> {
  private readonly readers: ReadonlyArray<{ readonly index: number; readonly reader: SourceReader<T> }>;
  private readonly ended: boolean[];
  /** The reader polled next (turns go round the owned splits in order). */
  private turn = 0;
  private owned: ListState<OwnedSplit> | undefined;

  constructor(create: (info: SubtaskInfo) => SourceReader<T>, splits: readonly number[], private readonly splitCount: number) {
    this.readers = splits.map((index) => ({ index, reader: create({ subtaskIndex: index, parallelism: splitCount }) }));
    this.ended = splits.map(() => false);
  }

  /** The owned splits' indices, in polling order. */
  get splitIndexes(): number[] {
    return this.readers.map(({ index }) => index);
  }

  initializeState(context: FunctionInitializationContext): void | Promise<void> {
    const store = context.getOperatorStateStore();
    this.owned = store.getListState<OwnedSplit>(OWNED_SPLITS_STATE);
    // The list names the owned splits from the start, so every snapshot of the subtask reads back as split-owning.
    const result = onEvery(this.readers, ({ index, reader }) =>
      reader.initializeState({ ...context, getOperatorStateStore: () => scopedStore(store, index), subtaskIndex: index, parallelism: this.splitCount }),
    );
    return result === undefined ? this.recordPositions() : result.then(() => this.recordPositions());
  }

  snapshotState(context: FunctionSnapshotContext): void | Promise<void> {
    const result = onEvery(this.readers, ({ reader }) => reader.snapshotState(context));
    return result === undefined ? this.recordPositions() : result.then(() => this.recordPositions());
  }

  private recordPositions(): void {
    this.owned!.update(this.positions().map((position, i) => ({ index: this.readers[i]!.index, position })));
  }

  notifyCheckpointComplete(checkpointId: number): void | Promise<void> {
    return onEvery(this.readers, ({ reader }) => reader.notifyCheckpointComplete?.(checkpointId));
  }

  notifyCheckpointAborted(checkpointId: number): void | Promise<void> {
    return onEvery(this.readers, ({ reader }) => reader.notifyCheckpointAborted?.(checkpointId));
  }

  /** The next record of the first split in turn that has one; END_OF_INPUT once every split ended. */
  pollNext(): T | EndOfInput | NothingAvailable {
    for (let tried = 0; tried < this.readers.length; tried++) {
      const i = (this.turn + tried) % this.readers.length;
      if (this.ended[i]) continue;
      const next = this.readers[i]!.reader.pollNext();
      if (next === END_OF_INPUT) {
        this.ended[i] = true;
        continue;
      }
      if (next === NOTHING_AVAILABLE) continue;
      this.turn = (i + 1) % this.readers.length;
      return next;
    }
    return this.ended.every(Boolean) ? END_OF_INPUT : NOTHING_AVAILABLE;
  }

  /** The earliest hint of a split still reading; undefined when one of them gives none (it may have a record now). */
  availableAtMs(): number | undefined {
    let earliest: number | undefined;
    for (let i = 0; i < this.readers.length; i++) {
      if (this.ended[i]) continue;
      const at = this.readers[i]!.reader.availableAtMs?.();
      if (at === undefined) return undefined;
      earliest = earliest === undefined ? at : Math.min(earliest, at);
    }
    return earliest;
  }

  /** Every owned split's position, in polling order. */
  positions(): SourcePosition[] {
    return this.readers.map(({ reader }) => reader.currentPosition());
  }

  /** The position of the split polled next (the runtime's one-position view; `positions()` has them all). */
  currentPosition(): SourcePosition {
    const reader = this.readers[this.turn]?.reader;
    if (reader === undefined) throw new Error('SplitOwningReader: a subtask that owns no split has no position (ask positions())');
    return reader.currentPosition();
  }

  describePosition(): string {
    if (this.readers.length === 0) return 'no split';
    return this.readers.map(({ reader }) => reader.describePosition?.() ?? `${reader.currentPosition().split} @ offset ${reader.currentPosition().offset}`).join(', ');
  }
}

/**
 * A source subtask's checkpointed splits: a split-owning subtask's from its `splits` list and
 * scoped states; a plain one (one reader, split = its subtask index) as its only split (at
 * offset 0 when its snapshot holds no position: a restore of a checkpoint that never completed).
 */
export function splitStatesOfSnapshot(snapshot: SubtaskSnapshot, subtaskIndex: number): SplitState[] {
  const owned = snapshot.operatorState[OWNED_SPLITS_STATE] as readonly OwnedSplit[] | undefined;
  if (owned === undefined) {
    return [{ index: subtaskIndex, position: snapshot.sourcePosition ?? { split: `split ${subtaskIndex}`, offset: 0 }, operatorState: snapshot.operatorState }];
  }
  return owned.map(({ index, position }) => {
    const scope = scopeOf(index);
    const operatorState: Record<string, readonly unknown[]> = {};
    for (const [name, values] of Object.entries(snapshot.operatorState)) if (name.startsWith(scope)) operatorState[name.slice(scope.length)] = values;
    return { index, position, operatorState };
  });
}

/** The snapshot a split-owning subtask restores from the splits assigned to it (the layout SplitOwningReader writes). */
export function snapshotOfSplits(splits: readonly SplitState[]): SubtaskSnapshot {
  const operatorState: Record<string, readonly unknown[]> = { [OWNED_SPLITS_STATE]: splits.map(({ index, position }): OwnedSplit => ({ index, position })) };
  for (const { index, operatorState: state } of splits) for (const [name, values] of Object.entries(state)) operatorState[`${scopeOf(index)}${name}`] = values;
  return { operatorState, keyedState: {} };
}
