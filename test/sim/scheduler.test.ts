import { describe, expect, test } from 'vitest';
import { ListChoices, RandomChoices } from '../../src/sim/choice.ts';
import { Scheduler, type SimWorld } from '../../src/sim/scheduler.ts';

/** A world of `counters` independent counters, each enabled until it reaches `limit`. */
function countersWorld(counters: number, limit: number): SimWorld & { values: number[]; order: number[] } {
  const values = new Array<number>(counters).fill(0);
  const order: number[] = [];
  return {
    values,
    order,
    collectEnabled(out) {
      for (let i = 0; i < counters; i++) if (values[i]! < limit) out.add(i);
    },
    execute(code) {
      values[code]!++;
      order.push(code);
    },
    describe: (code) => `counter ${code}`,
  };
}

function scheduler(choices: ListChoices | RandomChoices, maxSteps = 1_000): Scheduler {
  return new Scheduler({ choices, msPerStep: 1, maxSteps, keepTrace: true });
}

describe('Scheduler', () => {
  test('the same seed gives the same trace; another seed a different one', async () => {
    const hashes: string[] = [];
    for (const seed of [7, 7, 8]) {
      const s = scheduler(new RandomChoices(seed));
      s.attach(countersWorld(3, 20));
      expect(await s.run()).toBe('quiescent');
      hashes.push(s.trace.hashHex);
    }
    expect(hashes[0]).toBe(hashes[1]);
    expect(hashes[0]).not.toBe(hashes[2]);
  });

  test('an exhausted choice list means the plain schedule: always the first enabled event', async () => {
    const world = countersWorld(2, 3);
    const s = scheduler(new ListChoices([1]));
    s.attach(world);
    await s.run();
    expect(world.order).toEqual([1, 0, 0, 0, 1, 1]);
  });

  test('stops with budget-exhausted when the world never goes quiet', async () => {
    const s = scheduler(new RandomChoices(1), 50);
    s.attach({ collectEnabled: (out) => out.add(0), execute: () => {}, describe: () => 'spin' });
    expect(await s.run()).toBe('budget-exhausted');
    expect(s.step).toBe(50);
  });

  test('timers fire in due order; idle time jumps to the next timer', async () => {
    const s = scheduler(new RandomChoices(3));
    const fired: string[] = [];
    s.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
    s.setTimer(50, 'b', () => fired.push(`b@${s.nowMs}`));
    s.setTimer(10, 'a', () => fired.push(`a@${s.nowMs}`));
    const cancel = s.setTimer(30, 'cancelled', () => fired.push('cancelled'));
    cancel();
    expect(await s.run()).toBe('quiescent');
    expect(fired).toEqual(['a@11', 'b@51']);
  });

  test('simulated I/O completes as its own step, in order per connection, and continuations run before the next step', async () => {
    const s = scheduler(new ListChoices([1, 1, 1, 1]));
    const log: string[] = [];
    s.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
    void s.io('conn-a', 'a1', () => 'a1').then((v) => log.push(`${v}@${s.step}`));
    void s.io('conn-a', 'a2', () => 'a2').then((v) => log.push(`${v}@${s.step}`));
    void s.io('conn-b', 'b1', () => 'b1').then((v) => log.push(`${v}@${s.step}`));
    await s.run();
    // Choice 1 among [a1, b1] picks b1 first; a2 can never overtake a1 on the same connection.
    expect(log).toEqual(['b1@1', 'a1@2', 'a2@3']);
  });

  test('a failing simulated call rejects its promise', async () => {
    const s = scheduler(new RandomChoices(1));
    s.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
    const outcome = s.io('c', 'boom', () => {
      throw new Error('ERR simulated');
    }).then(() => 'resolved', (error: Error) => error.message);
    await s.run();
    expect(await outcome).toBe('ERR simulated');
  });

  test('a call with latency completes no earlier than latencyMs after it was issued; idle time jumps to it', async () => {
    const s = scheduler(new RandomChoices(2));
    const completedAtMs: Record<string, number> = {};
    s.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
    for (const [name, latencyMs] of [['slow', 50], ['fast', 5], ['none', 0]] as const) {
      void s.io(`conn-${name}`, name, () => name, latencyMs).then(() => (completedAtMs[name] = s.nowMs));
    }
    await s.run();
    expect(completedAtMs['none']).toBeLessThan(5);
    expect(completedAtMs['fast']).toBeGreaterThanOrEqual(5);
    expect(completedAtMs['slow']).toBeGreaterThanOrEqual(50);
    expect(s.step).toBe(3); // waiting is not a step
    expect(() => s.io('c', 'bad', () => 0, -1)).toThrow(/Scheduler.io\(bad\): latencyMs must be >= 0/);
  });

  test('a later call with less latency still waits behind the older call of its connection', async () => {
    const s = scheduler(new RandomChoices(4));
    const order: string[] = [];
    s.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
    void s.io('conn', 'first', () => order.push(`first@${s.nowMs}`), 30);
    void s.io('conn', 'second', () => order.push(`second@${s.nowMs}`), 0);
    expect(await s.run()).toBe('quiescent');
    expect(order.map((entry) => entry.split('@')[0])).toEqual(['first', 'second']);
    expect(Number(order[0]!.split('@')[1])).toBeGreaterThanOrEqual(30);
  });

  test('rejects bad options and bad choices with the name of the call', () => {
    expect(() => new Scheduler({ choices: new RandomChoices(1), msPerStep: 0, maxSteps: 1, keepTrace: false })).toThrow(/msPerStep/);
    expect(() => new RandomChoices(-1)).toThrow(/RandomChoices: seed/);
    expect(() => new ListChoices([1, -2])).toThrow(/ListChoices/);
  });

  test("after a crash, a cancelled task's queued continuation cannot reach a server; the next deployment can", async () => {
    const s = scheduler(new ListChoices([]));
    const applied: string[] = [];
    let zombieAnswered = false;
    s.attach({ collectEnabled: () => {}, execute: () => {}, describe: () => '' });
    // The failed attempt's snapshot: its first call was answered, its follow-up is a microtask away.
    const snapshot = Promise.resolve().then(async () => {
      await s.io('producer-0', 'flush', () => applied.push('zombie flush'));
      zombieAnswered = true;
    });
    s.settleAllIo('apply'); // the crash: the task is cancelled before its continuation runs
    await s.run();
    expect(applied).toEqual([]);
    expect(zombieAnswered).toBe(false);
    expect(s.trace.entries.map((entry) => entry.event)).toContain('io flush refused: its requester was cancelled');
    s.acceptIo(); // the next deployment
    const begun = s.io('producer-0', 'begin', () => applied.push('new attempt'));
    await s.run();
    await begun;
    expect(applied).toEqual(['new attempt']);
    void snapshot;
  });
});
