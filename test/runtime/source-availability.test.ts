import { describe, expect, it } from 'vitest';
import type { SourceReader } from '../../src/connectors/api.ts';
import { timedPartitionLog, TimedPartitionSourceReader } from '../../src/connectors/timed-partition-source.ts';
import { WatermarkStrategy } from '../../src/runtime/functions.ts';
import { jobGraph, type JobGraphSpec } from '../../src/runtime/job-graph.ts';
import { KeyedStore, lateReadings, runGraph, runtimeViolations, taskIndex, tumblingCount, type Clock, type Reading, type WindowCount } from './event-time-jobs.ts';

/** The same reader with its availability hint hidden: the runtime can only poll it. */
function withoutHint<T>(reader: TimedPartitionSourceReader<T>): SourceReader<T> {
  return {
    initializeState: (context) => reader.initializeState(context),
    snapshotState: () => reader.snapshotState(),
    pollNext: () => reader.pollNext(),
    currentPosition: () => reader.currentPosition(),
  };
}

/** Readings every 10 ms, a 600 ms gap after the first half, then the rest; one source with an idleness timeout beside a steady one. */
function gappedJob(clock: Clock, hint: boolean, windows: KeyedStore<WindowCount>): JobGraphSpec {
  const gapped = Array.from({ length: 40 }, (_, i) => ({ ts: i * 10, arrivalMs: i * 10 + (i >= 20 ? 600 : 0) }));
  const steady = Array.from({ length: 100 }, (_, i) => ({ ts: i * 10, arrivalMs: i * 10 }));
  const log = (source: string, records: ReadonlyArray<{ ts: number; arrivalMs: number }>) =>
    timedPartitionLog([records.map((r) => ({ value: { source, ts: r.ts } as Reading, arrivalMs: r.arrivalMs }))]);
  const strategy = WatermarkStrategy.forBoundedOutOfOrderness<Reading>(0).withTimestampAssigner((r) => r.ts).withIdleness(40);
  const reader = (records: ReadonlyArray<{ ts: number; arrivalMs: number }>, name: string) => (info: { subtaskIndex: number }) => {
    const timed = new TimedPartitionSourceReader(log(name, records), info.subtaskIndex, clock);
    return hint ? timed : withoutHint(timed);
  };
  const job = jobGraph('gapped');
  const gappedStream = job.source('gapped', 1, reader(gapped, 'gapped'), { watermarks: strategy });
  const steadyStream = job.source('steady', 1, reader(steady, 'steady'), { watermarks: strategy });
  const counted = gappedStream.union(steadyStream).keyBy(() => 'all', 1).process('windows', tumblingCount(100));
  counted.getSideOutput(lateReadings).sink('late', () => ({ write: () => {} }));
  counted.sink('window-sink', windows.sink());
  return job.build();
}

describe('a source that says when its next record is available', () => {
  it('TimedPartitionSourceReader names the arrival time of its next record, and nothing at the end of its partition', () => {
    const log = timedPartitionLog([[{ value: 'a', arrivalMs: 0 }, { value: 'b', arrivalMs: 50 }]]);
    const reader = new TimedPartitionSourceReader(log, 0, () => 0);
    reader.initializeState({
      isRestored: () => false,
      restoredCheckpointId: undefined,
      getOperatorStateStore: () => ({ getListState: () => ({ get: () => [], update: () => {}, add: () => {}, clear: () => {} }) }),
      subtaskIndex: 0,
      parallelism: 1,
      attemptNumber: 0,
      report: () => {},
    });
    expect(reader.availableAtMs()).toBe(0);
    expect(reader.pollNext()).toBe('a');
    expect(reader.availableAtMs()).toBe(50);
  });

  it('sleeps through the gap instead of polling, and still marks itself idle and writes the same windows', async () => {
    const results = [];
    for (const hint of [false, true]) {
      const windows = new KeyedStore<WindowCount>((w) => w.end);
      const run = await runGraph((clock) => gappedJob(clock, hint, windows), { sourcePollDelayMs: 5 });
      expect(runtimeViolations(run)).toEqual([]);
      const o = run.observations;
      expect(o.outcome).toBe('finished');
      const gappedTask = taskIndex(o, 'gapped');
      const wentIdle = o.watermarks.find((w) => w.task === gappedTask && w.idle);
      results.push({ steps: o.steps, windows: JSON.stringify(windows.sorted()), idleAtMs: wentIdle?.atMs });
    }
    const [polling, sleeping] = results;
    // The same output and the same idleness, with the empty polls of the gap (every 5 ms for 600 ms) saved.
    expect(sleeping!.windows).toBe(polling!.windows);
    expect(polling!.idleAtMs).toBeDefined();
    expect(sleeping!.idleAtMs).toBeDefined();
    // Idle once the timeout ran out after its last record (read at 190 ms or a little later, + 40 ms),
    // woken for it: not a whole gap later.
    expect(sleeping!.idleAtMs).toBeGreaterThanOrEqual(190 + 40);
    expect(sleeping!.idleAtMs).toBeLessThan(190 + 40 + 20);
    expect(sleeping!.steps).toBeLessThan(polling!.steps - 150);
  });
});
