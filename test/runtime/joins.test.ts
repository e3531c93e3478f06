import { describe, expect, test } from 'vitest';
import type { SubtaskInfo } from '../../src/connectors/api.ts';
import { outputTag, type FunctionFactory } from '../../src/runtime/functions.ts';
import { intervalJoin, lookupJoin, regularJoin, temporalJoin, type LateJoinRecord, type LateRecordCounter } from '../../src/runtime/joins.ts';
import { KeyedCoOperatorTestHarness, KeyedOperatorTestHarness } from '../../src/runtime/operator-test-harness.ts';

interface Left {
  readonly id: string;
  readonly k: string;
}
interface Right {
  readonly id: string;
  readonly k: string;
}
const L = (id: string, k = 'a'): Left => ({ id, k });
const R = (id: string, k = 'a'): Right => ({ id, k });
const pair = (l: Left, r: Right): string => `${l.id}+${r.id}`;
const byK = (v: { k: string }): string => v.k;

/** Keeps the instances a factory creates, to read their counters. */
function instancesOf<F>(factory: FunctionFactory<F>): { factory: FunctionFactory<F>; instances: F[] } {
  const instances: F[] = [];
  return {
    instances,
    factory: (info: SubtaskInfo) => {
      const fn = factory(info);
      instances.push(fn);
      return fn;
    },
  };
}

describe('regularJoin', () => {
  test('every record joins every past and future record of the other side with its key, also after a restore', () => {
    const harness = new KeyedCoOperatorTestHarness(regularJoin({ join: pair }), byK, byK);
    harness.processElement1(L('l1'));
    harness.processElement2(R('r1'));
    harness.processElement2(R('r2', 'b'));
    harness.processElement1(L('l2'));
    expect(harness.outputValues()).toEqual(['l1+r1', 'l2+r1']);
    const restored = new KeyedCoOperatorTestHarness(regularJoin({ join: pair }), byK, byK, { restoreFrom: harness.snapshot() });
    restored.processElement2(R('r3'));
    restored.processElement1(L('l3', 'b'));
    expect(restored.outputValues()).toEqual(['l1+r3', 'l2+r3', 'l3+r2']);
  });

  test('PLANTED BUG buffers-in-fields: joins as usual until a restore, which forgets every buffered record', () => {
    const buggy = regularJoin({ join: pair, plantedBug: 'buffers-in-fields' });
    const harness = new KeyedCoOperatorTestHarness(buggy, byK, byK);
    harness.processElement1(L('l1'));
    harness.processElement2(R('r1'));
    harness.processElement1(L('l2', 'b'));
    expect(harness.outputValues()).toEqual(['l1+r1']);
    expect(harness.numKeysInState()).toBe(0);
    const restored = new KeyedCoOperatorTestHarness(buggy, byK, byK, { restoreFrom: harness.snapshot() });
    restored.processElement2(R('r2'));
    expect(restored.outputValues()).toEqual([]);
  });

  test('with a TTL, a key idle for the TTL loses its buffers: the later record misses its partners (the cost)', () => {
    const harness = new KeyedCoOperatorTestHarness(regularJoin({ join: pair, stateTtlMs: 100 }), byK, byK);
    harness.processElement1(L('l1'));
    harness.setProcessingTime(99);
    harness.processElement2(R('r1'));
    harness.setProcessingTime(250);
    harness.processElement2(R('r2'));
    // l1 was written at 0 and expired at 100: r2 misses it; r1 (written at 99) is expired too.
    harness.processElement1(L('l2'));
    expect(harness.outputValues()).toEqual(['l1+r1', 'l2+r2']);
    expect(() => regularJoin({ join: pair, stateTtlMs: 0 })).toThrow(/stateTtlMs must be a positive integer/);
  });
});

