/**
 * One way for every end-to-end file to get Kafka and Redis: resolve them once before the
 * file's tests (STREAMCHECK_E2E=required fails right there; auto lets each test skip with the
 * reason), stop them after.
 */
import { afterAll, beforeAll, type TestContext } from 'vitest';
import { e2ePolicy, resolveServices } from '../../src/harness/e2e/services/index.ts';
import type { RunningServices } from '../../src/harness/e2e/services/types.ts';

export const SERVICES_START_TIMEOUT_MS = 150_000;
const SERVICES_STOP_TIMEOUT_MS = 30_000;

export interface ServicesFixture {
  /** The running services, or a skip of the calling test naming why there are none. */
  need(ctx: TestContext): RunningServices;
}

/** Registers beforeAll/afterAll in the calling describe block. */
export function useServices(onReady?: (services: RunningServices) => void | Promise<void>, onStop?: () => Promise<void>): ServicesFixture {
  const policy = e2ePolicy();
  let services: RunningServices | undefined;
  let unavailableReason = 'services not resolved';
  beforeAll(async () => {
    const result = await resolveServices({ timeoutMs: SERVICES_START_TIMEOUT_MS - 10_000, log: (line) => console.log(`[e2e] ${line}`) });
    if ('unavailable' in result) {
      unavailableReason = `no Kafka/Redis for e2e tests (STREAMCHECK_E2E=${policy}): ${result.reason}`;
      return;
    }
    services = result;
    await onReady?.(result);
  }, SERVICES_START_TIMEOUT_MS);
  afterAll(async () => {
    await onStop?.();
    await services?.stop();
  }, SERVICES_STOP_TIMEOUT_MS);
  return {
    need: (ctx) => services ?? ctx.skip(unavailableReason),
  };
}
