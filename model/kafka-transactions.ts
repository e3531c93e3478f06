/**
 * Reference model of the Kafka transaction semantics exactly-once sinks rely on, written for
 * clarity, not speed: plain lists, no indexes, every rule in one place. The simulated broker
 * (src/connectors/sim/kafka-broker.ts) is checked against it with fast-check's model-based
 * testing; this file imports nothing from src/.
 *
 * The rules (Kafka 3.x, one broker):
 * 1. init(tid) gives epoch 0 to a new id, else the next epoch: +1, or +2 when it had to abort
 *    an open transaction first (the coordinator fences with one bump, the client's retry takes
 *    another). Every older epoch is fenced.
 * 2. send/commit/abort with an epoch other than the current one: PRODUCER_FENCED. With an id
 *    that was never initialised: INVALID_PRODUCER_ID_MAPPING.
 * 3. A send starts a transaction when none is open. Commit/abort ends the open one. With none
 *    open: repeating how the last one ended is a success that changes nothing; the other
 *    outcome, or ending when nothing was sent since init, is INVALID_TXN_STATE.
 * 4. Time: a transaction open for longer than its id's timeout (start + timeout < now) is
 *    aborted by the broker, and the epoch goes up by one (the writer is fenced).
 * 5. Every record and every end-of-transaction marker takes the next offset of its partition
 *    (a marker on each partition the transaction wrote to).
 * 6. read_uncommitted sees every record. read_committed sees committed records before the last
 *    stable offset: the offset of the first record of a still-open transaction, else the end.
 * 7. KIP-939 (Kafka 4.x): an id initialised for two-phase commit has no timeout (rule 4 skips
 *    it). init with keepPrepared (2PC only) over an open transaction bumps the epoch by one
 *    and keeps the transaction open for the new epoch, which may commit or abort it but not
 *    send (INVALID_TXN_STATE). Without an open transaction it is a plain init.
 */
export type ModelIsolation = 'read_committed' | 'read_uncommitted';
export type ModelOutcome = 'ok' | 'PRODUCER_FENCED' | 'INVALID_TXN_STATE' | 'INVALID_PRODUCER_ID_MAPPING';
export type ModelTransactionState = 'Empty' | 'Ongoing' | 'CompleteCommit' | 'CompleteAbort';

interface ModelTransaction {
  readonly transactionalId: string;
  readonly epoch: number;
  readonly startedAtMs: number;
  status: 'open' | 'committed' | 'aborted';
}

/** One offset of a partition: a record, or the marker that ended a transaction. */
type ModelLogEntry =
  | { readonly kind: 'record'; readonly value: string; readonly transaction: ModelTransaction }
  | { readonly kind: 'marker'; readonly transaction: ModelTransaction };

export interface ModelInitOptions {
  /** KIP-939 Enable2Pc: no transaction timeout for this id. */
  readonly twoPhaseCommit?: boolean;
  /** KIP-939 KeepPreparedTxn: keep the open transaction (needs twoPhaseCommit). */
  readonly keepPrepared?: boolean;
}

interface ModelProducerState {
  epoch: number;
  timeoutMs: number;
  twoPhaseCommit: boolean;
  /** The open transaction was kept by a keepPrepared init: only commit or abort may follow. */
  keptPrepared: boolean;
  /** The transaction started in this epoch most recently (open or ended); undefined right after init. */
  last: ModelTransaction | undefined;
}

export class KafkaTransactionModel {
  private nowMs = 0;
  private readonly producers = new Map<string, ModelProducerState>();
  /** partition -> its entries; the index of an entry is its offset. */
  private readonly logs = new Map<number, ModelLogEntry[]>();

  /** Returns the new epoch, and the kept transaction's epoch when keepPrepared kept one. */
  init(transactionalId: string, timeoutMs: number, options: ModelInitOptions = {}): { epoch: number; keptEpoch?: number } {
    const twoPhaseCommit = options.twoPhaseCommit ?? false;
    if (options.keepPrepared === true && !twoPhaseCommit) throw new Error('KafkaTransactionModel.init: keepPrepared needs twoPhaseCommit');
    const producer = this.producers.get(transactionalId);
    if (producer === undefined) {
      this.producers.set(transactionalId, { epoch: 0, timeoutMs, twoPhaseCommit, keptPrepared: false, last: undefined });
      return { epoch: 0 };
    }
    producer.timeoutMs = timeoutMs;
    producer.twoPhaseCommit = twoPhaseCommit;
    if (options.keepPrepared === true && producer.last?.status === 'open') {
      producer.epoch += 1;
      producer.keptPrepared = true;
      return { epoch: producer.epoch, keptEpoch: producer.last.epoch };
    }
    producer.keptPrepared = false;
    if (producer.last?.status === 'open') {
      this.endOpen(producer.last, 'aborted');
      producer.epoch += 2;
    } else {
      producer.epoch += 1;
    }
    producer.last = undefined;
    return { epoch: producer.epoch };
  }

