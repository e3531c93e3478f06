import { describe, expect, it } from 'vitest';
import type { CheckpointingMode } from '../../src/runtime/barrier-handler.ts';
import type { Fault } from '../../src/runtime/faults.ts';
import { MAX_WATERMARK } from '../../src/runtime/functions.ts';
import {
  expectedStatuses,
  expectedUnionSums,
  KeyedStore,
  paymentJob,
  runGraph,
  runtimeViolations,
  taskIndex,
  twoSpeedWindows,
  unionSum,
  type OrderStatus,
  type Payment,
  type Reading,
  type WindowCount,
} from './event-time-jobs.ts';

const ORDERS = 40;

describe('job graphs in the runtime', () => {
  it('a union of two sources feeds one forward vertex with two inputs; the keyed sums are exact', async () => {
    const store = new KeyedStore<{ key: string | number; value: number }>((r) => r.key);
    const run = await runGraph(() => unionSum(store, 30));
    expect(runtimeViolations(run)).toEqual([]);
    expect(run.observations.outcome).toBe('finished');
    expect(run.observations.taskNames).toEqual(['left[0]', 'left[1]', 'right[0]', 'right[1]', 'tag[0]', 'tag[1]', 'sum>store[0]', 'sum>store[1]']);
    expect(run.observations.taskInputCounts).toEqual([0, 0, 0, 0, 2, 2, 2, 2]);
    expect(run.observations.taskVertices[6]).toEqual({ vertex: 'sum>store', operators: ['sum', 'store'] });
    expect(store.sorted()).toEqual(expectedUnionSums(30));
  });

  it('connect + co-process: keyed state and event-time timers decide each order, late payments go to the side output', async () => {
    const statuses = new KeyedStore<OrderStatus>((s) => s.id);
    const late = new KeyedStore<Payment>((p) => p.id);
    const run = await runGraph((clock) => paymentJob(clock, ORDERS, statuses, late));
    expect(runtimeViolations(run)).toEqual([]);
    const expected = expectedStatuses(ORDERS);
    expect(statuses.sorted()).toEqual(expected.statuses);
    expect(statuses.writes).toHaveLength(ORDERS); // fault-free: each order decided once
    expect(late.sorted().map((p) => p.id)).toEqual(expected.late);
    expect(run.observations.sideOutputRecords).toEqual({ 'late-payments': expected.late.length });
    const check = taskIndex(run.observations, 'check');
    expect(run.observations.taskInputCounts[check]).toBe(4); // 2 order + 2 payment channels
    const firings = run.observations.timerFirings.filter((f) => f.task === check);
    expect(firings.length).toBeGreaterThan(0);
    expect(firings.every((f) => f.domain === 'event-time' && f.operator === 'check')).toBe(true);
  });

  for (const mode of ['exactly-once', 'unaligned', 'at-least-once'] as CheckpointingMode[]) {
    it(`${mode}: the two-input job under crashes keeps the runtime invariants${mode === 'at-least-once' ? '' : ' and its exact result'}`, { timeout: 60_000 }, async () => {
      for (let seed = 1; seed <= 6; seed++) {
        const statuses = new KeyedStore<OrderStatus>((s) => s.id);
        const late = new KeyedStore<Payment>((p) => p.id);
        const faults: Fault[] = [
          { kind: 'crash-task', atStep: 40 + seed * 13, task: seed % 10 },
          { kind: 'crash-job', atStep: 200 + seed * 17 },
        ];
        const run = await runGraph((clock) => paymentJob(clock, ORDERS, statuses, late), { mode, backend: 'fs', checkpointIntervalMs: 20 }, faults, seed);
        expect(run.observations.failovers.length).toBeGreaterThan(0);
        expect(runtimeViolations(run)).toEqual([]);
        expect(run.observations.outcome).toBe('finished');
        if (mode !== 'at-least-once') expect(statuses.sorted()).toEqual(expectedStatuses(ORDERS).statuses);
      }
    });
  }
});

/** Fast readings every ms with ts = arrival; slow ones as given. */
function fastReadings(count: number): Array<{ ts: number; arrivalMs: number }> {
  return Array.from({ length: count }, (_, i) => ({ ts: i, arrivalMs: i }));
}

