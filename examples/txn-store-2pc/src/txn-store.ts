/**
 * A made-up transactional store: writes go into a transaction and become visible to
 * readers only when it commits. Committing a committed transaction is a no-op (so a
 * commit retried after a restore is safe); committing an aborted one is an error.
 */
export class TxnStore {
  private readonly open = new Map<string, [string, string][]>();
  private readonly ended = new Map<string, 'committed' | 'aborted'>();
  /** What readers see: per key, the committed values in commit order. */
  readonly committed = new Map<string, string[]>();

  begin(txn: string): void {
    if (this.open.has(txn) || this.ended.has(txn)) throw new Error(`transaction ${txn} already exists`);
    this.open.set(txn, []);
  }

  write(txn: string, rows: [string, string][]): void {
    const pending = this.open.get(txn);
    if (pending === undefined) throw new Error(`transaction ${txn} is not open`);
    pending.push(...rows);
  }

  commit(txn: string): void {
    if (this.ended.get(txn) === 'committed') return;
    const rows = this.open.get(txn);
    if (rows === undefined) throw new Error(`transaction ${txn} cannot commit: it was ${this.ended.get(txn) ?? 'never begun'}`);
    for (const [key, value] of rows) this.committed.set(key, [...(this.committed.get(key) ?? []), value]);
    this.open.delete(txn);
    this.ended.set(txn, 'committed');
  }

  abort(txn: string): void {
    if (this.ended.has(txn)) return;
    this.open.delete(txn);
    this.ended.set(txn, 'aborted');
  }

  openTransactions(): string[] {
    return [...this.open.keys()];
  }
}
