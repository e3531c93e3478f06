import { describe, expect, test } from 'vitest';
import { KafkajsClients } from '../../src/connectors/real/kafka-clients.ts';
import { KafkaTwoPhaseCommitSink, type KafkaTransaction } from '../../src/connectors/kafka-sink.ts';
import { SimKafkaBroker } from '../../src/connectors/sim/kafka-broker.ts';
import { SimKafkaClients } from '../../src/connectors/sim/kafka-clients.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';

describe('KIP-939 prepared transactions on the real (kafkajs) client', () => {
  // Nothing here connects: the refusal comes before any request.
  const clients = new KafkajsClients({ brokers: ['127.0.0.1:1'] });

  test('a producer with preparedTransactions is refused, naming KIP-939 and the Kafka versions', () => {
    expect(() => clients.producer('t1', { preparedTransactions: true })).toThrow(/KIP-939.*InitProducerId v0-1 only.*Apache Kafka 4\.x.*not Kafka 3\.x/);
  });

  test('initTransactions with keepPreparedTransaction is refused, naming KIP-939', async () => {
    await expect(clients.producer('t1').initTransactions({ keepPreparedTransaction: true })).rejects.toThrow(/keepPreparedTransaction: prepared transactions \(KIP-939/);
  });
});

/** Runs the scheduler until the promise settles (client calls are simulated I/O). */
async function settle<T>(scheduler: Scheduler, promise: Promise<T>): Promise<T> {
  const outcome = promise.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
  await scheduler.run();
  const settled = await outcome;
  if (!settled.ok) throw settled.error;
  return settled.value;
}

/** Exposes the protected recovery step of the sink. */
class RecoveringSink extends KafkaTwoPhaseCommitSink<string> {
  recover(transaction: KafkaTransaction): Promise<void> {
    return this.recoverAndCommit(transaction);
  }
}

describe('KafkaTwoPhaseCommitSink with preparedTransactions on the simulated broker', () => {
  const TIMEOUT_MS = 100;

  async function preCommittedThenTimedOut(prepared: boolean): Promise<{ broker: SimKafkaBroker; committed: string[] }> {
    const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100_000, keepTrace: false });
    scheduler.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
    const broker = new SimKafkaBroker();
    broker.createTopic('out', 1);
    const clients = new SimKafkaClients(broker, scheduler, TIMEOUT_MS);
    // A pre-committed transaction of a crashed sink: registered, written, flushed.
    const producer = prepared ? clients.producer('sink-0-0', { preparedTransactions: true }) : clients.producer('sink-0-0');
    const handle = await settle(scheduler, producer.initTransactions());
    producer.beginTransaction();
    await settle(scheduler, producer.send('out', 0, [{ key: 'k', value: 'checkpointed' }]));
    await settle(scheduler, producer.flush());
    // The restart takes longer than the transaction timeout.
    scheduler.nowMs += 10 * TIMEOUT_MS;
    broker.advanceTimeTo(scheduler.nowMs);
    const sink = new RecoveringSink({ clients, topic: 'out', transactionalIdPrefix: 'sink', subtaskIndex: 0, partitionOf: () => 0, serialize: (value) => ({ key: 'k', value }), preparedTransactions: prepared });
    await settle(scheduler, sink.recover({ ...handle, counter: 0 }));
    return { broker, committed: broker.fetch('out', 0, 0, 'read_committed').map((record) => record.value) };
  }

  test('without it, a restart longer than the transaction timeout loses the checkpointed transaction', async () => {
    const { broker, committed } = await preCommittedThenTimedOut(false);
    expect(committed).toEqual([]);
    expect(broker.events.map((event) => event.kind)).toContain('timeout-abort');
  });

  test('with it, the transaction survives the timeout and recovery commits it through keepPreparedTxn', async () => {
    const { broker, committed } = await preCommittedThenTimedOut(true);
    expect(committed).toEqual(['checkpointed']);
    expect(broker.events.map((event) => event.kind)).toEqual(['init', 'init', 'commit']);
  });
});
