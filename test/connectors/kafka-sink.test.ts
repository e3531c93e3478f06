import { describe, expect, test } from 'vitest';
import type { ConnectorEvent, FunctionInitializationContext, ListState } from '../../src/connectors/api.ts';
import { kafkaErrorCode, type InitializedProducer, type KafkaClients, type TransactionHandle, type TransactionalProducer } from '../../src/connectors/kafka-api.ts';
import { BuggyKafkaTwoPhaseCommitSink, KafkaTwoPhaseCommitSink, MAX_LINGERING_PROBES, MicroBatchKafkaSink, type KafkaSinkBug, type KafkaSinkOptions, type KafkaTransaction } from '../../src/connectors/kafka-sink.ts';
import { SimKafkaBroker } from '../../src/connectors/sim/kafka-broker.ts';
import { SimKafkaClients } from '../../src/connectors/sim/kafka-clients.ts';
import type { TwoPhaseCommitState } from '../../src/connectors/two-phase-commit-sink.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';

/**
 * Unit tests of the Kafka two-phase-commit sink, driven directly (no job) against the
 * simulated broker: the parts of its contract the main job's scenarios never reach (argument
 * checks, the buffer bound, ending a restored transaction through commit/abort, the guard on a
 * foreign prepared transaction, the error codes recovery drops). Written for the mutation
 * survivors of kafka-sink.ts (mutation/survivors/kafka-sink.md).
 */

const TIMEOUT_MS = 100;

/** Simulated clients that count the producers handed out and those closed. */
class CountingClients extends SimKafkaClients {
  created = 0;
  closed = 0;
  preparedProducers = 0;

  override producer(...args: Parameters<SimKafkaClients['producer']>): TransactionalProducer {
    if (args[1]?.preparedTransactions === true) this.preparedProducers++;
    return this.counted(super.producer(...args));
  }

  override resumeTransaction(handle: TransactionHandle): TransactionalProducer {
    return this.counted(super.resumeTransaction(handle));
  }

  /** Every send: `<transactional id> p<partition> x<records>`. */
  readonly sends: string[] = [];

  private counted(producer: TransactionalProducer): TransactionalProducer {
    this.created++;
    const send = producer.send.bind(producer);
    producer.send = (topic, partition, records) => {
      this.sends.push(`${producer.handle().transactionalId} p${partition} x${records.length}`);
      return send(topic, partition, records);
    };
    const close = producer.close.bind(producer);
    producer.close = () => {
      this.closed++;
      return close();
    };
    return producer;
  }
}

/** A simulated broker with topic `out` (2 partitions), clients over it, and a way to run their I/O. */
function world(transactionTimeoutMs = TIMEOUT_MS) {
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100_000, keepTrace: false });
  scheduler.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
  const broker = new SimKafkaBroker();
  broker.createTopic('out', 2);
  const clients = new CountingClients(broker, scheduler, transactionTimeoutMs);
  /** Runs the scheduler until the promise settles (client calls are simulated I/O). */
  const settle = async <T>(promise: Promise<T> | T): Promise<T> => {
    let done = false;
    const outcome = Promise.resolve(promise).then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
    void outcome.then(() => (done = true));
    // A call may be requested only after some microtasks (an await before it): run until it settled.
    for (let rounds = 0; !done; rounds++) {
      if (rounds === 100) throw new Error('settle: the promise never settled');
      await scheduler.run();
      await new Promise((resolve) => setImmediate(resolve));
    }
    const settled = await outcome;
    if (!settled.ok) throw settled.error;
    return settled.value;
  };
  const values = (partition: number, isolation: 'read_committed' | 'read_uncommitted') => broker.fetch('out', partition, 0, isolation).map((record) => record.value);
  /** Lets virtual time pass (the broker's transaction timeout counts it). */
  const wait = (ms: number) => {
    scheduler.nowMs += ms;
    broker.advanceTimeTo(scheduler.nowMs);
  };
  return { scheduler, broker, clients, settle, values, wait };
}

/** The sink's operator state and what it reported, for one subtask. */
function context(entries: TwoPhaseCommitState<KafkaTransaction>[], events: ConnectorEvent[] = [], { subtaskIndex = 0, parallelism = 1 } = {}): FunctionInitializationContext {
  const state: ListState<TwoPhaseCommitState<KafkaTransaction>> = {
    get: () => entries,
    update: (values) => void entries.splice(0, entries.length, ...values),
    add: (value) => void entries.push(value),
    clear: () => void entries.splice(0),
  };
  return {
    isRestored: () => entries.length > 0,
    restoredCheckpointId: entries.length > 0 ? 1 : undefined,
    getOperatorStateStore: () => ({ getListState: <T>() => state as unknown as ListState<T> }),
    subtaskIndex,
    parallelism,
    attemptNumber: 0,
    report: (event) => void events.push(event),
  };
}

