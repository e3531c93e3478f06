/**
 * The Kafka client surface that streamcheck's Kafka connectors are written against.
 *
 * One interface, two worlds: `src/connectors/sim/` implements it over the simulated broker
 * (calls complete when the deterministic scheduler says so) and `src/connectors/real/`
 * implements it over kafkajs. The names follow Kafka's Java producer API so a connector
 * author recognises them.
 */

/** What a checkpoint must keep to finish a pre-committed transaction after a restart. */
export interface TransactionHandle {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly epoch: number;
}

/** What initTransactions answers: the producer's own handle, and a prepared transaction it kept. */
export interface InitializedProducer extends TransactionHandle {
  /** With keepPreparedTransaction: the Ongoing transaction that was kept (its writer's producer id and epoch), if any. */
  readonly preparedTransaction?: TransactionHandle;
}

/** Producer settings beyond the transactional id. */
export interface ProducerOptions {
  /**
   * KIP-939 (Kafka's transaction.two.phase.commit.enable): the broker never aborts this
   * producer's transactions on the transaction timeout, and initTransactions may keep a
   * prepared transaction. Needs an Apache Kafka 4.x broker and client with InitProducerId v6.
   */
  readonly preparedTransactions?: boolean;
}

export interface InitTransactionsOptions {
  /** KIP-939 keepPreparedTxn: keep the id's open (prepared) transaction for this producer to commit or abort. Needs `preparedTransactions`. */
  readonly keepPreparedTransaction?: boolean;
}

export interface KafkaRecord {
  readonly key: string;
  readonly value: string;
}

export interface ConsumedRecord extends KafkaRecord {
  readonly topic: string;
  readonly partition: number;
  readonly offset: number;
}

export type IsolationLevel = 'read_committed' | 'read_uncommitted';

/** A transactional producer bound to one transactional id. */
export interface TransactionalProducer {
  /**
   * Registers the transactional id: bumps the epoch, fences older producers, aborts their open
   * transaction (unless `keepPreparedTransaction` keeps it: then this producer may only commit or abort it).
   */
  initTransactions(options?: InitTransactionsOptions): Promise<InitializedProducer>;
  beginTransaction(): void;
  send(topic: string, partition: number, records: readonly KafkaRecord[]): Promise<void>;
  /** Makes every sent record durable on the broker (the pre-commit of the 2PC sink). */
  flush(): Promise<void>;
  commitTransaction(): Promise<void>;
  abortTransaction(): Promise<void>;
  /** The producer id and epoch of the current transaction. */
  handle(): TransactionHandle;
  close(): Promise<void>;
}

/**
 * The Kafka error code of an error from either implementation (`code` on ours, `type` on
 * kafkajs's), e.g. 'INVALID_TXN_STATE', 'INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED'.
 */
export function kafkaErrorCode(error: unknown): string | undefined {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && typeof current === 'object' && current !== null; depth++) {
    const record = current as { code?: unknown; type?: unknown; cause?: unknown };
    if (typeof record.code === 'string') return record.code;
    if (typeof record.type === 'string') return record.type;
    current = record.cause;
  }
  return undefined;
}

export interface KafkaClients {
  producer(transactionalId: string, options?: ProducerOptions): TransactionalProducer;
  /**
   * Flink's resumeTransaction: a producer that adopts `handle` without initTransactions
   * (which would abort the transaction), so that commitTransaction finishes it.
   */
  resumeTransaction(handle: TransactionHandle): TransactionalProducer;
  /** Reads a partition from `fromOffset` to its end (LSO under read_committed). */
  read(topic: string, partition: number, fromOffset: number, isolation: IsolationLevel): Promise<ConsumedRecord[]>;
  createTopic(topic: string, partitions: number): Promise<void>;
}