describe('watermarks in the runtime', () => {
  it('a task watermark is the minimum over its inputs, never goes back, and ends at MAX_WATERMARK', async () => {
    const windows = new KeyedStore<WindowCount>((w) => w.end);
    const late = new KeyedStore<Reading>((r) => `${r.source}@${r.ts}`);
    const slow = Array.from({ length: 25 }, (_, i) => ({ ts: i * 4, arrivalMs: i * 4 }));
    const run = await runGraph((clock) => twoSpeedWindows(clock, fastReadings(100), slow, windows, late, undefined));
    expect(runtimeViolations(run)).toEqual([]);
    const o = run.observations;
    const [fast, slowTask, windowTask] = [taskIndex(o, 'fast'), taskIndex(o, 'slow'), taskIndex(o, 'windows')];
    let lastFast = Number.MIN_SAFE_INTEGER;
    let lastSlow = Number.MIN_SAFE_INTEGER;
    let lastWindow = Number.MIN_SAFE_INTEGER;
    for (const w of o.watermarks) {
      if (w.task === fast) lastFast = w.watermarkMs;
      if (w.task === slowTask) lastSlow = w.watermarkMs;
      if (w.task !== windowTask) continue;
      expect(w.watermarkMs).toBeGreaterThanOrEqual(lastWindow);
      expect(w.watermarkMs).toBeLessThanOrEqual(Math.min(lastFast, lastSlow));
      lastWindow = w.watermarkMs;
    }
    expect(lastWindow).toBe(MAX_WATERMARK);
    expect(late.values.size).toBe(0);
    // Every reading counted once, in its window.
    expect(windows.sorted().reduce((sum, w) => sum + w.count, 0)).toBe(125);
  });

  it('planted bug watermarkAsMaxOfInputs: the slow input turns late', async () => {
    const slow = Array.from({ length: 25 }, (_, i) => ({ ts: i * 4, arrivalMs: i * 16 }));
    const lateCounts: number[] = [];
    for (const watermarkAsMaxOfInputs of [false, true]) {
      const windows = new KeyedStore<WindowCount>((w) => w.end);
      const late = new KeyedStore<Reading>((r) => `${r.source}@${r.ts}`);
      const run = await runGraph((clock) => twoSpeedWindows(clock, fastReadings(100), slow, windows, late, undefined), { watermarkAsMaxOfInputs });
      expect(run.observations.outcome).toBe('finished');
      lateCounts.push(run.observations.sideOutputRecords['late'] ?? 0);
    }
    expect(lateCounts[0]).toBe(0);
    expect(lateCounts[1]).toBeGreaterThan(5);
  });

  it('an idle source does not hold back the windows; planted bug sourceNeverIdles stalls them until its data arrives', async () => {
    // The slow source sends readings 0..9 at once, then nothing until 400 ms.
    const slow = [...Array.from({ length: 10 }, (_, i) => ({ ts: i, arrivalMs: i })), { ts: 150, arrivalMs: 400 }];
    const firingAtMsOf19: number[] = [];
    for (const sourceNeverIdles of [false, true]) {
      const windows = new KeyedStore<WindowCount>((w) => w.end);
      const late = new KeyedStore<Reading>((r) => `${r.source}@${r.ts}`);
      const run = await runGraph((clock) => twoSpeedWindows(clock, fastReadings(100), slow, windows, late, 30), { sourceNeverIdles });
      expect(runtimeViolations(run)).toEqual([]);
      const o = run.observations;
      const slowTask = taskIndex(o, 'slow');
      expect(o.watermarks.some((w) => w.task === slowTask && w.idle)).toBe(!sourceNeverIdles);
      const firing = o.timerFirings.find((f) => f.timestampMs === 19)!;
      // The window [10, 20) fires once the watermark passes 19: with idleness long before the slow source's 400 ms reading.
      const stepOfLastSlowRecord = o.watermarks.find((w) => w.task === slowTask && w.watermarkMs >= 149)!.step;
      firingAtMsOf19.push(firing.step < stepOfLastSlowRecord ? 0 : 1);
      expect(windows.values.get(20)?.count).toBe(10);
    }
    expect(firingAtMsOf19).toEqual([0, 1]);
  });
});