/** Exposes the sink's protected steps. */
class ExposedSink extends KafkaTwoPhaseCommitSink<string> {
  commitNow(transaction: KafkaTransaction): Promise<void> {
    return this.commit(transaction);
  }
  abortNow(transaction: KafkaTransaction): Promise<void> {
    return this.abort(transaction);
  }
  recover(transaction: KafkaTransaction): Promise<void> {
    return this.recoverAndCommit(transaction);
  }
}

function sinkOptions(clients: KafkaClients, extra: Partial<KafkaSinkOptions<string>> = {}): KafkaSinkOptions<string> {
  return { clients, topic: 'out', transactionalIdPrefix: 'sink', subtaskIndex: 0, partitionOf: (value) => (value.startsWith('b') ? 1 : 0), serialize: (value) => ({ key: value, value }), ...extra };
}

/** The transaction a sink began last, from its reports. */
function lastBegun(events: ConnectorEvent[]): KafkaTransaction {
  const begin = events.filter((event) => event.kind === 'begin').at(-1);
  if (begin === undefined) throw new Error('no transaction begun');
  return JSON.parse(begin.transaction) as KafkaTransaction;
}

describe('KafkaTwoPhaseCommitSink options', () => {
  test('a transactional id prefix outside [A-Za-z0-9._-]+ is refused, naming the prefix', () => {
    const { clients } = world();
    for (const prefix of [' sink', 'sink ', 'si nk', '']) {
      expect(() => new ExposedSink(sinkOptions(clients, { transactionalIdPrefix: prefix }))).toThrow(`KafkaTwoPhaseCommitSink: transactionalIdPrefix must match [A-Za-z0-9._-]+, got '${prefix}'`);
    }
    expect(() => new ExposedSink(sinkOptions(clients, { transactionalIdPrefix: 'a.B_c-9' }))).not.toThrow();
  });

  test('the buffer is sent inside the open transaction once maxBufferedRecords of one partition are buffered, not before', async () => {
    const { clients, settle, values } = world();
    const sink = new ExposedSink(sinkOptions(clients, { maxBufferedRecords: 2 }));
    await settle(sink.initializeState(context([])));
    await settle(sink.write('a1'));
    await settle(sink.write('b1'));
    expect([values(0, 'read_uncommitted'), values(1, 'read_uncommitted')]).toEqual([[], []]);
    // A full partition sends every partition's buffer.
    await settle(sink.write('a2'));
    expect([values(0, 'read_uncommitted'), values(1, 'read_uncommitted')]).toEqual([['a1', 'a2'], ['b1']]);
    await settle(sink.write('b2'));
    expect(values(1, 'read_uncommitted')).toEqual(['b1']);
    // The pre-commit sends what is left, and nothing is visible before the commit.
    await settle(sink.snapshotState({ checkpointId: 1 }));
    expect([values(0, 'read_uncommitted'), values(1, 'read_uncommitted')]).toEqual([['a1', 'a2'], ['b1', 'b2']]);
    expect(values(0, 'read_committed')).toEqual([]);
    await settle(sink.notifyCheckpointComplete(1));
    expect([values(0, 'read_committed'), values(1, 'read_committed')]).toEqual([['a1', 'a2'], ['b1', 'b2']]);
  });

  test('a full buffer sends each partition that has records, in partition order, whatever order they arrived in', async () => {
    const { clients, settle, values } = world();
    const sink = new ExposedSink(sinkOptions(clients, { maxBufferedRecords: 2 }));
    await settle(sink.initializeState(context([])));
    for (const value of ['b1', 'a1', 'b2', 'b3', 'b4']) await settle(sink.write(value));
    await settle(sink.snapshotState({ checkpointId: 1 }));
    expect(clients.sends).toEqual(['sink-0-0 p0 x1', 'sink-0-0 p1 x2', 'sink-0-0 p1 x2']);
    expect([values(0, 'read_uncommitted'), values(1, 'read_uncommitted')]).toEqual([['a1'], ['b1', 'b2', 'b3', 'b4']]);
  });

  test('by default 64 records of a partition are buffered before they are sent', async () => {
    const { clients, settle, values } = world();
    const sink = new ExposedSink(sinkOptions(clients));
    await settle(sink.initializeState(context([])));
    for (let i = 0; i < 63; i++) await settle(sink.write(`a${i}`));
    expect(values(0, 'read_uncommitted')).toHaveLength(0);
    await settle(sink.write('a63'));
    expect(values(0, 'read_uncommitted')).toHaveLength(64);
  });

  test('without preparedTransactions the producers are plain ones: the broker aborts a transaction open past its timeout', async () => {
    const { broker, clients, settle, wait } = world();
    const sink = new ExposedSink(sinkOptions(clients));
    await settle(sink.initializeState(context([])));
    await settle(sink.write('a1'));
    await settle(sink.snapshotState({ checkpointId: 1 }));
    wait(10 * TIMEOUT_MS);
    expect(clients.preparedProducers).toBe(0);
    expect(broker.events.map((event) => event.kind)).toContain('timeout-abort');
  });

  test('with preparedTransactions every producer is registered for two-phase commit: a pre-committed transaction outlives the timeout', async () => {
    const { broker, clients, settle, wait, values } = world();
    const sink = new ExposedSink(sinkOptions(clients, { preparedTransactions: true }));
    await settle(sink.initializeState(context([])));
    await settle(sink.write('a1'));
    await settle(sink.snapshotState({ checkpointId: 1 }));
    wait(10 * TIMEOUT_MS);
    expect(broker.events.map((event) => event.kind)).not.toContain('timeout-abort');
    await settle(sink.notifyCheckpointComplete(1));
    expect(values(0, 'read_committed')).toEqual(['a1']);
    expect(clients.preparedProducers).toBe(clients.created);
  });
});

