/** Small event-time jobs and a runner for the runtime's event-time tests (no scenario around them). */
import { PartitionSourceReader } from '../../src/connectors/partition-source.ts';
import { timedPartitionLog, TimedPartitionSourceReader } from '../../src/connectors/timed-partition-source.ts';
import type { Key, SinkWriter } from '../../src/connectors/api.ts';
import { checkBarrierAlignment } from '../../properties/alignment.ts';
import { checkFaultEffects } from '../../properties/fault-effects.ts';
import { checkLiveness } from '../../properties/liveness.ts';
import { checkModeSemantics } from '../../properties/mode-semantics.ts';
import { checkCheckpointProgress } from '../../properties/progress.ts';
import { checkRestoreChoice } from '../../properties/restore-choice.ts';
import type { Violation } from '../../src/harness/scenario.ts';
import type { Fault } from '../../src/runtime/faults.ts';
import type { FunctionFactory, KeyedCoProcessFunction, KeyedProcessFunction, MapState, OutputTag, ValueState } from '../../src/runtime/functions.ts';
import { outputTag, WatermarkStrategy } from '../../src/runtime/functions.ts';
import { jobGraph, type JobGraphSpec } from '../../src/runtime/job-graph.ts';
import { DEFAULT_JOB_OPTIONS, JobRuntime, type JobOptions } from '../../src/runtime/job.ts';
import type { RunObservations } from '../../src/runtime/observations.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';

export type Clock = () => number;

/** An external key-value store: a sink writes `idOf(value) -> value`; replays after a restore overwrite (idempotent). */
export class KeyedStore<T> {
  readonly values = new Map<Key, T>();
  readonly writes: T[] = [];
  constructor(private readonly idOf: (value: T) => Key) {}
  sink(): () => SinkWriter<T> {
    return () => ({
      write: (value: T) => {
        this.writes.push(value);
        this.values.set(this.idOf(value), value);
      },
    });
  }
  sorted(): T[] {
    return [...this.values.entries()].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).map(([, value]) => value);
  }
}

export interface JobRun {
  readonly observations: RunObservations;
  readonly options: JobOptions;
}

export async function runGraph(build: (clock: Clock) => JobGraphSpec, options: Partial<JobOptions> = {}, faults: Fault[] = [], seed = 1): Promise<JobRun> {
  const scheduler = new Scheduler({ choices: new RandomChoices(seed), msPerStep: 1, maxSteps: 200_000, keepTrace: false });
  const jobOptions = { ...DEFAULT_JOB_OPTIONS, ...options };
  const job = new JobRuntime(build(() => scheduler.nowMs), jobOptions, scheduler, faults);
  return { observations: await job.run(), options: jobOptions };
}

/** The runtime's own invariants, as run-case judges every run. */
export function runtimeViolations(run: JobRun): Violation[] {
  const o = run.observations;
  return [
    ...checkLiveness(o),
    ...(run.options.mode === 'at-least-once' ? [] : checkBarrierAlignment(o)),
    ...checkCheckpointProgress(o),
    ...checkRestoreChoice(o),
    ...checkFaultEffects(o),
    ...checkModeSemantics(o),
  ];
}

export function taskIndex(observations: RunObservations, prefix: string): number {
  const index = observations.taskNames.findIndex((name) => name.startsWith(prefix));
  if (index < 0) throw new Error(`no task ${prefix}* in ${observations.taskNames.join(', ')}`);
  return index;
}

// ---------------------------------------------------------------- union of two sources

/** left (0..n-1) and right (1000..1000+n-1) in 2 partitions each, union, keyed sum by value % 3. */
export function unionSum(store: KeyedStore<{ key: Key; value: number }>, recordsPerPartition: number): JobGraphSpec {
  const job = jobGraph('union-sum');
  const log = (base: number) => ({ endOffset: () => recordsPerPartition, read: (partition: number, offset: number) => base + partition * recordsPerPartition + offset });
  const left = job.source('left', 2, (info) => new PartitionSourceReader(log(0), info.subtaskIndex));
  const right = job.source('right', 2, (info) => new PartitionSourceReader(log(1000), info.subtaskIndex));
  left
    .union(right)
    .map('tag', (value) => value)
    .keyBy((value) => value % 3, 2)
    .aggregate<number>('sum', (sum, value) => (sum ?? 0) + value)
    .sink('store', store.sink());
  return job.build();
}

