import { describe, expect, test } from 'vitest';
import { oddEvenInput } from '../../../model/odd-even-sum.ts';
import { checkExactlyOnceStore } from '../../../properties/odd-even.ts';
import { oddEvenPipeline, oddEvenRedisSink } from '../../../scenarios/odd-even-sum.ts';
import { PartitionSourceReader } from '../../../src/connectors/partition-source.ts';
import { SimPartitionedLog } from '../../../src/connectors/sim/partitioned-log.ts';
import { SimRedisServer } from '../../../src/connectors/sim/redis.ts';
import { runCase } from '../../../src/harness/run-case.ts';
import type { Scenario } from '../../../src/harness/scenario.ts';
import { SimEnvironment, type SimServiceOptions } from '../../../src/connectors/sim/environment.ts';
import { jitteredPauseMs, withSimRetry, type SimRetryPolicy } from '../../../src/connectors/sim/retry.ts';
import { ListChoices, RandomChoices, type ChoiceSource } from '../../../src/sim/choice.ts';
import { Scheduler, SimulatedIoError, type SimWorld } from '../../../src/sim/scheduler.ts';

/** Idempotent writes: a retried call may be applied twice without changing the outcome. */
class Registers {
  readonly values = new Map<string, string>();
  readonly applied: string[] = [];

  set(key: string, value: string): string {
    this.values.set(key, value);
    this.applied.push(`${key}=${value}`);
    return 'OK';
  }
}

const noWorld: SimWorld = { collectEnabled: () => {}, execute: () => {}, describe: () => '' };
const POLICY: SimRetryPolicy = { maxRetries: 3, firstBackoffMs: 4, maxBackoffMs: 10 };

function setup(choices: ChoiceSource = new ListChoices([]), options: SimServiceOptions = { retry: POLICY }) {
  const scheduler = new Scheduler({ choices, msPerStep: 1, maxSteps: 10_000, keepTrace: true });
  scheduler.attach(noWorld);
  const environment = new SimEnvironment(scheduler);
  const registers = environment.service('registers', new Registers(), options);
  return { scheduler, environment, registers, client: registers.connect('c0') };
}

const outcome = (call: Promise<unknown>): Promise<unknown> => call.then((value) => ({ value }), (error: unknown) => ({ error: (error as Error).message, code: (error as SimulatedIoError).code }));

