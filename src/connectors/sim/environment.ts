import type { Scheduler } from '../../sim/scheduler.ts';
import type { EnvironmentFaultHooks } from '../../runtime/job.ts';

/** Options of one simulated service. */
export interface SimServiceOptions {
  readonly latencyMs?: number;
  readonly timeoutMs?: number;
}

/** A client of a simulated service: every method of the model, as an async call the scheduler completes. */
export type SimClient<M> = {
  [K in keyof M as M[K] extends (...args: never[]) => unknown ? K : never]: M[K] extends (...args: infer A) => infer R ? (...args: A) => Promise<Awaited<R>> : never;
};

export interface SimService<M> {
  readonly name: string;
  /** The model itself: what the system holds, for judges (reading it is not a scheduler step). */
  readonly state: M;
  /** A client whose calls complete as scheduler steps, in order on this connection. */
  connect(connection: string): SimClient<M>;
}

/**
 * Puts any in-memory model of an external system under the scheduler: every client call is
 * a scheduler step, so its completion, failure or a crash in between are all reachable.
 * (Minimal version; faults on calls arrive with the full environment.)
 */
export class SimEnvironment {
  readonly faultHooks: EnvironmentFaultHooks = {};

  constructor(readonly scheduler: Scheduler) {}

  get nowMs(): number {
    return this.scheduler.nowMs;
  }

  service<M extends object>(name: string, model: M, _options: SimServiceOptions = {}): SimService<M> {
    const scheduler = this.scheduler;
    return {
      name,
      state: model,
      connect(connection: string): SimClient<M> {
        return new Proxy({} as SimClient<M>, {
          get(_target, property) {
            const method = (model as Record<PropertyKey, unknown>)[property];
            if (typeof method !== 'function') return undefined;
            return (...args: unknown[]) =>
              scheduler.io(`${name}:${connection}`, `${name}.${String(property)}`, () => (method as (...a: unknown[]) => unknown).apply(model, args));
          },
        });
      },
    };
  }
}