describe('KafkaTwoPhaseCommitSink ends transactions', () => {
  test('abort ends the sink\'s own open transaction: its records are never visible, and its producer is closed', async () => {
    const { broker, clients, settle, values } = world();
    const events: ConnectorEvent[] = [];
    const sink = new ExposedSink(sinkOptions(clients, { maxBufferedRecords: 1 }));
    await settle(sink.initializeState(context([], events)));
    await settle(sink.write('a1'));
    await settle(sink.abortNow(lastBegun(events)));
    expect(values(0, 'read_uncommitted')).toEqual(['a1']);
    expect(values(0, 'read_committed')).toEqual([]);
    expect(broker.events.map((event) => event.kind)).toContain('abort');
    expect(events.map((event) => event.kind)).toEqual(['begin', 'abort']);
    expect(clients.closed).toBe(clients.created);
  });

  test('a checkpoint with no records commits its empty transaction with its own producer, without the coordinator', async () => {
    for (const prepared of [false, true]) {
      const { broker, clients, settle } = world();
      const sink = new ExposedSink(sinkOptions(clients, { preparedTransactions: prepared }));
      await settle(sink.initializeState(context([])));
      await settle(sink.snapshotState({ checkpointId: 1 }));
      const events = broker.events.length;
      const created = clients.created;
      await settle(sink.notifyCheckpointComplete(1));
      expect(broker.events.slice(events)).toEqual([]);
      expect(clients.created).toBe(created);
    }
  });

  for (const prepared of [false, true]) {
    const how = prepared ? 'with preparedTransactions (adopted by keepPreparedTxn)' : 'without preparedTransactions (resumed by producer id and epoch)';
    /** A transaction pre-committed by a sink that then crashed, and a new sink that did not begin it. */
    async function crashedTransaction() {
      const w = world();
      const crashedEvents: ConnectorEvent[] = [];
      const crashed = new ExposedSink(sinkOptions(w.clients, { preparedTransactions: prepared }));
      await w.settle(crashed.initializeState(context([], crashedEvents)));
      await w.settle(crashed.write('a1'));
      await w.settle(crashed.snapshotState({ checkpointId: 1 }));
      const transaction = crashed.pendingTransactions()[0]![1];
      const created = w.clients.created;
      const closed = w.clients.closed;
      const sink = new ExposedSink(sinkOptions(w.clients, { preparedTransactions: prepared }));
      return { ...w, transaction, sink, created, closed };
    }

    test(`commit ends a transaction another instance began ${how}, and closes the producer that ended it`, async () => {
      const { transaction, sink, settle, values, clients, created, closed, broker } = await crashedTransaction();
      await settle(sink.commitNow(transaction));
      expect(values(0, 'read_committed')).toEqual(['a1']);
      expect(broker.events.map((event) => event.kind).filter((kind) => kind === 'commit')).toHaveLength(1);
      expect(clients.created - created).toBe(1);
      expect(clients.closed - closed).toBe(1);
    });

    test(`abort ends a transaction another instance began ${how}`, async () => {
      const { transaction, sink, settle, values, broker, clients, created, closed } = await crashedTransaction();
      await settle(sink.abortNow(transaction));
      expect(values(0, 'read_uncommitted')).toEqual(['a1']);
      expect(values(0, 'read_committed')).toEqual([]);
      expect(broker.describeTransaction(transaction.transactionalId)?.state).toBe('CompleteAbort');
      expect(clients.created - created).toBe(1);
      expect(clients.closed - closed).toBe(1);
    });

    test(`a failing commit of a transaction another instance began ${how} rejects and still closes its producer`, async () => {
      const { transaction, sink, settle, values, clients, created, closed } = await crashedTransaction();
      clients.failNextCommits(1);
      await expect(settle(sink.commitNow(transaction))).rejects.toThrow(/connection to the transaction coordinator lost/);
      expect(clients.closed - closed).toBe(clients.created - created);
      // A retry with a new adoption commits it.
      await settle(sink.commitNow(transaction));
      expect(values(0, 'read_committed')).toEqual(['a1']);
    });
  }
});

