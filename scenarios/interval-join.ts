import {
  expectedIntervalJoin,
  INTERVAL_JOIN_BOUNDS,
  intervalJoinEntry,
  intervalJoinInput,
  JOIN_OUT_OF_ORDERNESS_MS,
  possiblyLate,
  type Order,
  type Payment,
} from '../model/joins.ts';
import { checkJoinOutput, checkJoinStateRetention, checkLateRecords, joinOutputCoverage } from '../properties/joins.ts';
import type { SinkWriter, SourceReader, SubtaskInfo } from '../src/connectors/api.ts';
import { SimRedisServer } from '../src/connectors/sim/redis.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import { outputTag, WatermarkStrategy } from '../src/runtime/functions.ts';
import { jobGraph, type JobGraphSpec } from '../src/runtime/job-graph.ts';
import { INTERVAL_JOIN_STATE, intervalJoin, type LateJoinRecord } from '../src/runtime/joins.ts';
import { entriesUnder, entrySink, storeEntry, taskCountOf, timedSource, type StoreEntry } from './join-support.ts';

const PREFIX = 'interval-join';
const LATE_PREFIX = 'interval-join-late';
export const INTERVAL_JOIN_OPERATOR = 'pay-within';
const JOIN_PARALLELISM = 2;
const LATE = outputTag<LateJoinRecord<Order, Payment>>('late-orders-and-payments');

interface Wiring {
  readonly orders: (info: SubtaskInfo) => SourceReader<Order>;
  readonly payments: (info: SubtaskInfo) => SourceReader<Payment>;
  readonly sink: (info: SubtaskInfo) => SinkWriter<StoreEntry>;
  readonly lateSink: (info: SubtaskInfo) => SinkWriter<StoreEntry>;
}

/** orders + payments (timed partitions, bounded disorder, some late) -> keyBy order id -> interval join -> Redis; late records -> Redis. */
function intervalJoinGraph(partitions: number, wiring: Wiring, bug: string | undefined): JobGraphSpec {
  const job = jobGraph('interval-join');
  const orders = job.source('orders', partitions, wiring.orders, {
    watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Order>(JOIN_OUT_OF_ORDERNESS_MS).withTimestampAssigner((o) => o.ts),
  });
  const payments = job.source('payments', partitions, wiring.payments, {
    watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Payment>(JOIN_OUT_OF_ORDERNESS_MS).withTimestampAssigner((p) => p.ts),
  });
  const joined = orders
    .keyBy((o) => o.id, JOIN_PARALLELISM)
    .connect(payments.keyBy((p) => p.orderId, JOIN_PARALLELISM))
    .process(
      INTERVAL_JOIN_OPERATOR,
      intervalJoin<Order, Payment, StoreEntry>({
        ...INTERVAL_JOIN_BOUNDS,
        join: (order, payment) => storeEntry(intervalJoinEntry(PREFIX, order, payment)),
        lateOutputTag: LATE,
        ...(bug === 'cleanup-one-bound-early' ? { plantedBug: 'cleanup-one-bound-early' as const } : {}),
      }),
    );
  joined
    .getSideOutput(LATE)
    .map('late-entry', (late): StoreEntry => ({ key: `${LATE_PREFIX}:${(late.value as Order | Payment).id}`, value: String(late.watermarkMs) }))
    .sink('late-redis', wiring.lateSink);
  joined.sink('redis', wiring.sink);
  return job.build();
}

const UNUSED = (): never => {
  throw new Error('interval-join: the task-count graph is never run');
};

/**
 * The seed's time-window join: orders and payments, a payment joins its order when it is at
 * most 15 ms after it; both streams out of order within 5 ms, about 1 record in 12 later
 * than that. Join state is cleaned as the watermark passes each record's bound.
 */
