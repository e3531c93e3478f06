/**
 * The 'endpoints' service provider: Kafka and Redis that someone else runs, named by
 * STREAMCHECK_KAFKA_BROKERS (comma-separated host:port) and STREAMCHECK_REDIS_URL
 * (redis://host:port/db). Setting either one makes this provider the only one tried (an
 * explicit choice never silently falls back to starting something else). Malformed values are
 * bad input; then it checks (bounded) that a Kafka broker answers ApiVersions and Redis answers
 * PING, so a wrong address shows as a reason, not as a hang in the first test.
 */
import { InputError, quoteUserText } from '../../input-bounds.ts';
import { kafkaApiVersionsProblem } from './kafka-probe.ts';
import { redisAnswersPing } from './local.ts';
import type { RunningServices, ServiceProvider, Unavailable } from './types.ts';

export const KAFKA_BROKERS_ENV = 'STREAMCHECK_KAFKA_BROKERS';
export const REDIS_URL_ENV = 'STREAMCHECK_REDIS_URL';

const KAFKA_HANDSHAKE_TIMEOUT_MS = 3_000;
const REDIS_PING_TIMEOUT_MS = 3_000;

/** True when the environment names endpoints, so they are authoritative. */
export function endpointsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  return Boolean(env[KAFKA_BROKERS_ENV]?.trim() || env[REDIS_URL_ENV]?.trim());
}

export interface EndpointsConfig {
  readonly kafkaBrokers: readonly string[];
  readonly redisUrl: string;
}

/** Most brokers accepted in STREAMCHECK_KAFKA_BROKERS (a bound, not a tuning knob). */
const MAX_BROKERS = 64;

/**
 * Reads and checks STREAMCHECK_KAFKA_BROKERS and STREAMCHECK_REDIS_URL; a malformed value is
 * bad input (InputError, exit 2) naming the variable, checked before anything connects.
 */
export function readEndpointsConfig(env: NodeJS.ProcessEnv = process.env): EndpointsConfig {
  const brokersText = env[KAFKA_BROKERS_ENV]?.trim() ?? '';
  const redisText = env[REDIS_URL_ENV]?.trim() ?? '';
  if (brokersText === '' || redisText === '') {
    throw new InputError(
      `set both ${KAFKA_BROKERS_ENV} (host:port,...) and ${REDIS_URL_ENV} (redis://host:port/db); got ${KAFKA_BROKERS_ENV}=${quoteUserText(brokersText)} ${REDIS_URL_ENV}=${quoteUserText(redisText)}`,
    );
  }
  const kafkaBrokers = brokersText.split(',').map((broker) => broker.trim()).filter((broker) => broker !== '');
  if (kafkaBrokers.length === 0 || kafkaBrokers.length > MAX_BROKERS) throw new InputError(`${KAFKA_BROKERS_ENV} must list 1 to ${MAX_BROKERS} host:port entries, got ${kafkaBrokers.length}`);
  const malformed = kafkaBrokers.filter((broker) => parseHostPort(broker) === undefined);
  if (malformed.length > 0) throw new InputError(`${KAFKA_BROKERS_ENV} entries must be host:port with a port in 1..65535, got ${malformed.slice(0, 3).map((b) => quoteUserText(b)).join(', ')}`);
  return { kafkaBrokers, redisUrl: checkRedisUrl(redisText, REDIS_URL_ENV) };
}

/** redis://host[:port][/db] or rediss:// (TLS, which ioredis speaks); anything else is refused naming the scheme. */
export function checkRedisUrl(text: string, where: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new InputError(`${where} must be a URL redis://host:port/db (or rediss:// for TLS), got ${quoteUserText(text)}`);
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new InputError(`${where} must use the scheme redis:// (or rediss:// for TLS), got ${quoteUserText(url.protocol.replace(/:$/, ''))} in ${quoteUserText(text)}`);
  }
  if (url.hostname === '') throw new InputError(`${where} names no host: ${quoteUserText(text)}`);
  if (url.pathname !== '' && url.pathname !== '/' && !/^\/(?:[0-9]|1[0-5])$/.test(url.pathname)) {
    throw new InputError(`${where} database must be /0 to /15, got ${quoteUserText(url.pathname)}`);
  }
  return text;
}

export function endpointsProvider(env: NodeJS.ProcessEnv = process.env): ServiceProvider {
  return {
    name: 'endpoints',
    start: async ({ log }) => {
      const { kafkaBrokers, redisUrl } = readEndpointsConfig(env);
      // A broker counts when it answers the protocol's handshake, not merely a TCP connect.
      const problems = await Promise.all(kafkaBrokers.map((broker) => kafkaApiVersionsProblem(broker, KAFKA_HANDSHAKE_TIMEOUT_MS)));
      if (problems.every((problem) => problem !== undefined)) {
        return unavailable(`no Kafka broker of ${KAFKA_BROKERS_ENV} answers ApiVersions: ${problems.join('; ')}`);
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
