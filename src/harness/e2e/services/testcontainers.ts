/**
 * The 'testcontainers' service provider: Redis through @testcontainers/redis and Kafka
 * through a GenericContainer for images that follow the official `apache/kafka` image's
 * conventions (KAFKA_* environment variables, KRaft combined mode). (@testcontainers/kafka
 * only drives Confluent's cp-kafka images.)
 *
 * Images: STREAMCHECK_KAFKA_IMAGE / STREAMCHECK_REDIS_IMAGE, defaulting to the official
 * `apache/kafka:3.9.2` and `redis:7`, so a user with a registry needs nothing else. Our CI
 * builds look-alikes locally (.ci/images/build-images.sh) and points these variables at them.
 *
 * The advertised listener must name the port the host sees. Testcontainers for Java waits for
 * a start script it copies in once the mapped port is known; here the host port is chosen
 * first and mapped to the same container port, so the listener can be configured up front
 * (a small race on a free port, which the loopback-only engine makes harmless).
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type * as TestcontainersRedis from '@testcontainers/redis';
import type * as Testcontainers from 'testcontainers';
import type { StartedRedisContainer } from '@testcontainers/redis';
import type { StartedTestContainer } from 'testcontainers';
import { KafkajsClients } from '../../../connectors/real/kafka-clients.ts';
import { MissingOptionalDependencyError, importOptionalDependency } from '../../../connectors/real/optional-dependency.ts';
import { freeLoopbackPorts, redisAnswersPing } from './local.ts';
import type { RunningServices, ServiceProvider, Unavailable } from './types.ts';

export const KAFKA_IMAGE_ENV = 'STREAMCHECK_KAFKA_IMAGE';
export const REDIS_IMAGE_ENV = 'STREAMCHECK_REDIS_IMAGE';
export const DEFAULT_KAFKA_IMAGE = 'apache/kafka:3.9.2';
export const DEFAULT_REDIS_IMAGE = 'redis:7';
const ENGINE_PROBE_TIMEOUT_MS = 5_000;
const READINESS_POLL_INTERVAL_MS = 500;
const CONTROLLER_PORT = 9093;

function unavailable(reason: string): Unavailable {
  return { unavailable: true, reason: `testcontainers: ${reason}` };
}

/** The broker configuration, as the official image reads it from the environment. */
export function kafkaEnvironment(hostPort: number): Record<string, string> {
  return {
    KAFKA_NODE_ID: '1',
    KAFKA_PROCESS_ROLES: 'broker,controller',
    KAFKA_LISTENERS: `PLAINTEXT://:${hostPort},CONTROLLER://:${CONTROLLER_PORT}`,
    KAFKA_ADVERTISED_LISTENERS: `PLAINTEXT://127.0.0.1:${hostPort}`,
    KAFKA_CONTROLLER_LISTENER_NAMES: 'CONTROLLER',
    KAFKA_LISTENER_SECURITY_PROTOCOL_MAP: 'CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    KAFKA_CONTROLLER_QUORUM_VOTERS: `1@localhost:${CONTROLLER_PORT}`,
    KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR: '1',
    KAFKA_TRANSACTION_STATE_LOG_MIN_ISR: '1',
    KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS: '0',
    KAFKA_TRANSACTION_ABORT_TIMED_OUT_TRANSACTION_CLEANUP_INTERVAL_MS: '500',
    KAFKA_HEAP_OPTS: '-Xmx512m -Xms256m',
  };
}

const PURPOSE = 'the testcontainers service provider (Kafka and Redis in Docker for end-to-end runs)';

/** Both packages are optional peer dependencies: loaded only when this provider starts. */
async function loadTestcontainers(): Promise<{ testcontainers: typeof Testcontainers; redisModule: typeof TestcontainersRedis }> {
  const testcontainers = await importOptionalDependency<typeof Testcontainers>('testcontainers', PURPOSE);
  const redisModule = await importOptionalDependency<typeof TestcontainersRedis>('@testcontainers/redis', PURPOSE);
  return { testcontainers, redisModule };
}

