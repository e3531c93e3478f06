/**
 * The Redis command case table (scenarios/redis-command-cases.ts), replayed against a real
 * Redis through our ioredis client. A case that passes on the simulation and fails here is a
 * bug in the simulation. The test starts a redis-server of its own on a free loopback port
 * (no persistence) and flushes only that one between cases: never the machine's Redis.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, test, type TestContext } from 'vitest';
import { REDIS_CASES, runRedisCase } from '../../scenarios/redis-command-cases.ts';
import { ioredisClient, type ClosableRedisClient } from '../../src/connectors/real/ioredis-client.ts';
import { e2ePolicy } from '../../src/harness/e2e/services/index.ts';
import { freeLoopbackPorts, redisAnswersPing } from '../../src/harness/e2e/services/local.ts';

const START_TIMEOUT_MS = 15_000;
const PING_TIMEOUT_MS = 1_000;
const TEST_TIMEOUT_MS = 30_000;

const policy = e2ePolicy();

describe.skipIf(policy === 'off')('Redis command case table on a real Redis', () => {
  let server: ChildProcess | undefined;
  let url: string | undefined;
  let unavailable = 'redis-server not started';
  let client: ClosableRedisClient | undefined;
  let admin: Redis | undefined;

  beforeAll(async () => {
    const [port] = await freeLoopbackPorts(1);
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    server = child;
    let exited: string | undefined;
    child.on('error', (error) => (exited = error.message));
    child.on('exit', (code, signal) => (exited ??= `exit ${code ?? signal}`));
    const candidate = `redis://127.0.0.1:${port}/0`;
    const deadlineMs = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadlineMs && exited === undefined) {
      if (await redisAnswersPing(candidate, PING_TIMEOUT_MS)) {
        url = candidate;
        break;
      }
      await sleep(100);
    }
    if (url === undefined) {
      unavailable = `redis-server on port ${port} ${exited === undefined ? `did not answer PING within ${START_TIMEOUT_MS} ms` : `failed: ${exited} (Debian package redis-server)`}`;
      if (policy === 'required') throw new Error(`STREAMCHECK_E2E=required: ${unavailable}`);
      return;
    }
    client = ioredisClient(url);
    admin = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
    await admin.connect();
  }, START_TIMEOUT_MS + 5_000);

  afterAll(async () => {
    await client?.close();
    admin?.disconnect();
    // Only the server this file started, by its own handle.
    server?.kill('SIGTERM');
  });

  const need = (ctx: TestContext): { client: ClosableRedisClient; admin: Redis } => {
    if (client === undefined || admin === undefined) return ctx.skip(unavailable);
    return { client, admin };
  };

  for (const testCase of REDIS_CASES) {
    test(
      testCase.name,
      async (ctx) => {
        const { client: real, admin: own } = need(ctx);
        // Our own server on its own port: flushing it touches nothing else.
        await own.flushall();
        await runRedisCase(testCase, { client: real, waitMs: (ms) => sleep(ms) });
      },
      TEST_TIMEOUT_MS,
    );
  }
});
