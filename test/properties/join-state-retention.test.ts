import { describe, expect, test } from 'vitest';
import type { Arriving } from '../../model/joins.ts';
import { checkJoinStateRetention, checkLateRecords, type BufferedInput } from '../../properties/joins.ts';
import type { RunObservations } from '../../src/runtime/observations.ts';
import type { SubtaskSnapshot } from '../../src/runtime/state.ts';

interface Rec {
  readonly id: string;
  readonly ts: number;
}
const partition = (prefix: string, timestamps: readonly number[]): Arriving<Rec>[] => timestamps.map((ts, i) => ({ value: { id: `${prefix}${i}`, ts }, arrivalMs: i }));
const orders = [partition('o', [0, 10, 20, 30])];
const payments = [partition('p', [5, 40])];
const BOUND_MS = 5;

function input(partitions: Arriving<Rec>[][], splitPrefix: string, stateName: string, retentionMs: number): BufferedInput<unknown> {
  return { partitions, splitPrefix, stateName, timestampOf: (r) => (r as Rec).ts, idOf: (r) => (r as Rec).id, retentionMs };
}
const inputs = [input(orders, 'orders', 'join/left-buffer', 15), input(payments, 'payments', 'join/right-buffer', 0)];

/** One completed checkpoint: sources at the offsets, the join holding `held` (ids by side), optional channel state. */
function observations(offsets: { orders?: number; payments?: number }, held: { left: Rec[]; right: Rec[] }, inFlight: Rec[] = [], mode = 'exactly-once'): RunObservations {
  const source = (split: string, offset: number | undefined): SubtaskSnapshot[] =>
    offset === undefined ? [] : [{ operatorState: {}, keyedState: {}, sourcePosition: { split, offset } }];
  const bucketed = (records: Rec[]) => records.map((r) => [r.id, [[r.ts, [r]]]] as const);
  const join: SubtaskSnapshot = {
    operatorState: {},
    keyedState: { 'join/left-buffer': bucketed(held.left), 'join/right-buffer': bucketed(held.right) },
    channelState: [inFlight.map((value) => ({ key: value.id, value }))],
  };
  const tasks = [...source('orders-0', offsets.orders), ...source('payments-0', offsets.payments), join];
  return { settings: { mode }, checkpoints: [{ checkpointId: 7, outcome: 'completed', tasks }] } as unknown as RunObservations;
}

const [o0, o1, o2] = orders[0]!.map((r) => r.value);
const p0 = payments[0]![0]!.value;

describe('checkJoinStateRetention', () => {
  test('a record whose partners can still arrive must be in the state or in flight', () => {
    // Sources at orders 3/4 (max ts 20) and payments 1/2 (max 5): the join watermark is at most -1.
    const missing = checkJoinStateRetention(observations({ orders: 3, payments: 1 }, { left: [o1!, o2!], right: [p0!] }), 'join', inputs, BOUND_MS);
    expect(missing).toHaveLength(1);
    expect(missing[0]!.message).toMatch(/checkpoint 7 \(join watermark at most -1\): 1 record\(s\) that can still find partners missing from the state of join 'join': o0 \(ts 0, kept until the watermark reaches 15\)/);
    expect(checkJoinStateRetention(observations({ orders: 3, payments: 1 }, { left: [o1!, o2!], right: [p0!] }, [o0!]), 'join', inputs, BOUND_MS)).toEqual([]);
  });

  test('a record whose bound the watermark may have passed may be gone', () => {
    // Every source read to its end may have sent its final watermark: nothing is required any more.
    expect(checkJoinStateRetention(observations({ orders: 4, payments: 2 }, { left: [], right: [] }), 'join', inputs, BOUND_MS)).toEqual([]);
  });

  test('at-least-once cuts are torn (the watermark may run past them): not judged', () => {
    expect(checkJoinStateRetention(observations({ orders: 3, payments: 1 }, { left: [], right: [] }, [], 'at-least-once'), 'join', inputs, BOUND_MS)).toEqual([]);
    expect(checkJoinStateRetention(observations({ orders: 3, payments: 1 }, { left: [], right: [] }, [], 'unaligned'), 'join', inputs, BOUND_MS)).toHaveLength(1);
  });

  test('a checkpoint without the position of every split is not judged', () => {
    expect(checkJoinStateRetention(observations({ orders: 3 }, { left: [], right: [] }), 'join', inputs, BOUND_MS)).toEqual([]);
  });

  test('possibly late records are not required', () => {
    const withLate = [input([partition('o', [0, 30, 10, 40])], 'orders', 'join/left-buffer', 15), inputs[1]!];
    // o2 (ts 10 after 30) is possibly late; o0 and o1 are required, o2 is not.
    const violations = checkJoinStateRetention(observations({ orders: 3, payments: 1 }, { left: [o0!, { id: 'o1', ts: 30 }], right: [p0!] }), 'join', withLate, BOUND_MS);
    expect(violations).toEqual([]);
  });
});

describe('checkLateRecords', () => {
  test('names on-time records that were dropped as late', () => {
    expect(checkLateRecords('join-late-records', 'join', ['o2'], new Set(['o2']))).toEqual([]);
    const [violation] = checkLateRecords('join-late-records', 'join', ['o2', 'o1'], new Set(['o2']));
    expect(violation!.message).toMatch(/1 on-time record\(s\) dropped as late by join 'join': o1 \(within/);
  });
});
