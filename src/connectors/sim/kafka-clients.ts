import { Scheduler, SimulatedIoError } from '../../sim/scheduler.ts';
import type { ConsumedRecord, InitTransactionsOptions, InitializedProducer, IsolationLevel, KafkaClients, KafkaRecord, ProducerOptions, TransactionHandle, TransactionalProducer } from '../kafka-api.ts';
import { SimEnvironment } from './environment.ts';
import type { SimKafkaBroker } from './kafka-broker.ts';

/** Broker-side transaction timeout the simulated producers register with (Kafka's default is 60 s). */
export const SIM_TRANSACTION_TIMEOUT_MS = 60_000;

/** Fails the next `armed` calls of one kind (the fail-commit and fail-abort faults). */
class FailureBudget {
  private armed = 0;
  /** Calls that failed on purpose, for reports and tests. */
  failed = 0;

  constructor(private readonly name: string) {}

  arm(times: number): void {
    if (!Number.isSafeInteger(times) || times < 1) throw new Error(`SimKafkaClients.${this.name}: times must be a positive integer, got ${times}`);
    this.armed += times;
  }

  /** Consumed by a call about to be applied: true when it must fail. */
  take(): boolean {
    if (this.armed === 0) return false;
    this.armed--;
    this.failed++;
    return true;
  }
}

/**
 * `KafkaClients` over the simulated broker: every call is a request of a `SimEnvironment`
 * (one scheduler step, in order per producer connection, subject to the environment's call
 * faults), like any connector author's service. Commits can be made to fail
 * by the fault plan (`failNextCommits`, and aborts by `failNextAborts`): the request never reaches the broker and the call
 * rejects, as a lost connection or a coordinator error would.
 */
export class SimKafkaClients implements KafkaClients {
  readonly commitFailures = new FailureBudget('failNextCommits');
  readonly abortFailures = new FailureBudget('failNextAborts');
  private connections = 0;

  readonly environment: SimEnvironment;

  constructor(
    readonly broker: SimKafkaBroker,
    /** The environment whose calls these are (a bare scheduler gets an environment of its own). */
    environment: SimEnvironment | Scheduler,
    private readonly transactionTimeoutMs = SIM_TRANSACTION_TIMEOUT_MS,
  ) {
    this.environment = environment instanceof Scheduler ? new SimEnvironment(environment) : environment;
  }

  failNextCommits(times: number): void {
    this.commitFailures.arm(times);
  }

  failNextAborts(times: number): void {
    this.abortFailures.arm(times);
  }

  get failedCommits(): number {
    return this.commitFailures.failed;
  }

  get failedAborts(): number {
    return this.abortFailures.failed;
  }

  nextConnectionNumber(): number {
    return this.connections++;
  }

  producer(transactionalId: string, options: ProducerOptions = {}): TransactionalProducer {
    return new SimTransactionalProducer(this, this.environment, transactionalId, undefined, this.transactionTimeoutMs, options.preparedTransactions ?? false);
  }

  resumeTransaction(handle: TransactionHandle): TransactionalProducer {
    return new SimTransactionalProducer(this, this.environment, handle.transactionalId, handle, this.transactionTimeoutMs, false);
  }

  read(topic: string, partition: number, fromOffset: number, isolation: IsolationLevel): Promise<ConsumedRecord[]> {
    return this.environment.request(`kafka-reader-${topic}-${partition}`, `kafka read ${topic}/${partition} from ${fromOffset} (${isolation})`, () => {
      this.broker.advanceTimeTo(this.environment.nowMs);
      return this.broker.fetch(topic, partition, fromOffset, isolation).map((record) => ({ topic, partition, offset: record.offset, key: record.key, value: record.value }));
    });
  }

  createTopic(topic: string, partitions: number): Promise<void> {
    return this.environment.request('kafka-admin', `kafka create topic ${topic}`, () => {
      this.broker.createTopic(topic, partitions);
    });
  }
}

class SimTransactionalProducer implements TransactionalProducer {
  private current: TransactionHandle | undefined;
  /** Whether this transaction reached the broker; a resumed handle is assumed to have. */
  private sentInTransaction: boolean;
  private readonly connection: string;

