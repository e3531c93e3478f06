import type { IsolationLevel, KafkaRecord } from '../kafka-api.ts';

/**
 * The simulated Kafka broker: partitioned logs with transactions, as far as exactly-once
 * sinks rely on them. A pure, synchronous state machine: time comes in as `nowMs` arguments,
 * nothing here reads a clock or draws a random number.
 *
 * Semantics kept from Kafka's TransactionCoordinator and log layer:
 * - initProducerId(tid) registers a transactional id; again, it bumps the epoch, fencing the
 *   older producer, and aborts its open transaction;
 * - a produce inside a transaction adds the partition to it (AddPartitionsToTxn);
 * - endTransaction with the current epoch completes it; a retried commit of a transaction
 *   already in CompleteCommit succeeds (what makes recoverAndCommit idempotent), while
 *   commit after abort (or abort after commit), or ending one that never sent anything, is
 *   INVALID_TXN_STATE; an older epoch is
 *   fenced (INVALID_PRODUCER_EPOCH, as 3.9 answers EndTxn);
 * - the broker aborts a transaction open longer than its timeout and bumps the epoch;
 * - read_committed stops at the last stable offset (first offset of the earliest open
 *   transaction on the partition) and skips aborted records; read_uncommitted reads to the
 *   high watermark. Control markers are never returned.
 */

export type TransactionState = 'Empty' | 'Ongoing' | 'CompleteCommit' | 'CompleteAbort';

export type KafkaErrorCode = 'INVALID_PRODUCER_EPOCH' | 'INVALID_TXN_STATE' | 'INVALID_PRODUCER_ID_MAPPING' | 'UNKNOWN_TOPIC_OR_PARTITION' | 'INVALID_REQUEST';

export class KafkaProtocolError extends Error {
  constructor(
    readonly code: KafkaErrorCode,
    message: string,
  ) {
    super(`${code}: ${message}`);
    this.name = 'KafkaProtocolError';
  }
}

export interface StoredRecord extends KafkaRecord {
  readonly offset: number;
  readonly producerId: number;
  readonly transactionalId: string;
  /** Shared by every record of one transaction; its status decides visibility. */
  readonly transaction: TransactionRecordGroup;
}

interface TransactionRecordGroup {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly epoch: number;
  status: 'open' | 'committed' | 'aborted';
  /** Records written, for observations. */
  recordCount: number;
}

interface TransactionMetadata {
  readonly transactionalId: string;
  readonly producerId: number;
  epoch: number;
  state: TransactionState;
  timeoutMs: number;
  startedAtMs: number;
  /** topic/partition -> first offset of this transaction there. */
  readonly partitions: Map<string, number>;
  current: TransactionRecordGroup | undefined;
}

export type BrokerEvent =
  | { readonly kind: 'init'; readonly transactionalId: string; readonly producerId: number; readonly epoch: number; readonly atMs: number }
  | { readonly kind: 'commit' | 'abort' | 'timeout-abort' | 'fence-abort'; readonly transactionalId: string; readonly producerId: number; readonly epoch: number; readonly records: number; readonly atMs: number }
  | { readonly kind: 'rejected'; readonly transactionalId: string; readonly producerId: number; readonly epoch: number; readonly code: KafkaErrorCode; readonly request: string; readonly atMs: number };

export interface TransactionListing {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly epoch: number;
  readonly state: TransactionState;
  readonly partitions: readonly string[];
}

interface PartitionLog {
  readonly records: StoredRecord[];
  /** Offsets are dense over data and control records; control markers only advance the offset. */
  nextOffset: number;
}

export class SimKafkaBroker {
  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly transactions = new Map<string, TransactionMetadata>();
  private nextProducerId = 1000;
  private nowMs = 0;
  /** Everything that happened to transactions, in order: what properties judge. */
  readonly events: BrokerEvent[] = [];

