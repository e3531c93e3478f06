import { describe, expect, test } from 'vitest';
import { SimEnvironment, type SimServiceOptions } from '../../../src/connectors/sim/environment.ts';
import { ListChoices, RandomChoices, type ChoiceSource } from '../../../src/sim/choice.ts';
import { Scheduler, SimulatedIoError, type SimWorld } from '../../../src/sim/scheduler.ts';

/** A user's model of an external system: named counters with a server-side error. */
class Counters {
  readonly values = new Map<string, number>();
  /** Every applied call, in the order the server applied it. */
  readonly applied: string[] = [];

  add(key: string, amount: number): number {
    if (!Number.isSafeInteger(amount)) throw new Error(`ERR amount must be an integer, got ${amount}`);
    const next = (this.values.get(key) ?? 0) + amount;
    this.values.set(key, next);
    this.applied.push(`${key}+${amount}`);
    return next;
  }

  read(key: string): number {
    return this.values.get(key) ?? 0;
  }
}

/** A world with nothing of its own: only the environment's calls are steps. */
const noWorld: SimWorld = { collectEnabled: () => {}, execute: () => {}, describe: () => '' };

function setup(choices: ChoiceSource = new ListChoices([]), options: SimServiceOptions = {}) {
  const scheduler = new Scheduler({ choices, msPerStep: 1, maxSteps: 10_000, keepTrace: true });
  scheduler.attach(noWorld);
  const environment = new SimEnvironment(scheduler);
  const counters = environment.service('counters', new Counters(), options);
  return { scheduler, environment, counters };
}

type Outcome = { value: number } | { code: string };

function outcomeOf(call: Promise<number>): Promise<Outcome> {
  return call.then(
    (value) => ({ value }),
    (error: unknown) => ({ code: error instanceof SimulatedIoError ? error.code : `not a SimulatedIoError: ${String(error)}` }),
  );
}

