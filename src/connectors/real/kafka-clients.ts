/**
 * `KafkaClients` (kafka-api.ts) over kafkajs 2.2.4, for end-to-end runs against a real broker.
 *
 * Why not kafkajs's public producer: it hides the producer id and epoch (needed for
 * `handle()`), has no way to adopt a handle (Flink's resumeTransaction), retries
 * CONCURRENT_TRANSACTIONS with a 300 ms first backoff while logging each retry as an error,
 * and only speaks InitProducerId v0-1. So the transactional producer here is a small state
 * machine of our own that sends the transaction protocol's requests (InitProducerId,
 * AddPartitionsToTxn, Produce, EndTxn) through kafkajs's cluster and broker objects, which
 * own connections, version negotiation, metadata and the wire format. Reads use kafkajs's
 * broker-level Fetch with an explicit isolation level and filter aborted transactions here.
 *
 * Every use of kafkajs internals goes through `internals()` below, so an upgrade of kafkajs
 * has one place to check.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import type * as Kafkajs from 'kafkajs';
import seedrandom from 'seedrandom';
import type { Admin, ISocketFactory, Kafka as KafkaClient, LogEntry, logCreator as LogCreator } from 'kafkajs';
import type {
  ConsumedRecord,
  InitTransactionsOptions,
  IsolationLevel,
  KafkaClients,
  KafkaRecord,
  ProducerOptions,
  TransactionHandle,
  TransactionalProducer,
} from '../kafka-api.ts';
import { importOptionalDependency } from './optional-dependency.ts';

/** kafkajs is an optional peer dependency: loaded on the first call that talks to a broker. */
export async function loadKafkajs(): Promise<typeof Kafkajs> {
  const module = await importOptionalDependency<typeof Kafkajs & { default?: typeof Kafkajs }>('kafkajs', 'talking to a real Kafka broker (end-to-end runs)');
  // kafkajs is CommonJS: its exports arrive as the default export (Node) or as named ones (bundlers).
  return module.default ?? module;
}

// ---------------------------------------------------------------------------------------------
// kafkajs internals (2.2.4). The shapes below are the subset of kafkajs's Cluster and Broker
// (src/cluster/index.js, src/broker/index.js) that this file calls; kafkajs ships no types
// for them.

interface InternalBroker {
  initProducerId(request: { transactionalId: string; transactionTimeout: number }): Promise<{ producerId: string; producerEpoch: number }>;
  addPartitionsToTxn(request: {
    transactionalId: string;
    producerId: number;
    producerEpoch: number;
    topics: { topic: string; partitions: number[] }[];
  }): Promise<unknown>;
  produce(request: {
    transactionalId: string;
    producerId: number;
    producerEpoch: number;
    acks: number;
    timeout: number;
    topicData: {
      topic: string;
      partitions: { partition: number; firstSequence: number; messages: { key: string; value: string }[] }[];
    }[];
  }): Promise<unknown>;
  endTxn(request: { transactionalId: string; producerId: number; producerEpoch: number; transactionResult: boolean }): Promise<unknown>;
  fetch(request: {
    replicaId: number;
    isolationLevel: number;
    maxWaitTime: number;
    minBytes: number;
    maxBytes: number;
    topics: { topic: string; partitions: { partition: number; fetchOffset: string; maxBytes: number }[] }[];
  }): Promise<InternalFetchResponse>;
}

interface InternalFetchResponse {
  responses: {
    topicName: string;
    partitions: {
      partition: number;
      errorCode: number;
      highWatermark: string;
      lastStableOffset: string;
      abortedTransactions: { producerId: string; firstOffset: string }[];
      messages: InternalFetchedRecord[];
    }[];
  }[];
}

interface InternalFetchedRecord {
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  isControlRecord: boolean;
  batchContext: { firstOffset: string; lastOffsetDelta: number; producerId: string; inTransaction: boolean };
}

interface InternalCluster {
  connect(): Promise<void>;
  disconnect(): Promise<void>;
  refreshMetadata(): Promise<void>;
  addTargetTopic(topic: string): Promise<void>;
  findLeaderForPartitions(topic: string, partitions: number[]): Record<string, number[]>;
  findBroker(query: { nodeId: string }): Promise<InternalBroker>;
  findGroupCoordinator(query: { groupId: string; coordinatorType: number }): Promise<InternalBroker>;
}

/** kafkajs's src/protocol/coordinatorTypes.js */
const TRANSACTION_COORDINATOR_TYPE = 1;
/** kafkajs's src/protocol/isolationLevel.js */
const ISOLATION_LEVEL_CODE: Record<IsolationLevel, number> = { read_uncommitted: 0, read_committed: 1 };

/**
 * The one access to kafkajs's private state: the `Kafka` client keeps a cluster factory
 * under the symbol `private:Kafka:createCluster`; it builds a Cluster configured exactly like
 * the ones its producers and consumers use (brokers, retry, timeouts, logger).
 */
function createInternalCluster(kafka: KafkaClient, options: { maxInFlightRequests: number | null }): InternalCluster {
  const factorySymbol = Object.getOwnPropertySymbols(kafka).find((symbol) => symbol.description === 'private:Kafka:createCluster');
  const factory = factorySymbol === undefined ? undefined : (kafka as unknown as Record<symbol, unknown>)[factorySymbol];
  if (typeof factory !== 'function') {
    throw new Error('KafkajsClients: kafkajs internals changed (no private:Kafka:createCluster); this file is written against kafkajs 2.2.4');
  }
  return (factory as (config: object) => InternalCluster)({
    metadataMaxAge: 300_000,
    allowAutoTopicCreation: false,
    maxInFlightRequests: options.maxInFlightRequests,
    instrumentationEmitter: null,
  });
}

