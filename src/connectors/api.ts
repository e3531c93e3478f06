/**
 * The connector API: everything a source or sink author implements. Names follow Flink's
 * (CheckpointedFunction, CheckpointListener, ListState), so the semantics carry over:
 *
 * - `initializeState` runs before any record, on a fresh start and on every restore; on a
 *   restore `context.isRestored()` is true and the list states hold what `snapshotState`
 *   left in them at the restored checkpoint.
 * - `snapshotState(context)` runs when the checkpoint barrier reaches the function: write
 *   what must survive into list states, and finish any pre-commit work before returning.
 * - `notifyCheckpointComplete(id)` runs after checkpoint `id` completed on every task. It can
 *   be late, reordered, or never arrive before a crash; a later id subsumes earlier ones.
 *
 * Any method may return a promise (real I/O). Under the simulation every promise must come
 * from a simulated client (`SimEnvironment`); a promise that nothing resolves is reported
 * as a hung connector, never waited on forever.
 */

export type Key = string | number;

/** Marker a source returns when its bounded input is exhausted. */
// A registered symbol: a scenario module loaded by the CLI may hold its own copy of this file.
export const END_OF_INPUT: unique symbol = Symbol.for('streamcheck.END_OF_INPUT');
export type EndOfInput = typeof END_OF_INPUT;

/**
 * Marker a source returns when no record is available right now but its input has not ended
 * (Flink's InputStatus.NOTHING_AVAILABLE): the runtime polls it again after a short virtual
 * delay, and a source with a watermark idleness timeout marks itself idle if nothing arrives.
 */
export const NOTHING_AVAILABLE: unique symbol = Symbol.for('streamcheck.NOTHING_AVAILABLE');
export type NothingAvailable = typeof NOTHING_AVAILABLE;

export interface ListState<T> {
  get(): readonly T[];
  update(values: readonly T[]): void;
  add(value: T): void;
  clear(): void;
}

export interface OperatorStateStore {
  /** Operator (non-keyed) list state, one per name; snapshotted on every checkpoint. */
  getListState<T>(name: string): ListState<T>;
  /**
   * Operator list state redistributed as a union (Flink's getUnionListState): after a restore
   * with another parallelism every subtask gets the parts of every old subtask (getListState's
   * parts are split evenly instead). Optional: a store without it only offers getListState.
   */
  getUnionListState?<T>(name: string): ListState<T>;
}

export interface FunctionInitializationContext {
  isRestored(): boolean;
  /** The checkpoint restored from, or undefined on a fresh start. */
  readonly restoredCheckpointId: number | undefined;
  getOperatorStateStore(): OperatorStateStore;
  readonly subtaskIndex: number;
  readonly parallelism: number;
  /** Increases with every restart of the job; 0 on the first attempt. */
  readonly attemptNumber: number;
  /**
   * Tells the harness what a connector did to an external system, so invariants can judge
   * it without knowing the connector's types (the two-phase-commit base class reports every
   * transaction it begins, pre-commits, commits and aborts). Never affects the run.
   */
  report(event: ConnectorEvent): void;
}

/** What a two-phase-commit sink did to one transaction (reported by `TwoPhaseCommitSink`). */
export interface TransactionEvent {
  readonly kind: 'begin' | 'pre-commit' | 'commit' | 'abort' | 'recover-commit' | 'recover-abort';
  /** The transaction's identity as the sink describes it (stable across restarts). */
  readonly transaction: string;
  /** pre-commit: the checkpoint that holds it; commit: the checkpoint whose notification committed it. */
  readonly checkpointId?: number;
}

export type ConnectorEvent = { readonly type: 'transaction' } & TransactionEvent;

/**
 * Where a source reader stands: the split it reads and the offset of the next record it
 * will emit. A checkpoint records it, a restore must rewind exactly to it, and at the end of
 * input it must stand at the split's end. Declared by the reader, never guessed from state names.
 */
export interface SourcePosition {
  readonly split: string;
  readonly offset: number;
}

export interface FunctionSnapshotContext {
  readonly checkpointId: number;
}

export interface CheckpointedFunction {
  initializeState(context: FunctionInitializationContext): void | Promise<void>;
  snapshotState(context: FunctionSnapshotContext): void | Promise<void>;
}

export interface CheckpointListener {
  notifyCheckpointComplete(checkpointId: number): void | Promise<void>;
  notifyCheckpointAborted?(checkpointId: number): void | Promise<void>;
}

/** A bounded, pull-based source subtask (one per partition). */
export interface SourceReader<T> extends CheckpointedFunction, Partial<CheckpointListener> {
  /**
   * The next record, END_OF_INPUT, or NOTHING_AVAILABLE (no record yet, ask again later).
   * Synchronous: a source pre-fetches in initializeState.
   */
  pollNext(): T | EndOfInput | NothingAvailable;
  /**
   * Optional hint (Flink's `SourceReader.isAvailable()` future, as a virtual time): the earliest
   * virtual ms at which `pollNext` may return a record again; undefined, or a time not after
   * now, when it may have one now (or its input has ended). Asked after a record and after
   * NOTHING_AVAILABLE: a source that is not available yet is not polled until then (nor
   * sooner than the job's poll delay), so a job waiting for arrivals spends no steps on
   * empty polls. The runtime still wakes it for its idleness timeout and a due watermark.
   * Without it, a source that answered NOTHING_AVAILABLE is polled again every poll delay.
   */
  availableAtMs?(): number | undefined;
  /** Words for reports; default: `<split> @ offset <offset>` from `currentPosition()`. */
  describePosition?(): string;
  /**
   * The split and the offset of the next record. Called after `initializeState` and after
   * every `snapshotState`: the harness checks that a restore rewinds exactly to the
   * checkpointed position and that every split is read by one subtask to its end.
   */
  currentPosition(): SourcePosition;
}

/** A sink subtask. */
export interface SinkWriter<T> extends Partial<CheckpointedFunction>, Partial<CheckpointListener> {
  write(value: T): void | Promise<void>;
  /** All input has arrived: make everything written so far durable (before the final checkpoint). */
  finish?(): void | Promise<void>;
}

export interface SubtaskInfo {
  readonly subtaskIndex: number;
  readonly parallelism: number;
}
