import { describe, expect, it } from 'vitest';
import { InternalTimerService, type TimerSnapshot } from '../../src/runtime/timer-service.ts';

function drain(timers: InternalTimerService, limitMs: number): string[] {
  const fired: string[] = [];
  for (let timer = timers.pollDue('event-time', limitMs); timer !== undefined; timer = timers.pollDue('event-time', limitMs)) {
    fired.push(`${timer.timestampMs}:${timer.key}`);
  }
  return fired;
}

describe('InternalTimerService', () => {
  it('fires due timers in timestamp order, then key order, each (key, timestamp) once', () => {
    const timers = new InternalTimerService('op');
    timers.register('event-time', 'b', 10);
    timers.register('event-time', 'a', 10);
    timers.register('event-time', 'a', 10);
    timers.register('event-time', 3, 5);
    timers.register('event-time', 'c', 20);
    expect(timers.count('event-time')).toBe(4);
    expect(drain(timers, 10)).toEqual(['5:3', '10:a', '10:b']);
    expect(timers.nextTimestamp('event-time')).toBe(20);
    expect(drain(timers, 19)).toEqual([]);
  });

  it('tells the number key 1 from the string key "1" (one timer each), and deleting one leaves the other', () => {
    const timers = new InternalTimerService('op');
    timers.register('event-time', 1, 10);
    timers.register('event-time', '1', 10);
    expect(timers.count('event-time')).toBe(2);
    timers.delete('event-time', '1', 10);
    expect(timers.count('event-time')).toBe(1);
    timers.register('event-time', '1', 10);
    expect(drain(timers, 10)).toEqual(['10:1', '10:1']);
    expect(timers.count('event-time')).toBe(0);
  });

  it('deletes timers, and a timer deleted and registered again fires once', () => {
    const timers = new InternalTimerService('op');
    timers.register('event-time', 'a', 1);
    timers.delete('event-time', 'a', 1);
    expect(drain(timers, 100)).toEqual([]);
    timers.register('event-time', 'a', 2);
    timers.delete('event-time', 'a', 2);
    timers.register('event-time', 'a', 2);
    const snapshot: TimerSnapshot[] = [];
    timers.snapshotInto(snapshot);
    expect(snapshot).toEqual([{ operator: 'op', key: 'a', timestampMs: 2, domain: 'event-time' }]);
    expect(drain(timers, 100)).toEqual(['2:a']);
  });

  it('keeps domains apart, tells the host about new processing timers, and restores its own timers', () => {
    const added: number[] = [];
    const timers = new InternalTimerService('op', (ms) => added.push(ms));
    timers.register('processing-time', 'a', 50);
    timers.register('processing-time', 'a', 50);
    timers.register('event-time', 'a', 50);
    expect(added).toEqual([50]);
    const snapshot: TimerSnapshot[] = [{ operator: 'other', key: 'x', timestampMs: 1, domain: 'event-time' }];
    timers.snapshotInto(snapshot);
    const restored = new InternalTimerService('op');
    restored.restore(snapshot);
    expect(restored.count('event-time')).toBe(1);
    expect(restored.count('processing-time')).toBe(1);
    expect(restored.pollDue('processing-time', 49)).toBeUndefined();
    expect(restored.pollDue('processing-time', 50)).toEqual({ key: 'a', timestampMs: 50 });
    expect(() => restored.register('event-time', 'a', 1.5)).toThrow(/integer/);
  });
});
