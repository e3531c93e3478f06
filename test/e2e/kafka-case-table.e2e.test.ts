/**
 * The simulated broker's transaction case table (scenarios/kafka-transaction-cases.ts),
 * replayed against a real Kafka through kafkajs. A case that passes on the simulation and
 * fails here is a bug in the simulation.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, test, type TestContext } from 'vitest';
import { TRANSACTION_CASES, runTransactionCase, type TransactionCaseDriver } from '../../scenarios/kafka-transaction-cases.ts';
import { kafkaErrorCode } from '../../src/connectors/kafka-api.ts';
import { KafkajsClients } from '../../src/connectors/real/kafka-clients.ts';
import { e2ePolicy, resolveServices } from '../../src/harness/e2e/services/index.ts';
import type { RunningServices } from '../../src/harness/e2e/services/types.ts';

const SERVICES_START_TIMEOUT_MS = 150_000;
const TEST_TIMEOUT_MS = 60_000;
/** Short, so the timeout case is quick; the local broker checks for timed-out transactions every 500 ms. */
const TRANSACTION_TIMEOUT_MS = 1_500;
/** How long the timeout case waits for the broker's abort: timeout + cleanup interval + margin. */
const TIMEOUT_WAIT_MS = Number(process.env['STREAMCHECK_TXN_TIMEOUT_WAIT_MS'] ?? TRANSACTION_TIMEOUT_MS + 2_500);

const policy = e2ePolicy();
let services: RunningServices | undefined;
let clients: KafkajsClients | undefined;
let unavailableReason = 'services not resolved';

function driverFor(ctx: TestContext): TransactionCaseDriver {
  if (clients === undefined) return ctx.skip(unavailableReason);
  const topic = `cases-${randomUUID().slice(0, 8)}`;
  const real = clients;
  let created: Promise<void> | undefined;
  const ensureTopic = (): Promise<void> => (created ??= real.createTopic(topic, 2));
  return {
    clients: {
      producer: (id) => real.producer(id),
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
  } as TransactionCaseDriver & { ensureTopic: () => Promise<void> };
}

describe.skipIf(policy === 'off')('Kafka transaction case table on a real broker', () => {
  beforeAll(async () => {
    const result = await resolveServices({ timeoutMs: SERVICES_START_TIMEOUT_MS - 10_000 });
    if ('unavailable' in result) {
      unavailableReason = `no Kafka for e2e tests (STREAMCHECK_E2E=${policy}): ${result.reason}`;
      return;
    }
    services = result;
    clients = new KafkajsClients({ brokers: services.kafkaBrokers, transactionTimeoutMs: TRANSACTION_TIMEOUT_MS });
  }, SERVICES_START_TIMEOUT_MS);

  afterAll(async () => {
    await clients?.close();
    await services?.stop();
  }, 30_000);

  for (const testCase of TRANSACTION_CASES) {
    test(testCase.name, async (ctx) => {
      const driver = driverFor(ctx) as TransactionCaseDriver & { ensureTopic: () => Promise<void> };
      await driver.ensureTopic();
      await runTransactionCase(testCase, driver);
    }, TEST_TIMEOUT_MS);
  }
});
