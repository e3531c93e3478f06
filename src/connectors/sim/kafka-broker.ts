import type { IsolationLevel, KafkaRecord } from '../kafka-api.ts';

/**
 * The simulated Kafka broker: partitioned logs with transactions, as far as exactly-once
 * sinks rely on them. A pure, synchronous, deterministic state machine: time comes in as
 * `nowMs` arguments (or `advanceTimeTo`), nothing here reads a clock, draws a random number,
 * or schedules anything. One broker plays every role: transaction coordinator, partition
 * leaders (one replica, so the high watermark is the log end), and fetch handler.
 *
 * Semantics kept from Kafka 3.x (TransactionCoordinator, TransactionMetadata, the log layer);
 * the model in model/kafka-transactions.ts states the same rules in a few lines each:
 * - initProducerId(tid) registers a transactional id (producer id, epoch 0). Again, it bumps
 *   the epoch, which fences the older producer. If that producer left a transaction Ongoing,
 *   the coordinator first bumps the epoch to fence it, aborts the transaction (markers), and
 *   the client's retried InitProducerId bumps it once more: the new producer gets epoch + 2.
 * - a produce inside a transaction adds the partition to it (AddPartitionsToTxn) and starts
 *   the transaction (Empty/CompleteCommit/CompleteAbort -> Ongoing, start time = now).
 * - endTransaction (EndTxn) with the current epoch completes an Ongoing transaction. A retry
 *   of the same outcome on a completed transaction succeeds and changes nothing (what makes
 *   Flink's recoverAndCommit idempotent); the opposite outcome, or ending a transaction that
 *   never started in this epoch (Empty), is INVALID_TXN_STATE; any other epoch is
 *   PRODUCER_FENCED (Kafka >= 2.7 enforces strict equality for client requests; EndTxn v0/v1
 *   clients such as kafkajs receive it as INVALID_PRODUCER_EPOCH).
 * - the coordinator aborts a transaction Ongoing for longer than its timeout (start + timeout
 *   < now) and bumps the epoch, fencing the producer that was writing (Kafka >= 2.5). Kafka
 *   notices on a periodic scan; here it happens as soon as time passes the deadline.
 * - read_committed stops at the last stable offset (the first offset of the earliest Ongoing
 *   transaction on the partition, else the high watermark) and skips aborted records;
 *   read_uncommitted reads to the high watermark. Control markers take an offset (so offsets
 *   have gaps) but are never returned.
 *
 * KIP-939 (participation in two-phase commit; InitProducerId v6, Apache Kafka 4.x, not in 3.x):
 * - initProducerId with `enableTwoPhaseCommit` registers a 2PC producer: its transactions are
 *   never aborted by the transaction timeout (the external coordinator decides their outcome).
 *   Kafka never sees the client's prepareTransaction (a flush that returns producer id and
 *   epoch), so the exemption covers every transaction of such a producer.
 * - initProducerId with `keepPreparedTxn` (2PC producers only) bumps the epoch, which fences
 *   the older producer, but keeps an Ongoing transaction instead of aborting it, and answers
 *   its producer id and epoch (OngoingTxnProducerId/Epoch). The new epoch may then only
 *   commit or abort it (a produce is INVALID_TXN_STATE); a plain initProducerId aborts it.
 *
 * Not modelled: producer-id rotation on epoch exhaustion (an epoch past MAX_PRODUCER_EPOCH is
 * an error here), transactional-id expiration, idempotent sequence numbers, consumer-group
 * offsets in transactions (AddOffsetsToTxn), replication and retention.
 */

export type TransactionState = 'Empty' | 'Ongoing' | 'CompleteCommit' | 'CompleteAbort';

/** Kafka's error names, as `Errors` spells them. */
export type KafkaErrorCode =
  | 'PRODUCER_FENCED'
  /** What EndTxn v0/v1 (kafkajs) receives instead of PRODUCER_FENCED; this broker answers PRODUCER_FENCED. */
  | 'INVALID_PRODUCER_EPOCH'
  | 'INVALID_TXN_STATE'
  | 'INVALID_PRODUCER_ID_MAPPING'
  | 'INVALID_TRANSACTION_TIMEOUT'
  | 'UNKNOWN_TOPIC_OR_PARTITION'
  | 'OFFSET_OUT_OF_RANGE'
  | 'INVALID_REQUEST';