async function engineAnswers({ getContainerRuntimeClient }: typeof Testcontainers): Promise<string | undefined> {
  try {
    const client = await Promise.race([
      getContainerRuntimeClient(),
      sleep(ENGINE_PROBE_TIMEOUT_MS).then(() => {
        throw new Error(`no answer within ${ENGINE_PROBE_TIMEOUT_MS} ms`);
      }),
    ]);
    return client.info.containerRuntime.host === '' ? 'the container runtime has no host' : undefined;
  } catch (error) {
    return `no Docker engine answers (${(error as Error).message.split('\n')[0]})`;
  }
}

async function waitForTransactionalKafka(bootstrap: string, deadlineMs: number): Promise<void> {
  let lastError = 'not tried';
  while (Date.now() < deadlineMs) {
    const probe = new KafkajsClients({ brokers: [bootstrap], requestTimeoutMs: 5_000, coordinatorRetryBudgetMs: 5_000 });
    try {
      await probe.producer(`streamcheck-readiness-${randomUUID()}`).initTransactions();
      return;
    } catch (error) {
      lastError = (error as Error).message;
    } finally {
      await probe.close();
    }
    await sleep(READINESS_POLL_INTERVAL_MS);
  }
  throw new Error(`Kafka container on ${bootstrap} accepted no transactional producer in time (last error: ${lastError})`);
}

export const testcontainersProvider: ServiceProvider = {
  name: 'testcontainers',
  async start({ timeoutMs, log }): Promise<RunningServices | Unavailable> {
    let modules: Awaited<ReturnType<typeof loadTestcontainers>>;
    try {
      modules = await loadTestcontainers();
    } catch (error) {
      // Another provider (local processes) may still supply the services: say what to install.
      if (error instanceof MissingOptionalDependencyError) return unavailable(error.message);
      throw error;
    }
    const { GenericContainer, Wait } = modules.testcontainers;
    const { RedisContainer } = modules.redisModule;
    const engineProblem = await engineAnswers(modules.testcontainers);
    if (engineProblem !== undefined) return unavailable(engineProblem);
    const kafkaImage = process.env[KAFKA_IMAGE_ENV] ?? DEFAULT_KAFKA_IMAGE;
    const redisImage = process.env[REDIS_IMAGE_ENV] ?? DEFAULT_REDIS_IMAGE;
    const deadlineMs = Date.now() + timeoutMs;
    const started: (StartedTestContainer | StartedRedisContainer)[] = [];
    const stopAll = async (): Promise<void> => {
      for (const container of started.splice(0).reverse()) await container.stop({ timeout: 10_000 }).catch(() => undefined);
    };
    try {
      const startedMs = Date.now();
      const redis = await new RedisContainer(redisImage).withStartupTimeout(timeoutMs).start();
      started.push(redis);
      const redisUrl = `redis://${redis.getHost()}:${redis.getMappedPort(6379)}/0`;
      if (!(await redisAnswersPing(redisUrl, 5_000))) throw new Error(`Redis container ${redisImage} does not answer PING on ${redisUrl} (protected mode on in the image, or the engine publishes ports elsewhere than that host: set TESTCONTAINERS_HOST_OVERRIDE)`);

      const [hostPort] = await freeLoopbackPorts(1);
      const kafka = await new GenericContainer(kafkaImage)
        .withEnvironment(kafkaEnvironment(hostPort!))
        .withExposedPorts({ container: hostPort!, host: hostPort! })
        .withWaitStrategy(Wait.forListeningPorts())
        .withStartupTimeout(Math.max(1, deadlineMs - Date.now()))
        .start();
      started.push(kafka);
      const bootstrap = `127.0.0.1:${hostPort}`;
      await waitForTransactionalKafka(bootstrap, deadlineMs);
      log(`testcontainers: ${kafkaImage} on ${bootstrap} and ${redisImage} on ${redisUrl} ready in ${((Date.now() - startedMs) / 1000).toFixed(1)} s`);
      return { provider: 'testcontainers', kafkaBrokers: [bootstrap], redisUrl, stop: stopAll };
    } catch (error) {
      await stopAll();
      return unavailable(`starting ${kafkaImage} and ${redisImage} failed: ${(error as Error).message}`);
    }
  },
};
