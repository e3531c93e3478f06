import type { Key } from './api.ts';
import type { KafkaClients, KafkaRecord, TransactionalProducer } from './kafka-api.ts';
import { TwoPhaseCommitSink } from './two-phase-commit-sink.ts';

/** One Kafka transaction of the sink, as kept in checkpoints: enough to finish it after a restart. */
export interface KafkaTransaction {
  readonly transactionalId: string;
  readonly producerId: number;
  readonly epoch: number;
  /** The counter in `prefix-subtask-counter`. */
  readonly counter: number;
}

export interface KafkaSinkOptions<IN> {
  readonly clients: KafkaClients;
  readonly topic: string;
  readonly transactionalIdPrefix: string;
  readonly subtaskIndex: number;
  /** Output partition of a value. */
  readonly partitionOf: (value: IN) => number;
  readonly serialize: (value: IN) => KafkaRecord;
  /** Records buffered before they are sent inside the open transaction. */
  readonly maxBufferedRecords?: number;
}

/** Transactional ids probed past the in-flight one before giving up (each probe is one initTransactions). */
export const MAX_LINGERING_PROBES = 1_000;

/**
 * Flink's exactly-once Kafka sink on the two-phase-commit base: one transactional id per
 * transaction, `prefix-subtask-counter`; pre-commit = send + flush; commit on notify;
 * after a restart pending transactions are resumed by producer id and epoch (never
 * initTransactions, which would abort them) and committed; lingering transactions begun
 * after the restored checkpoint are aborted by initTransactions on their ids, probing
 * upward until an id that was never used.
 */
export class KafkaTwoPhaseCommitSink<IN> extends TwoPhaseCommitSink<IN, KafkaTransaction> {
  private readonly producers = new Map<string, TransactionalProducer>();
  private readonly buffers = new Map<string, Map<number, KafkaRecord[]>>();
  private nextCounter = 0;
  private readonly maxBufferedRecords: number;

  constructor(protected readonly options: KafkaSinkOptions<IN>) {
    super();
    this.maxBufferedRecords = options.maxBufferedRecords ?? 64;
    if (!/^[A-Za-z0-9._-]+$/.test(options.transactionalIdPrefix)) {
      throw new Error(`KafkaTwoPhaseCommitSink: transactionalIdPrefix must match [A-Za-z0-9._-]+, got '${options.transactionalIdPrefix}'`);
    }
  }

  transactionalId(counter: number): string {
    return `${this.options.transactionalIdPrefix}-${this.options.subtaskIndex}-${counter}`;
  }

  protected async beginTransaction(): Promise<KafkaTransaction> {
    const counter = this.nextCounter++;
    const transactionalId = this.transactionalId(counter);
    const producer = this.options.clients.producer(transactionalId);
    const handle = await producer.initTransactions();
    producer.beginTransaction();
    this.producers.set(transactionalId, producer);
    this.buffers.set(transactionalId, new Map());
    return { transactionalId, producerId: handle.producerId, epoch: handle.epoch, counter };
  }

  protected invoke(transaction: KafkaTransaction, value: IN): void | Promise<void> {
    const buffer = this.buffers.get(transaction.transactionalId)!;
    const partition = this.options.partitionOf(value);
    let records = buffer.get(partition);
    if (records === undefined) {
      records = [];
      buffer.set(partition, records);
    }
    records.push(this.options.serialize(value));
    if (records.length >= this.maxBufferedRecords) return this.sendBuffered(transaction);
  }

  protected async preCommit(transaction: KafkaTransaction): Promise<void> {
    await this.sendBuffered(transaction);
    await this.producers.get(transaction.transactionalId)!.flush();
  }

  protected async commit(transaction: KafkaTransaction): Promise<void> {
    const producer = this.producers.get(transaction.transactionalId) ?? this.options.clients.resumeTransaction(transaction);
    await producer.commitTransaction();
    this.forget(transaction);
  }

  protected async abort(transaction: KafkaTransaction): Promise<void> {
    const producer = this.producers.get(transaction.transactionalId) ?? this.options.clients.resumeTransaction(transaction);
    await producer.abortTransaction();
    this.forget(transaction);
  }

  /** The restored in-flight transaction: initTransactions on its id fences its producer and aborts it. */
  protected override async recoverAndAbort(transaction: KafkaTransaction): Promise<void> {
    await this.options.clients.producer(transaction.transactionalId).initTransactions();
  }

  protected override async abortLingering(inFlight: KafkaTransaction | undefined): Promise<void> {
    let counter = inFlight === undefined ? 0 : inFlight.counter + 1;
    for (let probes = 0; ; probes++) {
      if (probes >= MAX_LINGERING_PROBES) {
        throw new Error(`KafkaTwoPhaseCommitSink: more than ${MAX_LINGERING_PROBES} used transactional ids after ${this.transactionalId(counter - probes)}`);
      }
      const transactionalId = this.transactionalId(counter);
      const producer = this.options.clients.producer(transactionalId);
      const handle = await producer.initTransactions();
      if (handle.epoch === 0) break; // never used before: every later id is unused too
      counter++;
    }
    // The probe left `counter` registered at epoch 0; the next transaction re-initialises it.
    this.nextCounter = counter;
  }

  private async sendBuffered(transaction: KafkaTransaction): Promise<void> {
    const buffer = this.buffers.get(transaction.transactionalId)!;
    const producer = this.producers.get(transaction.transactionalId)!;
    for (const [partition, records] of [...buffer.entries()].sort(([a], [b]) => a - b)) {
      if (records.length === 0) continue;
      buffer.set(partition, []);
      await producer.send(this.options.topic, partition, records);
    }
  }

  private forget(transaction: KafkaTransaction): void {
    this.producers.delete(transaction.transactionalId);
    this.buffers.delete(transaction.transactionalId);
  }
}

