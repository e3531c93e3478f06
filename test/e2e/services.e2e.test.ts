/**
 * Real Kafka and Redis: the properties of kafkajs + the broker that the Kafka two-phase-commit
 * sink relies on. Services come from resolveServices (STREAMCHECK_E2E=required|auto|off;
 * auto skips with the reason when there are none).
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { KafkajsClients, ProducerFencedError } from '../../src/connectors/real/kafka-clients.ts';
import { e2ePolicy, resolveServices } from '../../src/harness/e2e/services/index.ts';
import type { RunningServices } from '../../src/harness/e2e/services/types.ts';

const SERVICES_START_TIMEOUT_MS = 150_000;
const TEST_TIMEOUT_MS = 60_000;
const BACK_TO_BACK_TRANSACTIONS = 20;

const policy = e2ePolicy();
let services: RunningServices | undefined;
let unavailableReason = 'services not resolved';
let clients: KafkajsClients | undefined;

function log(line: string): void {
  console.log(`[e2e] ${line}`);
}

/** The services, or a skip with the reason (auto); under `required` beforeAll has already failed. */
function needServices(ctx: TestContext): { services: RunningServices; clients: KafkajsClients } {
  if (services === undefined || clients === undefined) return ctx.skip(unavailableReason);
  return { services, clients };
}

const uniqueName = (what: string): string => `e2e-${what}-${randomUUID().slice(0, 8)}`;
const values = (records: readonly { value: string }[]): string[] => records.map((record) => record.value);

