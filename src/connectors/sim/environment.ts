import type { EnvironmentFaultHooks } from '../../runtime/job.ts';
import { SimulatedIoError, type Scheduler } from '../../sim/scheduler.ts';
import { checkSimRetryPolicy, withSimRetry, type SimRetryPolicy } from './retry.ts';

/**
 * One environment for external systems: `SimEnvironment` puts any in-memory model of an
 * external system (a key-value store, a transactional database, a broker) under the
 * deterministic scheduler. A connector author writes the model as a plain object whose
 * methods apply a request and return the reply; `service(name, model).connect(connection)`
 * gives a client with the same methods, each an async call that the scheduler completes as
 * one step of its own, in issue order per connection.
 *
 * ```ts
 * class Counters { values = new Map<string, number>(); add(key: string, n: number) { ... } }
 * const env = new SimEnvironment(scheduler);
 * const counters = env.service('counters', new Counters(), { latencyMs: 2, timeoutMs: 50 });
 * const client = counters.connect('sink-0');     // await client.add('a', 1)
 * // scenario: environmentHooks: env.faultHooks; judge: read counters.state
 * ```
 *
 * Faults (plan data, so they shrink and replay): `fail-call` (not applied, ECONNRESET),
 * `timeout-call` (not applied, ETIMEDOUT), `lose-reply` (applied, but the client sees
 * ETIMEDOUT: the ambiguous outcome behind most duplicates) arm the next k calls issued to
 * any service of the environment; `cut-connections` fails every call in flight (not
 * applied, ECONNRESET). A model method that throws fails the call with its error: a
 * server-side error such as Redis's WRONGTYPE.
 */
export class SimEnvironment {
  readonly faultHooks: Required<Pick<EnvironmentFaultHooks, 'failNextCalls' | 'loseNextReplies' | 'timeOutNextCalls' | 'cutConnections' | 'slowCalls'>>;
  /** slow-calls faults: virtual ms added to the latency of every call issued from then on. */
  private extraLatencyMs = 0;
  private readonly serviceNames = new Set<string>();
  /** Every service's model by name: what the systems hold now (prove hashes it as part of the state). */
  readonly serviceModels = new Map<string, object>();
  /** Armed call faults, consumed in this order by the next calls issued. */
  private callsToFail = 0;
  private repliesToLose = 0;
  private callsToTimeOut = 0;
  /** Bumped by cut-connections: a call issued under an older generation was on a cut connection. */
  private connectionGeneration = 0;

  constructor(readonly scheduler: Scheduler) {
    // Arrow functions: the hooks stay bound when a scenario spreads them into its own hooks.
    this.faultHooks = {
      failNextCalls: (times) => {
        this.callsToFail += requirePositive('failNextCalls', times);
      },
      loseNextReplies: (times) => {
        this.repliesToLose += requirePositive('loseNextReplies', times);
      },
      timeOutNextCalls: (times) => {
        this.callsToTimeOut += requirePositive('timeOutNextCalls', times);
      },
      cutConnections: () => {
        this.connectionGeneration++;
      },
      slowCalls: (extraLatencyMs) => {
        if (!(Number.isFinite(extraLatencyMs) && extraLatencyMs > 0)) throw new Error(`SimEnvironment.slowCalls: extraLatencyMs must be a positive number of virtual ms, got ${extraLatencyMs}`);
        this.extraLatencyMs += extraLatencyMs;
      },
    };
  }

  /** Virtual now, for models with expiry (Redis TTLs). */
  get nowMs(): number {
    return this.scheduler.nowMs;
  }

  /** Puts an in-memory model of an external system under the scheduler. */
  service<M extends object>(name: string, model: M, options: SimServiceOptions = {}): SimService<M> {
    if (name === '' || this.serviceNames.has(name)) throw new Error(`SimEnvironment.service: name must be non-empty and unique, got '${name}'`);
    const latencyMs = options.latencyMs ?? 0;
    const timeoutMs = options.timeoutMs ?? latencyMs;
    if (!(latencyMs >= 0)) throw new Error(`SimEnvironment.service(${name}): latencyMs must be >= 0, got ${latencyMs}`);
    if (!(timeoutMs >= latencyMs)) throw new Error(`SimEnvironment.service(${name}): timeoutMs must be >= latencyMs (${latencyMs}), got ${timeoutMs}`);
    const retry = options.retry === undefined ? undefined : checkSimRetryPolicy(options.retry, `SimEnvironment.service(${name})`);
    this.serviceNames.add(name);
    this.serviceModels.set(name, model);
    const callOptions: SimServiceOptions = { latencyMs, timeoutMs };
    const methods = methodNamesOf(model);
    if (methods.length === 0) throw new Error(`SimEnvironment.service(${name}): the model has no methods to call`);
    return {
      name,
      state: model,
      connect: (connection) => {
        if (connection === '') throw new Error(`SimEnvironment: service ${name}: connection name must be non-empty`);
        const client: Record<string, (...args: unknown[]) => Promise<unknown>> = {};
        const connectionKey = `${name}/${connection}`;
        const methodsOfModel = model as Record<string, (...args: unknown[]) => unknown>;
        for (const method of methods) {
          // Looked up when the call reaches the server: a model patched later (a planted bug) is the one called.
          client[method] = (...args) => {
            const label = `${name}.${method}(${shortArgs(args)})`;
            // No `const call = () => ...` here: tsx (esbuild keepNames) would name that closure with Object.defineProperty on every call.
            if (retry === undefined) return this.request(connectionKey, label, () => methodsOfModel[method]!(...args), callOptions);
            return withSimRetry(this.scheduler, connectionKey, label, () => this.request(connectionKey, label, () => methodsOfModel[method]!(...args), callOptions), retry);
          };
        }
        return client as SimClient<M>;
      },
    };
  }