  constructor(
    private readonly clients: SimKafkaClients,
    private readonly environment: SimEnvironment,
    private readonly transactionalId: string,
    resumed: TransactionHandle | undefined,
    private readonly transactionTimeoutMs: number,
    /** KIP-939: registered for two-phase commit (no transaction timeout; may keep a prepared transaction). */
    private readonly preparedTransactions: boolean,
  ) {
    this.current = resumed;
    this.sentInTransaction = resumed !== undefined;
    // One connection per producer object: its calls complete in order, other producers' may interleave.
    this.connection = `kafka-producer-${transactionalId}#${clients.nextConnectionNumber()}`;
  }

  initTransactions(options: InitTransactionsOptions = {}): Promise<InitializedProducer> {
    const keepPrepared = options.keepPreparedTransaction ?? false;
    if (keepPrepared && !this.preparedTransactions) {
      return Promise.reject(new Error(`producer ${this.transactionalId}: keepPreparedTransaction needs a producer created with preparedTransactions (KIP-939)`));
    }
    return this.environment.request(this.connection, `kafka initTransactions ${this.transactionalId}${keepPrepared ? ' (keep prepared)' : ''}`, () => {
      const broker = this.clients.broker;
      broker.advanceTimeTo(this.environment.nowMs);
      // An init that would abort an open transaction is an abort, and may be made to fail.
      const open = broker.describeTransaction(this.transactionalId)?.state === 'Ongoing';
      if (open && !keepPrepared && this.clients.abortFailures.take()) {
        throw new SimulatedIoError(`initTransactions of ${this.transactionalId} failed while aborting its open transaction (fault plan)`, 'NETWORK_EXCEPTION');
      }
      const { producerId, epoch, ongoing } = broker.initProducerId(this.transactionalId, this.transactionTimeoutMs, this.environment.nowMs, {
        enableTwoPhaseCommit: this.preparedTransactions,
        keepPreparedTxn: keepPrepared,
      });
      this.current = { transactionalId: this.transactionalId, producerId, epoch };
      // A kept transaction is this producer's to end: commit and abort must reach the coordinator.
      this.sentInTransaction = ongoing !== undefined;
      if (ongoing === undefined) return this.current;
      return { ...this.current, preparedTransaction: { transactionalId: this.transactionalId, producerId: ongoing.producerId, epoch: ongoing.epoch } };
    });
  }

  beginTransaction(): void {
    this.handle(); // a transaction needs a registered producer
    this.sentInTransaction = false;
  }

  send(topic: string, partition: number, records: readonly KafkaRecord[]): Promise<void> {
    const handle = this.handle();
    this.sentInTransaction = true;
    return this.environment.request(this.connection, `kafka send ${records.length} record(s) to ${topic}/${partition} in ${this.transactionalId}`, () => {
      const broker = this.clients.broker;
      broker.advanceTimeTo(this.environment.nowMs);
      broker.produce(this.transactionalId, handle.producerId, handle.epoch, topic, partition, records, this.environment.nowMs);
    });
  }

  flush(): Promise<void> {
    // Sends are acknowledged only once durable, so a flush is one more round trip and nothing else.
    return this.environment.request(this.connection, `kafka flush ${this.transactionalId}`, () => undefined);
  }

  commitTransaction(): Promise<void> {
    return this.endTransaction(true);
  }

  abortTransaction(): Promise<void> {
    return this.endTransaction(false);
  }

  private endTransaction(commit: boolean): Promise<void> {
    const handle = this.handle();
    // Like Kafka's clients: a transaction that sent nothing is completed without the coordinator.
    if (!this.sentInTransaction) return Promise.resolve();
    const what = commit ? 'commit' : 'abort';
    const failures = commit ? this.clients.commitFailures : this.clients.abortFailures;
    return this.environment.request(this.connection, `kafka ${what} ${this.transactionalId} (producer ${handle.producerId}, epoch ${handle.epoch})`, () => {
      if (failures.take()) {
        throw new SimulatedIoError(`${what} of ${this.transactionalId} failed: connection to the transaction coordinator lost (fault plan)`, 'NETWORK_EXCEPTION');
      }
      const broker = this.clients.broker;
      broker.advanceTimeTo(this.environment.nowMs);
      broker.endTransaction(this.transactionalId, handle.producerId, handle.epoch, commit, this.environment.nowMs);
    });
  }

  handle(): TransactionHandle {
    if (this.current === undefined) throw new Error(`producer ${this.transactionalId}: call initTransactions first`);
    return this.current;
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