// ---------------------------------------------------------------------------------------------
// Errors

/**
 * Why prepared transactions are refused here: KIP-939 needs InitProducerId v6 (Enable2Pc,
 * KeepPreparedTxn) on both sides. kafkajs speaks v0-1; Apache Kafka 3.x brokers (the local
 * one runs 3.9) have no v6; 4.x brokers list it as unstable, 4.2 withheld the client API
 * (KAFKA-19414), and keepPreparedTxn was still refused in 4.2.1 (KAFKA-20739, fix planned for 4.4).
 */
export const KIP_939_UNSUPPORTED =
  'prepared transactions (KIP-939, InitProducerId v6 with Enable2Pc and KeepPreparedTxn) are not supported by the kafkajs client, which speaks InitProducerId v0-1 only; ' +
  'they need an Apache Kafka 4.x broker and client with a complete KIP-939 (not Kafka 3.x; in 4.0-4.2 it is unstable or incomplete). ' +
  'Use the simulated broker for preparedTransactions, or leave the option off against a real broker';

/** The producer's epoch is no longer current: another initTransactions on its id (or a transaction timeout) fenced it. */
export class ProducerFencedError extends Error {
  readonly code = 'PRODUCER_FENCED';
  constructor(
    readonly transactionalId: string,
    cause: unknown,
  ) {
    super(`Kafka producer for transactional id '${transactionalId}' was fenced: ${describeError(cause)}; create a new producer (initTransactions)`, { cause });
    this.name = 'ProducerFencedError';
  }
}

interface KafkajsErrorShape {
  name?: string;
  type?: string;
  code?: number | string;
  message?: string;
}

function errorShape(error: unknown): KafkajsErrorShape {
  return typeof error === 'object' && error !== null ? (error as KafkajsErrorShape) : {};
}

function describeError(error: unknown): string {
  const { name, type, message } = errorShape(error);
  return [name, type, message ?? String(error)].filter((part) => part !== undefined).join(': ');
}

/** Kafka answers INVALID_PRODUCER_EPOCH to the request versions kafkajs speaks; PRODUCER_FENCED (90) to newer ones. */
function isFencingError(error: unknown): boolean {
  const { type, code } = errorShape(error);
  return type === 'INVALID_PRODUCER_EPOCH' || type === 'PRODUCER_FENCED' || code === 90 || code === 47;
}