  createTopic(topic: string, partitionCount: number): void {
    if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) throw new KafkaProtocolError('INVALID_REQUEST', `topic ${topic}: partition count must be >= 1, got ${partitionCount}`);
    if (this.topics.has(topic)) return;
    this.topics.set(topic, Array.from({ length: partitionCount }, () => ({ records: [], nextOffset: 0 })));
  }

  /** Time moves on: transactions open longer than their timeout are aborted by the broker. */
  advanceTimeTo(nowMs: number): void {
    if (nowMs < this.nowMs) return;
    this.nowMs = nowMs;
    for (const metadata of this.transactions.values()) {
      if (metadata.state === 'Ongoing' && nowMs - metadata.startedAtMs > metadata.timeoutMs) this.completeOpen(metadata, 'timeout-abort');
    }
  }

  /** Aborts every open transaction now, as if each had timed out (a fault). Returns how many. */
  expireOpenTransactions(): number {
    let count = 0;
    for (const metadata of this.transactions.values()) {
      if (metadata.state === 'Ongoing') {
        this.completeOpen(metadata, 'timeout-abort');
        count++;
      }
    }
    return count;
  }

  initProducerId(transactionalId: string, transactionTimeoutMs: number, nowMs: number): { producerId: number; epoch: number } {
    this.advanceTimeTo(nowMs);
    if (!(transactionTimeoutMs > 0)) throw new KafkaProtocolError('INVALID_REQUEST', `${transactionalId}: transaction timeout must be > 0`);
    let metadata = this.transactions.get(transactionalId);
    if (metadata === undefined) {
      metadata = { transactionalId, producerId: this.nextProducerId++, epoch: 0, state: 'Empty', timeoutMs: transactionTimeoutMs, startedAtMs: nowMs, partitions: new Map(), current: undefined };
      this.transactions.set(transactionalId, metadata);
    } else {
      if (metadata.state === 'Ongoing') this.completeOpen(metadata, 'fence-abort');
      else metadata.epoch++;
      metadata.state = 'Empty';
      metadata.timeoutMs = transactionTimeoutMs;
    }
    this.events.push({ kind: 'init', transactionalId, producerId: metadata.producerId, epoch: metadata.epoch, atMs: nowMs });
    return { producerId: metadata.producerId, epoch: metadata.epoch };
  }

  produce(transactionalId: string, producerId: number, epoch: number, topic: string, partition: number, records: readonly KafkaRecord[], nowMs: number): number {
    this.advanceTimeTo(nowMs);
    const metadata = this.checkProducer(transactionalId, producerId, epoch, 'produce');
    const log = this.partition(topic, partition);
    if (metadata.state !== 'Ongoing') {
      metadata.state = 'Ongoing';
      metadata.startedAtMs = nowMs;
      metadata.partitions.clear();
      metadata.current = { transactionalId, producerId, epoch, status: 'open', recordCount: 0 };
    }
    const key = `${topic}/${partition}`;
    if (!metadata.partitions.has(key)) metadata.partitions.set(key, log.nextOffset);
    const group = metadata.current!;
    const firstOffset = log.nextOffset;
    for (const record of records) {
      log.records.push({ key: record.key, value: record.value, offset: log.nextOffset++, producerId, transactionalId, transaction: group });
    }
    group.recordCount += records.length;
    return firstOffset;
  }

  endTransaction(transactionalId: string, producerId: number, epoch: number, commit: boolean, nowMs: number): void {
    this.advanceTimeTo(nowMs);
    const request = commit ? 'commit' : 'abort';
    const metadata = this.checkProducer(transactionalId, producerId, epoch, request);
    switch (metadata.state) {
      case 'Ongoing':
        this.completeOpen(metadata, commit ? 'commit' : 'abort');
        return;
      case 'Empty':
        // Nothing was sent in this epoch. Clients complete such a transaction locally; an EndTxn
        // that still reaches the coordinator (a resumed handle) is refused, as Kafka 3.9 does.
        throw this.reject(metadata, epoch, 'INVALID_TXN_STATE', request, `${transactionalId}: ${request} of a transaction with nothing in it (state Empty)`);
      case 'CompleteCommit':
        if (commit) return; // a retried commit: success, nothing changes
        throw this.reject(metadata, epoch, 'INVALID_TXN_STATE', request, `${transactionalId}: abort of a transaction that already committed`);
      case 'CompleteAbort':
        if (!commit) return;
        throw this.reject(metadata, epoch, 'INVALID_TXN_STATE', request, `${transactionalId}: commit of a transaction that was aborted`);
    }
  }

  fetch(topic: string, partition: number, fromOffset: number, isolation: IsolationLevel): StoredRecord[] {
    const log = this.partition(topic, partition);
    const end = isolation === 'read_committed' ? this.lastStableOffset(topic, partition) : log.nextOffset;
    const out: StoredRecord[] = [];
    for (const record of log.records) {
      if (record.offset < fromOffset) continue;
      if (record.offset >= end) break;
      if (isolation === 'read_committed' && record.transaction.status !== 'committed') continue;
      out.push(record);
    }
    return out;
  }

  highWatermark(topic: string, partition: number): number {
    return this.partition(topic, partition).nextOffset;
  }

  lastStableOffset(topic: string, partition: number): number {
    const log = this.partition(topic, partition);
    let stable = log.nextOffset;
    const key = `${topic}/${partition}`;
    for (const metadata of this.transactions.values()) {
      if (metadata.state !== 'Ongoing') continue;
      const first = metadata.partitions.get(key);
      if (first !== undefined && first < stable) stable = first;
    }
    return stable;
  }

  listTransactions(): TransactionListing[] {
    return [...this.transactions.values()]
      .map((metadata) => ({ transactionalId: metadata.transactionalId, producerId: metadata.producerId, epoch: metadata.epoch, state: metadata.state, partitions: [...metadata.partitions.keys()].sort() }))
      .sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : 1));
  }

  private completeOpen(metadata: TransactionMetadata, how: 'commit' | 'abort' | 'timeout-abort' | 'fence-abort'): void {
    const group = metadata.current!;
    group.status = how === 'commit' ? 'committed' : 'aborted';
    // Control markers take an offset on every partition of the transaction.
    for (const key of metadata.partitions.keys()) {
      const [topic, partition] = splitKey(key);
      this.partition(topic, partition).nextOffset++;
    }
    this.events.push({ kind: how, transactionalId: metadata.transactionalId, producerId: metadata.producerId, epoch: metadata.epoch, records: group.recordCount, atMs: this.nowMs });
    metadata.state = how === 'commit' ? 'CompleteCommit' : 'CompleteAbort';
    // A broker-side abort (timeout, or a new producer's init) fences the producer that was writing.
    if (how === 'timeout-abort' || how === 'fence-abort') metadata.epoch++;
  }

  private checkProducer(transactionalId: string, producerId: number, epoch: number, request: string): TransactionMetadata {
    const metadata = this.transactions.get(transactionalId);
    if (metadata === undefined || metadata.producerId !== producerId) {
      this.events.push({ kind: 'rejected', transactionalId, producerId, epoch, code: 'INVALID_PRODUCER_ID_MAPPING', request, atMs: this.nowMs });
      throw new KafkaProtocolError('INVALID_PRODUCER_ID_MAPPING', `${transactionalId}: producer id ${producerId} is not registered for it`);
    }
    if (epoch !== metadata.epoch) {
      throw this.reject(metadata, epoch, 'INVALID_PRODUCER_EPOCH', request, `${transactionalId}: producer ${producerId} with epoch ${epoch} is fenced (current epoch ${metadata.epoch})`);
    }
    return metadata;
  }

  private reject(metadata: TransactionMetadata, epoch: number, code: KafkaErrorCode, request: string, message: string): KafkaProtocolError {
    this.events.push({ kind: 'rejected', transactionalId: metadata.transactionalId, producerId: metadata.producerId, epoch, code, request, atMs: this.nowMs });
    return new KafkaProtocolError(code, message);
  }

  private partition(topic: string, partition: number): PartitionLog {
    const log = this.topics.get(topic)?.[partition];
    if (log === undefined) throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `${topic}/${partition}`);
    return log;
  }
}

function splitKey(key: string): [string, number] {
  const slash = key.lastIndexOf('/');
  return [key.slice(0, slash), Number(key.slice(slash + 1))];
}