export function expectedUnionSums(recordsPerPartition: number): Array<{ key: Key; value: number }> {
  const sums = [0, 0, 0];
  for (const base of [0, 1000]) for (let i = 0; i < 2 * recordsPerPartition; i++) sums[(base + i) % 3] = sums[(base + i) % 3]! + base + i;
  return sums.map((value, key) => ({ key, value }));
}

// ---------------------------------------------------------------- orders and payments (connect + co-process)

export interface Order {
  readonly id: number;
  readonly ts: number;
}
export interface Payment {
  readonly id: number;
  readonly orderTs: number;
  readonly ts: number;
}
export interface OrderStatus {
  readonly id: number;
  readonly status: 'paid' | 'unpaid';
}

export const latePayments = outputTag<Payment>('late-payments');
export const PAYMENT_WINDOW_MS = 10;

export function ordersAndPayments(count: number): { orders: Order[]; payments: Payment[] } {
  const orders: Order[] = [];
  const payments: Payment[] = [];
  for (let id = 0; id < count; id++) {
    const ts = id * 2;
    orders.push({ id, ts });
    if (id % 7 === 6) continue; // never paid
    const delay = id % 4 === 3 ? 25 : id % 5; // 25: too late
    payments.push({ id, orderTs: ts, ts: ts + delay });
  }
  payments.sort((a, b) => a.ts - b.ts);
  return { orders, payments };
}

export function expectedStatuses(count: number): { statuses: OrderStatus[]; late: number[] } {
  const { payments } = ordersAndPayments(count);
  const paid = new Set(payments.filter((p) => p.ts <= p.orderTs + PAYMENT_WINDOW_MS).map((p) => p.id));
  const statuses = Array.from({ length: count }, (_, id): OrderStatus => ({ id, status: paid.has(id) ? 'paid' : 'unpaid' }));
  const late = payments.filter((p) => p.ts > p.orderTs + PAYMENT_WINDOW_MS).map((p) => p.id).sort((a, b) => a - b);
  return { statuses, late };
}

/** An order is paid if its payment's timestamp is at most PAYMENT_WINDOW_MS after it; decided when the event-time timer fires. */
export function paymentCheck(): KeyedCoProcessFunction<Order, Payment, OrderStatus> {
  let order: ValueState<Order>;
  let paid: ValueState<boolean>;
  return {
    open(context) {
      order = context.getState<Order>('order');
      paid = context.getState<boolean>('paid');
    },
    processElement1(value, ctx) {
      order.update(value);
      ctx.timerService().registerEventTimeTimer(value.ts + PAYMENT_WINDOW_MS);
    },
    processElement2(value, ctx) {
      if (value.ts > value.orderTs + PAYMENT_WINDOW_MS) {
        ctx.output(latePayments, value);
        return;
      }
      paid.update(true);
      ctx.timerService().registerEventTimeTimer(value.orderTs + PAYMENT_WINDOW_MS);
    },
    onTimer(_timestampMs, _ctx, out) {
      const placed = order.value();
      if (placed !== undefined) out.collect({ id: placed.id, status: paid.value() === true ? 'paid' : 'unpaid' });
      order.clear();
      paid.clear();
    },
  };
}

/**
 * Orders and payments, each from 2 timed partitions (by id parity) arriving `msPerRecord` apart,
 * connected by id into the payment check; late payments go to a side output sink.
 */
