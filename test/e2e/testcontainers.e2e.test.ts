/**
 * The Testcontainers provider on its own: a Docker engine, the Kafka and Redis images, a
 * transactional produce through the mapped port, and Redis through its mapped port.
 * Skipped (with the reason) when no engine answers, unless STREAMCHECK_E2E=required and
 * STREAMCHECK_E2E_PROVIDER=testcontainers, as in CI.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, test, type TestContext } from 'vitest';
import { KafkajsClients } from '../../src/connectors/real/kafka-clients.ts';
import { E2E_PROVIDER_ENV, e2ePolicy } from '../../src/harness/e2e/services/index.ts';
import { testcontainersProvider } from '../../src/harness/e2e/services/testcontainers.ts';
import type { RunningServices } from '../../src/harness/e2e/services/types.ts';

const START_TIMEOUT_MS = 180_000;
const policy = e2ePolicy();
const mustRun = policy === 'required' && process.env[E2E_PROVIDER_ENV] === 'testcontainers';
let services: RunningServices | undefined;
let reason = 'not started';

function need(ctx: TestContext): RunningServices {
  if (services === undefined) return ctx.skip(reason);
  return services;
}

describe.skipIf(policy === 'off')('Testcontainers provider', () => {
  beforeAll(async () => {
    const result = await testcontainersProvider.start({ timeoutMs: START_TIMEOUT_MS - 20_000, log: (line) => console.log(`[e2e] ${line}`) });
    if ('unavailable' in result) {
      reason = result.reason;
      if (mustRun) throw new Error(`${E2E_PROVIDER_ENV}=testcontainers is required here: ${result.reason}`);
      return;
    }
    services = result;
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    await services?.stop();
  }, 60_000);

  test('Kafka in a container: a committed transaction is visible read_committed, an aborted one is not', async (ctx) => {
    const running = need(ctx);
    expect(running.provider).toBe('testcontainers');
    const clients = new KafkajsClients({ brokers: running.kafkaBrokers });
    try {
      const topic = `tc-${randomUUID().slice(0, 8)}`;
      await clients.createTopic(topic, 1);
      const committed = clients.producer(`${topic}-a`);
      await committed.initTransactions();
      committed.beginTransaction();
      await committed.send(topic, 0, [{ key: 'k', value: 'kept' }]);
      await committed.commitTransaction();
      const aborted = clients.producer(`${topic}-b`);
      await aborted.initTransactions();
      aborted.beginTransaction();
      await aborted.send(topic, 0, [{ key: 'k', value: 'dropped' }]);
      await aborted.abortTransaction();
      expect((await clients.read(topic, 0, 0, 'read_committed')).map((r) => r.value)).toEqual(['kept']);
      expect((await clients.read(topic, 0, 0, 'read_uncommitted')).map((r) => r.value)).toEqual(['kept', 'dropped']);
    } finally {
      await clients.close();
    }
  }, 60_000);

  test('Redis in a container answers through its mapped port (protected mode off)', async (ctx) => {
    const running = need(ctx);
    const redis = new Redis(running.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 });
    try {
      await redis.connect();
      await redis.set('tc-key', 'value');
      expect(await redis.get('tc-key')).toBe('value');
    } finally {
      redis.disconnect();
    }
  }, 30_000);
});
