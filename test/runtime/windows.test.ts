import { describe, expect, it } from 'vitest';
import { outputTag } from '../../src/runtime/functions.ts';
import { KeyedOperatorTestHarness } from '../../src/runtime/operator-test-harness.ts';
import {
  eventTimeSessionWindows,
  processingTimeSessionWindows,
  slidingEventTimeWindows,
  tumblingEventTimeWindows,
  tumblingProcessingTimeWindows,
  windowed,
  type WindowAssigner,
  type WindowResult,
} from '../../src/runtime/windows.ts';

interface Reading {
  readonly sensor: string;
  readonly value: number;
}

const LATE = outputTag<Reading>('late-readings');

const COUNT = {
  createAccumulator: () => 0,
  add: (_reading: Reading, count: number) => count + 1,
  getResult: (count: number) => count,
  merge: (a: number, b: number) => a + b,
};

function countHarness(assigner: WindowAssigner, extra: { allowedLatenessMs?: number; late?: boolean } = {}, restoreFrom?: ReturnType<KeyedOperatorTestHarness<Reading, WindowResult<number>>['snapshot']>) {
  const create = windowed<Reading, number, number>({
    assigner,
    aggregate: COUNT,
    ...(extra.allowedLatenessMs === undefined ? {} : { allowedLatenessMs: extra.allowedLatenessMs }),
    ...(extra.late === false || assigner.timeDomain === 'processing-time' ? {} : { lateDataTag: LATE }),
  });
  return new KeyedOperatorTestHarness<Reading, WindowResult<number>>(create, (reading) => reading.sensor, restoreFrom === undefined ? {} : { restoreFrom });
}

const a = (value: number): Reading => ({ sensor: 'a', value });
const b = (value: number): Reading => ({ sensor: 'b', value });

function fired(harness: KeyedOperatorTestHarness<Reading, WindowResult<number>>): string[] {
  return harness.output().map(({ value, timestampMs }) => `${String(value.key)}[${value.window.startMs},${value.window.endMs})=${value.result}@${timestampMs}`);
}

describe('window assigners', () => {
  it('tumbling windows are aligned to 0, negative timestamps included', () => {
    const assigner = tumblingEventTimeWindows(10);
    expect(assigner.assignWindows(0)).toEqual([{ startMs: 0, endMs: 10 }]);
    expect(assigner.assignWindows(9)).toEqual([{ startMs: 0, endMs: 10 }]);
    expect(assigner.assignWindows(10)).toEqual([{ startMs: 10, endMs: 20 }]);
    expect(assigner.assignWindows(-1)).toEqual([{ startMs: -10, endMs: 0 }]);
  });

  it('sliding windows: each timestamp is in size/slide windows, in start order', () => {
    expect(slidingEventTimeWindows(10, 5).assignWindows(12)).toEqual([
      { startMs: 5, endMs: 15 },
      { startMs: 10, endMs: 20 },
    ]);
    expect(slidingEventTimeWindows(9, 3).assignWindows(3)).toHaveLength(3);
  });

  it('refuses sizes that are not positive integers and slides longer than the size, naming the call', () => {
    expect(() => tumblingEventTimeWindows(0)).toThrow(/tumblingEventTimeWindows: sizeMs must be a positive integer/);
    expect(() => slidingEventTimeWindows(10, 11)).toThrow(/slidingEventTimeWindows: slideMs \(11\) must not exceed sizeMs/);
    expect(() => eventTimeSessionWindows(1.5)).toThrow(/eventTimeSessionWindows: gapMs/);
  });

  it('refuses a session window without merge, and lateness on processing time', () => {
    const { merge: _merge, ...withoutMerge } = COUNT;
    expect(() => windowed({ assigner: eventTimeSessionWindows(5), aggregate: withoutMerge })).toThrow(/needs a merge\(a, b\) function/);
    expect(() => windowed({ assigner: tumblingProcessingTimeWindows(5), aggregate: COUNT, allowedLatenessMs: 3 })).toThrow(/apply to event time only/);
  });
});

