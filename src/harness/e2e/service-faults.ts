/**
 * Faults of the real services an end-to-end run uses, named and bounded: which service (by
 * its configured address, never a proxy's), what the run was doing, and what it had already
 * committed. A service that stays down past its retry budget ends the run with
 * EnvironmentUnavailableError (exit code 4), distinct from a violated invariant (1), bad
 * input (2) and a bug in streamcheck (3).
 */
import seedrandom from 'seedrandom';

export type ServiceName = 'Kafka' | 'Redis';

/** The environment cannot serve the run: a service is down, unreachable or not what was configured. Exit code 4. */
export class EnvironmentUnavailableError extends Error {
  constructor(
    message: string,
    readonly service: ServiceName | 'services',
    readonly address: string,
  ) {
    super(message);
    this.name = 'EnvironmentUnavailableError';
  }
}

export interface ServiceFaultContext {
  readonly service: ServiceName;
  /** The address the user configured (or the provider started), e.g. `redis://127.0.0.1:6379/0`. */
  readonly address: string;
  /** What the run was doing, e.g. `cycle 3/10: loading the input topic`. */
  readonly doing: string;
  /** What was already safe, e.g. `cycles 1-2 finished (240 records judged)`. */
  readonly committed: string;
}

export function serviceDownError(context: ServiceFaultContext, cause: unknown, retriedForMs: number): EnvironmentUnavailableError {
  const causeText = cause instanceof Error ? cause.message.split('\n')[0]! : String(cause);
  return new EnvironmentUnavailableError(
    `${context.service} at ${context.address} unavailable while ${context.doing} (retried for ${Math.round(retriedForMs)} ms): ${causeText}; already committed: ${context.committed}`,
    context.service,
    context.address,
  );
}

/** Node's and the clients' names for a connection that failed or went away, and Kafka's "try again" answers. */
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN']);
const TRANSIENT_KAFKA_TYPES = new Set([
  'LEADER_NOT_AVAILABLE',
  'NOT_LEADER_FOR_PARTITION',
  'NOT_LEADER_OR_FOLLOWER',
  'COORDINATOR_NOT_AVAILABLE',
  'COORDINATOR_LOAD_IN_PROGRESS',
  'NOT_COORDINATOR',
  'REQUEST_TIMED_OUT',
  'UNKNOWN_TOPIC_OR_PARTITION',
  'NOT_CONTROLLER',
  'CONCURRENT_TRANSACTIONS',
]);
const TRANSIENT_NAMES = new Set(['KafkaJSConnectionError', 'KafkaJSConnectionClosedError', 'KafkaJSRequestTimeoutError', 'KafkaJSBrokerNotFound']);
const TRANSIENT_MESSAGES = /Connection is closed|ECONNREFUSED|ECONNRESET|connect ETIMEDOUT|Command timed out|Stream isn't writeable|Reached the max retries per request|Connection error|Closed connection|socket hang up|not ready|There is no leader|no leader known|leader not available|Coordinator not available|This server does not host this topic-partition|getaddrinfo/i;

/** True for errors a service that comes back would not give again: connection resets, refused connections, leader moves. */
export function isTransientServiceError(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current !== undefined && current !== null && depth < 6; depth++) {
    const shape = current as { code?: unknown; type?: unknown; name?: unknown; message?: unknown; cause?: unknown; originalError?: unknown };
    if (typeof shape.code === 'string' && TRANSIENT_CODES.has(shape.code)) return true;
    if (typeof shape.type === 'string' && TRANSIENT_KAFKA_TYPES.has(shape.type)) return true;
    if (typeof shape.name === 'string' && TRANSIENT_NAMES.has(shape.name)) return true;
    if (typeof shape.message === 'string' && TRANSIENT_MESSAGES.test(shape.message)) return true;
    current = shape.cause ?? shape.originalError;
  }
  return false;
}

export interface RetryPolicy {
  /** Total time spent retrying one operation before the service counts as down. */
  readonly budgetMs: number;
  readonly firstBackoffMs: number;
  readonly maxBackoffMs: number;
}

/** A broker restarts in ~10-20 s on a loaded 2-core machine; Redis in well under a second. */
export const SERVICE_RETRY_POLICY: RetryPolicy = { budgetMs: 60_000, firstBackoffMs: 100, maxBackoffMs: 2_000 };

/**
 * Backoff with "full jitter" (AWS architecture blog): each pause is uniform in
 * [backoff/2, backoff], the backoff doubling to its cap. The jitter comes from a seeded source,
 * so a real run's retry pauses are reproducible from its seed (the simulation draws its own from
 * the scheduler's choice source).
 */
export class JitteredBackoff {
  private readonly random: () => number;
  private nextBackoffMs: number;

  constructor(
    private readonly policy: RetryPolicy,
    seed: string,
  ) {
    this.random = seedrandom.alea(seed);
    this.nextBackoffMs = policy.firstBackoffMs;
  }

  nextPauseMs(): number {
    const ceiling = this.nextBackoffMs;
    this.nextBackoffMs = Math.min(this.policy.maxBackoffMs, this.nextBackoffMs * 2);
    return Math.round(ceiling / 2 + (this.random() * ceiling) / 2);
  }
}

/**
 * Runs `operation`, retrying transient service errors with jittered backoff until the policy's
 * budget is spent; then throws EnvironmentUnavailableError naming the service, its address,
 * what was being done and what was committed. Non-transient errors pass through unchanged.
 * `onRetry` sees each retried error (for logs and counts).
 */
export async function withServiceRetry<T>(
  context: ServiceFaultContext,
  operation: () => Promise<T>,
  options: { readonly policy?: RetryPolicy; readonly seed: string; readonly onRetry?: (error: unknown, pauseMs: number) => void; readonly sleep?: (ms: number) => Promise<void> },
): Promise<T> {
  const policy = options.policy ?? SERVICE_RETRY_POLICY;
  const backoff = new JitteredBackoff(policy, options.seed);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const startedMs = Date.now();
  for (;;) {
    try {
      return await operation();
    } catch (error) {
      if (error instanceof EnvironmentUnavailableError || !isTransientServiceError(error)) throw error;
      const pauseMs = backoff.nextPauseMs();
      const spentMs = Date.now() - startedMs;
      if (spentMs + pauseMs > policy.budgetMs) throw serviceDownError(context, error, spentMs);
      options.onRetry?.(error, pauseMs);
      await sleep(pauseMs);
    }
  }
}
