import { describe, expect, test } from 'vitest';
import {
  arrivalsUnder,
  defineScenario,
  jobGraph,
  lateUnderBound,
  TimedPartitionSourceReader,
  timedPartitionLog,
  tumblingEventTimeWindows,
  WatermarkStrategy,
  windowed,
  type Keyed,
  type TimestampedRecord,
  type Violation,
} from '../../src/index.ts';
import { explore } from '../../src/harness/explore.ts';

/**
 * A user's own window function, checked the way the built-in event-time scenarios are: a
 * scenario with `inputDisorder`, its input's arrival times drawn per case (`arrivalsUnder`),
 * its own batch model requiring only windows whose readings are safe (`lateUnderBound`),
 * everything through the package barrel.
 */
interface Click {
  readonly id: string;
  readonly page: string;
  readonly ts: number;
}
const BOUND_MS = 20;
const WINDOW_MS = 50;

function clicks(partitions: number, perPartition: number): TimestampedRecord<Click>[][] {
  return Array.from({ length: partitions }, (_, p) =>
    Array.from({ length: perPartition }, (_, i) => {
      const ts = i * 7 + p;
      return { value: { id: `c${p}.${i}`, page: `page-${(i + p) % 3}`, ts }, timestampMs: ts };
    }),
  );
}

const myClickCounts = windowed<Click, number, number, Keyed<number>>({
  assigner: tumblingEventTimeWindows(WINDOW_MS),
  aggregate: { createAccumulator: () => 0, add: (_click, n) => n + 1, getResult: (n) => n },
  emit: (page, window, count) => ({ key: `${String(page)}@${window.startMs}`, value: count }),
});

const userScenario = defineScenario({
  name: 'user-click-windows',
  module: import.meta.url,
  size: { partitions: 2, recordsPerPartition: 30 },
  inputDisorder: true,
  properties: ['my-window-counts'],
  bugs: [{ name: 'max-watermark', description: "the runtime's watermark is the maximum of the inputs", caughtBy: ['my-window-counts'], jobOptions: { watermarkAsMaxOfInputs: true } }],
  typicalRunSteps: (size) => 12 * size.partitions * size.recordsPerPartition,
  build: ({ scheduler, size, disorder }) => {
    const input = arrivalsUnder(disorder, clicks(size.partitions, size.recordsPerPartition), BOUND_MS);
    const log = timedPartitionLog(input);
    const store = new Map<string, number>();
    const job = jobGraph('user-click-windows');
    job
      .source('clicks', size.partitions, ({ subtaskIndex }) => new TimedPartitionSourceReader(log, subtaskIndex, () => scheduler.nowMs), {
        watermarks: WatermarkStrategy.forBoundedOutOfOrderness<Click>(BOUND_MS).withTimestampAssigner((c) => c.ts),
      })
      .keyBy((c) => c.page, 2)
      .process('click-counts', myClickCounts)
      .sink('store', () => ({ write: (entry: Keyed<number>) => void store.set(String(entry.key), entry.value) }));
    // The batch model: counts per (page, window); exact where every click of the window is safe.
    const late = lateUnderBound(input, (c) => c.ts, BOUND_MS);
    const model = new Map<string, { count: number; exact: boolean }>();
    input.forEach((records, p) =>
      records.forEach(({ value }, i) => {
        const key = `${value.page}@${value.ts - (value.ts % WINDOW_MS)}`;
        const cell = model.get(key) ?? { count: 0, exact: true };
        model.set(key, { count: cell.count + 1, exact: cell.exact && !late[p]![i] });
      }),
    );
    return {
      pipeline: job.build(),
      judge: (): Violation[] =>
        [...model.entries()]
          .filter(([key, cell]) => cell.exact && store.get(key) !== cell.count)
          .map(([key, cell]) => ({ property: 'my-window-counts', anomaly: 'lost write', message: `window ${key}: expected ${cell.count}, found ${store.get(key) ?? '(absent)'}` })),
    };
  },
});

describe("a user's window function under generated disorder, interleavings and faults", () => {
  const options = { size: { partitions: 2, recordsPerPartition: 30 }, mode: 'exactly-once' as const, backend: 'fs' as const, maxFaults: 2, checkDeterminism: false, seed: 21 };

  test('the correct job holds under 40 generated cases', async () => {
    const report = await explore(userScenario, { ...options, bug: undefined, runs: 40 });
    expect(report.counterexample?.result.violations).toBeUndefined();
    expect(report.stats.runs).toBe(40);
  }, 240_000);

  test('a watermark that is the maximum of the inputs is caught by the user\'s own property and shrunk', async () => {
    const report = await explore(userScenario, { ...options, bug: 'max-watermark', runs: 100, properties: ['my-window-counts'] });
    expect(report.counterexample).toBeDefined();
    expect(report.counterexample!.result.violations.every((v) => v.property === 'my-window-counts')).toBe(true);
    expect(report.counterexample!.result.spec.faults.length).toBeLessThanOrEqual(2);
  }, 240_000);

  test('arrivalsUnder: no disorder, every record at its event time; a late record beyond the bound; the gapped partition later', () => {
    const records = clicks(2, 10);
    expect(arrivalsUnder(undefined, records, BOUND_MS).map((p) => p.map((r) => r.arrivalMs))).toEqual(records.map((p) => p.map((r) => r.timestampMs)));
    const late = arrivalsUnder({ withinBoundPercent: 0, lateEvery: 2, lateByMs: 40, idleGapMs: 0, idlePartition: 0, seed: 1 }, records, BOUND_MS);
    expect(late.flat().some((r) => r.arrivalMs - r.value.ts === BOUND_MS + 1 + 40)).toBe(true);
    const gapped = arrivalsUnder({ withinBoundPercent: 0, lateEvery: 0, lateByMs: 0, idleGapMs: 500, idlePartition: 1, seed: 1 }, records, BOUND_MS);
    expect(gapped[1]!.at(-1)!.arrivalMs).toBe(records[1]!.at(-1)!.timestampMs + 500);
    expect(gapped[0]!.at(-1)!.arrivalMs).toBe(records[0]!.at(-1)!.timestampMs);
  });
});
