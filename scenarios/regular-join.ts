import { expectedRegularJoin, regularJoinEntry, regularJoinInput, type Click, type Impression } from '../model/joins.ts';
import { checkJoinOutput, joinOutputCoverage } from '../properties/joins.ts';
import type { SinkWriter, SourceReader, SubtaskInfo } from '../src/connectors/api.ts';
import { SimRedisServer } from '../src/connectors/sim/redis.ts';
import type { Scenario } from '../src/harness/scenario.ts';
import { jobGraph, type DataStream, type JobGraphSpec } from '../src/runtime/job-graph.ts';
import { regularJoin } from '../src/runtime/joins.ts';
import { entriesUnder, entrySink, storeEntry, taskCountOf, timedSource, type StoreEntry } from './join-support.ts';

const PREFIX = 'regular-join';
const TTL_PREFIX = 'regular-join-ttl';
/** Idle state retention of the TTL join (processing time): shorter than an ad's silences (240 ms), longer than its gaps while active. */
export const REGULAR_JOIN_TTL_MS = 100;
const JOIN_PARALLELISM = 2;

interface Wiring {
  readonly impressions: (info: SubtaskInfo) => SourceReader<Impression>;
  readonly clicks: (info: SubtaskInfo) => SourceReader<Click>;
  readonly impressionsTtl: (info: SubtaskInfo) => SourceReader<Impression>;
  readonly clicksTtl: (info: SubtaskInfo) => SourceReader<Click>;
  readonly sink: (info: SubtaskInfo) => SinkWriter<StoreEntry>;
  readonly ttlSink: (info: SubtaskInfo) => SinkWriter<StoreEntry>;
}

/** The same join twice: without state TTL (every pair) and with it (smaller state, pairs lost after an ad's silence). */
function regularJoinGraph(partitions: number, wiring: Wiring, bug: string | undefined): JobGraphSpec {
  const job = jobGraph('regular-join');
  const join = (prefix: string, impressions: DataStream<Impression>, clicks: DataStream<Click>, name: string, stateTtlMs: number | undefined, sink: Wiring['sink']): void => {
    impressions
      .keyBy((i) => i.adId, JOIN_PARALLELISM)
      .connect(clicks.keyBy((c) => c.adId, JOIN_PARALLELISM))
      .process(
        name,
        regularJoin<Impression, Click, StoreEntry>({
          join: (impression, click) => storeEntry(regularJoinEntry(prefix, impression, click)),
          ...(stateTtlMs === undefined ? {} : { stateTtlMs }),
          ...(bug === 'left-not-buffered' || bug === 'buffers-in-fields' ? { plantedBug: bug } : {}),
        }),
      )
      .sink(`${name}-redis`, sink);
  };
  join(PREFIX, job.source('impressions', partitions, wiring.impressions), job.source('clicks', partitions, wiring.clicks), 'join', undefined, wiring.sink);
  join(
    TTL_PREFIX,
    job.source('impressions-ttl', partitions, wiring.impressionsTtl),
    job.source('clicks-ttl', partitions, wiring.clicksTtl),
    'join-ttl',
    REGULAR_JOIN_TTL_MS,
    wiring.ttlSink,
  );
  return job.build();
}

const UNUSED = (): never => {
  throw new Error('regular-join: the task-count graph is never run');
};

/**
 * The seed's regular join: impressions and clicks of a few ads, each joined with every past
 * and future record of the other side. Without TTL the output is the full product per ad,
 * whatever the interleaving and faults. With an idle-state TTL the state stays small, and a
 * record arriving after its ad was silent longer than the TTL misses its earlier partners:
 * which ones depends on processing time, so only "nothing beyond the product" is checked,
 * and the report counts what the TTL cost.
 */
export const regularJoinScenario: Scenario = {
  name: 'regular-join',
  description: 'impressions + clicks -> keyBy ad -> regular join (all pairs), once without and once with an idle-state TTL -> idempotent Redis SET',
  defaultSize: { partitions: 2, recordsPerPartition: 24 },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'drop-ack', 'fail-initialize'],
  backends: ['fs', 'memory'],
  properties: ['join-output'],
  bugs: [
    {
      name: 'left-not-buffered',
      description: 'the join keeps only the clicks in state: an impression joins the clicks before it, never those after it',
      caughtBy: ['join-output'],
    },
    {
      name: 'buffers-in-fields',
      description: 'the join keeps its buffers in a field of the function instead of keyed state: a restore forgets them, and records after it miss their partners',
      caughtBy: ['join-output'],
    },
    {
      name: 'ttl-judged-as-full-join',
      description: 'negative control: the TTL join judged by the model without TTL; the pairs its expired state missed are lost writes (the cost of the TTL)',
      caughtBy: ['join-output'],
    },
  ],
  // Measured fault-free runs (~660 steps at 2 x 24): records wait for their arrival time, and joins write more than they read.
  typicalRunSteps: (size) => 14 * size.partitions * size.recordsPerPartition,
  taskCount: (size) =>
    taskCountOf(
      regularJoinGraph(size.partitions, { impressions: UNUSED, clicks: UNUSED, impressionsTtl: UNUSED, clicksTtl: UNUSED, sink: UNUSED, ttlSink: UNUSED }, undefined),
    ),
  build({ scheduler, env, size, bug, sinkBufferKeys }) {
    const input = regularJoinInput(size.partitions, size.recordsPerPartition);
    const redis = new SimRedisServer(env);
    const spec = regularJoinGraph(
      size.partitions,
      {
        impressions: timedSource(scheduler, 'impressions', input.impressions),
        clicks: timedSource(scheduler, 'clicks', input.clicks),
        impressionsTtl: timedSource(scheduler, 'impressions-ttl', input.impressions),
        clicksTtl: timedSource(scheduler, 'clicks-ttl', input.clicks),
        sink: entrySink(redis, 'join-sink', sinkBufferKeys),
        ttlSink: entrySink(redis, 'ttl-join-sink', sinkBufferKeys),
      },
      bug,
    );
    const expected = expectedRegularJoin(PREFIX, input, false);
    const expectedWithTtl = expectedRegularJoin(TTL_PREFIX, input, bug !== 'ttl-judged-as-full-join');
    return {
      pipeline: spec,
      judge: () => {
        const store = redis.snapshot();
        return [
          ...checkJoinOutput('join-output', 'join', entriesUnder(store, PREFIX), expected, PREFIX),
          ...checkJoinOutput('join-output', 'join-ttl', entriesUnder(store, TTL_PREFIX), expectedWithTtl, TTL_PREFIX),
        ];
      },
      output: () => {
        const store = redis.snapshot();
        const withTtl = joinOutputCoverage(entriesUnder(store, TTL_PREFIX), expectedWithTtl);
        return {
          withoutTtl: joinOutputCoverage(entriesUnder(store, PREFIX), expected),
          withTtl,
          ttlCost: `the ${REGULAR_JOIN_TTL_MS} ms state TTL lost ${withTtl.possible - withTtl.written} of ${withTtl.possible} pairs (expected: records after an ad's silence miss its expired partners)`,
        };
      },
    };
  },
};