describe.skipIf(policy === 'off')('real Kafka and Redis', () => {
  beforeAll(async () => {
    const startedMs = Date.now();
    const result = await resolveServices({ timeoutMs: SERVICES_START_TIMEOUT_MS - 10_000, log });
    if ('unavailable' in result) {
      unavailableReason = `no Kafka/Redis for e2e tests (STREAMCHECK_E2E=${policy}): ${result.reason}`;
      log(unavailableReason);
      return;
    }
    services = result;
    clients = new KafkajsClients({ brokers: services.kafkaBrokers, log });
    log(`services (${services.provider}) ready in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
  }, SERVICES_START_TIMEOUT_MS);

  afterAll(async () => {
    await clients?.close();
    await services?.stop();
  }, 30_000);

  test('a committed transaction is visible under read_committed', async (ctx) => {
    const { clients } = needServices(ctx);
    const topic = uniqueName('commit');
    await clients.createTopic(topic, 1);
    const producer = clients.producer(uniqueName('tx'));
    await producer.initTransactions();
    producer.beginTransaction();
    await producer.send(topic, 0, [{ key: 'k1', value: 'v1' }, { key: 'k2', value: 'v2' }]);
    await producer.commitTransaction();

    const committed = await clients.read(topic, 0, 0, 'read_committed');
    expect(committed.map(({ key, value, partition, offset }) => ({ key, value, partition, offset }))).toEqual([
      { key: 'k1', value: 'v1', partition: 0, offset: 0 },
      { key: 'k2', value: 'v2', partition: 0, offset: 1 },
    ]);
    await producer.close();
  }, TEST_TIMEOUT_MS);

  test('an aborted transaction is invisible under read_committed, visible under read_uncommitted', async (ctx) => {
    const { clients } = needServices(ctx);
    const topic = uniqueName('abort');
    await clients.createTopic(topic, 1);
    const producer = clients.producer(uniqueName('tx'));
    await producer.initTransactions();
    producer.beginTransaction();
    await producer.send(topic, 0, [{ key: 'a', value: 'aborted' }]);
    await producer.abortTransaction();
    producer.beginTransaction();
    await producer.send(topic, 0, [{ key: 'c', value: 'committed' }]);
    await producer.commitTransaction();

    expect(values(await clients.read(topic, 0, 0, 'read_committed'))).toEqual(['committed']);
    expect(values(await clients.read(topic, 0, 0, 'read_uncommitted'))).toEqual(['aborted', 'committed']);
    await producer.close();
  }, TEST_TIMEOUT_MS);

  test('initTransactions of a new producer with the same id fences the old one and aborts its open transaction', async (ctx) => {
    const { clients } = needServices(ctx);
    const topic = uniqueName('fence');
    await clients.createTopic(topic, 1);
    const transactionalId = uniqueName('tx');
    const old = clients.producer(transactionalId);
    const oldHandle = await old.initTransactions();
    old.beginTransaction();
    await old.send(topic, 0, [{ key: 'o', value: 'from-old' }]);
    // The open transaction holds back the last stable offset: nothing is committed yet.
    expect(await clients.read(topic, 0, 0, 'read_committed')).toEqual([]);

    const successor = clients.producer(transactionalId);
    const successorHandle = await successor.initTransactions();
    expect(successorHandle.producerId).toBe(oldHandle.producerId);
    expect(successorHandle.epoch).toBeGreaterThan(oldHandle.epoch);

    await expect(old.send(topic, 0, [{ key: 'o2', value: 'from-old-after-fence' }])).rejects.toBeInstanceOf(ProducerFencedError);
    await expect(old.commitTransaction()).rejects.toBeInstanceOf(ProducerFencedError);

    successor.beginTransaction();
    await successor.send(topic, 0, [{ key: 'n', value: 'from-successor' }]);
    await successor.commitTransaction();
    expect(values(await clients.read(topic, 0, 0, 'read_committed'))).toEqual(['from-successor']);
    expect(values(await clients.read(topic, 0, 0, 'read_uncommitted'))).toEqual(['from-old', 'from-successor']);

    // After a fence the same object registers afresh (kafkajs cannot bump an epoch in place).
    const renewed = await old.initTransactions();
    expect(renewed.epoch).toBeGreaterThan(successorHandle.epoch);
    await Promise.all([old.close(), successor.close()]);
  }, TEST_TIMEOUT_MS);

  test('resumeTransaction commits a flushed transaction of a producer dropped without closing; committing again succeeds', async (ctx) => {
    const { services } = needServices(ctx);
    const topic = uniqueName('resume');
    // Two client objects stand for the process before and after the restart.
    const beforeRestart = new KafkajsClients({ brokers: services.kafkaBrokers, log });
    const afterRestart = new KafkajsClients({ brokers: services.kafkaBrokers, log });
    try {
      await beforeRestart.createTopic(topic, 2);
      const crashed = beforeRestart.producer(uniqueName('tx'));
      await crashed.initTransactions();
      crashed.beginTransaction();
      await crashed.send(topic, 0, [{ key: 'p0', value: 'pre-committed-0' }]);
      await crashed.send(topic, 1, [{ key: 'p1', value: 'pre-committed-1' }]);
      await crashed.flush();
      const checkpointed = crashed.handle();
      // The checkpoint kept `checkpointed`; the producer is never closed, committed or aborted.

      expect(await afterRestart.read(topic, 0, 0, 'read_committed')).toEqual([]);
      const resumed = afterRestart.resumeTransaction(checkpointed);
      expect(resumed.handle()).toEqual(checkpointed);
      await resumed.commitTransaction();
      expect(values(await afterRestart.read(topic, 0, 0, 'read_committed'))).toEqual(['pre-committed-0']);
      expect(values(await afterRestart.read(topic, 1, 0, 'read_committed'))).toEqual(['pre-committed-1']);

      // A restart between commit and the next checkpoint commits again: the broker answers NONE.
      await resumed.commitTransaction();
      await afterRestart.resumeTransaction(checkpointed).commitTransaction();
      expect(values(await afterRestart.read(topic, 0, 0, 'read_committed'))).toEqual(['pre-committed-0']);
      expect(values(await afterRestart.read(topic, 1, 0, 'read_committed'))).toEqual(['pre-committed-1']);
    } finally {
      await Promise.all([beforeRestart.close(), afterRestart.close()]);
    }
  }, TEST_TIMEOUT_MS);

  // Without waiting for markers, the next AddPartitionsToTxn meets the coordinator still in
  // PrepareCommit and gets CONCURRENT_TRANSACTIONS (kafkajs issues 1315, 430, 304): retried.
  test.for([
    { awaitTransactionMarkers: true, expectedRetries: 'none' },
    { awaitTransactionMarkers: false, expectedRetries: 'some' },
  ])(
    `${BACK_TO_BACK_TRANSACTIONS} back-to-back transactions commit without CONCURRENT_TRANSACTIONS failures (awaitTransactionMarkers: $awaitTransactionMarkers)`,
    { timeout: TEST_TIMEOUT_MS },
    async ({ awaitTransactionMarkers, expectedRetries }, ctx) => {
      const { services } = needServices(ctx);
      const ownClients = new KafkajsClients({ brokers: services.kafkaBrokers, log, awaitTransactionMarkers });
      try {
        const topic = uniqueName('back-to-back');
        await ownClients.createTopic(topic, 1);
        const producer = ownClients.producer(uniqueName('tx'));
        await producer.initTransactions();
        const startedMs = Date.now();
        for (let index = 0; index < BACK_TO_BACK_TRANSACTIONS; index++) {
          producer.beginTransaction();
          await producer.send(topic, 0, [{ key: `k${index}`, value: String(index) }]);
          await producer.commitTransaction();
        }
        const elapsedMs = Date.now() - startedMs;
        const { concurrentTransactionRetries, markerWaitRetries } = producer as unknown as { concurrentTransactionRetries: number; markerWaitRetries: number };
        log(
          `${BACK_TO_BACK_TRANSACTIONS} transactions (awaitTransactionMarkers ${awaitTransactionMarkers}) in ${elapsedMs} ms ` +
            `(${((BACK_TO_BACK_TRANSACTIONS * 1000) / elapsedMs).toFixed(1)} tx/s); CONCURRENT_TRANSACTIONS retried ${concurrentTransactionRetries} times, ` +
            `marker waits polled ${markerWaitRetries} times`,
        );
        if (expectedRetries === 'none') expect(concurrentTransactionRetries).toBe(0);

        const expected = Array.from({ length: BACK_TO_BACK_TRANSACTIONS }, (_, index) => String(index));
        // Without the marker wait the last commit may not be visible yet: poll, bounded.
        const visibleDeadlineMs = Date.now() + 10_000;
        let seen = values(await ownClients.read(topic, 0, 0, 'read_committed'));
        while (!awaitTransactionMarkers && seen.length < expected.length && Date.now() < visibleDeadlineMs) {
          await new Promise((resolve) => setTimeout(resolve, 20));
          seen = values(await ownClients.read(topic, 0, 0, 'read_committed'));
        }
        expect(seen).toEqual(expected);
      } finally {
        await ownClients.close();
      }
    },
  );

  test('ioredis SET and GET', async (ctx) => {
    const { services } = needServices(ctx);
    const redis = new Redis(services.redisUrl, { lazyConnect: true, connectTimeout: 3_000, maxRetriesPerRequest: 1 });
    const key = uniqueName('redis-key');
    try {
      await redis.connect();
      expect(await redis.set(key, 'value-1')).toBe('OK');
      expect(await redis.get(key)).toBe('value-1');
      expect(await redis.set(key, 'value-1')).toBe('OK');
      expect(await redis.get(key)).toBe('value-1');
    } finally {
      await redis.del(key).catch(() => undefined);
      redis.disconnect();
    }
  }, TEST_TIMEOUT_MS);
});
