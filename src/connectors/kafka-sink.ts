import type { Key } from './api.ts';
import { kafkaErrorCode, type KafkaClients, type KafkaRecord, type TransactionalProducer } from './kafka-api.ts';
import { TwoPhaseCommitSink, type TwoPhaseCommitState } from './two-phase-commit-sink.ts';

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
  /**
   * KIP-939 prepared transactions: producers are registered for two-phase commit, so the
   * broker's transaction timeout never aborts a pre-committed transaction; after a restart a
   * pending transaction is adopted with initTransactions(keepPreparedTransaction) and
   * committed, instead of Flink's resume by producer id and epoch. Needs a Kafka with KIP-939
   * (the simulated broker; the kafkajs client refuses it).
   */
  readonly preparedTransactions?: boolean;
}

/** Errors after which a recovered transaction can never commit (Flink: "failed with known reason"). */
const KNOWN_UNCOMMITTABLE = new Set(['INVALID_TXN_STATE', 'INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']);

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

  /** Only for planted bugs: where the next transaction's counter starts. */
  protected startCountingAt(counter: number): void {
    this.nextCounter = counter;
  }

  transactionalId(counter: number): string {
    return `${this.options.transactionalIdPrefix}-${this.options.subtaskIndex}-${counter}`;
  }

  protected async beginTransaction(): Promise<KafkaTransaction> {
    const counter = this.nextCounter++;
    const transactionalId = this.transactionalId(counter);
    const producer = this.newProducer(transactionalId);
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
    await this.endTransaction(transaction, 'commitTransaction');
  }

  protected async abort(transaction: KafkaTransaction): Promise<void> {
    await this.endTransaction(transaction, 'abortTransaction');
  }

  /** Ends a transaction with its own producer, or with one that adopts it (a restored transaction), then closes that producer. */
  private async endTransaction(transaction: KafkaTransaction, end: 'commitTransaction' | 'abortTransaction'): Promise<void> {
    const own = this.producers.get(transaction.transactionalId);
    if (own !== undefined) {
      await own[end]();
      this.forget(transaction);
      return;
    }
    const adopted = this.adopt(transaction);
    try {
      await adopted[end]();
    } finally {
      // A failed end is retried with a new adoption (the next notify or restore), never with this one.
      closeInBackground(adopted);
    }
    this.forget(transaction);
  }

  /** A producer of this sink: registered for two-phase commit when prepared transactions are on. */
  private newProducer(transactionalId: string): TransactionalProducer {
    return this.options.preparedTransactions === true ? this.options.clients.producer(transactionalId, { preparedTransactions: true }) : this.options.clients.producer(transactionalId);
  }

  /**
   * A producer that can end a checkpointed transaction whose own producer is gone: Flink's
   * resume by producer id and epoch, or with prepared transactions KIP-939's
   * initTransactions(keepPreparedTransaction), which fences the old producer but keeps the
   * transaction. When nothing was kept the transaction already ended (a prepared one cannot
   * time out): the producer then completes commit and abort without the coordinator.
   */
  private adopt(transaction: KafkaTransaction): Pick<TransactionalProducer, 'commitTransaction' | 'abortTransaction' | 'close'> {
    if (this.options.preparedTransactions !== true) return this.options.clients.resumeTransaction(transaction);
    const producer = this.newProducer(transaction.transactionalId);
    const adopted = producer.initTransactions({ keepPreparedTransaction: true }).then(({ preparedTransaction: kept }) => {
      if (kept !== undefined && (kept.producerId !== transaction.producerId || kept.epoch !== transaction.epoch)) {
        throw new Error(
          `KafkaTwoPhaseCommitSink: the prepared transaction kept on '${transaction.transactionalId}' is producer ${kept.producerId} epoch ${kept.epoch}, not the checkpointed producer ${transaction.producerId} epoch ${transaction.epoch}`,
        );
      }
      return producer;
    });
    return {
      commitTransaction: async () => (await adopted).commitTransaction(),
      abortTransaction: async () => (await adopted).abortTransaction(),
      close: () => producer.close(),
    };
  }

  /**
   * Flink's committer outcomes on recovery: INVALID_TXN_STATE (the transaction already ended,
   * or never sent anything) and fencing (the broker aborted it on timeout, or another producer
   * took the id over) are known reasons: the transaction can never commit, so it is dropped
   * rather than retried forever. If it had records that is data loss, and the
   * completed=>committed invariant reports it. Any other error fails the task, and the restore
   * is retried.
   */
  protected override async recoverAndCommit(transaction: KafkaTransaction): Promise<void> {
    const adopted = this.adopt(transaction);
    try {
      await adopted.commitTransaction();
    } catch (error) {
      const code = kafkaErrorCode(error) ?? '';
      // With prepared transactions a fenced recovery commit means a newer instance (a zombie)
      // adopted the prepared transaction and keeps it: it can still commit, so the task fails
      // and the next attempt adopts it again, rather than dropping it as lost.
      if (this.options.preparedTransactions === true && code === 'PRODUCER_FENCED') throw error;
      if (!KNOWN_UNCOMMITTABLE.has(code)) throw error;
    } finally {
      closeInBackground(adopted);
    }
  }

  /** The restored in-flight transaction: initTransactions on its id fences its producer and aborts it. */
  protected override async recoverAndAbort(transaction: KafkaTransaction): Promise<void> {
    await this.initTransactionsOnce(transaction.transactionalId);
  }

  /** initTransactions on `transactionalId` with a producer used for nothing else (fencing its predecessor, aborting what it left open), closed after. */
  private async initTransactionsOnce(transactionalId: string): Promise<{ readonly epoch: number }> {
    const producer = this.newProducer(transactionalId);
    try {
      return await producer.initTransactions();
    } finally {
      closeInBackground(producer);
    }
  }

  protected override async abortLingering(inFlight: KafkaTransaction | undefined): Promise<void> {
    // The probe leaves the first unused counter registered at epoch 0; the next transaction re-initialises it.
    this.nextCounter = await this.probeLingering(this.options.subtaskIndex, inFlight);
    // Subtasks of a larger earlier layout that fold onto this one and left no entry in the
    // restored checkpoint (e.g. a rescale down restored from scratch): everything they began
    // is lingering. Probed as Flink's KafkaSink does, subtask + k * parallelism upward, until
    // one that never used its first id.
    for (let subtask = this.subtask + this.parallelism; ; subtask += this.parallelism) {
      if (this.handedOverSubtasks.has(subtask)) continue;
      if ((await this.probeLingering(subtask, undefined)) === 0) break;
    }
  }

  /** A removed subtask's id range, handed to this subtask: its transactions begun after the checkpoint are aborted the same way. */
  protected override async abortLingeringOfSubtask(subtask: number, inFlight: KafkaTransaction | undefined): Promise<void> {
    await this.probeLingering(subtask, inFlight);
  }

  /** initTransactions on `prefix-subtask-counter` upward from after the in-flight one (aborting what is open) until an id never used; returns that counter. */
  private async probeLingering(subtask: number, inFlight: KafkaTransaction | undefined): Promise<number> {
    let counter = inFlight === undefined ? 0 : inFlight.counter + 1;
    const idOf = (n: number): string => `${this.options.transactionalIdPrefix}-${subtask}-${n}`;
    for (let probes = 0; ; probes++) {
      if (probes >= MAX_LINGERING_PROBES) {
        throw new Error(`KafkaTwoPhaseCommitSink: more than ${MAX_LINGERING_PROBES} used transactional ids after ${idOf(counter - probes)}`);
      }
      const handle = await this.initTransactionsOnce(idOf(counter));
      if (handle.epoch === 0) return counter; // never used before: every later id is unused too
      counter++;
    }
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
    const producer = this.producers.get(transaction.transactionalId);
    this.producers.delete(transaction.transactionalId);
    this.buffers.delete(transaction.transactionalId);
    if (producer !== undefined) closeInBackground(producer);
  }
}

