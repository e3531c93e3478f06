import {
  CURRENCIES,
  encodeRate,
  expectedLookupJoin,
  expectedTemporalJoin,
  JOIN_OUT_OF_ORDERNESS_MS,
  rateKey,
  temporalJoinEntry,
  temporalJoinInput,
  type CurrencyOrder,
  type Rate,
} from '../model/joins.ts';
import { checkJoinOutput, joinOutputCoverage } from '../properties/joins.ts';
import type { SinkWriter, SourceReader, SubtaskInfo } from '../src/connectors/api.ts';
import { SimRedisServer } from '../src/connectors/sim/redis.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import { WatermarkStrategy } from '../src/runtime/functions.ts';
import { jobGraph, type JobGraphSpec } from '../src/runtime/job-graph.ts';
import { lookupJoin, temporalJoin } from '../src/runtime/joins.ts';
import { entriesUnder, entrySink, storeEntry, taskCountOf, timedSource, type StoreEntry } from './join-support.ts';

const EVENT_TIME_PREFIX = 'temporal-join';
const LOOKUP_PREFIX = 'lookup-join';
const TABLE_PREFIX = 'rates-table';
export const TEMPORAL_JOIN_OPERATOR = 'rate-at-order-time';
export const LOOKUP_OPERATOR = 'latest-rate-lookup';
const JOIN_PARALLELISM = 2;

interface Wiring {
  readonly orders: (info: SubtaskInfo) => SourceReader<CurrencyOrder>;
  readonly rates: (info: SubtaskInfo) => SourceReader<Rate>;
  readonly lookupOrders: (info: SubtaskInfo) => SourceReader<CurrencyOrder>;
  readonly tableRates: (info: SubtaskInfo) => SourceReader<Rate>;
  /** The latest rate of a currency in the dimension store. */
  readonly lookup: (info: SubtaskInfo) => (currency: string) => Promise<Rate | undefined>;
  readonly sink: (info: SubtaskInfo) => SinkWriter<StoreEntry>;
  readonly tableSink: (info: SubtaskInfo) => SinkWriter<StoreEntry>;
  readonly lookupSink: (info: SubtaskInfo) => SinkWriter<StoreEntry>;
}

/**
 * Two joins of the same orders with the same rates:
 * - event time: orders + rates (a versioned table) -> keyBy currency -> temporal join -> Redis;
 * - processing time: rates -> the dimension table in Redis (latest rate per currency);
 *   orders -> keyBy currency -> lookup of the latest rate -> Redis.
 */
function temporalJoinGraph(partitions: number, wiring: Wiring, bug: string | undefined): JobGraphSpec {
  const job = jobGraph('temporal-join');
  const orderTime = WatermarkStrategy.forBoundedOutOfOrderness<CurrencyOrder>(JOIN_OUT_OF_ORDERNESS_MS).withTimestampAssigner((o) => o.ts);
  const rateTime = WatermarkStrategy.forBoundedOutOfOrderness<Rate>(JOIN_OUT_OF_ORDERNESS_MS).withTimestampAssigner((r) => r.ts);
  const orders = job.source('orders', partitions, wiring.orders, { watermarks: orderTime });
  const rates = job.source('rates', partitions, wiring.rates, { watermarks: rateTime });
  orders
    .keyBy((o) => o.currency, JOIN_PARALLELISM)
    .connect(rates.keyBy((r) => r.currency, JOIN_PARALLELISM))
    .process(
      TEMPORAL_JOIN_OPERATOR,
      temporalJoin<CurrencyOrder, Rate, StoreEntry>({
        versionTimestamp: (rate) => rate.ts,
        join: (order, rate) => storeEntry(temporalJoinEntry(EVENT_TIME_PREFIX, order, rate)),
        ...(bug === 'latest-version' ? { plantedBug: 'latest-version' as const } : {}),
      }),
    )
    .sink('redis', wiring.sink);

  job
    .source('rates-changelog', partitions, wiring.tableRates)
    .map('as-table-entry', (rate): StoreEntry => ({ key: rateKey(TABLE_PREFIX, rate.currency), value: encodeRate(rate) }))
    .keyBy((entry) => entry.key, JOIN_PARALLELISM)
    .sink('rates-table', wiring.tableSink);
  job
    .source('orders-lookup', partitions, wiring.lookupOrders)
    .keyBy((o) => o.currency, JOIN_PARALLELISM)
    .process(LOOKUP_OPERATOR, (info) => {
      const latestRate = wiring.lookup(info);
      return lookupJoin<CurrencyOrder, Rate, StoreEntry>({
        // PLANTED BUG 'lookup-wrong-key': the table key is built from a constant instead of the order's currency.
        lookup: (_key, order) => latestRate(bug === 'lookup-wrong-key' ? CURRENCIES[0] : order.currency),
        join: (order, rate) => storeEntry(temporalJoinEntry(LOOKUP_PREFIX, order, rate)),
      })(info);
    })
    .sink('lookup-redis', wiring.lookupSink);
  return job.build();
}

const UNUSED = (): never => {
  throw new Error('temporal-join: the task-count graph is never run');
};