describe('KafkaTwoPhaseCommitSink recovery with preparedTransactions', () => {
  async function prepared() {
    const w = world();
    const crashed = new ExposedSink(sinkOptions(w.clients, { preparedTransactions: true }));
    await w.settle(crashed.initializeState(context([])));
    await w.settle(crashed.write('a1'));
    await w.settle(crashed.snapshotState({ checkpointId: 1 }));
    const transaction = crashed.pendingTransactions()[0]![1];
    return { ...w, transaction, sink: new ExposedSink(sinkOptions(w.clients, { preparedTransactions: true })) };
  }

  test('a kept prepared transaction of another producer id or epoch than the checkpointed one is refused, naming both', async () => {
    for (const foreign of [{ producerId: 1 }, { epoch: 1 }] as const) {
      const { transaction, sink, settle, values } = await prepared();
      const checkpointed = { ...transaction, producerId: transaction.producerId + (foreign.producerId ?? 0), epoch: transaction.epoch + (foreign.epoch ?? 0) };
      await expect(settle(sink.recover(checkpointed))).rejects.toThrow(
        `KafkaTwoPhaseCommitSink: the prepared transaction kept on 'sink-0-0' is producer ${transaction.producerId} epoch ${transaction.epoch}, not the checkpointed producer ${checkpointed.producerId} epoch ${checkpointed.epoch}`,
      );
      expect(values(0, 'read_committed')).toEqual([]);
    }
  });

  test('recovering a transaction that already ended (nothing kept) succeeds without the coordinator', async () => {
    const { transaction, sink, settle, values, broker } = await prepared();
    await settle(sink.recover(transaction));
    const commits = broker.events.filter((event) => event.kind === 'commit').length;
    await settle(sink.recover(transaction));
    expect(values(0, 'read_committed')).toEqual(['a1']);
    expect(broker.events.filter((event) => event.kind === 'commit')).toHaveLength(commits);
  });
});

/** Clients whose every commit fails with `code` (a Kafka error as either client reports it). */
function failingClients(code: string | undefined): KafkaClients & { closed: number } {
  const failing = (): TransactionalProducer => ({
    initTransactions: (): Promise<InitializedProducer> => Promise.resolve({ transactionalId: 'sink-0-0', producerId: 7, epoch: 3, preparedTransaction: { transactionalId: 'sink-0-0', producerId: 7, epoch: 2 } }),
    beginTransaction: () => {},
    send: () => Promise.resolve(),
    flush: () => Promise.resolve(),
    commitTransaction: () => Promise.reject(Object.assign(new Error(`commit failed (${code})`), code === undefined ? {} : { code })),
    abortTransaction: () => Promise.resolve(),
    handle: () => ({ transactionalId: 'sink-0-0', producerId: 7, epoch: 3 }),
    close: () => {
      clients.closed++;
      return Promise.resolve();
    },
  });
  const clients = {
    closed: 0,
    producer: failing,
    resumeTransaction: failing,
    read: () => Promise.resolve([]),
    createTopic: () => Promise.resolve(),
  };
  return clients;
}

describe('KafkaTwoPhaseCommitSink recovery: which failed commits are dropped as never committable', () => {
  const checkpointed: KafkaTransaction = { transactionalId: 'sink-0-0', producerId: 7, epoch: 2, counter: 0 };

  for (const code of ['INVALID_TXN_STATE', 'INVALID_PRODUCER_EPOCH', 'PRODUCER_FENCED']) {
    test(`${code}: dropped (the transaction already ended or was fenced), and the producer closed`, async () => {
      const clients = failingClients(code);
      await expect(new ExposedSink(sinkOptions(clients)).recover(checkpointed)).resolves.toBeUndefined();
      expect(clients.closed).toBe(1);
    });
  }

  for (const code of ['NETWORK_EXCEPTION', undefined]) {
    test(`${code ?? 'no code'}: the recovery fails (the restore is retried)`, async () => {
      const clients = failingClients(code);
      await expect(new ExposedSink(sinkOptions(clients)).recover(checkpointed)).rejects.toThrow(`commit failed (${code})`);
      expect(clients.closed).toBe(1);
    });
  }

  test('with preparedTransactions PRODUCER_FENCED fails the recovery (a zombie keeps the transaction), INVALID_TXN_STATE is dropped', async () => {
    await expect(new ExposedSink(sinkOptions(failingClients('PRODUCER_FENCED'), { preparedTransactions: true })).recover(checkpointed)).rejects.toThrow('commit failed (PRODUCER_FENCED)');
    await expect(new ExposedSink(sinkOptions(failingClients('INVALID_TXN_STATE'), { preparedTransactions: true })).recover(checkpointed)).resolves.toBeUndefined();
  });
});

