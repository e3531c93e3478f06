import type { CheckpointListener, CheckpointedFunction, FunctionInitializationContext, FunctionSnapshotContext, ListState, SinkWriter, TransactionEvent } from './api.ts';

/**
 * Exactly-once sink by two-phase commit driven by checkpoints, after Flink's
 * TwoPhaseCommitSinkFunction:
 *
 * - snapshotState(n): preCommit(current) -> pending[n] = current -> beginTransaction();
 * - notifyCheckpointComplete(n): commit every pending transaction with id <= n, oldest first
 *   (a late or subsumed notification must not strand older ones);
 * - initializeState on restore: recoverAndCommit every pending transaction of the restored
 *   checkpoint (it may already be committed: commit must be idempotent), recoverAndAbort the
 *   one that was in flight, abort lingering ones, then begin a new one.
 * - rescaling: the state is a union list state, one entry per old subtask, tagged with it.
 *   A subtask recovers its own entry and those of old subtasks that no longer exist and fold
 *   onto it (old index modulo the new parallelism), as Flink hands a removed subtask's
 *   transactions to a surviving one: their pending transactions are committed, their
 *   in-flight ones aborted, and the transactions they began later aborted as lingering.
 *
 * - finish() (end of input): the next snapshot pre-commits the last transaction and begins
 *   no new one, so nothing is left open when the job finishes (FLIP-147: the final
 *   checkpoint is notified before the job ends, and that commits it).
 *
 * A failing commit throws: the task fails over, and the restore commits it again.
 * `TXN` must be plain data (it is stored in operator state). Every step is reported to the
 * harness (`context.report`), so the two-phase-commit invariants judge any subclass from
 * these records, whatever its external system.
 */
export abstract class TwoPhaseCommitSink<IN, TXN> implements SinkWriter<IN>, CheckpointedFunction, CheckpointListener {
  private state: ListState<TwoPhaseCommitState<TXN>> | undefined;
  private current: TXN | undefined;
  /** Pre-committed transactions by checkpoint id, waiting for notify-complete. */
  private readonly pending = new Map<number, TXN>();
  private report: ((event: TransactionEvent) => void) | undefined;
  /** End of input seen: the next snapshot pre-commits the last transaction and begins none. */
  private inputEnded = false;
  /** This subtask's index and its vertex's parallelism in the current attempt (set by initializeState). */
  protected subtask = 0;
  protected parallelism = 1;
  /** Removed subtasks whose restored entries this subtask recovered in the current attempt. */
  protected handedOverSubtasks: ReadonlySet<number> = new Set();

  constructor() {
    // Report every begin, commit and abort, also those a subclass calls on its own (a buggy
    // sink that commits in snapshotState is judged by what it did, not by what it should do).
    const self = this as unknown as Record<'beginTransaction' | 'commit' | 'abort', (transaction?: TXN) => Promise<unknown>>;
    const begin = self.beginTransaction;
    self.beginTransaction = async () => {
      const transaction = (await begin.call(this)) as TXN;
      this.report?.({ kind: 'begin', transaction: describeTransaction(transaction) });
      return transaction;
    };
    for (const kind of ['commit', 'abort'] as const) {
      const original = self[kind];
      self[kind] = async (transaction?: TXN) => {
        await original.call(this, transaction);
        this.report?.({ kind, transaction: describeTransaction(transaction) });
      };
    }
  }

  protected abstract beginTransaction(): Promise<TXN>;
  /** Writes one value inside the transaction. */
  protected abstract invoke(transaction: TXN, value: IN): void | Promise<void>;
  /** Makes the transaction's data durable and ready to commit (e.g. flush). */
  protected abstract preCommit(transaction: TXN): Promise<void>;
  protected abstract commit(transaction: TXN): Promise<void>;
  protected abstract abort(transaction: TXN): Promise<void>;

  /** Commits a transaction restored from a checkpoint; it may already be committed. */
  protected recoverAndCommit(transaction: TXN): Promise<void> {
    return this.commit(transaction);
  }

  /** Aborts the transaction that was in flight at the restored checkpoint. */
  protected recoverAndAbort(transaction: TXN): Promise<void> {
    return this.abort(transaction);
  }


  /** After recovery: abort transactions begun after the restored checkpoint (none by default). */
  protected abortLingering(_inFlight: TXN | undefined): Promise<void> {
    return Promise.resolve();
  }

  /** After recovery: abort the transactions a removed subtask (handed over to this one) began after the restored checkpoint (none by default). */
  protected abortLingeringOfSubtask(_subtask: number, _inFlight: TXN | undefined): Promise<void> {
    return Promise.resolve();
  }

