/**
 * Reference model of the Kafka transaction semantics exactly-once sinks rely on, written for
 * clarity (lists, no indexes). The simulated broker is checked against it with fast-check's
 * model-based testing; it knows nothing of the runtime.
 */
export type ModelIsolation = 'read_committed' | 'read_uncommitted';
export type ModelOutcome = 'ok' | 'INVALID_PRODUCER_EPOCH' | 'INVALID_TXN_STATE';

interface ModelEntry {
  readonly partition: number;
  readonly value: string;
  /** Index into `transactions`: which transaction wrote it. */
  readonly transaction: number;
}

interface ModelTransaction {
  readonly transactionalId: string;
  readonly epoch: number;
  status: 'open' | 'committed' | 'aborted';
}

export class KafkaTransactionModel {
  /** Current epoch of each transactional id. */
  readonly epochs = new Map<string, number>();
  /** The open-or-last transaction of each transactional id (index into `transactions`). */
  private readonly latest = new Map<string, number>();
  private readonly transactions: ModelTransaction[] = [];
  private readonly entries: ModelEntry[] = [];

  init(transactionalId: string): number {
    const epoch = this.epochs.has(transactionalId) ? this.epochs.get(transactionalId)! + 1 : 0;
    this.abortOpen(transactionalId);
    this.epochs.set(transactionalId, epoch);
    return epoch;
  }

  send(transactionalId: string, epoch: number, partition: number, value: string): ModelOutcome {
    if (this.epochs.get(transactionalId) !== epoch) return 'INVALID_PRODUCER_EPOCH';
    let index = this.latest.get(transactionalId);
    if (index === undefined || this.transactions[index]!.status !== 'open' || this.transactions[index]!.epoch !== epoch) {
      index = this.transactions.push({ transactionalId, epoch, status: 'open' }) - 1;
      this.latest.set(transactionalId, index);
    }
    this.entries.push({ partition, value, transaction: index });
    return 'ok';
  }

  end(transactionalId: string, epoch: number, commit: boolean): ModelOutcome {
    if (this.epochs.get(transactionalId) !== epoch) return 'INVALID_PRODUCER_EPOCH';
    const index = this.latest.get(transactionalId);
    const transaction = index === undefined ? undefined : this.transactions[index];
    if (transaction === undefined || transaction.epoch !== epoch) return 'INVALID_TXN_STATE'; // nothing sent in this epoch
    if (transaction.status === 'open') {
      transaction.status = commit ? 'committed' : 'aborted';
      return 'ok';
    }
    // Retrying the same outcome is fine; the opposite one is not.
    return (transaction.status === 'committed') === commit ? 'ok' : 'INVALID_TXN_STATE';
  }

  /** The broker aborts every open transaction (timeout) and fences its producer. */
  expireOpen(): void {
    for (const transactionalId of [...this.latest.keys()]) {
      const transaction = this.transactions[this.latest.get(transactionalId)!]!;
      if (transaction.status === 'open') {
        transaction.status = 'aborted';
        this.epochs.set(transactionalId, this.epochs.get(transactionalId)! + 1);
      }
    }
  }

  read(partition: number, isolation: ModelIsolation): string[] {
    const onPartition = this.entries.filter((entry) => entry.partition === partition);
    if (isolation === 'read_uncommitted') return onPartition.map((entry) => entry.value);
    // The last stable offset: nothing at or after the first record of a still-open transaction.
    const firstOpen = onPartition.findIndex((entry) => this.transactions[entry.transaction]!.status === 'open');
    const stable = firstOpen < 0 ? onPartition : onPartition.slice(0, firstOpen);
    return stable.filter((entry) => this.transactions[entry.transaction]!.status === 'committed').map((entry) => entry.value);
  }

  private abortOpen(transactionalId: string): void {
    const index = this.latest.get(transactionalId);
    if (index !== undefined && this.transactions[index]!.status === 'open') this.transactions[index]!.status = 'aborted';
  }
}