describe('KafkaTwoPhaseCommitSink aborts lingering transactions after a restore', () => {
  /** Transactions of an earlier attempt on `ids`: each registered and written; those in `open` left open, the others committed. */
  async function earlier(w: ReturnType<typeof world>, ids: readonly string[], open: readonly string[]): Promise<void> {
    for (const id of ids) {
      const producer = w.clients.producer(id);
      await w.settle(producer.initTransactions());
      producer.beginTransaction();
      await w.settle(producer.send('out', 0, [{ key: id, value: id }]));
      if (!open.includes(id)) await w.settle(producer.commitTransaction());
    }
  }
  const states = (w: ReturnType<typeof world>) => Object.fromEntries(w.broker.listTransactions().map((listing) => [listing.transactionalId, listing.state]));
  const initialised = (w: ReturnType<typeof world>) => w.broker.events.flatMap((event) => (event.kind === 'init' ? [event.transactionalId] : []));
  const aborted = (w: ReturnType<typeof world>) => w.broker.events.flatMap((event) => (event.kind === 'abort' || event.kind === 'fence-abort' || event.kind === 'timeout-abort' ? [event.transactionalId] : []));

  test('the transactions begun after the restored in-flight one are aborted, and the next one takes the first unused id; every probing producer is closed', async () => {
    const w = world(60_000);
    const events: ConnectorEvent[] = [];
    const entries: TwoPhaseCommitState<KafkaTransaction>[] = [];
    const old = new ExposedSink(sinkOptions(w.clients, { maxBufferedRecords: 1 }));
    await w.settle(old.initializeState(context(entries)));
    await w.settle(old.write('a1'));
    await w.settle(old.snapshotState({ checkpointId: 1 }));
    const restored = structuredClone(entries);
    await w.settle(old.write('a2'));
    await w.settle(old.snapshotState({ checkpointId: 2 }));
    await w.settle(old.write('a3'));
    // The old attempt crashes with sink-0-1 pre-committed (checkpoint 2 never completed) and sink-0-2 open.
    const created = w.clients.created;
    const closed = w.clients.closed;
    const sink = new ExposedSink(sinkOptions(w.clients, { maxBufferedRecords: 1 }));
    const inits = initialised(w).length;
    await w.settle(sink.initializeState(context(restored, events)));
    // sink-0-0 committed by resuming it; sink-0-1 (in flight at checkpoint 1) aborted by an init; sink-0-2 by probing, up to sink-0-3, unused.
    expect(initialised(w).slice(inits).filter((id) => id.startsWith('sink-0-'))).toEqual(['sink-0-1', 'sink-0-2', 'sink-0-3', 'sink-0-3']);
    expect(aborted(w)).toEqual(['sink-0-1', 'sink-0-2']);
    expect(lastBegun(events)).toMatchObject({ transactionalId: 'sink-0-3', counter: 3 });
    expect(w.values(0, 'read_committed')).toEqual(['a1']);
    // Only the new open transaction keeps its producer.
    expect(w.clients.created - created - (w.clients.closed - closed)).toBe(1);
  });

  test('restored without an entry, a subtask probes the ids of the subtasks that fold onto it (subtask + k * parallelism) until one never used', async () => {
    const w = world(60_000);
    await earlier(w, ['sink-0-0', 'sink-2-0', 'sink-2-1', 'sink-4-0', 'sink-1-0'], ['sink-0-0', 'sink-2-1', 'sink-4-0', 'sink-1-0']);
    const events: ConnectorEvent[] = [];
    const sink = new ExposedSink(sinkOptions(w.clients));
    const inits = initialised(w).length;
    await w.settle(sink.initializeState(context([], events, { subtaskIndex: 0, parallelism: 2 })));
    expect(initialised(w).slice(inits)).toEqual(['sink-0-0', 'sink-0-1', 'sink-2-0', 'sink-2-1', 'sink-2-2', 'sink-4-0', 'sink-4-1', 'sink-6-0', 'sink-0-1']);
    expect(aborted(w)).toEqual(['sink-0-0', 'sink-2-1', 'sink-4-0']);
    expect(states(w)).toMatchObject({ 'sink-1-0': 'Ongoing' });
    expect(lastBegun(events)).toMatchObject({ transactionalId: 'sink-0-1', counter: 1 });
  });

  test('a removed subtask handed over with an entry is probed once, from after its in-flight transaction', async () => {
    const w = world(60_000);
    await earlier(w, ['sink-2-0', 'sink-2-1', 'sink-2-2', 'sink-2-3'], ['sink-2-1', 'sink-2-2', 'sink-2-3']);
    const handle = (id: string) => {
      const listing = w.broker.describeTransaction(id)!;
      return { transactionalId: id, producerId: listing.producerId, epoch: listing.epoch, counter: Number(id.split('-')[2]) };
    };
    const entries: TwoPhaseCommitState<KafkaTransaction>[] = [{ pending: [[1, handle('sink-2-1')]], current: handle('sink-2-2'), subtask: 2 }];
    const sink = new ExposedSink(sinkOptions(w.clients));
    const inits = initialised(w).length;
    await w.settle(sink.initializeState(context(entries, [], { subtaskIndex: 0, parallelism: 2 })));
    // sink-2-1 committed by resuming it (no init), sink-2-2 aborted by an init, sink-2-3 as lingering; then the own ids, then subtask 4.
    expect(initialised(w).slice(inits)).toEqual(['sink-2-2', 'sink-2-3', 'sink-2-4', 'sink-0-0', 'sink-4-0', 'sink-0-0']);
    expect(aborted(w)).toEqual(['sink-2-2', 'sink-2-3']);
    expect(w.values(0, 'read_committed')).toEqual(['sink-2-0', 'sink-2-1']);
  });

  test(`more than ${MAX_LINGERING_PROBES} used ids in a row fail the restore, naming where the probing started`, async () => {
    const epochOne: TransactionalProducer = {
      initTransactions: () => Promise.resolve({ transactionalId: 'x', producerId: 1, epoch: 1 }),
      beginTransaction: () => {},
      send: () => Promise.resolve(),
      flush: () => Promise.resolve(),
      commitTransaction: () => Promise.resolve(),
      abortTransaction: () => Promise.resolve(),
      handle: () => ({ transactionalId: 'x', producerId: 1, epoch: 1 }),
      close: () => Promise.resolve(),
    };
    const inits: string[] = [];
    const clients: KafkaClients = {
      producer: (id) => ({ ...epochOne, initTransactions: () => (inits.push(id), epochOne.initTransactions()) }),
      resumeTransaction: () => epochOne,
      read: () => Promise.resolve([]),
      createTopic: () => Promise.resolve(),
    };
    const sink = new ExposedSink(sinkOptions(clients));
    const inFlight = { transactionalId: 'sink-0-4', producerId: 1, epoch: 0, counter: 4 };
    await expect(sink.initializeState(context([{ pending: [], current: inFlight, subtask: 0 }]))).rejects.toThrow(
      `KafkaTwoPhaseCommitSink: more than ${MAX_LINGERING_PROBES} used transactional ids after sink-0-5`,
    );
    // The in-flight id, then exactly MAX_LINGERING_PROBES probes.
    expect(inits).toHaveLength(1 + MAX_LINGERING_PROBES);
    expect(inits.at(-1)).toBe(`sink-0-${4 + MAX_LINGERING_PROBES}`);
  });
});

