import { describe, expect, test } from 'vitest';
import {
  expectedIntervalJoin,
  expectedLookupJoin,
  expectedRegularJoin,
  expectedTemporalJoin,
  INTERVAL_JOIN_BOUNDS,
  intervalJoinInput,
  possiblyLate,
  regularJoinInput,
  temporalJoinInput,
  type Arriving,
  type CurrencyOrder,
  type Rate,
} from '../../model/joins.ts';
import { checkJoinOutput } from '../../properties/joins.ts';

const at = <T>(value: T, arrivalMs = 0): Arriving<T> => ({ value, arrivalMs });

describe('lateness', () => {
  test('a record at or behind its partition watermark (max - bound - 1) is possibly late', () => {
    const partition = [10, 3, 20, 14, 15].map((ts) => at({ ts }));
    // watermarks before each: -inf, 4, 4, 14, 14
    expect(possiblyLate([partition], (r) => r.ts, 5)).toEqual([[false, true, false, true, false]]);
  });
});

describe('inputs', () => {
  test('are functions of the size, arrive in order per partition, and include late records', () => {
    for (const make of [intervalJoinInput, temporalJoinInput, regularJoinInput]) {
      expect(make(2, 30)).toEqual(make(2, 30));
      for (const partitions of Object.values(make(2, 30)) as Arriving<unknown>[][][]) {
        expect(partitions).toHaveLength(2);
        for (const records of partitions) {
          for (let i = 1; i < records.length; i++) expect(records[i]!.arrivalMs).toBeGreaterThanOrEqual(records[i - 1]!.arrivalMs);
        }
      }
    }
    expect(() => intervalJoinInput(0, 3)).toThrow(/partitions/);
    const late = possiblyLate(intervalJoinInput(2, 40).orders, (o) => o.ts, 5).flat();
    expect(late.filter(Boolean).length).toBeGreaterThan(0);
    expect(late.filter((l) => !l).length).toBeGreaterThan(late.length / 2);
  });
});

describe('models', () => {
  test('interval join: pairs within the bounds only, required unless a side is possibly late', () => {
    const input = intervalJoinInput(2, 40);
    const expected = expectedIntervalJoin('ij', input);
    const orders = new Map(input.orders.flat().map(({ value }) => [value.id, value]));
    const payments = new Map(input.payments.flat().map(({ value }) => [value.id, value]));
    let required = 0;
    for (const [key, entry] of expected) {
      const [, orderId, paymentId] = key.split(':');
      const delta = payments.get(paymentId!)!.ts - orders.get(orderId!)!.ts;
      expect(delta).toBeGreaterThanOrEqual(INTERVAL_JOIN_BOUNDS.lowerMs);
      expect(delta).toBeLessThanOrEqual(INTERVAL_JOIN_BOUNDS.upperMs);
      if (entry.required) required++;
    }
    expect(required).toBeGreaterThan(20);
    expect(required).toBeLessThan(expected.size);
    // Some payments fall outside the interval and join nothing.
    expect(expected.size).toBeLessThan(payments.size);
  });

  test('temporal join: the version valid at the order time; none before the first version', () => {
    const rates: Rate[] = [
      { currency: 'EUR', rate: 100, ts: 5 },
      { currency: 'EUR', rate: 200, ts: 30 },
    ];
    const orders: CurrencyOrder[] = [4, 10, 30].map((ts, i) => ({ id: `o${i}`, currency: 'EUR', ts, amount: 1 }));
    const input = { orders: [orders.map((o) => at(o))], rates: [rates.map((r) => at(r))] };
    const expected = expectedTemporalJoin('tj', input);
    expect(expected.has('tj:o0')).toBe(false);
    expect(expected.get('tj:o1')).toEqual({ values: new Set(['1EUR*100@5']), required: true });
    expect(expected.get('tj:o2')).toEqual({ values: new Set(['1EUR*200@30']), required: true });
    // The lookup join may see any version of the currency, and need not see one.
    expect(expectedLookupJoin('lj', input).get('lj:o0')).toEqual({ values: new Set(['1EUR*100@5', '1EUR*200@30']), required: false });
  });

  test('temporal join: a possibly late version between the certain one and the order leaves a choice', () => {
    const rates = [at<Rate>({ currency: 'EUR', rate: 100, ts: 5 }), at<Rate>({ currency: 'EUR', rate: 300, ts: 50 }), at<Rate>({ currency: 'EUR', rate: 200, ts: 20 })];
    const orders = [at<CurrencyOrder>({ id: 'o', currency: 'EUR', ts: 25, amount: 1 })];
    expect(expectedTemporalJoin('tj', { orders: [orders], rates: [rates] }).get('tj:o')).toEqual({ values: new Set(['1EUR*100@5', '1EUR*200@20']), required: false });
  });

  test('regular join: the cross product per key; with a TTL nothing is required', () => {
    const input = regularJoinInput(2, 20);
    const full = expectedRegularJoin('rj', input, false);
    let pairs = 0;
    for (const impression of input.impressions.flat()) pairs += input.clicks.flat().filter((c) => c.value.adId === impression.value.adId).length;
    expect(full.size).toBe(pairs);
    expect([...full.values()].every((e) => e.required)).toBe(true);
    const withTtl = expectedRegularJoin('rj', input, true);
    expect([...withTtl.keys()]).toEqual([...full.keys()]);
    expect([...withTtl.values()].some((e) => e.required)).toBe(false);
  });
});

describe('checkJoinOutput', () => {
  const expected = new Map([
    ['j:a', { values: new Set(['1']), required: true }],
    ['j:b', { values: new Set(['2', '3']), required: false }],
  ]);
  test('accepts the model, with or without optional keys, and ignores other prefixes', () => {
    expect(checkJoinOutput('join-output', 'j', { 'j:a': '1' }, expected, 'j')).toEqual([]);
    expect(checkJoinOutput('join-output', 'j', { 'j:a': '1', 'j:b': '3', 'other:x': '9' }, expected, 'j')).toEqual([]);
  });
  test('names lost writes, unexpected writes and wrong values', () => {
    const violations = checkJoinOutput('join-output', 'j', { 'j:b': '4', 'j:c': '1' }, expected, 'j');
    expect(violations.map((v) => v.anomaly).sort()).toEqual(['lost write', 'unexpected write', 'wrong value']);
    expect(violations.find((v) => v.anomaly === 'wrong value')!.message).toMatch(/j:b=4 \(expected 2 or 3\)/);
  });
});
