/**
 * Finding Kafka and Redis for end-to-end runs, and the policy for when there are none.
 *
 * Order: endpoints from the environment (authoritative when set), Testcontainers (when a
 * Docker engine answers), local processes (java + Kafka jars, redis-server). The first that
 * supplies services wins; STREAMCHECK_E2E_PROVIDER=testcontainers|local picks one.
 *
 * STREAMCHECK_E2E:
 *   required  no services is an error (resolveServices throws with every provider's reason)
 *   auto      (default) no services means the e2e tests skip, naming the reasons
 *   off       nothing is tried; the e2e tests skip
 */
import { loadIoredis } from '../../../connectors/real/ioredis-client.ts';
import { loadKafkajs } from '../../../connectors/real/kafka-clients.ts';
import { MissingOptionalDependencyError } from '../../../connectors/real/optional-dependency.ts';
import { InputError, quoteUserText } from '../../input-bounds.ts';
import { endpointsConfigured, endpointsProvider } from './endpoints.ts';
import { localProvider } from './local.ts';
import { testcontainersProvider } from './testcontainers.ts';
import type { RunningServices, ServiceProvider, Unavailable } from './types.ts';

export type { RunningServices, ServiceEndpoints, ServiceProvider, Unavailable } from './types.ts';
export { endpointsProvider, KAFKA_BROKERS_ENV, REDIS_URL_ENV } from './endpoints.ts';
export { localProvider, defaultKafkaLibsDir, LOCAL_KAFKA_VERSION } from './local.ts';

export const E2E_POLICY_ENV = 'STREAMCHECK_E2E';
export type E2EPolicy = 'required' | 'auto' | 'off';

export function e2ePolicy(env: NodeJS.ProcessEnv = process.env): E2EPolicy {
  const value = (env[E2E_POLICY_ENV] ?? '').trim().toLowerCase();
  if (value === '' || value === 'auto') return 'auto';
  if (value === 'required' || value === 'off') return value;
  throw new InputError(`${E2E_POLICY_ENV} must be required, auto or off; got ${quoteUserText(env[E2E_POLICY_ENV] ?? '')}`);
}

export interface ResolveServicesOptions {
  /** Bound on each provider's start (the local broker's start-to-ready included). Default 120 000. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
  /** Default: from STREAMCHECK_E2E. */
  readonly policy?: E2EPolicy;
  /** Default: endpoints if configured, else testcontainers (if present) then local. */
  readonly providers?: readonly ServiceProvider[];
}

/** Thrown by resolveServices under STREAMCHECK_E2E=required when no provider supplied services. */
export class ServicesUnavailableError extends Error {
  constructor(readonly reason: string) {
    super(`${E2E_POLICY_ENV}=required but no Kafka/Redis available:\n${reason}`);
    this.name = 'ServicesUnavailableError';
  }
}

export async function resolveServices(options: ResolveServicesOptions = {}): Promise<RunningServices | Unavailable> {
  const policy = options.policy ?? e2ePolicy();
  const log = options.log ?? (() => undefined);
  if (policy === 'off') return { unavailable: true, reason: `${E2E_POLICY_ENV}=off` };
  // Every provider hands back endpoints that the kafkajs and ioredis clients talk to: a missing
  // one is reported now, naming the package, rather than as each provider's readiness timeout.
  await loadKafkajs();
  await loadIoredis();
  const timeoutMs = options.timeoutMs ?? 120_000;
  const providers = options.providers ?? (await defaultProviders(log));

  const reasons: string[] = [];
  for (const provider of providers) {
    let result: RunningServices | Unavailable;
    try {
      result = await provider.start({ timeoutMs, log });
    } catch (error) {
      // A missing kafkajs or ioredis stops every provider: report it, naming the package.
      if (error instanceof MissingOptionalDependencyError) throw error;
      // Bad configuration is the user's to fix, not a reason to try the next provider.
      if (error instanceof InputError) throw error;
      result = { unavailable: true, reason: `${provider.name}: ${error instanceof Error ? error.message : String(error)}` };
    }
    if (!('unavailable' in result)) {
      log(`services from provider '${result.provider}': Kafka ${result.kafkaBrokers.join(',')}, Redis ${result.redisUrl}`);
      return result;
    }
    log(`provider '${provider.name}' unavailable: ${result.reason}`);
    reasons.push(result.reason);
  }
  const reason = reasons.length === 0 ? 'no service provider configured' : reasons.join('\n');
  if (policy === 'required') throw new ServicesUnavailableError(reason);
  return { unavailable: true, reason };
}

/** Picks one provider: STREAMCHECK_E2E_PROVIDER=testcontainers|local (CI runs the suite once through each). */
export const E2E_PROVIDER_ENV = 'STREAMCHECK_E2E_PROVIDER';

async function defaultProviders(_log: (line: string) => void): Promise<ServiceProvider[]> {
  if (endpointsConfigured()) return [endpointsProvider()];
  const chosen = (process.env[E2E_PROVIDER_ENV] ?? '').trim();
  if (chosen === 'testcontainers') return [testcontainersProvider];
  if (chosen === 'local') return [localProvider()];
  if (chosen !== '' && chosen !== 'auto') throw new InputError(`${E2E_PROVIDER_ENV} must be testcontainers, local or auto; got ${quoteUserText(chosen)}`);
  return [testcontainersProvider, localProvider()];
}