/**
 * A producer the sink is done with (its transaction ended, or it only probed or fenced an id):
 * closed without waiting, so its connections do not pile up over a long job (one producer per
 * transaction), and without holding up the checkpoint. A failing close loses nothing: the
 * transaction it served has ended.
 */
function closeInBackground(producer: Pick<TransactionalProducer, 'close'>): void {
  producer.close().catch(() => undefined);
}

/**
 * The negative control the seed names: a Spark-streaming-style sink that writes each
 * micro-batch (everything between two checkpoints) when the batch ends, committed at once,
 * with no second phase. After a restore the batches since the last completed checkpoint are
 * written again: duplicates.
 */
export class MicroBatchKafkaSink<IN> extends KafkaTwoPhaseCommitSink<IN> {
  override async snapshotState(context: { readonly checkpointId: number }): Promise<void> {
    await super.snapshotState(context);
    await this.notifyCheckpointComplete(context.checkpointId);
  }
}

/** Planted bugs in the 2PC protocol, for `streamcheck selftest`. Each is a small deviation from the sink above. */
export type KafkaSinkBug = 'commit-in-snapshot' | 'restore-aborts-pending' | 'notify-commits-only-own' | 'commit-not-idempotent' | 'no-abort-lingering' | 'forget-removed-subtasks' | 'fenced-commit-taken-as-done';