/** The coordinator is busy finishing the previous transaction of this id (writing markers, or aborting it on init). */
const COORDINATOR_BUSY_ERRORS = new Set(['CONCURRENT_TRANSACTIONS', 'COORDINATOR_LOAD_IN_PROGRESS', 'GROUP_LOAD_IN_PROGRESS']);
/** The cached transaction coordinator moved or went away: look it up again. */
const COORDINATOR_MOVED_ERRORS = new Set(['NOT_COORDINATOR', 'NOT_COORDINATOR_FOR_GROUP', 'COORDINATOR_NOT_AVAILABLE', 'GROUP_COORDINATOR_NOT_AVAILABLE']);
const CONNECTION_ERROR_NAMES = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError']);
/** Produce errors after which resending the same batch (same sequence) is safe. */
const PRODUCE_RETRIABLE_ERRORS = new Set(['NOT_LEADER_FOR_PARTITION', 'NOT_LEADER_OR_FOLLOWER', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION', 'REQUEST_TIMED_OUT', 'NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND']);

const sleep = (delayMs: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, delayMs));

// ---------------------------------------------------------------------------------------------
// Options

export interface KafkajsClientsOptions {
  readonly brokers: readonly string[];
  readonly clientId?: string;
  /** Receives kafkajs's warnings and errors (one line each); default: dropped, kafkajs is noisy. */
  readonly log?: (line: string) => void;
  /** transaction.timeout.ms asked for at InitProducerId. Default 60 000. */
  readonly transactionTimeoutMs?: number;
  /** One request's timeout. Default 10 000. */
  readonly requestTimeoutMs?: number;
  /** Total time a transactional call may spend retrying CONCURRENT_TRANSACTIONS and coordinator moves. Default 15 000. */
  readonly coordinatorRetryBudgetMs?: number;
  /** Total time a `send` may spend resending after leader changes or timeouts. Default 15 000. */
  readonly produceRetryBudgetMs?: number;
  /** Total time one `read` may take. Default 15 000. */
  readonly readTimeoutMs?: number;
  /**
   * Seeds the jitter of retry pauses (each pause uniform in [backoff/2, backoff]), so clients
   * retrying together spread out and a run's pauses are reproducible. Default 'streamcheck'.
   */
  readonly retrySeed?: string;
  /**
   * Whether commitTransaction / abortTransaction wait until the coordinator has written the
   * transaction markers (default true). Kafka answers EndTxn once the decision is logged
   * (PrepareCommit); the records become visible to read_committed readers only when the
   * markers are written, moments later. Waiting makes "commit returned" mean "visible".
   */
  readonly awaitTransactionMarkers?: boolean;
}

interface ResolvedOptions {
  readonly transactionTimeoutMs: number;
  readonly requestTimeoutMs: number;
  readonly coordinatorRetryBudgetMs: number;
  readonly produceRetryBudgetMs: number;
  readonly readTimeoutMs: number;
  readonly retrySeed: string;
  readonly awaitTransactionMarkers: boolean;
  readonly log: (line: string) => void;
}

/** Pauses between retries of a busy coordinator, doubling from the first to the largest (Java's producer retries AddPartitionsToTxn after 20 ms). */
const COORDINATOR_RETRY_FIRST_BACKOFF_MS = 10;
const COORDINATOR_RETRY_MAX_BACKOFF_MS = 200;
const PRODUCE_RETRY_FIRST_BACKOFF_MS = 50;
const PRODUCE_RETRY_MAX_BACKOFF_MS = 500;
/**
 * How long the broker may hold a Fetch waiting for data; reads stop at the partition's end
 * anyway. Short: a read whose last fetch lands past the data (a transaction's marker) waits
 * this long for nothing, once per source deployment (100 ms made every e2e restart 100 ms slower).
 */
const FETCH_MAX_WAIT_MS = 10;
const FETCH_MAX_BYTES = 8 * 1024 * 1024;
/** kafkajs's TCP keep-alive delay (network/socketFactory.js). */
const SOCKET_KEEP_ALIVE_MS = 60_000;
/** How long close() lets calls in flight finish before it drops the connections. */
const CLOSE_GRACE_MS = 1_000;

function kafkajsLogCreator(log: ((line: string) => void) | undefined): LogCreator {
  return () =>
    ({ namespace, label, log: entry }: LogEntry) => {
      if (log === undefined) return;
      const { message, ...extra } = entry;
      // kafkajs's connection logs every error answer as an error, including the
      // CONCURRENT_TRANSACTIONS this file retries; the calls here report real failures themselves.
      if (namespace === 'Connection' && message.startsWith('Response ')) return;
      const details = Object.keys(extra).filter((key) => key !== 'timestamp' && key !== 'logger');
      const suffix = details.length === 0 ? '' : ' ' + JSON.stringify(Object.fromEntries(details.map((key) => [key, extra[key]])));
      log(`kafkajs ${label} [${namespace}] ${message}${suffix}`);
    };
}

// ---------------------------------------------------------------------------------------------

/**
 * Every kafkajs cluster (connection pool) made for one KafkajsClients, so close() can end
 * them all, including one whose connect() was still under way when its producer was closed
 * (such a straggler used to keep the process alive after `e2e` printed its summary).
 */
class ClusterRegistry {
  private readonly live = new Set<InternalCluster>();
  /** Every socket kafkajs opened for these clients and that is not closed yet. */
  private readonly sockets = new Set<Socket>();
  closed = false;

  /**
   * kafkajs's socket factory (its default, network/socketFactory.js, without TLS) that keeps
   * every socket it makes: kafkajs reconnects a dropped connection on the next request, so a
   * request still under way when close() ran could otherwise open a socket nobody ends.
   */
  readonly socketFactory: ISocketFactory = ({ host, port, onConnect }) => {
    const socket = connectTcp({ host, port }, onConnect);
    socket.setKeepAlive(true, SOCKET_KEEP_ALIVE_MS);
    if (this.closed) {
      socket.destroy(new Error(`KafkajsClients: connection to ${host}:${port} after close()`));
      return socket;
    }
    this.sockets.add(socket);
    socket.once('close', () => this.sockets.delete(socket));
    return socket;
  };

  /** Creates and connects a cluster; if the owner closed meanwhile, disconnects it and throws. */
  async connect(kafka: KafkaClient, options: { maxInFlightRequests: number | null }, owner: string): Promise<InternalCluster> {
    if (this.closed) throw new Error(`KafkajsClients: ${owner} used after close()`);
    const cluster = createInternalCluster(kafka, options);
    this.live.add(cluster);
    try {
      await cluster.connect();
      // A cluster connects to a seed broker only and knows no broker ids yet: its first
      // coordinator lookup would fail with BrokerNotFound, refresh, and sleep kafkajs's retry
      // pause (100 ms) before it found the coordinator. Loading the broker list now is one
      // Metadata round trip (a few ms on loopback); every producer makes its own cluster, so
      // this took 100 ms off each initTransactions, that is off each 2PC transaction.
      await cluster.refreshMetadata();
    } catch (error) {
      this.live.delete(cluster);
      await cluster.disconnect().catch(() => undefined);
      throw error;
    }
    if (this.closed) {
      await this.disconnect(cluster);
      throw new Error(`KafkajsClients: ${owner} was closed while connecting`);
    }
    return cluster;
  }

  async disconnect(cluster: InternalCluster): Promise<void> {
    this.live.delete(cluster);
    await cluster.disconnect().catch(() => undefined);
  }

  async closeAll(): Promise<void> {
    this.closed = true;
    const clusters = [...this.live];
    this.live.clear();
    await Promise.allSettled(clusters.map((cluster) => cluster.disconnect()));
    // Whatever kafkajs left open (a reconnect racing the disconnect) ends here.
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }
}

export class KafkajsClients implements KafkaClients {
  /** The kafkajs client, created on first use (kafkajs loads lazily); shared by every producer. */
  private readonly kafka: () => Promise<KafkaClient>;
  private readonly options: ResolvedOptions;
  private readonly clusters = new ClusterRegistry();
  private readonly producers = new Set<KafkajsTransactionalProducer>();
  private sharedCluster: Promise<InternalCluster> | undefined;
  private admin: Promise<Admin> | undefined;

  constructor(options: KafkajsClientsOptions) {
    if (options.brokers.length === 0) throw new Error('KafkajsClients: no brokers given');
    this.options = {
      transactionTimeoutMs: options.transactionTimeoutMs ?? 60_000,
      requestTimeoutMs: options.requestTimeoutMs ?? 10_000,
      coordinatorRetryBudgetMs: options.coordinatorRetryBudgetMs ?? 15_000,
      produceRetryBudgetMs: options.produceRetryBudgetMs ?? 15_000,
      readTimeoutMs: options.readTimeoutMs ?? 15_000,
      retrySeed: options.retrySeed ?? 'streamcheck',
      awaitTransactionMarkers: options.awaitTransactionMarkers ?? true,
      log: options.log ?? (() => undefined),
    };
    let client: Promise<KafkaClient> | undefined;
    this.kafka = () =>
      (client ??= loadKafkajs().then(
        ({ Kafka, logLevel }) =>
          new Kafka({
            clientId: options.clientId ?? 'streamcheck',
            brokers: [...options.brokers],
            connectionTimeout: 3_000,
            requestTimeout: this.options.requestTimeoutMs,
            // kafkajs's own retries (metadata, coordinator lookup, admin): few and short, so our bounded budgets hold.
            retry: { retries: 5, initialRetryTime: 100, maxRetryTime: 2_000 },
            logLevel: options.log === undefined ? logLevel.NOTHING : logLevel.WARN,
            logCreator: kafkajsLogCreator(options.log),
            socketFactory: this.clusters.socketFactory,
          }),
      ));
  }

  producer(transactionalId: string, options: ProducerOptions = {}): TransactionalProducer {
    if (options.preparedTransactions === true) throw new Error(`KafkajsClients: producer('${transactionalId}'): ${KIP_939_UNSUPPORTED}`);
    if (this.clusters.closed) throw new Error(`KafkajsClients: producer('${transactionalId}') after close()`);
    const producer = new KafkajsTransactionalProducer(this.kafka, this.options, this.clusters, transactionalId, undefined);
    this.producers.add(producer);
    return producer;
  }

  resumeTransaction(handle: TransactionHandle): TransactionalProducer {
    if (this.clusters.closed) throw new Error(`KafkajsClients: resumeTransaction('${handle.transactionalId}') after close()`);
    const producer = new KafkajsTransactionalProducer(this.kafka, this.options, this.clusters, handle.transactionalId, handle);
    this.producers.add(producer);
    return producer;
  }

  async read(topic: string, partition: number, fromOffset: number, isolation: IsolationLevel): Promise<ConsumedRecord[]> {
    const cluster = await this.connectedSharedCluster();
    return readPartition(cluster, { topic, partition, fromOffset, isolation, timeoutMs: this.options.readTimeoutMs, isClosed: () => this.clusters.closed });
  }

  async createTopic(topic: string, partitions: number): Promise<void> {
    const admin = await this.connectedAdmin();
    // false means it already existed: creating is idempotent for our purposes.
    await admin.createTopics({ topics: [{ topic, numPartitions: partitions }], waitForLeaders: true, timeout: this.options.requestTimeoutMs });
  }

  /**
   * Closes every producer this object made and every connection it opened, including ones
   * still being opened; later calls fail. Idempotent.
   */
  async close(): Promise<void> {
    const producers = [...this.producers];
    this.producers.clear();
    await Promise.allSettled(producers.map((producer) => producer.close()));
    const admin = this.admin;
    this.admin = undefined;
    this.sharedCluster = undefined;
    await this.clusters.closeAll();
    // An admin still connecting is disconnected once its connect settles.
    await admin?.then((client) => client.disconnect()).catch(() => undefined);
  }

  private connectedSharedCluster(): Promise<InternalCluster> {
    if (this.sharedCluster === undefined) {
      this.sharedCluster = this.kafka().then((kafka) => this.clusters.connect(kafka, { maxInFlightRequests: null }, 'read'));
      this.sharedCluster.catch(() => (this.sharedCluster = undefined));
    }
    return this.sharedCluster;
  }

  private connectedAdmin(): Promise<Admin> {
    if (this.clusters.closed) return Promise.reject(new Error('KafkajsClients: createTopic after close()'));
    if (this.admin === undefined) {
      const connecting = this.kafka().then(async (kafka) => {
        const admin = kafka.admin();
        try {
          await admin.connect();
        } catch (error) {
          void admin.disconnect().catch(() => undefined);
          throw error;
        }
        if (this.clusters.closed) {
          await admin.disconnect();
          throw new Error('KafkajsClients: closed while the admin client connected');
        }
        return admin;
      });
      this.admin = connecting;
      connecting.catch(() => {
        if (this.admin === connecting) this.admin = undefined;
      });
    }
    return this.admin;
  }
}

// ---------------------------------------------------------------------------------------------
// The transactional producer

type ProducerState =
  | 'uninitialized' // no producer id yet: initTransactions first
  | 'ready' // initialised, no open transaction
  | 'in-transaction'
  | 'resumed' // adopted a handle: only commitTransaction / abortTransaction
  | 'fenced'
  | 'closed';

class KafkajsTransactionalProducer implements TransactionalProducer {
  private state: ProducerState;
  private producerId = -1;
  private epoch = -1;
  private cluster: InternalCluster | undefined;
  private coordinator: InternalBroker | undefined;
  /** Partitions registered with the coordinator in the open transaction: `topic\u0000partition`. */
  private readonly partitionsInTransaction = new Set<string>();
  /** Next sequence number per partition for this producer id and epoch (idempotence). */
  private readonly nextSequence = new Map<string, number>();
  /** Serialises every call: sequence numbers and the transaction protocol need one request at a time. */
  private tail: Promise<unknown> = Promise.resolve();
  /** How often the coordinator answered CONCURRENT_TRANSACTIONS and the call was retried (for reports). */
  concurrentTransactionRetries = 0;
  /** How often awaiting the markers of an ended transaction polled again (for reports). */
  markerWaitRetries = 0;
  private readonly retryRandom: () => number;

  constructor(
    private readonly kafka: () => Promise<KafkaClient>,
    private readonly options: ResolvedOptions,
    private readonly clusters: ClusterRegistry,
    readonly transactionalId: string,
    resumedHandle: TransactionHandle | undefined,
  ) {
    this.retryRandom = seedrandom.alea(`${options.retrySeed}/${transactionalId}`);
    if (resumedHandle === undefined) {
      this.state = 'uninitialized';
    } else {
      this.state = 'resumed';
      this.producerId = resumedHandle.producerId;
      this.epoch = resumedHandle.epoch;
    }
  }

  initTransactions(options: InitTransactionsOptions = {}): Promise<TransactionHandle> {
    if (options.keepPreparedTransaction === true) return Promise.reject(new Error(`KafkajsClients: initTransactions('${this.transactionalId}') with keepPreparedTransaction: ${KIP_939_UNSUPPORTED}`));
    return this.serialised(async () => {
      this.assertNotClosed('initTransactions');
      // A fenced or resumed producer is started afresh: kafkajs speaks InitProducerId v0-1
      // only, which cannot bump the epoch of a known producer id (KIP-360), so recovering
      // from a fence means a new registration of the transactional id with fresh connections.
      if (this.state === 'fenced' || this.state === 'resumed') await this.dropConnections();
      const coordinatorResult = await this.withCoordinator('InitProducerId', (coordinator) =>
        coordinator.initProducerId({ transactionalId: this.transactionalId, transactionTimeout: this.options.transactionTimeoutMs }),
      );
      const producerId = Number(coordinatorResult.producerId);
      if (!Number.isSafeInteger(producerId)) throw new Error(`KafkajsClients: producer id ${coordinatorResult.producerId} does not fit a JavaScript number`);
      this.producerId = producerId;
      this.epoch = coordinatorResult.producerEpoch;
      this.nextSequence.clear();
      this.partitionsInTransaction.clear();
      this.state = 'ready';
      return this.handle();
    });
  }

  beginTransaction(): void {
    this.assertNotClosed('beginTransaction');
    if (this.state === 'fenced') throw new ProducerFencedError(this.transactionalId, 'an earlier call');
    if (this.state !== 'ready') {
      throw new Error(`KafkajsClients: beginTransaction on '${this.transactionalId}' needs an initialised producer without an open transaction (state: ${this.state})`);
    }
    this.partitionsInTransaction.clear();
    this.state = 'in-transaction';
  }

  send(topic: string, partition: number, records: readonly KafkaRecord[]): Promise<void> {
    return this.serialised(async () => {
      this.assertState('send', 'in-transaction');
      if (records.length === 0) return;
      await this.addPartitionToTransaction(topic, partition);
      await this.produce(topic, partition, records);
    });
  }

  /** `send` resolves only after the broker acknowledged with acks=all, so flushing means waiting for the calls in flight. */
  flush(): Promise<void> {
    return this.serialised(async () => {
      this.assertNotClosed('flush');
    });
  }

  commitTransaction(): Promise<void> {
    return this.serialised(() => this.endTransaction(true));
  }

  abortTransaction(): Promise<void> {
    return this.serialised(() => this.endTransaction(false));
  }

  handle(): TransactionHandle {
    if (this.producerId < 0) throw new Error(`KafkajsClients: producer '${this.transactionalId}' has no producer id yet (call initTransactions)`);
    return { transactionalId: this.transactionalId, producerId: this.producerId, epoch: this.epoch };
  }

  /** Lets calls in flight finish for up to CLOSE_GRACE_MS, then drops the connections (those calls then fail). */
  async close(): Promise<void> {
    if (this.state === 'closed') return;
    this.state = 'closed';
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.tail, new Promise((resolve) => (timer = setTimeout(resolve, CLOSE_GRACE_MS)))]).finally(() => clearTimeout(timer));
    await this.dropConnections();
  }

  // -------------------------------------------------------------------------------------------

  private async endTransaction(commit: boolean): Promise<void> {
    const what = commit ? 'commitTransaction' : 'abortTransaction';
    this.assertState(what, 'in-transaction', 'resumed');
    if (this.state === 'in-transaction' && this.partitionsInTransaction.size === 0) {
      // Nothing was registered with the coordinator: there is no transaction on the broker to end.
      this.state = 'ready';
      return;
    }
    if (this.state === 'resumed') {
      await this.endResumedTransaction(commit);
      return;
    }
    await this.withCoordinator('EndTxn', (coordinator) =>
      coordinator.endTxn({ transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.epoch, transactionResult: commit }),
    );
    this.partitionsInTransaction.clear();
    this.state = 'ready';
    await this.awaitTransactionMarkers(commit);
  }

  /**
   * Waits (bounded) until the coordinator has written the markers of the transaction just
   * ended, by repeating the same EndTxn: the coordinator answers CONCURRENT_TRANSACTIONS while
   * it is in PrepareCommit/PrepareAbort and NONE once in CompleteCommit/CompleteAbort (Kafka
   * 3.9 TransactionCoordinator.endTransaction). The transaction is already decided, so no
   * answer here may turn into a failure of the commit: anything but NONE is only logged.
   */
  private async awaitTransactionMarkers(commit: boolean): Promise<void> {
    if (!this.options.awaitTransactionMarkers) return;
    const deadlineMs = Date.now() + this.options.coordinatorRetryBudgetMs;
    let backoffMs = COORDINATOR_RETRY_FIRST_BACKOFF_MS;
    for (;;) {
      if (this.state === 'closed') return;
      try {
        const coordinator = await this.transactionCoordinator();
        await coordinator.endTxn({ transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.epoch, transactionResult: commit });
        return;
      } catch (error) {
        if (errorShape(error).type !== 'CONCURRENT_TRANSACTIONS' || Date.now() + backoffMs > deadlineMs) {
          this.options.log(`KafkajsClients: '${this.transactionalId}' ${commit ? 'committed' : 'aborted'}; not waiting for its markers any longer: ${describeError(error)}`);
          return;
        }
        this.markerWaitRetries++;
        await sleep(this.jittered(backoffMs));
        backoffMs = Math.min(backoffMs * 2, COORDINATOR_RETRY_MAX_BACKOFF_MS);
      }
    }
  }

  /**
   * Flink's resumeTransaction, the Kafka protocol way. Flink's FlinkKafkaInternalProducer
   * writes the checkpointed producer id and epoch into the Java client's transaction manager
   * by reflection and marks it as in a transaction, so its commitTransaction sends EndTxn with
   * them. The only broker request involved is that EndTxn, so this sends it directly to the
   * transaction coordinator of the id, with the handle's producer id and epoch and no
   * InitProducerId (which would bump the epoch and abort the transaction).
   *
   * The coordinator's answers (Kafka 3.9.2, TransactionCoordinator.endTransaction; checked
   * against a real broker in test/e2e/services.e2e.test.ts):
   * - Ongoing with this id and epoch: it commits (or aborts) the transaction.
   * - PrepareCommit (an EndTxn came before and the markers are being written):
   *   CONCURRENT_TRANSACTIONS, retried until the markers are written.
   * - CompleteCommit and a commit request: NONE, so committing twice succeeds (the
   *   idempotent retry 2PC needs after a crash between commit and checkpoint).
   * - CompleteAbort and a commit request, or Empty: INVALID_TXN_STATE (an error).
   * - A newer epoch (the id was re-initialised, or the broker aborted the transaction on
   *   timeout, which bumps the epoch): PRODUCER_FENCED, which reaches EndTxn v1 clients as
   *   INVALID_PRODUCER_EPOCH; surfaced as ProducerFencedError: the data is lost for good.
   * - Caveat: CompleteCommit then a new transaction with the same id AND epoch (same
   *   producer continuing) would be committed by a stale resume; the 2PC sink uses one
   *   transactional id per transaction, so that cannot happen there.
   */
  private async endResumedTransaction(commit: boolean): Promise<void> {
    await this.withCoordinator('EndTxn (resumed)', (coordinator) =>
      coordinator.endTxn({ transactionalId: this.transactionalId, producerId: this.producerId, producerEpoch: this.epoch, transactionResult: commit }),
    );
    await this.awaitTransactionMarkers(commit);
    // Stays 'resumed': ending again is the idempotent retry; new transactions need initTransactions.
  }

  private async addPartitionToTransaction(topic: string, partition: number): Promise<void> {
    const key = `${topic}\u0000${partition}`;
    if (this.partitionsInTransaction.has(key)) return;
    // Right after the previous EndTxn the coordinator is still writing its markers and
    // answers CONCURRENT_TRANSACTIONS (kafkajs issues 1315, 430, 304): withCoordinator retries.
    await this.withCoordinator('AddPartitionsToTxn', (coordinator) =>
      coordinator.addPartitionsToTxn({
        transactionalId: this.transactionalId,
        producerId: this.producerId,
        producerEpoch: this.epoch,
        topics: [{ topic, partitions: [partition] }],
      }),
    );
    this.partitionsInTransaction.add(key);
  }

  private async produce(topic: string, partition: number, records: readonly KafkaRecord[]): Promise<void> {
    const key = `${topic}\u0000${partition}`;
    const firstSequence = this.nextSequence.get(key) ?? 0;
    const cluster = await this.connectedCluster();
    const deadlineMs = Date.now() + this.options.produceRetryBudgetMs;
    let backoffMs = PRODUCE_RETRY_FIRST_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      this.assertNotClosed(`send to ${topic}/${partition}`);
      try {
        await cluster.addTargetTopic(topic);
        const leaders = cluster.findLeaderForPartitions(topic, [partition]);
        const leaderNodeId = Object.keys(leaders)[0];
        if (leaderNodeId === undefined) throw Object.assign(new Error(`no leader known for ${topic}/${partition}`), { type: 'LEADER_NOT_AVAILABLE' });
        const leader = await cluster.findBroker({ nodeId: leaderNodeId });
        await leader.produce({
          transactionalId: this.transactionalId,
          producerId: this.producerId,
          producerEpoch: this.epoch,
          acks: -1,
          timeout: this.options.requestTimeoutMs,
          topicData: [{ topic, partitions: [{ partition, firstSequence, messages: records.map(({ key: k, value }) => ({ key: k, value })) }] }],
        });
        this.nextSequence.set(key, firstSequence + records.length);
        return;
      } catch (error) {
        if (isFencingError(error)) throw this.markFenced(error);
        // The same batch with the same sequence is resent: the broker drops a duplicate.
        const { type, name } = errorShape(error);
        const retriable = (type !== undefined && PRODUCE_RETRIABLE_ERRORS.has(type)) || (name !== undefined && CONNECTION_ERROR_NAMES.has(name));
        if (!retriable || Date.now() + backoffMs > deadlineMs) {
          throw new Error(`KafkajsClients: produce to ${topic}/${partition} for '${this.transactionalId}' failed after ${attempt} attempt(s): ${describeError(error)}`, { cause: error });
        }
        await sleep(this.jittered(backoffMs));
        backoffMs = Math.min(backoffMs * 2, PRODUCE_RETRY_MAX_BACKOFF_MS);
        await cluster.refreshMetadata().catch(() => undefined);
      }
    }
  }

  /**
   * Sends one request to the transaction coordinator of this id, retrying (bounded by
   * coordinatorRetryBudgetMs, exponential backoff from 10 ms) while it is busy with the
   * previous transaction or has moved. A fencing answer marks the producer fenced.
   */
  private async withCoordinator<T>(requestName: string, request: (coordinator: InternalBroker) => Promise<T>): Promise<T> {
    const deadlineMs = Date.now() + this.options.coordinatorRetryBudgetMs;
    let backoffMs = COORDINATOR_RETRY_FIRST_BACKOFF_MS;
    for (let attempt = 1; ; attempt++) {
      // A call still retrying when close() dropped the connections must not reopen them.
      this.assertNotClosed(requestName);
      try {
        const coordinator = await this.transactionCoordinator();
        return await request(coordinator);
      } catch (error) {
        if (isFencingError(error)) throw this.markFenced(error);
        const { type, name } = errorShape(error);
        const busy = type !== undefined && COORDINATOR_BUSY_ERRORS.has(type);
        const moved = (type !== undefined && COORDINATOR_MOVED_ERRORS.has(type)) || (name !== undefined && CONNECTION_ERROR_NAMES.has(name));
        if ((!busy && !moved) || Date.now() + backoffMs > deadlineMs) {
          throw new Error(
            `KafkajsClients: ${requestName} for transactional id '${this.transactionalId}' failed after ${attempt} attempt(s) in ${this.options.coordinatorRetryBudgetMs - (deadlineMs - Date.now())} ms: ${describeError(error)}`,
            { cause: error },
          );
        }
        if (type === 'CONCURRENT_TRANSACTIONS') this.concurrentTransactionRetries++;
        if (moved) this.coordinator = undefined;
        await sleep(this.jittered(backoffMs));
        backoffMs = Math.min(backoffMs * 2, COORDINATOR_RETRY_MAX_BACKOFF_MS);
      }
    }
  }

  private async transactionCoordinator(): Promise<InternalBroker> {
    if (this.coordinator === undefined) {
      const cluster = await this.connectedCluster();
      this.coordinator = await cluster.findGroupCoordinator({ groupId: this.transactionalId, coordinatorType: TRANSACTION_COORDINATOR_TYPE });
    }
    return this.coordinator;
  }

  private async connectedCluster(): Promise<InternalCluster> {
    if (this.cluster === undefined) {
      // One request in flight per connection, as an idempotent producer with ordered sequences needs.
      const cluster = await this.clusters.connect(await this.kafka(), { maxInFlightRequests: 1 }, `producer '${this.transactionalId}'`);
      if (this.state === 'closed') {
        // close() ran while this connected: it must not outlive the producer.
        await this.clusters.disconnect(cluster);
        throw new Error(`KafkajsClients: producer '${this.transactionalId}' was closed while connecting`);
      }
      this.cluster = cluster;
    }
    return this.cluster;
  }

  private async dropConnections(): Promise<void> {
    const cluster = this.cluster;
    this.cluster = undefined;
    this.coordinator = undefined;
    if (cluster !== undefined) await this.clusters.disconnect(cluster);
  }

  /** A retry pause: uniform in [backoff/2, backoff] from this producer's seeded source. */
  private jittered(backoffMs: number): number {
    return Math.round(backoffMs / 2 + (this.retryRandom() * backoffMs) / 2);
  }

  private markFenced(cause: unknown): ProducerFencedError {
    this.state = 'fenced';
    return new ProducerFencedError(this.transactionalId, cause);
  }

  private assertNotClosed(call: string): void {
    if (this.state === 'closed') throw new Error(`KafkajsClients: ${call} on closed producer '${this.transactionalId}'`);
  }

  private assertState(call: string, ...allowed: ProducerState[]): void {
    this.assertNotClosed(call);
    if (this.state === 'fenced') throw new ProducerFencedError(this.transactionalId, `${call} after the producer was fenced`);
    if (!allowed.includes(this.state)) {
      throw new Error(`KafkajsClients: ${call} on producer '${this.transactionalId}' in state '${this.state}' (allowed: ${allowed.join(', ')})`);
    }
  }

  private serialised<T>(operation: () => Promise<T>): Promise<T> {
    const result = this.tail.then(operation, operation);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

// ---------------------------------------------------------------------------------------------
// Reading a partition to its end

interface ReadRequest {
  readonly topic: string;
  readonly partition: number;
  readonly fromOffset: number;
  readonly isolation: IsolationLevel;
  readonly timeoutMs: number;
  /** True once the clients were closed: a fetch after that would reopen a dropped connection (kafkajs reconnects on send). */
  readonly isClosed: () => boolean;
}

/**
 * Fetches from `fromOffset` until the partition's end as of the first answer: the high
 * watermark under read_uncommitted, the last stable offset under read_committed (records of
 * an open transaction lie beyond it). Kafka returns aborted records below the LSO too, with a
 * list of aborted transactions; they and the control markers are dropped here, as Java's
 * consumer does.
 */
async function readPartition(cluster: InternalCluster, request: ReadRequest): Promise<ConsumedRecord[]> {
  const { topic, partition, isolation, timeoutMs } = request;
  const deadlineMs = Date.now() + timeoutMs;
  const records: ConsumedRecord[] = [];
  let nextOffset = request.fromOffset;
  let endOffset: number | undefined;
  await cluster.addTargetTopic(topic);
  for (;;) {
    if (request.isClosed()) throw new Error(`KafkajsClients: reading ${topic}/${partition} stopped: the clients were closed`);
    if (Date.now() > deadlineMs) {
      throw new Error(`KafkajsClients: reading ${topic}/${partition} (${isolation}) from ${request.fromOffset} did not reach the end offset ${endOffset ?? '?'} within ${timeoutMs} ms (at ${nextOffset})`);
    }
    const leaders = cluster.findLeaderForPartitions(topic, [partition]);
    const leaderNodeId = Object.keys(leaders)[0];
    if (leaderNodeId === undefined) throw new Error(`KafkajsClients: no leader known for ${topic}/${partition}`);
    const leader = await cluster.findBroker({ nodeId: leaderNodeId });
    const response = await leader.fetch({
      replicaId: -1,
      isolationLevel: ISOLATION_LEVEL_CODE[isolation],
      maxWaitTime: FETCH_MAX_WAIT_MS,
      minBytes: 1,
      maxBytes: FETCH_MAX_BYTES,
      topics: [{ topic, partitions: [{ partition, fetchOffset: String(nextOffset), maxBytes: FETCH_MAX_BYTES }] }],
    });
    const partitionData = response.responses.find((r) => r.topicName === topic)?.partitions.find((p) => p.partition === partition);
    if (partitionData === undefined) throw new Error(`KafkajsClients: fetch answered nothing for ${topic}/${partition}`);
    if (endOffset === undefined) {
      endOffset = Number(isolation === 'read_committed' ? partitionData.lastStableOffset : partitionData.highWatermark);
      if (!Number.isSafeInteger(endOffset) || endOffset < 0) throw new Error(`KafkajsClients: fetch of ${topic}/${partition} gave no usable end offset`);
    }
    if (nextOffset >= endOffset) return records;

    const visible = isolation === 'read_committed' ? dropAborted(partitionData.messages, partitionData.abortedTransactions) : partitionData.messages;
    for (const message of visible) {
      const offset = Number(message.offset);
      if (message.isControlRecord || offset < nextOffset || offset >= endOffset) continue;
      records.push({ topic, partition, offset, key: message.key?.toString('utf8') ?? '', value: message.value?.toString('utf8') ?? '' });
    }
    const lastMessage = partitionData.messages[partitionData.messages.length - 1];
    if (lastMessage !== undefined) {
      // Past the whole last batch, control batches included.
      const { firstOffset, lastOffsetDelta } = lastMessage.batchContext;
      nextOffset = Math.max(nextOffset, Number(firstOffset) + lastOffsetDelta + 1);
    }
  }
}

/**
 * Drops the records of aborted transactions: an aborted transaction of producer P starts at
 * its listed first offset and ends at P's abort marker (a control record whose key has type 0).
 */
function dropAborted(messages: InternalFetchedRecord[], abortedTransactions: { producerId: string; firstOffset: string }[]): InternalFetchedRecord[] {
  if (abortedTransactions.length === 0) return messages;
  const pending = [...abortedTransactions].sort((a, b) => Number(a.firstOffset) - Number(b.firstOffset));
  const abortingProducers = new Set<string>();
  const kept: InternalFetchedRecord[] = [];
  for (const message of messages) {
    while (pending.length > 0 && Number(message.offset) >= Number(pending[0]!.firstOffset)) {
      abortingProducers.add(pending.shift()!.producerId);
    }
    const { producerId, inTransaction } = message.batchContext;
    if (message.isControlRecord) {
      if (isAbortMarker(message)) abortingProducers.delete(producerId);
      continue;
    }
    if (inTransaction && abortingProducers.has(producerId)) continue;
    kept.push(message);
  }
  return kept;
}

/** Control record key: int16 version, int16 type (0 = abort, 1 = commit). */
function isAbortMarker(message: InternalFetchedRecord): boolean {
  const key = message.key;
  return key !== null && key.length >= 4 && key.readInt16BE(2) === 0;
}