export const intervalJoinScenario: Scenario = {
  name: 'interval-join',
  description: 'orders + payments (event time, bounded disorder, late records) -> keyBy order -> interval join [0, 15] ms -> idempotent Redis SET',
  defaultSize: { partitions: 2, recordsPerPartition: 30 },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'drop-ack', 'fail-initialize'],
  backends: ['fs', 'memory'],
  inputDisorder: true,
  properties: ['join-output', 'join-state-retention', 'join-late-records'],
  bugs: [
    {
      name: 'cleanup-one-bound-early',
      description: 'the join cleans an order when the watermark passes order.ts + lower instead of order.ts + upper: payments still in the interval miss it',
      caughtBy: ['join-output', 'join-state-retention'],
    },
    {
      name: 'watermark-max-of-inputs',
      description: "a task's watermark is the maximum of its inputs instead of the minimum: on-time records of the slower inputs are dropped as late",
      caughtBy: ['join-output', 'join-late-records', 'join-state-retention'],
      jobOptions: { watermarkAsMaxOfInputs: true },
    },
  ],
  // Measured fault-free runs (~580 steps at 2 x 30): records wait for their arrival time, and joins write more than they read.
  typicalRunSteps: (size) => 10 * size.partitions * size.recordsPerPartition,
  taskCount: (size) => taskCountOf(intervalJoinGraph(size.partitions, { orders: UNUSED, payments: UNUSED, sink: UNUSED, lateSink: UNUSED }, undefined)),
  build({ scheduler, env, size, bug, sinkBufferKeys, disorder }) {
    const input = intervalJoinInput(size.partitions, size.recordsPerPartition, disorder);
    const redis = new SimRedisServer(env);
    const spec = intervalJoinGraph(
      size.partitions,
      {
        orders: timedSource(scheduler, 'orders', input.orders),
        payments: timedSource(scheduler, 'payments', input.payments),
        sink: entrySink(redis, 'join-sink', sinkBufferKeys),
        lateSink: entrySink(redis, 'late-sink', sinkBufferKeys),
      },
      bug,
    );
    const expected = expectedIntervalJoin(PREFIX, input);
    const idOf = (record: unknown): string => (record as Order | Payment).id;
    const lateIds = new Set(
      [input.orders, input.payments].flatMap((partitions) => {
        const late = possiblyLate<Order | Payment>(partitions, (r) => r.ts, JOIN_OUT_OF_ORDERNESS_MS);
        return partitions.flatMap((records, p) => records.filter((_, i) => late[p]![i]).map(({ value }) => value.id));
      }),
    );
    return {
      pipeline: spec,
      judge: (observations) => [
        ...checkJoinOutput('join-output', INTERVAL_JOIN_OPERATOR, entriesUnder(redis.snapshot(), PREFIX), expected, PREFIX),
        ...checkLateRecords('join-late-records', INTERVAL_JOIN_OPERATOR, Object.keys(entriesUnder(redis.snapshot(), LATE_PREFIX)).map((key) => key.slice(LATE_PREFIX.length + 1)), lateIds),
        ...checkJoinStateRetention(
          observations,
          INTERVAL_JOIN_OPERATOR,
          [
            {
              partitions: input.orders,
              splitPrefix: 'orders',
              stateName: `${INTERVAL_JOIN_OPERATOR}/${INTERVAL_JOIN_STATE.left}`,
              timestampOf: (o) => (o as Order).ts,
              idOf,
              retentionMs: INTERVAL_JOIN_BOUNDS.upperMs,
            },
            {
              partitions: input.payments,
              splitPrefix: 'payments',
              stateName: `${INTERVAL_JOIN_OPERATOR}/${INTERVAL_JOIN_STATE.right}`,
              timestampOf: (p) => (p as Payment).ts,
              idOf,
              retentionMs: -INTERVAL_JOIN_BOUNDS.lowerMs,
            },
          ],
          JOIN_OUT_OF_ORDERNESS_MS,
        ),
      ],
      output: () => {
        const joined = entriesUnder(redis.snapshot(), PREFIX);
        return {
          joinedPairs: joinOutputCoverage(joined, expected),
          lateRecordsDropped: Object.keys(entriesUnder(redis.snapshot(), LATE_PREFIX)).length,
          lateRecordsInInput: lateIds.size,
        };
      },
    };
  },
};