/**
 * One life of a sink, step by step, with what read_committed shows after each step: two
 * subtasks, checkpoints 1-4 (a late notification, one pre-committed transaction whose
 * checkpoint completed but was never committed by subtask 1), a crash after checkpoint 4, and a
 * restore of checkpoint 3 at parallelism 1 (subtask 1 removed, its entry handed to subtask 0).
 */
async function life(make: (options: KafkaSinkOptions<string>) => KafkaTwoPhaseCommitSink<string>): Promise<string[]> {
  const w = world(60_000);
  const log: string[] = [];
  const committed = () => `p0 [${w.values(0, 'read_committed').join(',')}] p1 [${w.values(1, 'read_committed').join(',')}]`;
  const step = async (what: string, action: () => unknown) => {
    try {
      await w.settle(action());
      log.push(`${what}: ${committed()}`);
    } catch (error) {
      log.push(`${what}: threw ${kafkaErrorCode(error) ?? (error as Error).message}; ${committed()}`);
    }
  };
  const options = (subtaskIndex: number) => sinkOptions(w.clients, { maxBufferedRecords: 1, subtaskIndex });
  const states: TwoPhaseCommitState<KafkaTransaction>[][] = [[], []];
  const [s0, s1] = [make(options(0)), make(options(1))];
  await step('init', () => s0!.initializeState(context(states[0]!, [], { subtaskIndex: 0, parallelism: 2 })));
  await step('init 1', () => s1!.initializeState(context(states[1]!, [], { subtaskIndex: 1, parallelism: 2 })));
  await step('write a1', () => s0!.write('a1'));
  await step('snapshot 1', () => s0!.snapshotState({ checkpointId: 1 }));
  log.push(`pending ${JSON.stringify(s0!.pendingTransactions())}`);
  await step('write b1', () => s0!.write('b1'));
  await step('snapshot 2', () => s0!.snapshotState({ checkpointId: 2 }));
  await step('notify 2', () => s0!.notifyCheckpointComplete(2));
  await step('write a2', () => s0!.write('a2'));
  await step('1 writes b2', () => s1!.write('b2'));
  await step('snapshot 3', () => s0!.snapshotState({ checkpointId: 3 }));
  await step('1 snapshot 3', () => s1!.snapshotState({ checkpointId: 3 }));
  await step('write b3', () => s0!.write('b3'));
  await step('snapshot 4', () => s0!.snapshotState({ checkpointId: 4 }));
  await step('1 snapshot 4', () => s1!.snapshotState({ checkpointId: 4 }));
  const restored = structuredClone([...states[0]!, ...states[1]!]);
  await step('notify 3', () => s0!.notifyCheckpointComplete(3));
  await step('write a3', () => s0!.write('a3'));
  const events: ConnectorEvent[] = [];
  const restarted = make(options(0));
  await step('restore 4', () => restarted.initializeState(context(restored, events, { subtaskIndex: 0, parallelism: 1 })));
  log.push(`then begins ${events.some((event) => event.kind === 'begin') ? lastBegun(events).transactionalId : 'nothing'}`);
  await step('write b4', () => restarted.write('b4'));
  await step('write a4', () => restarted.write('a4'));
  await step('snapshot 5', () => restarted.snapshotState({ checkpointId: 5 }));
  await step('notify 5', () => restarted.notifyCheckpointComplete(5));
  return log;
}

