import { describe, expect, test } from 'vitest';
import { CASE_TOPIC_PARTITIONS, TRANSACTION_CASES, runTransactionCase, type CaseStep, type TransactionCaseDriver } from '../../../scenarios/kafka-transaction-cases.ts';
import { kafkaErrorCode } from '../../../src/connectors/kafka-api.ts';
import { SimKafkaBroker } from '../../../src/connectors/sim/kafka-broker.ts';
import { SimKafkaClients } from '../../../src/connectors/sim/kafka-clients.ts';
import { RandomChoices } from '../../../src/sim/choice.ts';
import { Scheduler } from '../../../src/sim/scheduler.ts';

const TRANSACTION_TIMEOUT_MS = 500;

/** Every client call is simulated I/O: run the scheduler (no world events) until it is done. */
function simDriver(): TransactionCaseDriver {
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100_000, keepTrace: false });
  scheduler.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
  const broker = new SimKafkaBroker();
  broker.createTopic('cases', CASE_TOPIC_PARTITIONS);
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
    producer: (id: string, options?: Parameters<SimKafkaClients['producer']>[1]) => wrapProducer(clients.producer(id, options)),
    resumeTransaction: (handle: Parameters<SimKafkaClients['resumeTransaction']>[0]) => wrapProducer(clients.resumeTransaction(handle)),
    read: (...args: Parameters<SimKafkaClients['read']>) => settle(clients.read(...args)),
    createTopic: (...args: Parameters<SimKafkaClients['createTopic']>) => settle(clients.createTopic(...args)),
  };
  function wrapProducer(producer: ReturnType<SimKafkaClients['producer']>) {
    return {
      initTransactions: (options?: Parameters<typeof producer.initTransactions>[0]) => settle(producer.initTransactions(options)),
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
    // The same classification as the real-broker driver: both fencing codes are 'fenced'.
    classify: (error) => {
      const code = kafkaErrorCode(error);
      if (code === 'PRODUCER_FENCED' || code === 'INVALID_PRODUCER_EPOCH') return 'fenced';
      if (code === 'INVALID_TXN_STATE') return 'invalid-state';
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

  test('every case has a unique name and checks something (a read, an expected error or an epoch)', () => {
    const names = TRANSACTION_CASES.map((testCase) => testCase.name);
    expect(new Set(names).size).toBe(names.length);
    for (const testCase of TRANSACTION_CASES) {
      expect(testCase.steps.some((step) => step.op === 'expectRead' || step.op === 'expectError' || step.op === 'expectEpochAdvance'), testCase.name).toBe(true);
    }
  });

  test('the table covers every operation of its vocabulary', () => {
    const ops = new Set<CaseStep['op']>();
    const visit = (step: CaseStep): void => {
      ops.add(step.op);
      if (step.op === 'expectError') visit(step.step);
    };
    for (const testCase of TRANSACTION_CASES) testCase.steps.forEach(visit);
    expect([...ops].sort()).toEqual(['abort', 'commit', 'expectEpochAdvance', 'expectError', 'expectKept', 'expectRead', 'init', 'resumeCommit', 'send', 'waitForTransactionTimeout']);
  });

  test('the runner fails a case whose expected error does not happen', async () => {
    const wrong = { name: 'no error', steps: [{ op: 'init' as const, tid: 't1' }, { op: 'expectError' as const, kind: 'fenced' as const, step: { op: 'send' as const, tid: 't1', partition: 0, value: 'fine' } }] };
    await expect(runTransactionCase(wrong, simDriver())).rejects.toThrow(/case 'no error', step 2: send succeeded, expected a fenced error/);
  });

  test('the runner reports a difference with the case, the step and both values', async () => {
    const wrong = { name: 'wrong expectation', steps: [{ op: 'expectRead' as const, partition: 0, isolation: 'read_committed' as const, values: ['nope'] }] };
    await expect(runTransactionCase(wrong, simDriver())).rejects.toThrow(/case 'wrong expectation', step 1: read_committed read of partition 0 returned \[\], expected \["nope"\]/);
  });
});