/** An error the broker answers a request with. `code` is Kafka's error name. */
export class KafkaProtocolError extends Error {
  constructor(
    readonly code: KafkaErrorCode,
    message: string,
    readonly transactionalId?: string,
    readonly producerId?: number,
    readonly epoch?: number,
  ) {
    super(`${code}: ${message}`);
    this.name = 'KafkaProtocolError';
  }
}

/** Kafka's epoch is an int16; Kafka would rotate the producer id here, the simulation refuses. */
export const MAX_PRODUCER_EPOCH = 32_766;
/** What initProducerId asks for besides the transactional id and timeout (KIP-939's InitProducerId v6 fields). */
export interface InitProducerIdOptions {
  /** Enable2Pc: a producer taking part in two-phase commit; the transaction timeout does not abort its transactions. */
  readonly enableTwoPhaseCommit?: boolean;
  /** KeepPreparedTxn: keep the Ongoing (prepared) transaction of the id instead of aborting it. Needs enableTwoPhaseCommit. */
  readonly keepPreparedTxn?: boolean;
}

/** The producer id and epoch the caller now owns; with keepPreparedTxn also the kept transaction's. */
export interface InitProducerIdResult {
  readonly producerId: number;
  readonly epoch: number;
  /** OngoingTxnProducerId/Epoch: present only when keepPreparedTxn kept an Ongoing transaction. */
  readonly ongoing?: { readonly producerId: number; readonly epoch: number };
}

/** Kafka's default transaction.max.timeout.ms (15 minutes). */
export const DEFAULT_MAX_TRANSACTION_TIMEOUT_MS = 900_000;

/** The records of one transaction share this object: its status decides their visibility. */
export interface TransactionRecordGroup {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly epoch: number;
  status: 'open' | 'committed' | 'aborted';
  /** Records written, for observations. */
  recordCount: number;
}

export interface StoredRecord extends KafkaRecord {
  readonly offset: number;
  readonly producerId: number;
  readonly transactionalId: string;
  readonly transaction: TransactionRecordGroup;
}

/**
 * The outcome log, always recorded: one entry per registration, transaction end and refused
 * request. Properties judge runs from it (see properties/two-phase-commit.ts). The epoch of a
 * commit/abort entry is the epoch of the producer that wrote the transaction.
 */
export type BrokerEvent =
  | {
      readonly kind: 'init';
      readonly transactionalId: string;
      readonly producerId: number;
      readonly epoch: number;
      readonly atMs: number;
      /** KIP-939 keepPreparedTxn kept the Ongoing transaction written with this epoch: the new epoch may commit it. */
      readonly keptEpoch?: number;
    }
  | {
      /** fence-abort: an initProducerId aborted the open transaction of the producer it fenced. */
      readonly kind: 'commit' | 'abort' | 'timeout-abort' | 'fence-abort';
      readonly transactionalId: string;
      readonly producerId: number;
      readonly epoch: number;
      readonly records: number;
      readonly atMs: number;
    }
  | { readonly kind: 'rejected'; readonly transactionalId: string; readonly producerId: number; readonly epoch: number; readonly code: KafkaErrorCode; readonly request: string; readonly atMs: number };

/** The full activity log (opt-in, `trace: true`): the outcome log plus every begin and produce. */
export type BrokerTraceEvent =
  | BrokerEvent
  | { readonly kind: 'begin'; readonly transactionalId: string; readonly producerId: number; readonly epoch: number; readonly atMs: number }
  | {
      readonly kind: 'produce';
      readonly transactionalId: string;
      readonly producerId: number;
      readonly epoch: number;
      readonly topic: string;
      readonly partition: number;
      readonly firstOffset: number;
      readonly records: number;
      readonly atMs: number;
    };

/** What Kafka's ListTransactions + DescribeTransactions tell about one transactional id. */
export interface TransactionListing {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly epoch: number;
  readonly state: TransactionState;
  /** `topic/partition` of the current (or last completed) transaction, sorted. */
  readonly partitions: readonly string[];
  /** When the current (or last completed) transaction started; -1 in Empty, as Kafka reports. */
  readonly transactionStartMs: number;
  readonly transactionTimeoutMs: number;
}

