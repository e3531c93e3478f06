import { SimulatedIoError, type Scheduler } from '../../sim/scheduler.ts';

/**
 * Retrying transient errors of a simulated external system, with bounded, jittered backoff.
 *
 * The same policy as real runs (src/harness/e2e/service-faults.ts, "full jitter": each pause
 * uniform in [backoff/2, backoff], the backoff doubling up to its cap), but the jitter comes
 * from the scheduler's choice source (`Scheduler.choose`): a case replays with the same pauses,
 * shrinking can make them plainer (choice 0 is the shortest pause), and every draw is in the
 * trace. The pause is virtual time spent as a pending call on the connection, so a crash of
 * the caller (which settles every pending call without resolving it) abandons the retry with
 * its requester, as a killed task's retry loop dies with it: no zombie call reaches the
 * system afterwards.
 *
 * Only for calls that may be repeated: a retried call whose reply was lost (ETIMEDOUT after
 * it was applied) is applied twice.
 */
export interface SimRetryPolicy {
  /** Retries after the first attempt before the error is passed on. */
  readonly maxRetries: number;
  /** Ceiling of the first pause (virtual ms). */
  readonly firstBackoffMs: number;
  /** Largest ceiling of a pause (virtual ms). */
  readonly maxBackoffMs: number;
}

export const DEFAULT_SIM_RETRY_POLICY: SimRetryPolicy = { maxRetries: 3, firstBackoffMs: 4, maxBackoffMs: 32 };

/** Upper bounds that keep a retried call inside a run's step budget. */
export const SIM_RETRY_BOUNDS = { maxRetries: 20, maxBackoffMs: 60_000 } as const;

/** Error codes of SimEnvironment's call faults and cut connections: the call may succeed if made again. */
const TRANSIENT_CODES: ReadonlySet<string> = new Set(['ECONNRESET', 'ETIMEDOUT']);

export function isTransientSimError(error: unknown): boolean {
  return error instanceof SimulatedIoError && TRANSIENT_CODES.has(error.code);
}

export function checkSimRetryPolicy(policy: SimRetryPolicy, where: string): SimRetryPolicy {
  const { maxRetries, firstBackoffMs, maxBackoffMs } = policy;
  if (!Number.isSafeInteger(maxRetries) || maxRetries < 0 || maxRetries > SIM_RETRY_BOUNDS.maxRetries) {
    throw new Error(`${where}: retry.maxRetries must be an integer in [0, ${SIM_RETRY_BOUNDS.maxRetries}], got ${maxRetries}`);
  }
  if (!Number.isSafeInteger(maxBackoffMs) || maxBackoffMs < 1 || maxBackoffMs > SIM_RETRY_BOUNDS.maxBackoffMs) {
    throw new Error(`${where}: retry.maxBackoffMs must be an integer in [1, ${SIM_RETRY_BOUNDS.maxBackoffMs}], got ${maxBackoffMs}`);
  }
  if (!Number.isSafeInteger(firstBackoffMs) || firstBackoffMs < 1 || firstBackoffMs > maxBackoffMs) {
    throw new Error(`${where}: retry.firstBackoffMs must be an integer in [1, maxBackoffMs = ${maxBackoffMs}], got ${firstBackoffMs}`);
  }
  return policy;
}

/** The pause before retry `retry` (0-based): uniform in [ceiling/2, ceiling] from the scheduler's choices. */
export function jitteredPauseMs(scheduler: Scheduler, policy: SimRetryPolicy, retry: number, label: string): number {
  const ceilingMs = Math.min(policy.maxBackoffMs, policy.firstBackoffMs * 2 ** Math.min(retry, 30));
  const floorMs = Math.ceil(ceilingMs / 2);
  return floorMs + scheduler.choose(`retry pause of ${label}`, ceilingMs - floorMs + 1);
}

/**
 * Calls `operation`, and again after a jittered pause each time it fails with a transient
 * error, at most `policy.maxRetries` times; then the last error is passed on, its message
 * saying how often it was tried. Other errors pass at once.
 */
export async function withSimRetry<T>(scheduler: Scheduler, connection: string, label: string, operation: () => Promise<T>, policy: SimRetryPolicy = DEFAULT_SIM_RETRY_POLICY): Promise<T> {
  checkSimRetryPolicy(policy, `withSimRetry(${label})`);
  for (let retry = 0; ; retry++) {
    try {
      return await operation();
    } catch (error) {
      if (!isTransientSimError(error)) throw error;
      if (retry >= policy.maxRetries) {
        const last = error as SimulatedIoError;
        throw new SimulatedIoError(`${last.message} (gave up after ${retry + 1} attempts with jittered backoff)`, last.code);
      }
      const pauseMs = jitteredPauseMs(scheduler, policy, retry, label);
      // The pause is a pending call on the connection: virtual time passes, and a crash abandons it.
      await scheduler.io(connection, `${label} retry ${retry + 1} after ${pauseMs} ms`, () => undefined, pauseMs);
    }
  }
}