describe('timers and snapshots', () => {
  /** Steps at which a crash falls between a completed checkpoint holding timers and their firing. */
  async function crashStepBetweenRegisterAndFire(): Promise<number> {
    const run = await runGraph((clock) => paymentJob(clock, ORDERS, new KeyedStore<OrderStatus>((s) => s.id), new KeyedStore<Payment>((p) => p.id), { msPerRecord: 20 }), { checkpointIntervalMs: 50, backend: 'fs' });
    const o = run.observations;
    const withTimers = o.checkpoints.find((c) => c.outcome === 'completed' && c.tasks!.some((t) => (t.timers?.length ?? 0) > 0))!;
    expect(withTimers).toBeDefined();
    const firstFiringAfter = o.timerFirings.find((f) => f.step > withTimers.endedAtStep);
    return firstFiringAfter === undefined ? withTimers.endedAtStep + 1 : Math.floor((withTimers.endedAtStep + firstFiringAfter.step) / 2);
  }

  it('timers registered before a checkpoint fire after a restore from it; planted bug timersLeftOutOfSnapshot loses their results', { timeout: 60_000 }, async () => {
    const crashAt = await crashStepBetweenRegisterAndFire();
    const decided: number[] = [];
    for (const timersLeftOutOfSnapshot of [false, true]) {
      const statuses = new KeyedStore<OrderStatus>((s) => s.id);
      const run = await runGraph(
        (clock) => paymentJob(clock, ORDERS, statuses, new KeyedStore<Payment>((p) => p.id), { msPerRecord: 20 }),
        { checkpointIntervalMs: 50, backend: 'fs', timersLeftOutOfSnapshot },
        [{ kind: 'crash-job', atStep: crashAt }],
      );
      const o = run.observations;
      expect(o.outcome).toBe('finished');
      expect(o.restores.at(-1)!.checkpointId).toBeDefined();
      if (!timersLeftOutOfSnapshot) expect(o.timerFirings.some((f) => f.attempt > 0 && f.step > crashAt)).toBe(true);
      decided.push(statuses.values.size);
    }
    expect(decided[0]).toBe(ORDERS);
    expect(decided[1]).toBeLessThan(ORDERS);
  });
});

describe('processing time and asynchronous functions', () => {
  it('processing-time timers fire as steps at their virtual time, with the key and state of their registration', async () => {
    const { jobGraph } = await import('../../src/runtime/job-graph.ts');
    const { timedPartitionLog, TimedPartitionSourceReader } = await import('../../src/connectors/timed-partition-source.ts');
    const store = new KeyedStore<{ key: string | number; count: number; firedAtMs: number }>((r) => r.key);
    const records = [...Array.from({ length: 10 }, (_, i) => ({ value: i % 2 === 0 ? 'a' : 'b', arrivalMs: i })), { value: 'c', arrivalMs: 500 }];
    const run = await runGraph((clock) => {
      const job = jobGraph('processing-time');
      job
        .source('in', 1, (info) => new TimedPartitionSourceReader(timedPartitionLog([records]), info.subtaskIndex, clock))
        .keyBy((value) => value, 2)
        .process<{ key: string | number; count: number; firedAtMs: number }>('count', () => {
          let count: import('../../src/runtime/functions.ts').ValueState<number>;
          return {
            open: (context) => {
              count = context.getState<number>('count');
            },
            processElement(_value, ctx) {
              count.update((count.value() ?? 0) + 1);
              ctx.timerService().registerProcessingTimeTimer(ctx.timerService().currentProcessingTime() + 30);
            },
            onTimer(timestampMs, ctx, out) {
              expect(ctx.timerService().currentProcessingTime()).toBeGreaterThanOrEqual(timestampMs);
              out.collect({ key: ctx.getCurrentKey(), count: count.value() ?? 0, firedAtMs: ctx.timerService().currentProcessingTime() });
            },
          };
        })
        .sink('store', store.sink());
      return job.build();
    });
    expect(runtimeViolations(run)).toEqual([]);
    const firings = run.observations.timerFirings;
    expect(firings.length).toBeGreaterThanOrEqual(2);
    expect(firings.every((f) => f.domain === 'processing-time')).toBe(true);
    expect(store.values.get('a')?.count).toBe(5);
    expect(store.values.get('b')?.count).toBe(5);
    // 'c' arrives at 500 ms and the input ends right after: its timer (530 ms) never fires (processing-time timers stop at the end of input, as in Flink).
    expect(store.values.has('c')).toBe(false);
  });

  it('a process function returning a promise keeps its task busy until it settles, then its output flows on', async () => {
    const { jobGraph } = await import('../../src/runtime/job-graph.ts');
    const { PartitionSourceReader } = await import('../../src/connectors/partition-source.ts');
    const store = new KeyedStore<number>((value) => value);
    const run = await runGraph(() => {
      const job = jobGraph('async');
      job
        .source('in', 2, (info) => new PartitionSourceReader({ endOffset: () => 20, read: (p, o) => p * 20 + o }, info.subtaskIndex))
        .keyBy((value) => value % 4, 2)
        .process<number>('double', () => ({
          async processElement(value, _ctx, out) {
            await Promise.resolve();
            out.collect(value * 2);
          },
        }))
        .filter('small', (value) => value < 60)
        .sink('store', store.sink());
      return job.build();
    });
    expect(runtimeViolations(run)).toEqual([]);
    expect(run.observations.outcome).toBe('finished');
    expect(store.sorted()).toEqual(Array.from({ length: 30 }, (_, i) => i * 2));
  });
});