export interface SimKafkaBrokerOptions {
  /** Record `trace` (every begin and produce besides the outcomes). Default false: it grows with every produce. */
  readonly trace?: boolean;
  /** Kafka's transaction.max.timeout.ms: initProducerId refuses longer timeouts. */
  readonly maxTransactionTimeoutMs?: number;
  /** The first producer id handed out (then +1 per new transactional id). */
  readonly firstProducerId?: number;
}

interface PartitionLog {
  readonly topic: string;
  readonly partition: number;
  /** `topic/partition`, built once. */
  readonly name: string;
  /** Data records in offset order; control markers only advance `nextOffset`. */
  readonly records: StoredRecord[];
  nextOffset: number;
  /** First data offset here of each Ongoing transaction; the least is the last stable offset. */
  readonly openTransactionFirstOffsets: Map<TransactionMetadata, number>;
}

interface TransactionMetadata {
  readonly transactionalId: string;
  readonly producerId: number;
  epoch: number;
  state: TransactionState;
  timeoutMs: number;
  /** -1 in Empty. */
  startedAtMs: number;
  /** Partitions of the current (or last completed) transaction, in the order they were added. */
  readonly partitions: PartitionLog[];
  /** Records of the current (or last completed) transaction; undefined in Empty. */
  current: TransactionRecordGroup | undefined;
  /** KIP-939 Enable2Pc of the latest initProducerId: the timeout never aborts this id's transactions. */
  twoPhaseCommit: boolean;
  /** The Ongoing transaction was kept by a keepPreparedTxn init: the new epoch may only commit or abort it. */
  keptPrepared: boolean;
}

type CompletionKind = 'commit' | 'abort' | 'timeout-abort' | 'fence-abort';

export class SimKafkaBroker {
  /** The outcome log: what properties judge. */
  readonly events: BrokerEvent[] = [];
  /** Every event including begin and produce; empty unless constructed with `trace: true`. */
  readonly trace: BrokerTraceEvent[] = [];

  private readonly topics = new Map<string, PartitionLog[]>();
  private readonly transactions = new Map<string, TransactionMetadata>();
  /** Ongoing transactions in the order they started (the order timeouts abort them in). */
  private readonly ongoing = new Set<TransactionMetadata>();
  /** No Ongoing transaction expires at or before this time (a lower bound, refreshed on each scan). */
  private earliestDeadlineMs = Number.POSITIVE_INFINITY;
  private readonly tracing: boolean;
  private readonly maxTransactionTimeoutMs: number;
  private nextProducerId: number;
  private nowMs = 0;

  constructor(options: SimKafkaBrokerOptions = {}) {
    this.tracing = options.trace ?? false;
    this.maxTransactionTimeoutMs = options.maxTransactionTimeoutMs ?? DEFAULT_MAX_TRANSACTION_TIMEOUT_MS;
    this.nextProducerId = options.firstProducerId ?? 1000;
    if (!Number.isSafeInteger(this.maxTransactionTimeoutMs) || this.maxTransactionTimeoutMs < 1) {
      throw new Error(`SimKafkaBroker: maxTransactionTimeoutMs must be a positive integer, got ${this.maxTransactionTimeoutMs}`);
    }
    if (!Number.isSafeInteger(this.nextProducerId) || this.nextProducerId < 0) {
      throw new Error(`SimKafkaBroker: firstProducerId must be a non-negative integer, got ${this.nextProducerId}`);
    }
  }

  /** The broker's virtual time: the latest `nowMs` it was given. */
  get currentTimeMs(): number {
    return this.nowMs;
  }

