import { describe, expect, it } from 'vitest';
import type { KeyedCoProcessFunction, KeyedProcessFunction, ValueState } from '../../src/runtime/functions.ts';
import { outputTag } from '../../src/runtime/functions.ts';
import { KeyedCoOperatorTestHarness, KeyedOperatorTestHarness } from '../../src/runtime/operator-test-harness.ts';

interface Click {
  readonly user: string;
}

const late = outputTag<Click>('late');

/** Counts clicks per user in 10 ms tumbling event-time windows; late clicks go to a side output. */
function tumblingCount(): KeyedProcessFunction<Click, string> {
  let counts: import('../../src/runtime/functions.ts').MapState<number, number>;
  return {
    open(context) {
      counts = context.getMapState<number, number>('counts');
    },
    processElement(_click, ctx) {
      const ts = ctx.timestamp!;
      const end = Math.floor(ts / 10) * 10 + 10;
      if (end - 1 <= ctx.timerService().currentWatermark()) {
        ctx.output(late, _click);
        return;
      }
      counts.put(end, (counts.get(end) ?? 0) + 1);
      ctx.timerService().registerEventTimeTimer(end - 1);
    },
    onTimer(timestampMs, ctx, out) {
      const end = timestampMs + 1;
      out.collect(`${String(ctx.getCurrentKey())}@${end}=${counts.get(end)}`);
      counts.remove(end);
    },
  };
}

describe('KeyedOperatorTestHarness', () => {
  it('fires event-time timers on watermarks, stamps output with the timer time and routes late data', () => {
    const harness = new KeyedOperatorTestHarness(tumblingCount, (c: Click) => c.user);
    harness.processElement({ user: 'b' }, 3);
    harness.processElement({ user: 'a' }, 4);
    harness.processElement({ user: 'a' }, 12);
    expect(harness.numEventTimeTimers()).toBe(3);
    harness.processWatermark(9);
    expect(harness.output()).toEqual([
      { value: 'a@10=1', timestampMs: 9 },
      { value: 'b@10=1', timestampMs: 9 },
    ]);
    harness.processElement({ user: 'c' }, 5);
    expect(harness.sideOutput(late)).toEqual([{ value: { user: 'c' }, timestampMs: 5 }]);
    expect(() => harness.processWatermark(8)).toThrow(/never goes back/);
  });

  it('restores keyed state and timers into a fresh harness, whose watermark starts over', () => {
    const harness = new KeyedOperatorTestHarness(tumblingCount, (c: Click) => c.user);
    harness.processElement({ user: 'a' }, 1);
    harness.processElement({ user: 'a' }, 2);
    const snapshot = harness.snapshot();
    harness.processElement({ user: 'a' }, 3); // after the snapshot: lost by the restore
    const restored = new KeyedOperatorTestHarness(tumblingCount, (c: Click) => c.user, { restoreFrom: snapshot });
    expect(restored.currentWatermark()).toBe(Number.MIN_SAFE_INTEGER);
    expect(restored.numKeysInState()).toBe(1);
    restored.processWatermark(100);
    expect(restored.outputValues()).toEqual(['a@10=2']);
    expect(restored.numKeysInState()).toBe(0);
    harness.processWatermark(100);
    expect(harness.outputValues()).toEqual(['a@10=3']);
  });

  it('fires processing-time timers when processing time moves, with no output timestamp', () => {
    const harness = new KeyedOperatorTestHarness<string, string>(
      () => {
        let seen: ValueState<number>;
        return {
          open: (context) => {
            seen = context.getState<number>('seen');
          },
          processElement(_value, ctx) {
            seen.update((seen.value() ?? 0) + 1);
            ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + 5);
          },
          onTimer(timestampMs, ctx, out) {
            expect(ctx.timeDomain).toBe('processing-time');
            out.collect(`${String(ctx.getCurrentKey())}:${seen.value()}@${timestampMs}`);
          },
        };
      },
      (value) => value,
      { processingTimeMs: 100 },
    );
    harness.processElement('x', 1);
    harness.processElement('x', 2);
    harness.setProcessingTime(104);
    expect(harness.output()).toEqual([]);
    harness.setProcessingTime(105);
    expect(harness.output()).toEqual([{ value: 'x:2@105', timestampMs: undefined }]);
    expect(() => harness.setProcessingTime(1)).toThrow(/never goes back/);
  });

  it('waits on a function that returns a promise, and refuses a call meanwhile', async () => {
    const harness = new KeyedOperatorTestHarness<number, number>(
      () => ({
        async processElement(value, ctx, out) {
          await Promise.resolve();
          ctx.timerService().registerEventTimeTimer(value);
          out.collect(value * 2);
        },
        async onTimer(timestampMs, _ctx, out) {
          await Promise.resolve();
          out.collect(-timestampMs);
        },
      }),
      (value) => value % 2,
    );
    const pending = harness.processElement(3, 3);
    expect(() => harness.processElement(4, 4)).toThrow(/still waiting/);
    await pending;
    await harness.processElement(2, 2);
    await harness.processWatermark(10);
    expect(harness.outputValues()).toEqual([6, 4, -2, -3]);
  });
});

describe('KeyedCoOperatorTestHarness', () => {
  it('routes input 1 and 2 to processElement1/2 under the same key', () => {
    const harness = new KeyedCoOperatorTestHarness<{ id: number; item: string }, { id: number; paid: number }, string>(
      (): KeyedCoProcessFunction<{ id: number; item: string }, { id: number; paid: number }, string> => {
        let order: ValueState<string>;
        return {
          open: (context) => {
            order = context.getState<string>('order');
          },
          processElement1: (value) => order.update(value.item),
          processElement2: (value, ctx, out) => out.collect(`${String(ctx.getCurrentKey())}:${order.value() ?? '?'}:${value.paid}`),
        };
      },
      (o) => o.id,
      (p) => p.id,
    );
    harness.processElement1({ id: 1, item: 'book' }, 10);
    harness.processElement2({ id: 1, paid: 12 }, 11);
    harness.processElement2({ id: 2, paid: 5 }, 12);
    expect(harness.output()).toEqual([
      { value: '1:book:12', timestampMs: 11 },
      { value: '2:?:5', timestampMs: 12 },
    ]);
  });
});