describe('intervalJoin', () => {
  const bounds = { lowerMs: -2, upperMs: 5 };

  test('joins l.ts + lower <= r.ts <= l.ts + upper, bounds inclusive, stamped with the later timestamp', () => {
    const harness = new KeyedCoOperatorTestHarness(intervalJoin({ ...bounds, join: pair }), byK, byK);
    harness.processElement1(L('l'), 10);
    for (const ts of [7, 8, 15, 16]) harness.processElement2(R(`r${ts}`), ts);
    harness.processElement1(L('m'), 11);
    expect(harness.output()).toEqual([
      { value: 'l+r8', timestampMs: 10 },
      { value: 'l+r15', timestampMs: 15 },
      { value: 'm+r15', timestampMs: 15 },
      { value: 'm+r16', timestampMs: 16 },
    ]);
  });

  test('cleans each side when the watermark passes its bound, not before', () => {
    const harness = new KeyedCoOperatorTestHarness(intervalJoin({ ...bounds, join: pair }), byK, byK);
    harness.processElement1(L('l'), 10); // needed until the watermark reaches 15
    harness.processElement2(R('r'), 30); // needed until the watermark reaches 32
    harness.processWatermark(14);
    harness.processElement2(R('r15'), 15);
    expect(harness.outputValues()).toEqual(['l+r15']);
    harness.processWatermark(31);
    expect(harness.numKeysInState()).toBe(1);
    harness.processElement1(L('m'), 32);
    expect(harness.outputValues()).toEqual(['l+r15', 'm+r']);
    harness.processWatermark(40);
    expect(harness.numKeysInState()).toBe(0);
    expect(harness.numEventTimeTimers()).toBe(0);
  });

  test('drops records at or behind the watermark, counts them and sends them to the side output', () => {
    const late = outputTag<LateJoinRecord<Left, Right>>('late');
    const { factory, instances } = instancesOf(intervalJoin({ ...bounds, join: pair, lateOutputTag: late }));
    const harness = new KeyedCoOperatorTestHarness(factory, byK, byK);
    harness.processElement1(L('l'), 20);
    harness.processWatermark(12);
    harness.processElement2(R('r12'), 12); // late: would join l's range? no (12 < 18), and it is dropped anyway
    harness.processElement2(R('r13'), 13);
    harness.processElement1(L('l12'), 12);
    expect(harness.outputValues()).toEqual([]);
    expect(harness.sideOutput(late).map((r) => [r.value.side, (r.value.value as Left).id, r.value.watermarkMs])).toEqual([
      ['right', 'r12', 12],
      ['left', 'l12', 12],
    ]);
    expect((instances[0] as LateRecordCounter).lateRecordsDropped).toBe(2);
  });

  test('buffers and cleanup timers survive a restore', () => {
    const harness = new KeyedCoOperatorTestHarness(intervalJoin({ ...bounds, join: pair }), byK, byK);
    harness.processElement1(L('l'), 10);
    const restored = new KeyedCoOperatorTestHarness(intervalJoin({ ...bounds, join: pair }), byK, byK, { restoreFrom: harness.snapshot() });
    restored.processElement2(R('r'), 12);
    expect(restored.outputValues()).toEqual(['l+r']);
    restored.processWatermark(100);
    expect(restored.numKeysInState()).toBe(0);
  });

  test('PLANTED BUG cleanup-one-bound-early: a left record is gone when the watermark passes ts + lower, and an on-time partner misses it', () => {
    const harness = new KeyedCoOperatorTestHarness(intervalJoin({ lowerMs: 0, upperMs: 5, join: pair, plantedBug: 'cleanup-one-bound-early' }), byK, byK);
    harness.processElement1(L('l'), 10);
    harness.processWatermark(11);
    harness.processElement2(R('r'), 14); // on time (14 > 11) and within [10, 15]
    expect(harness.outputValues()).toEqual([]);
  });

  test('refuses bounds the wrong way round and records without timestamps', () => {
    expect(() => intervalJoin({ lowerMs: 5, upperMs: 1, join: pair })).toThrow(/lowerMs <= upperMs/);
    const harness = new KeyedCoOperatorTestHarness(intervalJoin({ ...bounds, join: pair }), byK, byK);
    expect(() => harness.processElement1(L('l'))).toThrow(/no event timestamp; give its source a WatermarkStrategy/);
  });
});