  /**
   * One call: a scheduler step `latencyMs` after it was issued, in order on `connection`;
   * `apply` runs on the server side at that step, and its return value (or thrown error) is
   * the reply. Service clients are made of these; a client with client-side state of its own
   * (the simulated Kafka producer) calls it directly. Call faults are decided when the call is
   * issued (the next k calls after arming).
   */
  request<T>(connection: string, label: string, apply: () => T, options: SimServiceOptions = {}): Promise<T> {
    const latencyMs = (options.latencyMs ?? 0) + this.extraLatencyMs;
    const timeoutMs = (options.timeoutMs ?? options.latencyMs ?? 0) + this.extraLatencyMs;
    const generation = this.connectionGeneration;
    const scheduler = this.scheduler;
    if (this.callsToFail > 0) {
      this.callsToFail--;
      return scheduler.io<T>(connection, label, () => {
        throw new SimulatedIoError(`${label}: connection reset before the call reached the server (fail-call fault; not applied)`, 'ECONNRESET');
      }, latencyMs);
    }
    if (this.callsToTimeOut > 0) {
      this.callsToTimeOut--;
      return scheduler.io<T>(connection, label, () => {
        throw new SimulatedIoError(`${label}: timed out after ${timeoutMs} ms (timeout-call fault; not applied)`, 'ETIMEDOUT');
      }, timeoutMs);
    }
    if (this.repliesToLose > 0) {
      this.repliesToLose--;
      // Two steps: the server applies the call, then, once the client's timeout has passed,
      // the client learns only that it timed out. Other calls may see the effect in between.
      return scheduler
        .io(connection, label, () => {
          this.requireConnection(generation, label);
          try {
            apply();
          } catch {
            // A server-side error in a reply nobody receives: the client sees the timeout alone.
          }
        }, latencyMs)
        .then(() =>
          scheduler.io<T>(connection, `${label} reply`, () => {
            throw new SimulatedIoError(`${label}: timed out after ${timeoutMs} ms (lose-reply fault: applied on the server, reply lost)`, 'ETIMEDOUT');
          }, Math.max(0, timeoutMs - latencyMs)),
        );
    }
    return scheduler.io(connection, label, () => {
      this.requireConnection(generation, label);
      return apply();
    }, latencyMs);
  }

  /** A call issued before a cut-connections never reaches the server. */
  private requireConnection(issuedInGeneration: number, label: string): void {
    if (issuedInGeneration !== this.connectionGeneration) throw new SimulatedIoError(`${label}: connection cut while the call was in flight (not applied)`, 'ECONNRESET');
  }
}

export interface SimServiceOptions {
  /** Virtual time from issuing a call until it can complete (default 0: any later step). */
  readonly latencyMs?: number;
  /** Virtual time after issuing a call at which a client gives up on it (timeout-call, lose-reply); default latencyMs. */
  readonly timeoutMs?: number;
  /**
   * Clients retry transient errors (ECONNRESET, ETIMEDOUT) with bounded, jittered backoff drawn
   * from the scheduler's choices (see retry.ts); only for calls that may be repeated. Default: no retries.
   */
  readonly retry?: SimRetryPolicy;
}

export interface SimService<M> {
  readonly name: string;
  /** The model itself: read back what the system holds (not a scheduler step; for judges). */
  readonly state: M;
  /** A client: every method of the model as an async call, completed by the scheduler as a step on this connection, in order per connection. */
  connect(connection: string): SimClient<M>;
}

/** Every method of the model as an async call with the same arguments and an awaited result. */
export type SimClient<M> = {
  [K in keyof M as M[K] extends (...args: any[]) => any ? K : never]: M[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

function requirePositive(hook: string, times: number): number {
  if (!Number.isSafeInteger(times) || times < 1) throw new Error(`SimEnvironment.${hook}: times must be a positive integer, got ${times}`);
  return times;
}

/** The model's callable methods, own and inherited (not Object's), in a stable order. */
function methodNamesOf(model: object): string[] {
  const names = new Set<string>();
  for (let proto: object | null = model; proto !== null && proto !== Object.prototype; proto = Object.getPrototypeOf(proto)) {
    for (const name of Object.getOwnPropertyNames(proto)) {
      if (name === 'constructor') continue;
      const descriptor = Object.getOwnPropertyDescriptor(proto, name)!;
      if (typeof descriptor.value === 'function') names.add(name);
    }
  }
  return [...names];
}

const MAX_LABEL_ARGS_CHARS = 60;

/** Arguments for a trace label: short, deterministic, never a whole payload. */
function shortArgs(args: readonly unknown[]): string {
  let text = '';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i];
    const part =
      typeof arg === 'string' ? arg
      : typeof arg === 'number' || typeof arg === 'boolean' || arg === null || arg === undefined ? String(arg)
      : Array.isArray(arg) ? `[${arg.length} items]`
      : `{${Object.keys(arg as object).join(', ')}}`;
    text += i === 0 ? part : `, ${part}`;
    if (text.length > MAX_LABEL_ARGS_CHARS) return `${text.slice(0, MAX_LABEL_ARGS_CHARS)}…`;
  }
  return text;
}
