/**
 * The 'endpoints' service provider: Kafka and Redis that someone else runs, named by
 * STREAMCHECK_KAFKA_BROKERS (comma-separated host:port) and STREAMCHECK_REDIS_URL
 * (redis://host:port/db). Setting either one makes this provider the only one tried (an
 * explicit choice never silently falls back to starting something else). It checks that both
 * answer (bounded) so a wrong address shows as a reason, not as a hang in the first test.
 */
import { connect } from 'node:net';
import { redisAnswersPing } from './local.ts';
import type { RunningServices, ServiceProvider, Unavailable } from './types.ts';

export const KAFKA_BROKERS_ENV = 'STREAMCHECK_KAFKA_BROKERS';
export const REDIS_URL_ENV = 'STREAMCHECK_REDIS_URL';

const TCP_CONNECT_TIMEOUT_MS = 3_000;
const REDIS_PING_TIMEOUT_MS = 3_000;

/** True when the environment names endpoints, so they are authoritative. */
export function endpointsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[KAFKA_BROKERS_ENV]?.trim() || env[REDIS_URL_ENV]?.trim());
}

export function endpointsProvider(env: NodeJS.ProcessEnv = process.env): ServiceProvider {
  return {
    name: 'endpoints',
    start: async ({ log }) => {
      const brokersText = env[KAFKA_BROKERS_ENV]?.trim() ?? '';
      const redisUrl = env[REDIS_URL_ENV]?.trim() ?? '';
      if (brokersText === '' || redisUrl === '') {
        return unavailable(`set both ${KAFKA_BROKERS_ENV} (host:port,...) and ${REDIS_URL_ENV} (redis://host:port/db); got ${KAFKA_BROKERS_ENV}='${brokersText}' ${REDIS_URL_ENV}='${redisUrl}'`);
      }
      const kafkaBrokers = brokersText.split(',').map((broker) => broker.trim()).filter((broker) => broker !== '');
      const malformed = kafkaBrokers.filter((broker) => parseHostPort(broker) === undefined);
      if (malformed.length > 0) return unavailable(`${KAFKA_BROKERS_ENV} entries are not host:port: ${malformed.join(', ')}`);

      const unreachable: string[] = [];
      for (const broker of kafkaBrokers) {
        const { host, port } = parseHostPort(broker)!;
        if (!(await tcpAnswers(host, port, TCP_CONNECT_TIMEOUT_MS))) unreachable.push(broker);
      }
      if (unreachable.length === kafkaBrokers.length) {
        return unavailable(`no Kafka broker of ${KAFKA_BROKERS_ENV} accepts connections within ${TCP_CONNECT_TIMEOUT_MS} ms: ${unreachable.join(', ')}`);
      }
      if (!(await redisAnswersPing(redisUrl, REDIS_PING_TIMEOUT_MS))) {
        return unavailable(`Redis at ${REDIS_URL_ENV}=${redisUrl} does not answer PING within ${REDIS_PING_TIMEOUT_MS} ms`);
      }
      log(`endpoints: Kafka ${kafkaBrokers.join(',')}, Redis ${redisUrl}`);
      const services: RunningServices = {
        provider: 'endpoints',
        kafkaBrokers,
        redisUrl,
        // Not ours: nothing to stop or delete.
        stop: async () => undefined,
      };
      return services;
    },
  };
}

function unavailable(reason: string): Unavailable {
  return { unavailable: true, reason: `endpoints: ${reason}` };
}

function parseHostPort(text: string): { host: string; port: number } | undefined {
  const match = /^(\[[^\]]+\]|[^:]+):(\d{1,5})$/.exec(text);
  if (match === null) return undefined;
  const port = Number(match[2]);
  if (port < 1 || port > 65_535) return undefined;
  return { host: match[1]!.replace(/^\[|\]$/g, ''), port };
}

function tcpAnswers(host: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (answered: boolean): void => {
      socket.destroy();
      resolve(answered);
    };
    socket.setTimeout(timeoutMs, () => finish(false));
    socket.once('connect', () => finish(true));
    socket.once('error', () => finish(false));
  });
}
