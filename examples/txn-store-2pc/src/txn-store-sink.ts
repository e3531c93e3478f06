import { TwoPhaseCommitSink, type FunctionInitializationContext, type SimClient, type TestRecord } from 'streamcheck';
import type { TxnStore } from './txn-store.ts';

interface Txn {
  readonly id: string;
}

/** Exactly-once into the store: one transaction per checkpoint, committed when the checkpoint completes. */
export class TxnStoreSink extends TwoPhaseCommitSink<TestRecord, Txn> {
  private counter = 0;
  private attempt = 0;
  private readonly rows = new Map<string, [string, string][]>();

  constructor(protected readonly store: SimClient<TxnStore>, private readonly subtask: number) {
    super();
  }

  override async initializeState(context: FunctionInitializationContext): Promise<void> {
    // Ids carry the attempt, so a restarted sink never reuses an id of a transaction it may have begun before.
    this.attempt = context.attemptNumber;
    await super.initializeState(context);
  }

  protected async beginTransaction(): Promise<Txn> {
    const txn = { id: `sink-${this.subtask}-a${this.attempt}-${this.counter++}` };
    await this.store.begin(txn.id);
    this.rows.set(txn.id, []);
    return txn;
  }

  protected invoke(txn: Txn, record: TestRecord): void {
    this.rows.get(txn.id)!.push([record.key, record.value]);
  }

  protected async preCommit(txn: Txn): Promise<void> {
    await this.store.write(txn.id, this.rows.get(txn.id) ?? []);
    this.rows.delete(txn.id);
  }

  protected commit(txn: Txn): Promise<void> {
    return this.store.commit(txn.id);
  }

  protected abort(txn: Txn): Promise<void> {
    return this.store.abort(txn.id);
  }
}

/** The bug a suite must catch: commits in snapshotState, before the checkpoint completed. */
export class EagerTxnStoreSink extends TxnStoreSink {
  override async snapshotState(context: { readonly checkpointId: number }): Promise<void> {
    await super.snapshotState(context);
    for (const [, txn] of this.pendingTransactions()) await this.commit(txn);
  }
}