  /** Creates a topic; creating an existing one again is a no-op (its partition count must agree). */
  createTopic(topic: string, partitionCount: number): void {
    if (topic === '') throw new KafkaProtocolError('INVALID_REQUEST', 'SimKafkaBroker.createTopic: the topic name is empty');
    if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) {
      throw new KafkaProtocolError('INVALID_REQUEST', `SimKafkaBroker.createTopic(${topic}): partition count must be an integer >= 1, got ${partitionCount}`);
    }
    const existing = this.topics.get(topic);
    if (existing !== undefined) {
      if (existing.length !== partitionCount) {
        throw new KafkaProtocolError('INVALID_REQUEST', `SimKafkaBroker.createTopic(${topic}): exists with ${existing.length} partitions, asked for ${partitionCount}`);
      }
      return;
    }
    const logs: PartitionLog[] = [];
    for (let partition = 0; partition < partitionCount; partition++) {
      logs.push({ topic, partition, name: `${topic}/${partition}`, records: [], nextOffset: 0, openTransactionFirstOffsets: new Map() });
    }
    this.topics.set(topic, logs);
  }

  /**
   * Time moves on: transactions Ongoing for longer than their timeout are aborted and their
   * producers fenced. Time never goes back: an earlier `nowMs` (a request that was in flight
   * while time moved) is served at the broker's current time.
   */
  advanceTimeTo(nowMs: number): void {
    if (!Number.isFinite(nowMs)) throw new Error(`SimKafkaBroker.advanceTimeTo: nowMs must be finite, got ${nowMs}`);
    if (nowMs <= this.nowMs) return;
    this.nowMs = nowMs;
    if (nowMs <= this.earliestDeadlineMs) return;
    const expired: TransactionMetadata[] = [];
    let earliestDeadlineMs = Number.POSITIVE_INFINITY;
    for (const metadata of this.ongoing) {
      if (metadata.twoPhaseCommit) continue; // KIP-939: a 2PC transaction has no timeout
      const deadlineMs = metadata.startedAtMs + metadata.timeoutMs;
      // Kafka's TransactionStateManager: expired when start + timeout < now.
      if (deadlineMs < nowMs) expired.push(metadata);
      else if (deadlineMs < earliestDeadlineMs) earliestDeadlineMs = deadlineMs;
    }
    this.earliestDeadlineMs = earliestDeadlineMs;
    for (const metadata of expired) this.completeOngoing(metadata, 'timeout-abort');
  }

  /** Aborts every Ongoing transaction now, as if each had timed out (a fault; 2PC ones have no timeout). Returns how many. */
  expireOpenTransactions(): number {
    const expired = [...this.ongoing].filter((metadata) => !metadata.twoPhaseCommit);
    for (const metadata of expired) this.completeOngoing(metadata, 'timeout-abort');
    return expired.length;
  }

  /**
   * InitProducerId for a transactional producer. Returns the producer id and the epoch the
   * caller now owns; every older epoch of `transactionalId` is fenced from here on.
   */
  initProducerId(transactionalId: string, transactionTimeoutMs: number, nowMs: number, options: InitProducerIdOptions = {}): InitProducerIdResult {
    this.advanceTimeTo(nowMs);
    if (transactionalId === '') throw new KafkaProtocolError('INVALID_REQUEST', 'SimKafkaBroker.initProducerId: the transactional id is empty');
    const twoPhaseCommit = options.enableTwoPhaseCommit ?? false;
    const keepPrepared = options.keepPreparedTxn ?? false;
    if (keepPrepared && !twoPhaseCommit) {
      throw new KafkaProtocolError('INVALID_REQUEST', `SimKafkaBroker.initProducerId(${transactionalId}): keepPreparedTxn needs enableTwoPhaseCommit (KIP-939)`, transactionalId);
    }
    if (!Number.isSafeInteger(transactionTimeoutMs) || transactionTimeoutMs < 1 || transactionTimeoutMs > this.maxTransactionTimeoutMs) {
      throw new KafkaProtocolError(
        'INVALID_TRANSACTION_TIMEOUT',
        `SimKafkaBroker.initProducerId(${transactionalId}): transaction timeout must be an integer in [1, ${this.maxTransactionTimeoutMs}] ms, got ${transactionTimeoutMs}`,
        transactionalId,
      );
    }
    let metadata = this.transactions.get(transactionalId);
    if (metadata === undefined) {
      metadata = { transactionalId, producerId: this.nextProducerId++, epoch: 0, state: 'Empty', timeoutMs: transactionTimeoutMs, startedAtMs: -1, partitions: [], current: undefined, twoPhaseCommit, keptPrepared: false };
      this.transactions.set(transactionalId, metadata);
    } else if (keepPrepared && metadata.state === 'Ongoing') {
      // KIP-939: fence the older producer (one bump), keep its transaction for the new epoch to finish.
      this.bumpEpoch(metadata);
      metadata.twoPhaseCommit = true;
      metadata.keptPrepared = true;
      metadata.timeoutMs = transactionTimeoutMs;
      const kept = metadata.current!;
      this.record({ kind: 'init', transactionalId, producerId: metadata.producerId, epoch: metadata.epoch, atMs: this.nowMs, keptEpoch: kept.epoch });
      return { producerId: metadata.producerId, epoch: metadata.epoch, ongoing: { producerId: kept.producerId, epoch: kept.epoch } };
    } else {
      // Ongoing: the coordinator fences (epoch + 1) and aborts first; the client retries and gets epoch + 2.
      if (metadata.state === 'Ongoing') this.completeOngoing(metadata, 'fence-abort');
      this.bumpEpoch(metadata);
      metadata.state = 'Empty';
      metadata.timeoutMs = transactionTimeoutMs;
      metadata.startedAtMs = -1;
      metadata.partitions.length = 0;
      metadata.current = undefined;
      metadata.twoPhaseCommit = twoPhaseCommit;
      metadata.keptPrepared = false;
    }
    this.record({ kind: 'init', transactionalId, producerId: metadata.producerId, epoch: metadata.epoch, atMs: this.nowMs });
    return { producerId: metadata.producerId, epoch: metadata.epoch };
  }

  /**
   * A transactional produce: AddPartitionsToTxn and Produce in one request. Starts a
   * transaction if none is Ongoing for this producer. Returns the offset of the first record.
   */
  produce(transactionalId: string, producerId: number, epoch: number, topic: string, partition: number, records: readonly KafkaRecord[], nowMs: number): number {
    this.advanceTimeTo(nowMs);
    const metadata = this.checkProducer(transactionalId, producerId, epoch, 'produce');
    if (metadata.keptPrepared) {
      throw this.reject(metadata, epoch, 'INVALID_TXN_STATE', 'produce', 'the Ongoing transaction was kept as prepared (keepPreparedTxn): only commit or abort may follow');
    }
    const log = this.partitionLog(topic, partition, 'produce');
    if (metadata.state !== 'Ongoing') this.beginTransaction(metadata);
    if (!metadata.partitions.includes(log)) metadata.partitions.push(log);
    const group = metadata.current!;
    const firstOffset = log.nextOffset;
    // A partition added without data gets a marker but does not hold back its last stable offset.
    if (records.length > 0 && !log.openTransactionFirstOffsets.has(metadata)) log.openTransactionFirstOffsets.set(metadata, firstOffset);
    for (let index = 0; index < records.length; index++) {
      const record = records[index]!;
      log.records.push({ key: record.key, value: record.value, offset: log.nextOffset++, producerId, transactionalId, transaction: group });
    }
    group.recordCount += records.length;
    if (this.tracing) this.trace.push({ kind: 'produce', transactionalId, producerId, epoch, topic, partition, firstOffset, records: records.length, atMs: this.nowMs });
    return firstOffset;
  }

  /** EndTxn: commits (`commit` true) or aborts the producer's transaction. See the file comment for the outcomes. */
  endTransaction(transactionalId: string, producerId: number, epoch: number, commit: boolean, nowMs: number): void {
    this.advanceTimeTo(nowMs);
    const request = commit ? 'commit' : 'abort';
    const metadata = this.checkProducer(transactionalId, producerId, epoch, request);
    switch (metadata.state) {
      case 'Ongoing':
        this.completeOngoing(metadata, request);
        return;
      case 'Empty':
        // Nothing was sent in this epoch. Clients complete such a transaction locally; an EndTxn
        // that still reaches the coordinator (a resumed handle) is refused, as Kafka 3.9 does.
        throw this.reject(metadata, epoch, 'INVALID_TXN_STATE', request, `no transaction was started with this epoch (state Empty)`);
      case 'CompleteCommit':
        if (commit) return; // a retried commit: success, nothing changes
        throw this.reject(metadata, epoch, 'INVALID_TXN_STATE', request, 'the transaction already committed (state CompleteCommit)');
      case 'CompleteAbort':
        if (!commit) return; // a retried abort
        throw this.reject(metadata, epoch, 'INVALID_TXN_STATE', request, 'the transaction was aborted (state CompleteAbort)');
    }
  }

  /**
   * Fetch: the data records of a partition from `fromOffset` (inclusive) to the last stable
   * offset (read_committed, skipping aborted records) or the high watermark (read_uncommitted).
   */
  fetch(topic: string, partition: number, fromOffset: number, isolation: IsolationLevel): StoredRecord[] {
    const log = this.partitionLog(topic, partition, 'fetch');
    if (!Number.isSafeInteger(fromOffset) || fromOffset < 0 || fromOffset > log.nextOffset) {
      throw new KafkaProtocolError('OFFSET_OUT_OF_RANGE', `SimKafkaBroker.fetch(${log.name}): offset ${fromOffset} is outside [0, ${log.nextOffset}]`);
    }
    const committedOnly = isolation === 'read_committed';
    const endOffset = committedOnly ? this.stableOffsetOf(log) : log.nextOffset;
    const records = log.records;
    const out: StoredRecord[] = [];
    for (let index = firstIndexAtOrAfter(records, fromOffset); index < records.length; index++) {
      const record = records[index]!;
      if (record.offset >= endOffset) break;
      if (committedOnly && record.transaction.status !== 'committed') continue;
      out.push(record);
    }
    return out;
  }

  /** The log end offset (one replica: the high watermark). Counts control markers. */
  highWatermark(topic: string, partition: number): number {
    return this.partitionLog(topic, partition, 'highWatermark').nextOffset;
  }

  /** The first offset of the earliest Ongoing transaction with data on the partition, else the high watermark. */
  lastStableOffset(topic: string, partition: number): number {
    return this.stableOffsetOf(this.partitionLog(topic, partition, 'lastStableOffset'));
  }

  /** Every registered transactional id, sorted by id. */
  listTransactions(): TransactionListing[] {
    const listings: TransactionListing[] = [];
    for (const metadata of this.transactions.values()) listings.push(listingOf(metadata));
    return listings.sort((a, b) => (a.transactionalId < b.transactionalId ? -1 : a.transactionalId > b.transactionalId ? 1 : 0));
  }

  /** DescribeTransactions for one id; undefined when it was never registered. */
  describeTransaction(transactionalId: string): TransactionListing | undefined {
    const metadata = this.transactions.get(transactionalId);
    return metadata === undefined ? undefined : listingOf(metadata);
  }

  private beginTransaction(metadata: TransactionMetadata): void {
    metadata.state = 'Ongoing';
    metadata.startedAtMs = this.nowMs;
    metadata.partitions.length = 0;
    metadata.current = { transactionalId: metadata.transactionalId, producerId: metadata.producerId, epoch: metadata.epoch, status: 'open', recordCount: 0 };
    this.ongoing.add(metadata);
    const deadlineMs = this.nowMs + metadata.timeoutMs;
    if (!metadata.twoPhaseCommit && deadlineMs < this.earliestDeadlineMs) this.earliestDeadlineMs = deadlineMs;
    if (this.tracing) this.trace.push({ kind: 'begin', transactionalId: metadata.transactionalId, producerId: metadata.producerId, epoch: metadata.epoch, atMs: this.nowMs });
  }

  private completeOngoing(metadata: TransactionMetadata, how: CompletionKind): void {
    const group = metadata.current;
    if (metadata.state !== 'Ongoing' || group === undefined || group.status !== 'open') {
      throw new Error(`SimKafkaBroker: invariant broken: ${how} of ${metadata.transactionalId} in state ${metadata.state}`);
    }
    group.status = how === 'commit' ? 'committed' : 'aborted';
    // A control marker takes an offset on every partition of the transaction; the transaction no longer holds back the LSO.
    for (const log of metadata.partitions) {
      log.nextOffset++;
      log.openTransactionFirstOffsets.delete(metadata);
    }
    this.ongoing.delete(metadata);
    metadata.keptPrepared = false;
    metadata.state = how === 'commit' ? 'CompleteCommit' : 'CompleteAbort';
    this.record({ kind: how, transactionalId: metadata.transactionalId, producerId: metadata.producerId, epoch: group.epoch, records: group.recordCount, atMs: this.nowMs });
    // A coordinator-side abort (timeout, or a newer producer's init) fences the producer that was writing.
    if (how === 'timeout-abort' || how === 'fence-abort') this.bumpEpoch(metadata);
  }

  private bumpEpoch(metadata: TransactionMetadata): void {
    if (metadata.epoch >= MAX_PRODUCER_EPOCH) {
      throw new Error(`SimKafkaBroker: epoch of ${metadata.transactionalId} (producer id ${metadata.producerId}) exhausted at ${metadata.epoch}; producer-id rotation is not simulated`);
    }
    metadata.epoch++;
  }

  /** The coordinator's checks of every transactional request: known id, same producer id, current epoch. */
  private checkProducer(transactionalId: string, producerId: number, epoch: number, request: string): TransactionMetadata {
    const metadata = this.transactions.get(transactionalId);
    if (metadata === undefined || metadata.producerId !== producerId) {
      this.record({ kind: 'rejected', transactionalId, producerId, epoch, code: 'INVALID_PRODUCER_ID_MAPPING', request, atMs: this.nowMs });
      const registered = metadata === undefined ? 'it was never registered (initProducerId)' : `it belongs to producer id ${metadata.producerId}`;
      throw new KafkaProtocolError(
        'INVALID_PRODUCER_ID_MAPPING',
        `SimKafkaBroker.${request} for transactional id '${transactionalId}' by producer id ${producerId}, epoch ${epoch}: ${registered}`,
        transactionalId,
        producerId,
        epoch,
      );
    }
    if (epoch !== metadata.epoch) {
      throw this.reject(metadata, epoch, 'PRODUCER_FENCED', request, `fenced: the current epoch is ${metadata.epoch} (a newer initProducerId or a transaction timeout bumped it)`);
    }
    return metadata;
  }

  private reject(metadata: TransactionMetadata, epoch: number, code: KafkaErrorCode, request: string, reason: string): KafkaProtocolError {
    const { transactionalId, producerId } = metadata;
    this.record({ kind: 'rejected', transactionalId, producerId, epoch, code, request, atMs: this.nowMs });
    return new KafkaProtocolError(code, `SimKafkaBroker.${request} for transactional id '${transactionalId}' by producer id ${producerId}, epoch ${epoch}: ${reason}`, transactionalId, producerId, epoch);
  }

  private record(event: BrokerEvent): void {
    this.events.push(event);
    if (this.tracing) this.trace.push(event);
  }

  private stableOffsetOf(log: PartitionLog): number {
    let stableOffset = log.nextOffset;
    for (const firstOffset of log.openTransactionFirstOffsets.values()) if (firstOffset < stableOffset) stableOffset = firstOffset;
    return stableOffset;
  }

  private partitionLog(topic: string, partition: number, request: string): PartitionLog {
    const log = this.topics.get(topic)?.[partition];
    if (log === undefined) {
      const known = this.topics.get(topic);
      const reason = known === undefined ? `no topic '${topic}'` : `topic '${topic}' has partitions 0..${known.length - 1}`;
      throw new KafkaProtocolError('UNKNOWN_TOPIC_OR_PARTITION', `SimKafkaBroker.${request}(${topic}/${partition}): ${reason}`);
    }
    return log;
  }
}

function listingOf(metadata: TransactionMetadata): TransactionListing {
  return {
    transactionalId: metadata.transactionalId,
    producerId: metadata.producerId,
    epoch: metadata.epoch,
    state: metadata.state,
    partitions: metadata.partitions.map((log) => log.name).sort(),
    transactionStartMs: metadata.startedAtMs,
    transactionTimeoutMs: metadata.timeoutMs,
  };
}

/** Index of the first record with offset >= `offset` (records are in offset order, with gaps). */
function firstIndexAtOrAfter(records: readonly StoredRecord[], offset: number): number {
  let low = 0;
  let high = records.length;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (records[middle]!.offset < offset) low = middle + 1;
    else high = middle;
  }
  return low;
}