describe('SimEnvironment', () => {
  test('each client call is one scheduler step, labelled service.method(args), resolving to the model reply', async () => {
    const { scheduler, counters } = setup();
    const client = counters.connect('c0');
    const replies = Promise.all([client.add('a', 2), client.add('a', 3), client.read('a')]);
    expect(scheduler.pendingIoCount).toBe(3);
    expect(counters.state.values.size).toBe(0); // nothing applied before the scheduler says so
    await scheduler.run();
    expect(await replies).toEqual([2, 5, 5]);
    expect(scheduler.step).toBe(3);
    expect(scheduler.trace.entries.map((e) => e.event)).toEqual(['io counters.add(a, 2) done', 'io counters.add(a, 3) done', 'io counters.read(a) done']);
  });

  test('calls complete in issue order per connection, interleaved across connections', async () => {
    const interleavings = new Set<string>();
    for (let seed = 0; seed < 20; seed++) {
      const { scheduler, counters } = setup(new RandomChoices(seed));
      const left = counters.connect('left');
      const right = counters.connect('right');
      for (let i = 0; i < 4; i++) {
        void left.add(`L${i}`, 1);
        void right.add(`R${i}`, 1);
      }
      await scheduler.run();
      const applied = counters.state.applied;
      expect(applied.filter((a) => a.startsWith('L'))).toEqual(['L0+1', 'L1+1', 'L2+1', 'L3+1']);
      expect(applied.filter((a) => a.startsWith('R'))).toEqual(['R0+1', 'R1+1', 'R2+1', 'R3+1']);
      interleavings.add(applied.join(' '));
    }
    expect(interleavings.size).toBeGreaterThan(1);
  });

  test('a model method that throws fails the call with its error (a server-side error)', async () => {
    const { scheduler, counters } = setup();
    const call = counters.connect('c0').add('a', 1.5);
    const rejected = expect(call).rejects.toThrow('ERR amount must be an integer, got 1.5');
    await scheduler.run();
    await rejected;
    expect(counters.state.values.size).toBe(0);
  });

  test('fail-call: the next k calls fail with ECONNRESET and are not applied; later ones go through', async () => {
    const { scheduler, environment, counters } = setup();
    const client = counters.connect('c0');
    environment.faultHooks.failNextCalls(2);
    const outcomes = Promise.all([outcomeOf(client.add('a', 1)), outcomeOf(client.add('a', 10)), outcomeOf(client.add('a', 100))]);
    await scheduler.run();
    expect(await outcomes).toEqual([{ code: 'ECONNRESET' }, { code: 'ECONNRESET' }, { value: 100 }]);
    expect(counters.state.applied).toEqual(['a+100']);
  });

  test('timeout-call: the call times out with ETIMEDOUT, not applied', async () => {
    const { scheduler, environment, counters } = setup();
    environment.faultHooks.timeOutNextCalls(1);
    const outcomes = Promise.all([outcomeOf(counters.connect('c0').add('a', 1)), outcomeOf(counters.connect('c1').add('b', 1))]);
    await scheduler.run();
    expect(await outcomes).toEqual([{ code: 'ETIMEDOUT' }, { value: 1 }]);
    expect(counters.state.applied).toEqual(['b+1']);
  });

  test('lose-reply: applied on the server, the client sees ETIMEDOUT; another client sees the effect', async () => {
    const { scheduler, environment, counters } = setup();
    environment.faultHooks.loseNextReplies(1);
    const writer = outcomeOf(counters.connect('writer').add('a', 7));
    await scheduler.run();
    expect(await writer).toEqual({ code: 'ETIMEDOUT' });
    expect(counters.state.values.get('a')).toBe(7);
    // The ambiguous outcome: a retry after the timeout applies the increment twice.
    const retry = counters.connect('writer').add('a', 7);
    await scheduler.run();
    expect(await retry).toBe(14);
  });

  test('lose-reply on a call whose server-side error is lost too: the client sees the timeout alone', async () => {
    const { scheduler, environment, counters } = setup();
    environment.faultHooks.loseNextReplies(1);
    const call = outcomeOf(counters.connect('c0').add('a', 0.5));
    await scheduler.run();
    expect(await call).toEqual({ code: 'ETIMEDOUT' });
  });

  test('cut-connections: calls in flight fail with ECONNRESET unapplied; calls issued afterwards succeed', async () => {
    const { scheduler, environment, counters } = setup();
    const client = counters.connect('c0');
    const inFlight = Promise.all([outcomeOf(client.add('a', 1)), outcomeOf(counters.connect('c1').add('b', 1))]);
    environment.faultHooks.cutConnections();
    const after = outcomeOf(client.add('a', 5));
    await scheduler.run();
    expect(await inFlight).toEqual([{ code: 'ECONNRESET' }, { code: 'ECONNRESET' }]);
    expect(await after).toEqual({ value: 5 });
    expect(counters.state.applied).toEqual(['a+5']);
  });

  test('faults apply to every service of the environment, in call order', async () => {
    const { scheduler, environment, counters } = setup();
    const other = environment.service('other', new Counters());
    environment.faultHooks.failNextCalls(1);
    environment.faultHooks.loseNextReplies(1);
    const outcomes = Promise.all([outcomeOf(other.connect('x').add('o', 1)), outcomeOf(counters.connect('y').add('c', 1)), outcomeOf(counters.connect('y').add('c', 1))]);
    await scheduler.run();
    expect(await outcomes).toEqual([{ code: 'ECONNRESET' }, { code: 'ETIMEDOUT' }, { value: 2 }]);
    expect(other.state.applied).toEqual([]);
  });

  test('latency: a call completes no earlier than latencyMs after it was issued; a lost reply arrives after timeoutMs', async () => {
    const { scheduler, environment, counters } = setup(new ListChoices([]), { latencyMs: 20, timeoutMs: 100 });
    const client = counters.connect('c0');
    const appliedAtMs: number[] = [];
    const model = counters.state;
    const original = model.add.bind(model);
    model.add = (key, amount) => {
      appliedAtMs.push(environment.nowMs);
      return original(key, amount);
    };
    const first = client.add('a', 1).then(() => environment.nowMs);
    environment.faultHooks.loseNextReplies(1);
    const lost = client.add('a', 1).then(
      () => -1,
      () => environment.nowMs,
    );
    await scheduler.run();
    // Both calls were issued at 0 ms: applied once 20 ms have passed, the lost one's timeout reported at >= 100 ms.
    expect(appliedAtMs).toHaveLength(2);
    for (const atMs of appliedAtMs) expect(atMs).toBeGreaterThanOrEqual(20);
    expect(await first).toBeGreaterThanOrEqual(20);
    expect(await lost).toBeGreaterThanOrEqual(100);
  });

  test('the same choices give the same trace and outcomes; calls, faults and all', async () => {
    async function run(seed: number): Promise<{ hash: string; outcomes: Outcome[]; values: [string, number][] }> {
      const { scheduler, environment, counters } = setup(new RandomChoices(seed), { latencyMs: 3, timeoutMs: 10 });
      const calls: Promise<Outcome>[] = [];
      for (let i = 0; i < 6; i++) calls.push(outcomeOf(counters.connect(`c${i % 3}`).add(`k${i % 2}`, i)));
      environment.faultHooks.loseNextReplies(1);
      environment.faultHooks.failNextCalls(1);
      for (let i = 0; i < 6; i++) calls.push(outcomeOf(counters.connect(`c${i % 3}`).add(`k${i % 2}`, 10 + i)));
      await scheduler.run();
      return { hash: scheduler.trace.hashHex, outcomes: await Promise.all(calls), values: [...counters.state.values] };
    }
    const first = await run(5);
    expect(await run(5)).toEqual(first);
    const hashes = new Set<string>();
    for (let seed = 0; seed < 8; seed++) hashes.add((await run(seed)).hash);
    expect(hashes.size).toBeGreaterThan(1);
  });

  test('bad setup is a clear error naming the cause', () => {
    const { environment } = setup();
    expect(() => environment.service('counters', new Counters())).toThrow(/name must be non-empty and unique, got 'counters'/);
    expect(() => environment.service('slow', new Counters(), { latencyMs: 10, timeoutMs: 5 })).toThrow(/timeoutMs must be >= latencyMs \(10\), got 5/);
    expect(() => environment.service('empty', {})).toThrow(/the model has no methods/);
    expect(() => environment.faultHooks.failNextCalls(0)).toThrow(/times must be a positive integer, got 0/);
  });
});