describe('assignTimestampsAndWatermarks', () => {
  it('stamps records and generates watermarks from there on, for a source without a strategy', async () => {
    const { jobGraph } = await import('../../src/runtime/job-graph.ts');
    const { timedPartitionLog, TimedPartitionSourceReader } = await import('../../src/connectors/timed-partition-source.ts');
    const { WatermarkStrategy } = await import('../../src/runtime/functions.ts');
    const { tumblingCount } = await import('./event-time-jobs.ts');
    const windows = new KeyedStore<WindowCount>((w) => w.end);
    const readings = Array.from({ length: 60 }, (_, i) => ({ value: { source: 'in', ts: i }, arrivalMs: i * 2 }));
    const run = await runGraph((clock) => {
      const job = jobGraph('assigner');
      job
        .source('in', 1, (info) => new TimedPartitionSourceReader(timedPartitionLog([readings]), info.subtaskIndex, clock))
        .assignTimestampsAndWatermarks('stamp', WatermarkStrategy.forMonotonousTimestamps<Reading>().withTimestampAssigner((r) => r.ts))
        .keyBy(() => 'all', 1)
        .process('windows', tumblingCount(10))
        .sink('window-sink', windows.sink());
      return job.build();
    });
    expect(runtimeViolations(run)).toEqual([]);
    const o = run.observations;
    expect(windows.sorted().map((w) => [w.end, w.count])).toEqual([10, 20, 30, 40, 50, 60].map((end) => [end, 10]));
    // Windows fired on generated watermarks while input still arrived, not only at the end of input.
    const windowTask = taskIndex(o, 'windows');
    const firstFiring = o.timerFirings.find((f) => f.timestampMs === 9)!;
    const endOfInput = o.sourcePositions.find((p) => p.kind === 'end')!;
    expect(firstFiring.task).toBe(windowTask);
    expect(firstFiring.step).toBeLessThan(endOfInput.step);
  });
});

describe('several records per call into an asynchronous sink', () => {
  it('a process function emitting several records per element and per timer into a sink that awaits each write loses none and keeps their order', async () => {
    const { jobGraph } = await import('../../src/runtime/job-graph.ts');
    const { PartitionSourceReader } = await import('../../src/connectors/partition-source.ts');
    const { WatermarkStrategy } = await import('../../src/runtime/functions.ts');
    const written: string[] = [];
    const run = await runGraph(() => {
      const job = jobGraph('fan-out');
      job
        .source('in', 1, (info) => new PartitionSourceReader({ endOffset: () => 10, read: (_p, o) => o }, info.subtaskIndex), {
          watermarks: WatermarkStrategy.forMonotonousTimestamps<number>().withTimestampAssigner((v) => v * 10),
        })
        .keyBy((value) => value % 2, 1)
        .process<string>('fan-out', () => ({
          async processElement(value, ctx, out) {
            out.collect(`${value}a`);
            out.collect(`${value}b`);
            ctx.timerService().registerEventTimeTimer(ctx.timestamp! + 5);
            await Promise.resolve();
            out.collect(`${value}c`);
          },
          onTimer(timestampMs, _ctx, out) {
            out.collect(`t${timestampMs}x`);
            out.collect(`t${timestampMs}y`);
          },
        }))
        .sink('slow', () => ({
          write: async (value: string) => {
            await Promise.resolve();
            written.push(value);
          },
        }));
      return job.build();
    });
    expect(runtimeViolations(run)).toEqual([]);
    expect(run.observations.outcome).toBe('finished');
    for (let value = 0; value < 10; value++) {
      const at = ['a', 'b', 'c'].map((suffix) => written.indexOf(`${value}${suffix}`));
      expect(at.every((index) => index >= 0)).toBe(true);
      expect(at).toEqual([...at].sort((x, y) => x - y));
      const timer = value * 10 + 5;
      expect(written.indexOf(`t${timer}y`)).toBeGreaterThan(written.indexOf(`t${timer}x`));
    }
    expect(written).toHaveLength(50);
  });
});

describe('event-time observations', () => {
  it('watermark changes and timer firings carry their step and virtual time', async () => {
    const statuses = new KeyedStore<OrderStatus>((s) => s.id);
    const run = await runGraph((clock) => paymentJob(clock, 12, statuses, new KeyedStore<Payment>((p) => p.id), { msPerRecord: 7 }));
    const o = run.observations;
    expect(o.watermarks.length).toBeGreaterThan(0);
    for (const list of [o.watermarks, o.timerFirings]) {
      for (let i = 1; i < list.length; i++) {
        expect(list[i]!.step).toBeGreaterThanOrEqual(list[i - 1]!.step);
        expect(list[i]!.atMs).toBeGreaterThanOrEqual(list[i - 1]!.atMs);
      }
    }
    // Records arrive 7 virtual ms apart, so watermarks advance over virtual time, not all at once.
    expect(new Set(o.watermarks.map((w) => w.atMs)).size).toBeGreaterThan(5);
  });
});