describe('event-time windows (operator test harness)', () => {
  it('a tumbling window fires once when the watermark reaches its last timestamp, per key, at that timestamp', () => {
    const harness = countHarness(tumblingEventTimeWindows(10));
    harness.processElement(a(1), 3);
    harness.processElement(b(1), 5);
    harness.processElement(a(2), 12);
    harness.processElement(a(3), 8); // out of order, still on time
    harness.processWatermark(8);
    expect(fired(harness)).toEqual([]);
    harness.processWatermark(9);
    expect(fired(harness)).toEqual(['a[0,10)=2@9', 'b[0,10)=1@9']);
    harness.processWatermark(100);
    expect(fired(harness)).toEqual(['a[0,10)=2@9', 'b[0,10)=1@9', 'a[10,20)=1@19']);
    expect(harness.numKeysInState()).toBe(0);
    expect(harness.numEventTimeTimers()).toBe(0);
  });

  it('a record whose window is past the watermark goes to the late-data side output, and nothing fires again', () => {
    const harness = countHarness(tumblingEventTimeWindows(10));
    harness.processElement(a(1), 3);
    harness.processWatermark(15);
    harness.processElement(a(2), 9);
    harness.processWatermark(30);
    expect(fired(harness)).toEqual(['a[0,10)=1@9']);
    expect(harness.sideOutput(LATE).map((r) => [r.value.value, r.timestampMs])).toEqual([[2, 9]]);
  });

  it('allowed lateness: a late record within it fires the window again with the update; beyond it, side output', () => {
    const harness = countHarness(tumblingEventTimeWindows(10), { allowedLatenessMs: 5 });
    harness.processElement(a(1), 3);
    harness.processWatermark(9);
    harness.processElement(a(2), 4); // watermark 9 < 9 + 5: the window is still kept
    harness.processWatermark(14);
    harness.processElement(a(3), 5); // 9 + 5 <= 14: cleaned up, late
    expect(fired(harness)).toEqual(['a[0,10)=1@9', 'a[0,10)=2@9']);
    expect(harness.sideOutput(LATE).map((r) => r.value.value)).toEqual([3]);
    expect(harness.numKeysInState()).toBe(0);
  });

  it('sliding windows count a record in every window it belongs to', () => {
    const harness = countHarness(slidingEventTimeWindows(10, 5));
    harness.processElement(a(1), 7);
    harness.processWatermark(100);
    expect(fired(harness)).toEqual(['a[0,10)=1@9', 'a[5,15)=1@14']);
  });

  it('session windows merge when a record bridges them, and fire once for the merged window', () => {
    const harness = countHarness(eventTimeSessionWindows(5));
    harness.processElement(a(1), 0); // [0, 5)
    harness.processElement(a(2), 10); // [10, 15)
    expect(harness.numEventTimeTimers()).toBe(2);
    harness.processElement(a(3), 5); // [5, 10) touches both: [0, 15)
    expect(harness.numEventTimeTimers()).toBe(1);
    harness.processElement(b(1), 6);
    harness.processWatermark(100);
    expect(fired(harness)).toEqual(['b[6,11)=1@10', 'a[0,15)=3@14']);
  });

  it('a record without an event timestamp is an error that says how to give it one', () => {
    const harness = countHarness(tumblingEventTimeWindows(10));
    expect(() => harness.processElement(a(1))).toThrow(/without an event timestamp; give its source a WatermarkStrategy/);
  });

  it('windows and their timers survive a snapshot and restore: the window fires once, after the restore', () => {
    const before = countHarness(tumblingEventTimeWindows(10));
    before.processElement(a(1), 3);
    before.processElement(a(2), 4);
    before.processWatermark(5);
    const snapshot = before.snapshot();
    // The crash: what `before` would have fired is lost with it.
    const after = countHarness(tumblingEventTimeWindows(10), {}, snapshot);
    expect(after.numEventTimeTimers()).toBe(1);
    after.processElement(a(3), 6);
    after.processWatermark(9);
    expect(fired(after)).toEqual(['a[0,10)=3@9']);
    after.processWatermark(50);
    expect(fired(after)).toEqual(['a[0,10)=3@9']);
  });

  it('without its timers in the snapshot a restored window never fires (what the timers-left-out bug does)', () => {
    const before = countHarness(tumblingEventTimeWindows(10));
    before.processElement(a(1), 3);
    const { keyedState } = before.snapshot();
    const after = countHarness(tumblingEventTimeWindows(10), {}, { keyedState, timers: [] });
    after.processWatermark(50);
    expect(fired(after)).toEqual([]);
  });
});

describe('processing-time windows (operator test harness)', () => {
  it('a record belongs to the window of the clock when it arrives, whatever its event timestamp', () => {
    const harness = countHarness(tumblingProcessingTimeWindows(10));
    harness.setProcessingTime(2);
    harness.processElement(a(1), 500);
    harness.setProcessingTime(11);
    harness.processElement(a(2), 1);
    harness.setProcessingTime(25);
    expect(fired(harness)).toEqual(['a[0,10)=1@9', 'a[10,20)=1@19']);
  });

  it('the same records counted at other arrival times give other windows (the negative control in small)', () => {
    const early = countHarness(tumblingProcessingTimeWindows(10));
    const late = countHarness(tumblingProcessingTimeWindows(10));
    for (const [harness, secondArrivalMs] of [[early, 5], [late, 15]] as const) {
      harness.setProcessingTime(1);
      harness.processElement(a(1));
      harness.setProcessingTime(secondArrivalMs);
      harness.processElement(a(2));
      harness.setProcessingTime(40);
    }
    expect(fired(early)).toEqual(['a[0,10)=2@9']);
    expect(fired(late)).toEqual(['a[0,10)=1@9', 'a[10,20)=1@19']);
  });

  it('processing-time session windows merge on arrival time', () => {
    const harness = countHarness(processingTimeSessionWindows(5));
    harness.setProcessingTime(0);
    harness.processElement(a(1));
    harness.setProcessingTime(3);
    harness.processElement(a(2));
    harness.setProcessingTime(20);
    expect(fired(harness)).toEqual(['a[0,8)=2@7']);
  });
});

describe('the README example (Event time and watermarks: checking your own window function)', () => {
  it('runs as written, through the package barrel', async () => {
    const api = await import('../../src/index.ts');
    interface SensorReading {
      readonly sensor: string;
    }
    const late = api.outputTag<SensorReading>('late');
    const counts = api.windowed({
      assigner: api.tumblingEventTimeWindows(100),
      lateDataTag: late,
      aggregate: { createAccumulator: () => 0, add: (_r: SensorReading, n: number) => n + 1, getResult: (n: number) => n },
    });
    const harness = new api.KeyedOperatorTestHarness(counts, (r: SensorReading) => r.sensor);
    harness.processElement({ sensor: 'a' }, 30);
    const restored = new api.KeyedOperatorTestHarness(counts, (r: SensorReading) => r.sensor, { restoreFrom: harness.snapshot() });
    restored.processWatermark(99);
    restored.processElement({ sensor: 'a' }, 42);
    expect(restored.outputValues()).toEqual([{ key: 'a', window: { startMs: 0, endMs: 100 }, result: 1 }]);
    expect(restored.sideOutput(late).map((r) => r.value)).toEqual([{ sensor: 'a' }]);
  });
});