describe('retries of transient errors in the simulation', () => {
  test('Scheduler.choose draws from the choice source and records each draw in the trace', () => {
    const scheduler = new Scheduler({ choices: new ListChoices([7, 0]), msPerStep: 1, maxSteps: 10, keepTrace: true });
    expect(scheduler.choose('a pause', 5)).toBe(2); // 7 mod 5
    expect(scheduler.choose('a pause', 5)).toBe(0);
    expect(scheduler.choose('no choice', 1)).toBe(0);
    expect(scheduler.trace.entries.map((entry) => entry.event)).toEqual(['choice a pause: 2 of 5', 'choice a pause: 0 of 5', 'choice no choice: 0 of 1']);
    expect(() => scheduler.choose('none', 0)).toThrow(/optionCount must be a positive integer, got 0/);
  });

  test('each pause is in [ceiling/2, ceiling], the ceiling doubling to its cap; choice 0 is the shortest', () => {
    const shortest = new Scheduler({ choices: new ListChoices([]), msPerStep: 1, maxSteps: 10, keepTrace: false });
    expect([0, 1, 2, 3].map((retry) => jitteredPauseMs(shortest, POLICY, retry, 'x'))).toEqual([2, 4, 5, 5]);
    const random = new Scheduler({ choices: new RandomChoices(11), msPerStep: 1, maxSteps: 10, keepTrace: false });
    for (let retry = 0; retry < 40; retry++) {
      const ceilingMs = Math.min(POLICY.maxBackoffMs, POLICY.firstBackoffMs * 2 ** retry);
      const pauseMs = jitteredPauseMs(random, POLICY, retry, 'x');
      expect(pauseMs).toBeGreaterThanOrEqual(Math.ceil(ceilingMs / 2));
      expect(pauseMs).toBeLessThanOrEqual(ceilingMs);
    }
  });

  test('a call that fails twice (fail-call) goes through on the third attempt, after two jittered pauses of virtual time', async () => {
    const { scheduler, environment, registers, client } = setup(new RandomChoices(3));
    environment.faultHooks.failNextCalls(2);
    const reply = outcome(client.set('k', 'v'));
    await scheduler.run();
    expect(await reply).toEqual({ value: 'OK' });
    expect(registers.state.applied).toEqual(['k=v']);
    const events = scheduler.trace.entries.map((entry) => entry.event);
    expect(events.filter((event) => event.startsWith('choice retry pause of registers.set(k, v)'))).toHaveLength(2);
    expect(events.filter((event) => /^io registers\.set\(k, v\) retry [12] after \d+ ms done$/.test(event))).toHaveLength(2);
    // The pauses cost virtual time: at least 2 + 4 ms beyond the three calls' steps.
    expect(scheduler.nowMs).toBeGreaterThanOrEqual(2 + 4 + 3);
  });

  test('the same choices give the same pauses (a run replays exactly); other seeds give other pauses', async () => {
    const runWith = async (seed: number): Promise<string> => {
      const { scheduler, environment, client } = setup(new RandomChoices(seed));
      environment.faultHooks.timeOutNextCalls(3);
      void outcome(client.set('k', 'v'));
      await scheduler.run();
      return `${scheduler.trace.hashHex} @ ${scheduler.nowMs} ms`;
    };
    const again = new Set([await runWith(42), await runWith(42), await runWith(42)]);
    expect(again.size).toBe(1);
    const seeds = new Set<string>();
    for (let seed = 0; seed < 10; seed++) seeds.add(await runWith(seed));
    expect(seeds.size).toBeGreaterThan(1);
  });

  test('past maxRetries the last error is passed on, saying how often it was tried; other errors are not retried', async () => {
    const { scheduler, environment, registers, client } = setup();
    environment.faultHooks.failNextCalls(POLICY.maxRetries + 1);
    const reply = outcome(client.set('k', 'v'));
    await scheduler.run();
    expect(await reply).toEqual({ code: 'ECONNRESET', error: expect.stringMatching(/connection reset.*\(gave up after 4 attempts with jittered backoff\)$/) });
    expect(registers.state.applied).toEqual([]);

    let attempts = 0;
    const serverError = withSimRetry(scheduler, 'c1', 'op', () => {
      attempts++;
      return Promise.reject(new Error('WRONGTYPE Operation against a key holding the wrong kind of value'));
    }, POLICY);
    await expect(serverError).rejects.toThrow(/WRONGTYPE/);
    expect(attempts).toBe(1);
  });

  test('a crash during a pause abandons the retry with its requester: nothing reaches the system afterwards', async () => {
    const { scheduler, environment, registers, client } = setup();
    environment.faultHooks.failNextCalls(1);
    let settled = false;
    void client.set('k', 'v').finally(() => (settled = true));
    // Run until the first attempt failed and the pause is pending, then crash.
    const world: SimWorld = { collectEnabled: () => {}, execute: () => {}, describe: () => '' };
    scheduler.attach(world);
    scheduler.beforeStep = (step) => {
      if (step === 1) scheduler.settleAllIo('apply');
    };
    await scheduler.run();
    expect(registers.state.applied).toEqual([]);
    expect(settled).toBe(false);
    expect(scheduler.trace.entries.map((entry) => entry.event).some((event) => event.startsWith('choice retry pause'))).toBe(true);
  });

  test('policies outside the bounds are refused naming the field', () => {
    const scheduler = new Scheduler({ choices: new ListChoices([]), msPerStep: 1, maxSteps: 10, keepTrace: false });
    const environment = new SimEnvironment(scheduler);
    expect(() => environment.service('a', new Registers(), { retry: { maxRetries: 21, firstBackoffMs: 1, maxBackoffMs: 2 } })).toThrow(/SimEnvironment.service\(a\): retry.maxRetries must be an integer in \[0, 20\], got 21/);
    expect(() => environment.service('b', new Registers(), { retry: { maxRetries: 1, firstBackoffMs: 5, maxBackoffMs: 2 } })).toThrow(/retry.firstBackoffMs must be an integer in \[1, maxBackoffMs = 2\], got 5/);
    expect(() => environment.service('c', new Registers(), { retry: { maxRetries: 1, firstBackoffMs: 1, maxBackoffMs: 1e9 } })).toThrow(/retry.maxBackoffMs must be an integer in \[1, 60000\]/);
  });
});

describe('a job whose Redis client retries', () => {
  test('rides out failed calls at a checkpoint without a failover, exactly once; without retries the same plan fails over', async () => {
    const scenarioWith = (retry: SimRetryPolicy | undefined): Scenario => ({
      name: 'retrying-redis',
      description: 'odd-even-sum with a Redis client that retries transient errors',
      defaultSize: { partitions: 2, recordsPerPartition: 40 },
      faultKinds: ['fail-call'],
      backends: ['memory'],
      bugs: [],
      taskCount: (size) => size.partitions + 2,
      build: ({ env, size }) => {
        const input = oddEvenInput(size.partitions, size.recordsPerPartition);
        const log = new SimPartitionedLog(input);
        const redis = new SimRedisServer(env, retry === undefined ? {} : { retry });
        return {
          pipeline: oddEvenPipeline('retrying-redis', size.partitions, ({ subtaskIndex }) => new PartitionSourceReader(log, subtaskIndex), ({ subtaskIndex }) => oddEvenRedisSink(redis.client(`sink-${subtaskIndex}`), 'retrying')),
          judge: () => checkExactlyOnceStore(redis.stringSnapshot(), input, 'retrying'),
          output: () => redis.snapshot(),
        };
      },
    });
    const spec = {
      scenario: 'retrying-redis', size: { partitions: 2, recordsPerPartition: 40 }, mode: 'exactly-once' as const, backend: 'memory' as const, bug: undefined,
      // The first calls are checkpoint 1's flushes: two of them fail.
      faults: [{ kind: 'fail-call' as const, atStep: 0, times: 2 }], schedule: { kind: 'seed' as const, seed: 5 },
    };
    const retried = await runCase(scenarioWith(POLICY), spec, { keepTrace: true });
    expect(retried.violations).toEqual([]);
    expect(retried.observations.failovers).toEqual([]);
    expect(retried.trace.filter((entry) => entry.event.startsWith('choice retry pause of redis.')).length).toBe(2);
    const plain = await runCase(scenarioWith(undefined), spec);
    expect(plain.violations).toEqual([]);
    expect(plain.observations.failovers.length).toBeGreaterThan(0);
  });
});