describe('temporalJoin', () => {
  interface Rate {
    readonly k: string;
    readonly rate: number;
    readonly from: number;
  }
  const rated = (l: Left, r: Rate): string => `${l.id}@${r.rate}`;
  const make = (plantedBug?: 'latest-version') => temporalJoin<Left, Rate, string>({ versionTimestamp: (r) => r.from, join: rated, ...(plantedBug ? { plantedBug } : {}) });

  test('each left record joins the version valid at its time, once the watermark passes it', () => {
    const harness = new KeyedCoOperatorTestHarness(make(), byK, byK);
    harness.processElement2({ k: 'a', rate: 1, from: 5 }, 5);
    harness.processElement1(L('early'), 3); // before any version: no output
    harness.processElement1(L('l10'), 10);
    harness.processElement1(L('l20'), 20);
    harness.processElement2({ k: 'a', rate: 2, from: 15 }, 15); // arrives after l20, valid at its time
    expect(harness.outputValues()).toEqual([]);
    harness.processWatermark(19);
    expect(harness.output()).toEqual([{ value: 'l10@1', timestampMs: 10 }]);
    harness.processElement2({ k: 'a', rate: 3, from: 25 }, 25);
    harness.processWatermark(30);
    expect(harness.outputValues()).toEqual(['l10@1', 'l20@2']);
    expect(harness.numEventTimeTimers()).toBe(0);
  });

  test('pending records and their timers survive a restore; versions no future record can pick are dropped', () => {
    const harness = new KeyedCoOperatorTestHarness(make(), byK, byK);
    harness.processElement2({ k: 'a', rate: 1, from: 5 }, 5);
    harness.processElement2({ k: 'a', rate: 2, from: 8 }, 8);
    harness.processElement1(L('l9'), 9);
    harness.processElement1(L('l30'), 30);
    harness.processWatermark(9);
    expect(harness.outputValues()).toEqual(['l9@2']);
    const snapshot = harness.snapshot();
    // Only the version valid at the watermark (from 8) is kept.
    expect(snapshot.keyedState['co-process/versions']).toEqual([['a', [[8, { k: 'a', rate: 2, from: 8 }]]]]);
    const restored = new KeyedCoOperatorTestHarness(make(), byK, byK, { restoreFrom: snapshot });
    restored.processWatermark(40);
    expect(restored.outputValues()).toEqual(['l30@2']);
  });

  test('late left records and late versions are dropped', () => {
    const late = outputTag<LateJoinRecord<Left, Rate>>('late');
    const harness = new KeyedCoOperatorTestHarness(temporalJoin<Left, Rate, string>({ versionTimestamp: (r) => r.from, join: rated, lateOutputTag: late }), byK, byK);
    harness.processWatermark(10);
    harness.processElement1(L('l10'), 10);
    harness.processElement2({ k: 'a', rate: 1, from: 4 }, 12);
    harness.processElement1(L('l11'), 11);
    harness.processWatermark(20);
    expect(harness.outputValues()).toEqual([]);
    expect(harness.sideOutput(late).map((r) => r.value.side)).toEqual(['left', 'right']);
  });

  test('PLANTED BUG latest-version: joins the newest version in state instead of the one valid at the record time', () => {
    const harness = new KeyedCoOperatorTestHarness(make('latest-version'), byK, byK);
    harness.processElement2({ k: 'a', rate: 1, from: 5 }, 5);
    harness.processElement1(L('l10'), 10);
    harness.processElement2({ k: 'a', rate: 2, from: 15 }, 15);
    harness.processWatermark(20);
    expect(harness.outputValues()).toEqual(['l10@2']);
  });
});

describe('lookupJoin', () => {
  test('joins the version the store holds when the lookup runs; no version, no output', async () => {
    const store = new Map<string, number>([['a', 1]]);
    const lookups: string[] = [];
    const harness = new KeyedOperatorTestHarness(
      lookupJoin<Left, number, string>({
        lookup: async (key) => {
          lookups.push(String(key));
          return store.get(String(key));
        },
        join: (l, rate) => `${l.id}@${rate}`,
      }),
      byK,
    );
    await harness.processElement(L('l1'));
    store.set('a', 2);
    await harness.processElement(L('l2'));
    await harness.processElement(L('l3', 'b'));
    expect(harness.outputValues()).toEqual(['l1@1', 'l2@2']);
    expect(lookups).toEqual(['a', 'a', 'b']);
  });
});