export function paymentJob(
  clock: Clock,
  count: number,
  statuses: KeyedStore<OrderStatus>,
  late: KeyedStore<Payment>,
  options: { readonly msPerRecord?: number; readonly tailArrivalMs?: number } = {},
): JobGraphSpec {
  const { orders, payments } = ordersAndPayments(count);
  const msPerRecord = options.msPerRecord ?? 1;
  const partitioned = <T extends { id: number }>(records: readonly T[]) =>
    timedPartitionLog([0, 1].map((p) => records.filter((r) => r.id % 2 === p).map((value, i) => ({ value, arrivalMs: i * msPerRecord }))));
  const job = jobGraph('payments');
  const orderStream = job.source('orders', 2, (info) => new TimedPartitionSourceReader(partitioned(orders), info.subtaskIndex, clock), {
    watermarks: WatermarkStrategy.forMonotonousTimestamps<Order>().withTimestampAssigner((o) => o.ts),
  });
  const paymentStream = job.source('payments', 2, (info) => new TimedPartitionSourceReader(partitioned(payments), info.subtaskIndex, clock), {
    watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Payment>(3).withTimestampAssigner((p) => p.ts),
  });
  const checked = orderStream.keyBy((o) => o.id, 2).connect(paymentStream.keyBy((p) => p.id, 2)).process('check', paymentCheck as FunctionFactory<KeyedCoProcessFunction<Order, Payment, OrderStatus>>);
  checked.getSideOutput(latePayments).sink('late', late.sink());
  checked.sink('statuses', statuses.sink());
  return job.build();
}

// ---------------------------------------------------------------- tumbling windows over two sources

export interface Reading {
  readonly source: string;
  readonly ts: number;
}
export interface WindowCount {
  readonly key: Key;
  readonly end: number;
  readonly count: number;
}

export const lateReadings = outputTag<Reading>('late');

/** Counts readings per key in tumbling event-time windows; records behind the watermark go to `lateReadings`. */
export function tumblingCount(sizeMs: number): FunctionFactory<KeyedProcessFunction<Reading, WindowCount>> {
  return () => {
    let counts: MapState<number, number>;
    return {
      open(context) {
        counts = context.getMapState<number, number>('counts');
      },
      processElement(reading, ctx) {
        const end = Math.floor(ctx.timestamp! / sizeMs) * sizeMs + sizeMs;
        if (end - 1 <= ctx.timerService().currentWatermark()) {
          ctx.output(lateReadings, reading);
          return;
        }
        counts.put(end, (counts.get(end) ?? 0) + 1);
        ctx.timerService().registerEventTimeTimer(end - 1);
      },
      onTimer(timestampMs, ctx, out) {
        const end = timestampMs + 1;
        out.collect({ key: ctx.getCurrentKey(), end, count: counts.get(end) ?? 0 });
        counts.remove(end);
      },
    };
  };
}

/**
 * Two one-partition sources `fast` and `slow` (readings with their arrival times), their
 * union counted in 10 ms tumbling windows under one key; late readings go to a side sink.
 */
export function twoSpeedWindows(
  clock: Clock,
  fast: ReadonlyArray<{ ts: number; arrivalMs: number }>,
  slow: ReadonlyArray<{ ts: number; arrivalMs: number }>,
  windows: KeyedStore<WindowCount>,
  late: KeyedStore<Reading>,
  slowIdleTimeoutMs: number | undefined,
): JobGraphSpec {
  const log = (source: string, records: ReadonlyArray<{ ts: number; arrivalMs: number }>) =>
    timedPartitionLog([records.map((r) => ({ value: { source, ts: r.ts }, arrivalMs: r.arrivalMs }))]);
  const strategy = WatermarkStrategy.forMonotonousTimestamps<Reading>().withTimestampAssigner((r) => r.ts);
  const job = jobGraph('two-speeds');
  const fastStream = job.source('fast', 1, (info) => new TimedPartitionSourceReader(log('fast', fast), info.subtaskIndex, clock), { watermarks: strategy });
  const slowStream = job.source('slow', 1, (info) => new TimedPartitionSourceReader(log('slow', slow), info.subtaskIndex, clock), {
    watermarks: slowIdleTimeoutMs === undefined ? strategy : strategy.withIdleness(slowIdleTimeoutMs),
  });
  const counted = fastStream.union(slowStream).keyBy(() => 'all', 1).process('windows', tumblingCount(10));
  counted.getSideOutput(lateReadings).sink('late', late.sink());
  counted.sink('window-sink', windows.sink());
  return job.build();
}

export type { OutputTag };
