import { expect } from 'vitest';
import type { RedisCaseDriver } from '../../../scenarios/redis-command-cases.ts';
import { SimEnvironment } from '../../../src/connectors/sim/environment.ts';
import { SimRedisServer } from '../../../src/connectors/sim/redis.ts';
import { RandomChoices } from '../../../src/sim/choice.ts';
import { Scheduler, type SimWorld } from '../../../src/sim/scheduler.ts';

/** Nothing of its own; while the body runs with no call in flight, asks for a few drains so continuations without I/O run. */
function bodyWorld(scheduler: Scheduler, finished: () => boolean): SimWorld {
  let drainsWithoutIo = 0;
  return {
    collectEnabled: () => {
      if (scheduler.pendingIoCount > 0) drainsWithoutIo = 0;
      else if (!finished() && drainsWithoutIo++ < 3) scheduler.requestDrain();
    },
    execute: () => {},
    describe: () => '',
  };
}

export interface SimRedisFixture extends RedisCaseDriver {
  readonly server: SimRedisServer;
  readonly environment: SimEnvironment;
}

/** Runs `body` against a fresh simulated Redis, the scheduler completing its calls; fails if the body outlives the scheduler. */
export async function onSimulatedRedis<T>(body: (fixture: SimRedisFixture) => Promise<T>, prepare?: (server: SimRedisServer) => void): Promise<T> {
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 100_000, keepTrace: false });
  let finished = false;
  scheduler.attach(bodyWorld(scheduler, () => finished));
  const environment = new SimEnvironment(scheduler);
  const server = new SimRedisServer(environment);
  prepare?.(server);
  const fixture: SimRedisFixture = {
    server,
    environment,
    client: server.client('fixture'),
    // Waiting is a call with latency on a connection of its own: virtual time moves, and the scheduler drains after it.
    waitMs: async (ms) => {
      const started = environment.nowMs;
      await scheduler.io('clock', `wait ${ms} ms`, () => undefined, ms);
      expect(environment.nowMs - started).toBeGreaterThanOrEqual(ms);
    },
  };
  const outcome = body(fixture);
  void outcome.then(
    () => (finished = true),
    () => (finished = true),
  );
  await scheduler.run();
  // Let the body's last continuation run (the scheduler drained after its last step already).
  await new Promise((resolve) => setImmediate(resolve));
  if (!finished) throw new Error('the body did not finish when the scheduler went quiet');
  return outcome;
}