/** Where the no-abort-lingering bug starts its fresh id range after a restore. */
const FRESH_RANGE_OFFSET = 10_000;

/** The non-idempotent commit keeps each transaction's records inside its checkpointed state. */
type RepublishingTransaction = KafkaTransaction & { records?: { partition: number; record: KafkaRecord }[] };

export class BuggyKafkaTwoPhaseCommitSink<IN> extends KafkaTwoPhaseCommitSink<IN> {
  constructor(
    options: KafkaSinkOptions<IN>,
    private readonly bug: KafkaSinkBug,
  ) {
    super(options);
  }

  override async snapshotState(context: { readonly checkpointId: number }): Promise<void> {
    await super.snapshotState(context);
    // BUG commit-in-snapshot: the transaction becomes visible before its checkpoint completed.
    if (this.bug === 'commit-in-snapshot') await super.notifyCheckpointComplete(context.checkpointId);
  }

  /** BUG forget-removed-subtasks: after a rescale down, only the subtask's own entry is recovered; a removed subtask's pending and open transactions are left behind. */
  protected override entriesToRecover(entries: readonly TwoPhaseCommitState<KafkaTransaction>[]): TwoPhaseCommitState<KafkaTransaction>[] {
    const recovered = super.entriesToRecover(entries);
    if (this.bug === 'forget-removed-subtasks') return recovered.filter((entry) => entry.subtask === undefined || entry.subtask === this.subtask);
    return recovered;
  }

  protected override committable(checkpointId: number): ReadonlyArray<readonly [number, KafkaTransaction]> {
    // BUG notify-commits-only-own: a late or subsumed notification strands older transactions.
    if (this.bug === 'notify-commits-only-own') return super.committable(checkpointId).filter(([id]) => id === checkpointId);
    return super.committable(checkpointId);
  }

  protected override recoverAndCommit(transaction: KafkaTransaction): Promise<void> {
    // BUG restore-aborts-pending: initTransactions on a pre-committed transaction's id aborts it.
    if (this.bug === 'restore-aborts-pending') return this.options.clients.producer(transaction.transactionalId).initTransactions().then(() => undefined);
    // BUG commit-not-idempotent: recovery commits the same (non-idempotent) way.
    if (this.bug === 'commit-not-idempotent') return this.commit(transaction);
    return super.recoverAndCommit(transaction);
  }

  /** BUG no-abort-lingering: after a restore, skip the in-flight transaction and jump to a fresh id range instead of aborting. */
  protected override recoverAndAbort(transaction: KafkaTransaction): Promise<void> {
    if (this.bug === 'no-abort-lingering') return Promise.resolve();
    return super.recoverAndAbort(transaction);
  }

  protected override abortLingering(inFlight: KafkaTransaction | undefined): Promise<void> {
    if (this.bug === 'no-abort-lingering' && inFlight !== undefined) {
      this.startCountingAt(inFlight.counter + FRESH_RANGE_OFFSET);
      return Promise.resolve();
    }
    return super.abortLingering(inFlight);
  }

  protected override invoke(transaction: KafkaTransaction, value: IN): void | Promise<void> {
    if (this.bug === 'commit-not-idempotent') {
      const republishing = transaction as RepublishingTransaction;
      (republishing.records ??= []).push({ partition: this.options.partitionOf(value), record: this.options.serialize(value) });
    }
    return super.invoke(transaction, value);
  }

  /**
   * BUG commit-not-idempotent: "commit" publishes the transaction's records in a fresh
   * transaction and drops the original, so a commit retried after a restore writes them twice.
   */
  protected override async commit(transaction: KafkaTransaction): Promise<void> {
    if (this.bug === 'fenced-commit-taken-as-done') return this.commitTakingFencedAsDone(transaction);
    if (this.bug !== 'commit-not-idempotent') return super.commit(transaction);
    const publisher = this.options.clients.producer(`${this.options.transactionalIdPrefix}-publish-${this.options.subtaskIndex}`);
    await publisher.initTransactions();
    publisher.beginTransaction();
    for (const { partition, record } of (transaction as RepublishingTransaction).records ?? []) await publisher.send(this.options.topic, partition, [record]);
    await publisher.commitTransaction();
    await super.abort(transaction);
  }

  /**
   * BUG fenced-commit-taken-as-done: a commit that fails because a newer producer fenced it is
   * taken as done, as if the transaction had ended, instead of failing the task. The
   * prepared transaction a zombie kept (KIP-939) is then never committed by a new instance.
   */
  private async commitTakingFencedAsDone(transaction: KafkaTransaction): Promise<void> {
    try {
      await super.commit(transaction);
    } catch (error) {
      if (kafkaErrorCode(error) !== 'PRODUCER_FENCED') throw error;
    }
  }
}
