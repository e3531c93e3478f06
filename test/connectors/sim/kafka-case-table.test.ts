import { describe, expect, test } from 'vitest';
import { TRANSACTION_CASES, runTransactionCase, type TransactionCaseDriver } from '../../../scenarios/kafka-transaction-cases.ts';
import { KafkaProtocolError, SimKafkaBroker } from '../../../src/connectors/sim/kafka-broker.ts';
import { SimKafkaClients } from '../../../src/connectors/sim/kafka-clients.ts';
import { RandomChoices } from '../../../src/sim/choice.ts';
import { Scheduler } from '../../../src/sim/scheduler.ts';

const TRANSACTION_TIMEOUT_MS = 500;

/** Every client call is simulated I/O: run the scheduler (no world events) until it is done. */
function simDriver(): TransactionCaseDriver {
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100_000, keepTrace: false });
  scheduler.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
  const broker = new SimKafkaBroker();
  broker.createTopic('cases', 2);
  const clients = new SimKafkaClients(broker, scheduler, TRANSACTION_TIMEOUT_MS);
  // Observe the outcome at once (a rejection during the run is not unhandled), then run the I/O.
  const settle = async <T>(promise: Promise<T>): Promise<T> => {
    const outcome = promise.then((value) => ({ ok: true as const, value }), (error: unknown) => ({ ok: false as const, error }));
    await scheduler.run();
    const settled = await outcome;
    if (!settled.ok) throw settled.error;
    return settled.value;
  };
  const wrapped = {
    producer: (id: string) => wrapProducer(clients.producer(id)),
    resumeTransaction: (handle: Parameters<SimKafkaClients['resumeTransaction']>[0]) => wrapProducer(clients.resumeTransaction(handle)),
    read: (...args: Parameters<SimKafkaClients['read']>) => settle(clients.read(...args)),
    createTopic: (...args: Parameters<SimKafkaClients['createTopic']>) => settle(clients.createTopic(...args)),
  };
  function wrapProducer(producer: ReturnType<SimKafkaClients['producer']>) {
    return {
      initTransactions: () => settle(producer.initTransactions()),
      beginTransaction: () => producer.beginTransaction(),
      send: (...args: Parameters<typeof producer.send>) => settle(producer.send(...args)),
      flush: () => settle(producer.flush()),
      commitTransaction: () => settle(producer.commitTransaction()),
      abortTransaction: () => settle(producer.abortTransaction()),
      handle: () => producer.handle(),
      close: () => producer.close(),
    };
  }
  return {
    clients: wrapped,
    topic: 'cases',
    waitForTransactionTimeout: async () => {
      scheduler.nowMs += TRANSACTION_TIMEOUT_MS + 1;
      broker.advanceTimeTo(scheduler.nowMs);
    },
    classify: (error) => {
      if (!(error instanceof KafkaProtocolError)) return undefined;
      if (error.code === 'INVALID_PRODUCER_EPOCH') return 'fenced';
      if (error.code === 'INVALID_TXN_STATE') return 'invalid-state';
      return undefined;
    },
  };
}

describe('Kafka transaction case table on the simulated broker', () => {
  for (const testCase of TRANSACTION_CASES) {
    test(testCase.name, async () => {
      await runTransactionCase(testCase, simDriver());
    });
  }

  test('the runner reports a difference with the case, the step and both values', async () => {
    const wrong = { name: 'wrong expectation', steps: [{ op: 'expectRead' as const, partition: 0, isolation: 'read_committed' as const, values: ['nope'] }] };
    await expect(runTransactionCase(wrong, simDriver())).rejects.toThrow(/case 'wrong expectation', step 1: read_committed read of partition 0 returned \[\], expected \["nope"\]/);
  });
});
