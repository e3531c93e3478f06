/**
 * The simulated broker's transaction case table (scenarios/kafka-transaction-cases.ts),
 * replayed against a real Kafka through kafkajs. A case that passes on the simulation and
 * fails here is a bug in the simulation.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, test } from 'vitest';
import { TRANSACTION_CASES, runTransactionCase, type TransactionCaseDriver } from '../../scenarios/kafka-transaction-cases.ts';
import { kafkaErrorCode } from '../../src/connectors/kafka-api.ts';
import { KafkajsClients } from '../../src/connectors/real/kafka-clients.ts';
import { e2ePolicy } from '../../src/harness/e2e/services/index.ts';
import { useServices } from './services-fixture.ts';

const TEST_TIMEOUT_MS = 60_000;
/** Short, so the timeout case is quick; the local broker checks for timed-out transactions every 500 ms. */
const TRANSACTION_TIMEOUT_MS = 1_500;
/** How long the timeout case waits for the broker's abort: timeout + cleanup interval + margin. */
const TIMEOUT_WAIT_MS = Number(process.env['STREAMCHECK_TXN_TIMEOUT_WAIT_MS'] ?? TRANSACTION_TIMEOUT_MS + 2_500);

const policy = e2ePolicy();
let clients: KafkajsClients | undefined;

function driverFor(real: KafkajsClients): TransactionCaseDriver & { ensureTopic: () => Promise<void> } {
  const topic = `cases-${randomUUID().slice(0, 8)}`;
  let created: Promise<void> | undefined;
  const ensureTopic = (): Promise<void> => (created ??= real.createTopic(topic, 2));
  return {
    clients: {
      producer: (id, options) => real.producer(id, options),
      resumeTransaction: (handle) => real.resumeTransaction(handle),
      read: async (...args) => {
        await ensureTopic();
        return real.read(...args);
      },
      createTopic: (...args) => real.createTopic(...args),
    },
    topic,
    waitForTransactionTimeout: () => sleep(TIMEOUT_WAIT_MS),
    classify: (error) => {
      const code = kafkaErrorCode(error);
      if (code === 'PRODUCER_FENCED' || code === 'INVALID_PRODUCER_EPOCH') return 'fenced';
      if (code === 'INVALID_TXN_STATE') return 'invalid-state';
      return undefined;
    },
    ensureTopic,
  };
}

describe.skipIf(policy === 'off')('Kafka transaction case table on a real broker', () => {
  const { need } = useServices(
    (services) => {
      clients = new KafkajsClients({ brokers: services.kafkaBrokers, transactionTimeoutMs: TRANSACTION_TIMEOUT_MS });
    },
    async () => clients?.close(),
  );

  // KIP-939 cases need a Kafka 4.x broker and client with InitProducerId v6; kafkajs refuses them (see the test below).
  for (const testCase of TRANSACTION_CASES.filter((candidate) => candidate.requires === undefined)) {
    test(testCase.name, async (ctx) => {
      need(ctx);
      const driver = driverFor(clients!);
      await driver.ensureTopic();
      await runTransactionCase(testCase, driver);
    }, TEST_TIMEOUT_MS);
  }
});