  /**
   * The restored entries this subtask recovers: its own, and those of old subtasks that no
   * longer exist and fold onto it. Entries without a subtask (a store without union state
   * split them to this subtask) are all its own.
   */
  protected entriesToRecover(entries: readonly TwoPhaseCommitState<TXN>[]): TwoPhaseCommitState<TXN>[] {
    return entries.filter((entry) => entry.subtask === undefined || entry.subtask === this.subtask || (entry.subtask >= this.parallelism && entry.subtask % this.parallelism === this.subtask));
  }

  /** Pre-committed transactions waiting for their checkpoint's notification, oldest first (for properties and reports). */
  pendingTransactions(): ReadonlyArray<readonly [number, TXN]> {
    return [...this.pending.entries()].sort(([a], [b]) => a - b);
  }

  async initializeState(context: FunctionInitializationContext): Promise<void> {
    const store = context.getOperatorStateStore();
    this.state = store.getUnionListState?.<TwoPhaseCommitState<TXN>>('two-phase-commit') ?? store.getListState<TwoPhaseCommitState<TXN>>('two-phase-commit');
    this.report = (event) => context.report({ type: 'transaction', ...event });
    this.subtask = context.subtaskIndex;
    this.parallelism = context.parallelism;
    this.pending.clear();
    this.inputEnded = false;
    const entries = this.entriesToRecover(this.state.get());
    for (const entry of entries) {
      for (const [checkpointId, transaction] of entry.pending) {
        await this.recoverAndCommit(transaction);
        this.report({ kind: 'recover-commit', transaction: describeTransaction(transaction), checkpointId });
      }
      if (entry.current !== undefined) {
        await this.recoverAndAbort(entry.current);
        this.report({ kind: 'recover-abort', transaction: describeTransaction(entry.current) });
      }
    }
    const own = entries.find((entry) => entry.subtask === undefined || entry.subtask === this.subtask);
    this.handedOverSubtasks = new Set(entries.filter((entry) => entry !== own).map((entry) => entry.subtask!));
    for (const entry of entries) if (entry !== own) await this.abortLingeringOfSubtask(entry.subtask!, entry.current);
    await this.abortLingering(own?.current);
    this.current = await this.beginTransaction();
    this.state.update([]);
  }

  write(value: IN): void | Promise<void> {
    if (this.current === undefined) throw new Error(this.state === undefined ? 'TwoPhaseCommitSink: write before initializeState' : 'TwoPhaseCommitSink: write after end of input');
    return this.invoke(this.current, value);
  }

  /** End of input: the next checkpoint (the final one) pre-commits the last transaction. */
  finish(): void {
    this.inputEnded = true;
  }

  async snapshotState(context: FunctionSnapshotContext): Promise<void> {
    if (this.state === undefined) throw new Error('TwoPhaseCommitSink: snapshotState before initializeState');
    if (this.pending.has(context.checkpointId)) throw new Error(`TwoPhaseCommitSink: checkpoint ${context.checkpointId} snapshotted twice`);
    const transaction = this.current;
    if (transaction !== undefined) {
      await this.preCommit(transaction);
      this.report?.({ kind: 'pre-commit', transaction: describeTransaction(transaction), checkpointId: context.checkpointId });
      this.pending.set(context.checkpointId, transaction);
      this.current = this.inputEnded ? undefined : await this.beginTransaction();
    }
    this.state.update([{ pending: this.pendingTransactions().map(([id, txn]) => [id, txn] as const), current: this.current, subtask: this.subtask }]);
  }

  async notifyCheckpointComplete(checkpointId: number): Promise<void> {
    for (const [id, transaction] of this.committable(checkpointId)) {
      await this.commit(transaction);
      this.pending.delete(id);
    }
  }


  /** The pending transactions notify-complete(n) commits: every one with id <= n, oldest first. */
  protected committable(checkpointId: number): ReadonlyArray<readonly [number, TXN]> {
    return this.pendingTransactions().filter(([id]) => id <= checkpointId);
  }

  notifyCheckpointAborted(): void {
    // Nothing to do: an aborted checkpoint's transaction stays pending and is committed by the
    // next completed checkpoint (its id is lower), or aborted as lingering after a restore.
  }
}

/**
 * A transaction's identity in reports and invariants: its JSON, the same form the checkpoint
 * keeps it in, so a judge can match reported transactions to checkpointed ones.
 */
export function describeTransaction(transaction: unknown): string {
  return JSON.stringify(transaction);
}

export interface TwoPhaseCommitState<TXN> {
  readonly pending: ReadonlyArray<readonly [number, TXN]>;
  readonly current: TXN | undefined;
  /** The subtask that wrote the entry (a rescaled restore hands a removed subtask's entry to a surviving one). */
  readonly subtask?: number;
}