  send(transactionalId: string, epoch: number, partition: number, value: string): ModelOutcome {
    const producer = this.producers.get(transactionalId);
    if (producer === undefined) return 'INVALID_PRODUCER_ID_MAPPING';
    if (epoch !== producer.epoch) return 'PRODUCER_FENCED';
    if (producer.keptPrepared) return 'INVALID_TXN_STATE';
    if (producer.last?.status !== 'open') {
      producer.last = { transactionalId, epoch, startedAtMs: this.nowMs, status: 'open' };
    }
    this.log(partition).push({ kind: 'record', value, transaction: producer.last });
    return 'ok';
  }

  end(transactionalId: string, epoch: number, commit: boolean): ModelOutcome {
    const producer = this.producers.get(transactionalId);
    if (producer === undefined) return 'INVALID_PRODUCER_ID_MAPPING';
    if (epoch !== producer.epoch) return 'PRODUCER_FENCED';
    const transaction = producer.last;
    if (transaction === undefined) return 'INVALID_TXN_STATE';
    if (transaction.status === 'open') {
      producer.keptPrepared = false;
      this.endOpen(transaction, commit ? 'committed' : 'aborted');
      return 'ok';
    }
    return (transaction.status === 'committed') === commit ? 'ok' : 'INVALID_TXN_STATE';
  }

  /** Time moves to `nowMs` (never back); the broker aborts what has been open too long. */
  advanceTimeTo(nowMs: number): void {
    if (nowMs <= this.nowMs) return;
    this.nowMs = nowMs;
    for (const producer of this.producers.values()) {
      const open = producer.last;
      if (open?.status === 'open' && !producer.twoPhaseCommit && open.startedAtMs + producer.timeoutMs < nowMs) {
        this.endOpen(open, 'aborted');
        producer.epoch += 1;
      }
    }
  }

  /** The values a reader from offset 0 sees. */
  read(partition: number, isolation: ModelIsolation): string[] {
    return this.readFrom(partition, 0, isolation).map((record) => record.value);
  }

  /** The records (offset and value) a reader starting at `fromOffset` sees. */
  readFrom(partition: number, fromOffset: number, isolation: ModelIsolation): { offset: number; value: string }[] {
    const entries = this.log(partition);
    const endOffset = isolation === 'read_uncommitted' ? entries.length : this.lastStableOffset(partition);
    const records: { offset: number; value: string }[] = [];
    for (let offset = fromOffset; offset < endOffset; offset++) {
      const entry = entries[offset]!;
      if (entry.kind !== 'record') continue;
      if (isolation === 'read_committed' && entry.transaction.status !== 'committed') continue;
      records.push({ offset, value: entry.value });
    }
    return records;
  }

  highWatermark(partition: number): number {
    return this.log(partition).length;
  }

  lastStableOffset(partition: number): number {
    const entries = this.log(partition);
    const firstOpen = entries.findIndex((entry) => entry.kind === 'record' && entry.transaction.status === 'open');
    return firstOpen < 0 ? entries.length : firstOpen;
  }

  /** The state and epoch Kafka's DescribeTransactions would report; undefined for an unknown id. */
  describe(transactionalId: string): { state: ModelTransactionState; epoch: number } | undefined {
    const producer = this.producers.get(transactionalId);
    if (producer === undefined) return undefined;
    const status = producer.last?.status;
    const state: ModelTransactionState = status === undefined ? 'Empty' : status === 'open' ? 'Ongoing' : status === 'committed' ? 'CompleteCommit' : 'CompleteAbort';
    return { state, epoch: producer.epoch };
  }

  /** Ends an open transaction and writes its marker on every partition it wrote to. */
  private endOpen(transaction: ModelTransaction, status: 'committed' | 'aborted'): void {
    transaction.status = status;
    for (const entries of this.logs.values()) {
      if (entries.some((entry) => entry.transaction === transaction)) entries.push({ kind: 'marker', transaction });
    }
  }

  private log(partition: number): ModelLogEntry[] {
    let entries = this.logs.get(partition);
    if (entries === undefined) {
      entries = [];
      this.logs.set(partition, entries);
    }
    return entries;
  }
}