/**
 * The seed's dimension-table join, both ways: currency orders joined with exchange rates by
 * event time (the rate valid when the order was placed: a function of the input) and by a
 * lookup of the latest rate in a Redis dimension table at processing time (depends on when
 * the lookup ran relative to the table's updates: differs between interleavings, by design).
 */
export const temporalJoinScenario: Scenario = {
  name: 'temporal-join',
  description: 'orders + rate versions -> keyBy currency -> event-time temporal join; and orders -> lookup of the latest rate in Redis (processing time)',
  defaultSize: { partitions: 2, recordsPerPartition: 30 },
  // Failed, lost and timed-out calls hit the lookups and the table and sink writes in Redis: each fails its task over.
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'drop-ack', 'fail-initialize', 'fail-call', 'lose-reply', 'timeout-call'],
  backends: ['fs', 'memory'],
  inputDisorder: true,
  properties: ['join-output', 'lookup-join-output'],
  bugs: [
    {
      name: 'latest-version',
      description: 'the event-time temporal join reads the newest rate in its state instead of the rate valid at the order time',
      caughtBy: ['join-output'],
    },
    {
      name: 'lookup-wrong-key',
      description: "the lookup join reads the table key of one fixed currency instead of the order's: orders join another currency's rate",
      caughtBy: ['lookup-join-output'],
    },
    {
      name: 'watermark-max-of-inputs',
      description: "a task's watermark is the maximum of its inputs instead of the minimum: orders are joined before the rate valid at their time arrived, or dropped as late",
      caughtBy: ['join-output'],
      jobOptions: { watermarkAsMaxOfInputs: true },
    },
  ],
  // Measured fault-free runs (~970 steps at 2 x 30): records wait for their arrival time, and joins write more than they read.
  typicalRunSteps: (size) => 16 * size.partitions * size.recordsPerPartition,
  taskCount: (size) =>
    taskCountOf(
      temporalJoinGraph(
        size.partitions,
        { orders: UNUSED, rates: UNUSED, lookupOrders: UNUSED, tableRates: UNUSED, lookup: UNUSED, sink: UNUSED, tableSink: UNUSED, lookupSink: UNUSED },
        undefined,
      ),
    ),
  build({ scheduler, env, size, bug, sinkBufferKeys, disorder }) {
    const input = temporalJoinInput(size.partitions, size.recordsPerPartition, disorder);
    const redis = new SimRedisServer(env);
    const spec = temporalJoinGraph(
      size.partitions,
      {
        orders: timedSource(scheduler, 'orders', input.orders),
        rates: timedSource(scheduler, 'rates', input.rates),
        lookupOrders: timedSource(scheduler, 'orders-lookup', input.orders),
        tableRates: timedSource(scheduler, 'rates-changelog', input.rates),
        lookup: ({ subtaskIndex }) => {
          const client = redis.client(`lookup-${subtaskIndex}`);
          return async (currency) => {
            const stored = await client.get(rateKey(TABLE_PREFIX, currency));
            return stored === null ? undefined : (JSON.parse(stored) as Rate);
          };
        },
        sink: entrySink(redis, 'join-sink', sinkBufferKeys),
        // The table is written through (one key per SET): a lookup sees each rate as soon as it is written.
        tableSink: entrySink(redis, 'table-sink', 1),
        lookupSink: entrySink(redis, 'lookup-sink', sinkBufferKeys),
      },
      bug,
    );
    const expectedEventTime = expectedTemporalJoin(EVENT_TIME_PREFIX, input);
    const expectedLookup = expectedLookupJoin(LOOKUP_PREFIX, input);
    return {
      pipeline: spec,
      judge: () => {
        const store = redis.snapshot();
        return [
          ...checkJoinOutput('join-output', TEMPORAL_JOIN_OPERATOR, entriesUnder(store, EVENT_TIME_PREFIX), expectedEventTime, EVENT_TIME_PREFIX),
          ...checkJoinOutput('lookup-join-output', LOOKUP_OPERATOR, entriesUnder(store, LOOKUP_PREFIX), expectedLookup, LOOKUP_PREFIX),
        ];
      },
      output: () => {
        const store = redis.snapshot();
        const eventTime = entriesUnder(store, EVENT_TIME_PREFIX);
        const lookup = entriesUnder(store, LOOKUP_PREFIX);
        let differing = 0;
        let compared = 0;
        for (const [key, value] of Object.entries(eventTime)) {
          const looked = lookup[`${LOOKUP_PREFIX}${key.slice(EVENT_TIME_PREFIX.length)}`];
          if (looked === undefined) continue;
          compared++;
          if (looked !== value) differing++;
        }
        return {
          eventTimeJoin: joinOutputCoverage(eventTime, expectedEventTime),
          lookupJoin: { written: Object.keys(lookup).length },
          lookupVersusEventTime:
            `${differing} of ${compared} orders joined a different rate by lookup (processing time) than by event time: ` +
            'expected, a lookup reads whatever rate the table holds when it runs, not the rate valid at the order time',
        };
      },
    };
  },
};