describe('the planted bugs of the Kafka sink deviate from it as they say, and only there', () => {
  const SINK_LIFE = [
    'init: p0 [] p1 []',
    'init 1: p0 [] p1 []',
    'write a1: p0 [] p1 []',
    'snapshot 1: p0 [] p1 []',
    'pending [[1,{"transactionalId":"sink-0-0","producerId":1000,"epoch":1,"counter":0}]]',
    'write b1: p0 [] p1 []',
    'snapshot 2: p0 [] p1 []',
    'notify 2: p0 [a1] p1 [b1]',
    'write a2: p0 [a1] p1 [b1]',
    '1 writes b2: p0 [a1] p1 [b1]',
    'snapshot 3: p0 [a1] p1 [b1]',
    '1 snapshot 3: p0 [a1] p1 [b1]',
    'write b3: p0 [a1] p1 [b1]',
    'snapshot 4: p0 [a1] p1 [b1]',
    '1 snapshot 4: p0 [a1] p1 [b1]',
    'notify 3: p0 [a1,a2] p1 [b1]',
    'write a3: p0 [a1,a2] p1 [b1]',
    'restore 4: p0 [a1,a2] p1 [b1,b2,b3]',
    'then begins sink-0-5',
    'write b4: p0 [a1,a2] p1 [b1,b2,b3]',
    'write a4: p0 [a1,a2] p1 [b1,b2,b3]',
    'snapshot 5: p0 [a1,a2] p1 [b1,b2,b3]',
    'notify 5: p0 [a1,a2,a4] p1 [b1,b2,b3,b4]',
  ];
  /**
   * The micro-batch control and the planted bug commit-in-snapshot both commit at each
   * snapshot, so on this life they deviate in the same steps: one list states it for both.
   */
  const COMMITS_AT_EACH_SNAPSHOT = [
    'snapshot 1: p0 [a1] p1 []',
    'pending []',
    'write b1: p0 [a1] p1 []',
    'snapshot 2: p0 [a1] p1 [b1]',
    'snapshot 3: p0 [a1,a2] p1 [b1]',
    '1 snapshot 3: p0 [a1,a2] p1 [b1,b2]',
    'write b3: p0 [a1,a2] p1 [b1,b2]',
    'snapshot 4: p0 [a1,a2] p1 [b1,b2,b3]',
    '1 snapshot 4: p0 [a1,a2] p1 [b1,b2,b3]',
    'notify 3: p0 [a1,a2] p1 [b1,b2,b3]',
    'write a3: p0 [a1,a2] p1 [b1,b2,b3]',
    'snapshot 5: p0 [a1,a2,a4] p1 [b1,b2,b3,b4]',
  ];
  /** Each variant's steps that differ from the sink's (the same steps, so the lines align). */
  const DEVIATIONS: Record<KafkaSinkBug | 'micro-batch-sink', string[]> = {
    'micro-batch-sink': COMMITS_AT_EACH_SNAPSHOT,
    'commit-in-snapshot': COMMITS_AT_EACH_SNAPSHOT,
    // b2, pending in subtask 1's entry, is aborted by the restore.
    'restore-aborts-pending': [
      'restore 4: p0 [a1,a2] p1 [b1]',
      'write b4: p0 [a1,a2] p1 [b1]',
      'write a4: p0 [a1,a2] p1 [b1]',
      'snapshot 5: p0 [a1,a2] p1 [b1]',
      'notify 5: p0 [a1,a2,a4] p1 [b1,b4]',
    ],
    // notify 2 commits only checkpoint 2's b1; a1 stays open (and blocks p0) until the restore.
    'notify-commits-only-own': [
      'notify 2: p0 [] p1 [b1]',
      'write a2: p0 [] p1 [b1]',
      '1 writes b2: p0 [] p1 [b1]',
      'snapshot 3: p0 [] p1 [b1]',
      '1 snapshot 3: p0 [] p1 [b1]',
      'write b3: p0 [] p1 [b1]',
      'snapshot 4: p0 [] p1 [b1]',
      '1 snapshot 4: p0 [] p1 [b1]',
      'notify 3: p0 [] p1 [b1]',
      'write a3: p0 [] p1 [b1]',
    ],
    // Transactions carry their records; the restore commits a2 (and b3, b2) in new transactions, a2 a second time, then fails on an empty one.
    'commit-not-idempotent': [
      'pending [[1,{"transactionalId":"sink-0-0","producerId":1000,"epoch":1,"counter":0,"records":[{"partition":0,"record":{"key":"a1","value":"a1"}}]}]]',
      'restore 4: threw INVALID_TXN_STATE; p0 [a1,a2,a2] p1 [b1,b3,b2]',
      'then begins nothing',
      'write b4: threw TwoPhaseCommitSink: write after end of input; p0 [a1,a2,a2] p1 [b1,b3,b2]',
      'write a4: threw TwoPhaseCommitSink: write after end of input; p0 [a1,a2,a2] p1 [b1,b3,b2]',
      'snapshot 5: p0 [a1,a2,a2] p1 [b1,b3,b2]',
      'notify 5: p0 [a1,a2,a2] p1 [b1,b3,b2]',
    ],
    // a3 (in flight at checkpoint 4) is left open and hides a4; new ids start 10,000 further.
    'no-abort-lingering': [
      'then begins sink-0-10004',
      'notify 5: p0 [a1,a2] p1 [b1,b2,b3,b4]',
    ],
    // Subtask 1's entry is not recovered: b2 is lost.
    'forget-removed-subtasks': [
      'restore 4: p0 [a1,a2] p1 [b1,b3]',
      'write b4: p0 [a1,a2] p1 [b1,b3]',
      'write a4: p0 [a1,a2] p1 [b1,b3]',
      'snapshot 5: p0 [a1,a2] p1 [b1,b3]',
      'notify 5: p0 [a1,a2,a4] p1 [b1,b3,b4]',
    ],
    // No commit is fenced here (see the next test).
    'fenced-commit-taken-as-done': [],
  };

  test('the sink', async () => {
    expect(await life((options) => new KafkaTwoPhaseCommitSink(options))).toEqual(SINK_LIFE);
  });

  for (const [variant, deviation] of Object.entries(DEVIATIONS)) {
    test(variant, async () => {
      const make = (options: KafkaSinkOptions<string>) => (variant === 'micro-batch-sink' ? new MicroBatchKafkaSink(options) : new BuggyKafkaTwoPhaseCommitSink(options, variant as KafkaSinkBug));
      const lived = await life(make);
      expect(lived).toHaveLength(SINK_LIFE.length);
      expect(lived.filter((line, index) => line !== SINK_LIFE[index])).toEqual(deviation);
    });
  }

  test('fenced-commit-taken-as-done: a commit fenced by a newer producer is taken as done; any other failed commit still fails', async () => {
    for (const bug of [undefined, 'fenced-commit-taken-as-done'] as const) {
      const w = world(60_000);
      const make = () => (bug === undefined ? new ExposedSink(sinkOptions(w.clients)) : new BuggyKafkaTwoPhaseCommitSink(sinkOptions(w.clients), bug));
      const sink = make();
      await w.settle(sink.initializeState(context([])));
      await w.settle(sink.write('a1'));
      await w.settle(sink.snapshotState({ checkpointId: 1 }));
      w.clients.failNextCommits(1);
      await expect(w.settle(sink.notifyCheckpointComplete(1))).rejects.toThrow(/connection to the transaction coordinator lost/);
      // A zombie registers the pending transaction's id: the commit is fenced.
      w.broker.initProducerId('sink-0-0', 60_000, w.scheduler.nowMs);
      const notified = w.settle(sink.notifyCheckpointComplete(1));
      if (bug === undefined) await expect(notified).rejects.toThrow(/PRODUCER_FENCED/);
      else await expect(notified).resolves.toBeUndefined();
      expect(w.values(0, 'read_committed')).toEqual([]);
    }
  });
});
