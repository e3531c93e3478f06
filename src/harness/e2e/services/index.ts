/**
 * Finding Kafka and Redis for end-to-end runs, and the policy for when there are none.
 *
 * Order: endpoints from the environment (authoritative when set), Testcontainers (when the
 * optional ./testcontainers.ts module exists and a Docker engine answers), local processes
 * (java + Kafka jars, redis-server). The first that supplies services wins.
 *
 * STREAMCHECK_E2E:
 *   required  no services is an error (resolveServices throws with every provider's reason)
 *   auto      (default) no services means the e2e tests skip, naming the reasons
 *   off       nothing is tried; the e2e tests skip
 */
import { endpointsConfigured, endpointsProvider } from './endpoints.ts';
import { localProvider } from './local.ts';
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
  throw new Error(`${E2E_POLICY_ENV} must be required, auto or off; got '${env[E2E_POLICY_ENV]}'`);
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
  const timeoutMs = options.timeoutMs ?? 120_000;
  const providers = options.providers ?? (await defaultProviders(log));

  const reasons: string[] = [];
  for (const provider of providers) {
    let result: RunningServices | Unavailable;
    try {
      result = await provider.start({ timeoutMs, log });
    } catch (error) {
      result = { unavailable: true, reason: `${provider.name}: ${(error as Error).stack ?? String(error)}` };
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

async function defaultProviders(log: (line: string) => void): Promise<ServiceProvider[]> {
  if (endpointsConfigured()) return [endpointsProvider()];
  const testcontainers = await optionalTestcontainersProvider(log);
  return testcontainers === undefined ? [localProvider()] : [testcontainers, localProvider()];
}

/**
 * ./testcontainers.ts is written separately and may be absent; it may export its provider
 * under any name (or as default). Its absence is normal; its failing to load is logged.
 */
async function optionalTestcontainersProvider(log: (line: string) => void): Promise<ServiceProvider | undefined> {
  const specifier = './testcontainers.ts';
  let module: Record<string, unknown>;
  try {
    module = (await import(/* @vite-ignore */ specifier)) as Record<string, unknown>;
  } catch (error) {
    const { code, message } = error as { code?: string; message?: string };
    const missing = code === 'ERR_MODULE_NOT_FOUND' || /Cannot find module|Failed to load url|does not exist/i.test(message ?? '');
    if (!(missing && (message ?? '').includes('testcontainers.ts'))) log(`testcontainers provider failed to load: ${message ?? String(error)}`);
    return undefined;
  }
  // A provider object under any export name, or a factory under the conventional names
  // (other exported functions are never called: they may start containers).
  const provider = Object.values(module).find(isProvider);
  if (provider !== undefined) return provider;
  for (const factoryName of ['testcontainersProvider', 'createTestcontainersProvider']) {
    const factory = module[factoryName];
    if (typeof factory === 'function') {
      const made: unknown = (factory as () => unknown)();
      if (isProvider(made)) return made;
    }
  }
  log('testcontainers.ts exports no ServiceProvider; skipping it');
  return undefined;
}

function isProvider(value: unknown): value is ServiceProvider {
  return typeof value === 'object' && value !== null && typeof (value as ServiceProvider).start === 'function' && typeof (value as ServiceProvider).name === 'string';
}
