/**
 * Batch models of the four joins: what each join must write, computed over the whole input
 * at once, whatever the interleaving and the faults. Pure: knows nothing of the runtime.
 *
 * Lateness: a record is *possibly late* when its timestamp is at or behind the bounded
 * out-of-orderness watermark of its own partition before it (`max - bound - 1`); the join's
 * watermark is the minimum over its inputs, so it is never ahead of that, and a record that
 * is not possibly late is never late, under any interleaving (without idleness). Whether a
 * possibly late record is dropped depends on the other partitions' progress, so the models
 * accept output involving it without requiring it.
 */
import type { InputDisorder } from './input-disorder.ts';

/** A record of an input partition with the virtual time it becomes readable (TimedPartitionLog form). */
export interface Arriving<T> {
  readonly value: T;
  readonly arrivalMs: number;
}

export type Partitions<T> = ReadonlyArray<ReadonlyArray<Arriving<T>>>;

/** What a join must leave in the store, per output key. */
export interface ExpectedEntry {
  /** The values the key may hold (several where lateness or timing leaves a choice). */
  readonly values: ReadonlySet<string>;
  /** Whether the key must be written at all. */
  readonly required: boolean;
}

export type ExpectedJoinOutput = ReadonlyMap<string, ExpectedEntry>;

/** Per partition and offset: whether the record may be late at a join (see the module comment). */
export function possiblyLate<T>(partitions: Partitions<T>, timestampOf: (value: T) => number, maxOutOfOrdernessMs: number): boolean[][] {
  return partitions.map((records) => {
    let maxSeen = Number.NEGATIVE_INFINITY;
    return records.map(({ value }) => {
      const ts = timestampOf(value);
      const late = ts <= maxSeen - maxOutOfOrdernessMs - 1;
      maxSeen = Math.max(maxSeen, ts);
      return late;
    });
  });
}

/** Every record with its lateness, in partition order. */
export function classified<T>(partitions: Partitions<T>, timestampOf: (value: T) => number, maxOutOfOrdernessMs: number): Array<{ readonly value: T; readonly late: boolean }> {
  const late = possiblyLate(partitions, timestampOf, maxOutOfOrdernessMs);
  return partitions.flatMap((records, p) => records.map(({ value }, i) => ({ value, late: late[p]![i]! })));
}

/** A deterministic generator for scenario inputs (mulberry32): inputs are functions of the size only. */
export function seededRandom(seed: number): (below: number) => number {
  let state = seed >>> 0;
  return (below) => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * below);
  };
}

/** Spreads records over partitions in arrival order (arrival = event time + delay). */
function toPartitions<T>(records: ReadonlyArray<{ readonly value: T; readonly partition: number; readonly arrivalMs: number }>, partitionCount: number): Arriving<T>[][] {
  const partitions: Arriving<T>[][] = Array.from({ length: partitionCount }, () => []);
  for (const record of records) partitions[record.partition]!.push({ value: record.value, arrivalMs: record.arrivalMs });
  // Stable sort: ties keep generation order, so the input is a function of the size only.
  for (const partition of partitions) partition.sort((a, b) => a.arrivalMs - b.arrivalMs);
  return partitions;
}

function checkSize(what: string, partitionCount: number, recordsPerPartition: number): void {
  if (!Number.isSafeInteger(partitionCount) || partitionCount < 1) throw new Error(`${what}: partitions must be >= 1, got ${partitionCount}`);
  if (!Number.isSafeInteger(recordsPerPartition) || recordsPerPartition < 0) throw new Error(`${what}: recordsPerPartition must be >= 0, got ${recordsPerPartition}`);
}

function add(output: Map<string, { values: Set<string>; required: boolean }>, key: string, value: string, required: boolean): void {
  const entry = output.get(key);
  if (entry === undefined) output.set(key, { values: new Set([value]), required });
  else {
    entry.values.add(value);
    entry.required ||= required;
  }
}

// ---------------------------------------------------------------- regular join

export interface Impression {
  readonly id: string;
  readonly adId: string;
}

export interface Click {
  readonly id: string;
  readonly adId: string;
}

export const REGULAR_JOIN_ADS = ['ad-a', 'ad-b', 'ad-c', 'ad-d', 'ad-e'] as const;

export interface RegularJoinInput {
  readonly impressions: Arriving<Impression>[][];
  readonly clicks: Arriving<Click>[][];
}

/**
 * Impressions and clicks of a few ads, arriving over virtual time; each ad goes quiet for a
 * while now and then (so a state TTL drops its buffers and later records miss partners).
 */
export function regularJoinInput(partitionCount: number, recordsPerPartition: number): RegularJoinInput {
  checkSize('regularJoinInput', partitionCount, recordsPerPartition);
  const random = seededRandom(0x5eed_0001);
  const side = <T>(prefix: string, make: (id: string, adId: string) => T): Arriving<T>[][] => {
    const records: Array<{ value: T; partition: number; arrivalMs: number }> = [];
    for (let p = 0; p < partitionCount; p++) {
      for (let i = 0; i < recordsPerPartition; i++) {
        // Two ads are active per phase of 8 records (80 ms): each ad has 160 ms of records, then 240 ms of silence.
        const phase = Math.floor(i / 8);
        const ad = REGULAR_JOIN_ADS[(phase + random(2)) % REGULAR_JOIN_ADS.length]!;
        const arrivalMs = i * 10 + random(10);
        records.push({ value: make(`${prefix}${p}.${i}`, ad), partition: p, arrivalMs });
      }
    }
    return toPartitions(records, partitionCount);
  };
  return {
    impressions: side('i', (id, adId): Impression => ({ id, adId })),
    clicks: side('c', (id, adId): Click => ({ id, adId })),
  };
}

/** The store entry of one joined pair (the scenario's join function writes exactly this). */
export function regularJoinEntry(prefix: string, impression: Impression, click: Click): readonly [string, string] {
  return [`${prefix}:${impression.id}:${click.id}`, impression.adId];
}

/**
 * Without TTL: every impression joins every click of its ad, all required. With a TTL, a
 * pair is joined only if the earlier record's buffer was still alive when the later arrived,
 * which depends on processing time: every pair is allowed, none required (the TTL's cost).
 */
export function expectedRegularJoin(prefix: string, input: RegularJoinInput, withTtl: boolean): ExpectedJoinOutput {
  const output = new Map<string, { values: Set<string>; required: boolean }>();
  const clicksByAd = new Map<string, Click[]>();
  for (const { value } of input.clicks.flat()) clicksByAd.set(value.adId, [...(clicksByAd.get(value.adId) ?? []), value]);
  for (const { value: impression } of input.impressions.flat()) {
    for (const click of clicksByAd.get(impression.adId) ?? []) {
      const [key, value] = regularJoinEntry(prefix, impression, click);
      add(output, key, value, !withTtl);
    }
  }
  return output;
}

// ---------------------------------------------------------------- interval join

export interface Order {
  readonly id: string;
  readonly ts: number;
  readonly amount: number;
}

export interface Payment {
  readonly id: string;
  readonly orderId: string;
  readonly ts: number;
}

export interface IntervalJoinInput {
  readonly orders: Arriving<Order>[][];
  readonly payments: Arriving<Payment>[][];
}

export const INTERVAL_JOIN_BOUNDS = { lowerMs: 0, upperMs: 15 } as const;
/** The sources' bounded out-of-orderness; records delayed more than this arrive (possibly) late. */
export const JOIN_OUT_OF_ORDERNESS_MS = 5;
const LATE_DELAY_MS = 40;

/** Delay from event time to arrival: within the bound, or (1 record in `lateEvery`) far beyond it. */
function arrivalDelay(random: (below: number) => number, lateEvery: number): number {
  return random(lateEvery) === 0 ? LATE_DELAY_MS + random(10) : random(JOIN_OUT_OF_ORDERNESS_MS);
}

/**
 * How a join input's records arrive: as designed (1 in 12 late by 40 to 49 ms, the rest 0 to
 * 4 ms out of order), or under a case's disorder (src/harness/input-disorder.ts): on-time
 * records up to `withinBoundPercent` of the bound out of order, 1 in `lateEvery` late by
 * `lateByMs` (plus up to 9 ms) beyond it, and the orders' partition `idlePartition` silent for
 * `idleGapMs` halfway through (the join's sources have no idleness timeout: the gap only holds
 * the join's watermark back, so it makes no record late).
 */
interface JoinArrivals {
  readonly random: (below: number) => number;
  /** Delay of one record from its event time to its arrival. */
  delayMs(): number;
  /** Arrival of an order of partition `p` at `arrivalMs`, after the idle gap when it falls behind it. */
  orderArrivalMs(p: number, arrivalMs: number): number;
}

function joinArrivals(designedSeed: number, recordsPerPartition: number, partitionCount: number, disorder: InputDisorder | undefined): JoinArrivals {
  if (disorder === undefined) {
    const random = seededRandom(designedSeed);
    return { random, delayMs: () => arrivalDelay(random, 12), orderArrivalMs: (_p, arrivalMs) => arrivalMs };
  }
  const random = seededRandom(designedSeed ^ Math.imul(disorder.seed + 1, 0x9e3779b1));
  const withinBoundMs = Math.floor((JOIN_OUT_OF_ORDERNESS_MS * disorder.withinBoundPercent) / 100);
  const gapped = disorder.idleGapMs > 0 ? disorder.idlePartition % partitionCount : undefined;
  const gapFromMs = Math.floor((recordsPerPartition * 10) / 2);
  return {
    random,
    delayMs: () => {
      const late = disorder.lateEvery > 0 && random(disorder.lateEvery) === 0;
      return late ? JOIN_OUT_OF_ORDERNESS_MS + 1 + disorder.lateByMs + random(10) : random(withinBoundMs + 1);
    },
    orderArrivalMs: (p, arrivalMs) => (p === gapped && arrivalMs >= gapFromMs ? arrivalMs + disorder.idleGapMs : arrivalMs),
  };
}

/**
 * Orders every ~10 ms per partition; each has 0 to 2 payments, some inside
 * [ts + lower, ts + upper] and some outside it; about 1 record in 12 arrives late.
 */
export function intervalJoinInput(partitionCount: number, recordsPerPartition: number, disorder?: InputDisorder): IntervalJoinInput {
  checkSize('intervalJoinInput', partitionCount, recordsPerPartition);
  const arrivals = joinArrivals(0x5eed_0002, recordsPerPartition, partitionCount, disorder);
  const random = arrivals.random;
  const paymentOffsetsMs = [-3, 0, 4, 9, 15, 16, 22];
  const orders: Array<{ value: Order; partition: number; arrivalMs: number }> = [];
  const payments: Array<{ value: Payment; partition: number; arrivalMs: number }> = [];
  for (let p = 0; p < partitionCount; p++) {
    for (let i = 0; i < recordsPerPartition; i++) {
      const order: Order = { id: `o${p}.${i}`, ts: i * 10 + p * 3, amount: 10 + random(90) };
      orders.push({ value: order, partition: p, arrivalMs: arrivals.orderArrivalMs(p, order.ts + arrivals.delayMs()) });
      const paymentCount = random(3);
      for (let k = 0; k < paymentCount; k++) {
        const ts = Math.max(0, order.ts + paymentOffsetsMs[random(paymentOffsetsMs.length)]!);
        const payment: Payment = { id: `p${p}.${i}.${k}`, orderId: order.id, ts };
        payments.push({ value: payment, partition: random(partitionCount), arrivalMs: ts + arrivals.delayMs() });
      }
    }
  }
  return { orders: toPartitions(orders, partitionCount), payments: toPartitions(payments, partitionCount) };
}

export function intervalJoinEntry(prefix: string, order: Order, payment: Payment): readonly [string, string] {
  return [`${prefix}:${order.id}:${payment.id}`, `${order.amount}@${payment.ts - order.ts}`];
}

/**
 * Every (order, payment) with `order.ts + lower <= payment.ts <= order.ts + upper`; required
 * when neither record is possibly late.
 */
export function expectedIntervalJoin(prefix: string, input: IntervalJoinInput, bounds: { readonly lowerMs: number; readonly upperMs: number } = INTERVAL_JOIN_BOUNDS): ExpectedJoinOutput {
  const output = new Map<string, { values: Set<string>; required: boolean }>();
  const paymentsByOrder = new Map<string, Array<{ value: Payment; late: boolean }>>();
  for (const payment of classified(input.payments, (p) => p.ts, JOIN_OUT_OF_ORDERNESS_MS)) {
    paymentsByOrder.set(payment.value.orderId, [...(paymentsByOrder.get(payment.value.orderId) ?? []), payment]);
  }
  for (const order of classified(input.orders, (o) => o.ts, JOIN_OUT_OF_ORDERNESS_MS)) {
    for (const payment of paymentsByOrder.get(order.value.id) ?? []) {
      if (payment.value.ts < order.value.ts + bounds.lowerMs || payment.value.ts > order.value.ts + bounds.upperMs) continue;
      const [key, value] = intervalJoinEntry(prefix, order.value, payment.value);
      add(output, key, value, !order.late && !payment.late);
    }
  }
  return output;
}

// ---------------------------------------------------------------- temporal joins

export const CURRENCIES = ['CHF', 'EUR', 'GBP', 'JPY'] as const;

export interface CurrencyOrder {
  readonly id: string;
  readonly currency: string;
  readonly ts: number;
  readonly amount: number;
}

/** A version of a currency's rate, valid from `ts` until the next version of that currency. */
export interface Rate {
  readonly currency: string;
  readonly rate: number;
  readonly ts: number;
}

export interface TemporalJoinInput {
  readonly orders: Arriving<CurrencyOrder>[][];
  readonly rates: Arriving<Rate>[][];
}

const RATE_PERIOD_MS = 25;

/**
 * Orders in four currencies every ~10 ms per partition (1 in 12 late); each currency's rate
 * changes every 25 ms (distinct times per currency, never late), starting a little after
 * the first orders, so the first orders of a currency may have no rate yet.
 */
export function temporalJoinInput(partitionCount: number, recordsPerPartition: number, disorder?: InputDisorder): TemporalJoinInput {
  checkSize('temporalJoinInput', partitionCount, recordsPerPartition);
  const arrivals = joinArrivals(0x5eed_0003, recordsPerPartition, partitionCount, disorder);
  const random = arrivals.random;
  const orders: Array<{ value: CurrencyOrder; partition: number; arrivalMs: number }> = [];
  for (let p = 0; p < partitionCount; p++) {
    for (let i = 0; i < recordsPerPartition; i++) {
      const order: CurrencyOrder = { id: `o${p}.${i}`, currency: CURRENCIES[random(CURRENCIES.length)]!, ts: i * 10 + p * 3, amount: 1 + random(99) };
      orders.push({ value: order, partition: p, arrivalMs: arrivals.orderArrivalMs(p, order.ts + arrivals.delayMs()) });
    }
  }
  const rates: Array<{ value: Rate; partition: number; arrivalMs: number }> = [];
  const endMs = recordsPerPartition * 10 + partitionCount * 3;
  CURRENCIES.forEach((currency, c) => {
    for (let ts = 5 + c * 4; ts < endMs; ts += RATE_PERIOD_MS) {
      const rate: Rate = { currency, rate: 100 + random(900), ts };
      // As designed, rate versions are never late; under a case's disorder they are disordered like the orders.
      rates.push({ value: rate, partition: random(partitionCount), arrivalMs: ts + (disorder === undefined ? random(JOIN_OUT_OF_ORDERNESS_MS) : arrivals.delayMs()) });
    }
  });
  return { orders: toPartitions(orders, partitionCount), rates: toPartitions(rates, partitionCount) };
}

export function temporalJoinEntry(prefix: string, order: CurrencyOrder, rate: Rate): readonly [string, string] {
  return [`${prefix}:${order.id}`, `${order.amount}${order.currency}*${rate.rate}@${rate.ts}`];
}

/**
 * Event time: each order joins the rate version valid at its timestamp (the greatest version
 * time <= order time). Required for on-time orders whose version is certain; a possibly late
 * version that falls between the certain version and the order makes either version valid.
 * No version at the order's time: no output.
 *
 * A possibly late order may also join a possibly late version OLDER than the certain one: a
 * restore starts the watermark over (watermarks are not checkpointed), so a late order and a
 * late version replayed after it are both on time again, while the certain version may be gone
 * from the restored state (cleaned when a newer version fell behind the watermark before the
 * checkpoint). Found by a generated disorder (1 in 6 rates late by 150 ms, a crash): the order
 * at 53 joined the late version at 5 where the version at 30 had been cleaned. An on-time
 * order is never read after such a cleanup, so its candidates stay as above.
 */
export function expectedTemporalJoin(prefix: string, input: TemporalJoinInput): ExpectedJoinOutput {
  const output = new Map<string, { values: Set<string>; required: boolean }>();
  const versions = new Map<string, Array<{ value: Rate; late: boolean }>>();
  for (const rate of classified(input.rates, (r) => r.ts, JOIN_OUT_OF_ORDERNESS_MS)) {
    versions.set(rate.value.currency, [...(versions.get(rate.value.currency) ?? []), rate]);
  }
  for (const history of versions.values()) history.sort((a, b) => a.value.ts - b.value.ts);
  for (const order of classified(input.orders, (o) => o.ts, JOIN_OUT_OF_ORDERNESS_MS)) {
    const history = (versions.get(order.value.currency) ?? []).filter((v) => v.value.ts <= order.value.ts);
    const certain = history.filter((v) => !v.late).at(-1);
    const candidates = history.filter((v) => v === certain || (v.late && (order.late || v.value.ts > (certain?.value.ts ?? Number.NEGATIVE_INFINITY))));
    for (const candidate of candidates) {
      const [key, value] = temporalJoinEntry(prefix, order.value, candidate.value);
      add(output, key, value, !order.late && certain !== undefined && candidates.length === 1);
    }
  }
  return output;
}

/**
 * Processing time (a lookup of the latest rate in the store): any version of the order's
 * currency may be the one the store held at the lookup, or none yet; nothing is required.
 */
export function expectedLookupJoin(prefix: string, input: TemporalJoinInput): ExpectedJoinOutput {
  const output = new Map<string, { values: Set<string>; required: boolean }>();
  const rates = input.rates.flat().map(({ value }) => value);
  for (const { value: order } of input.orders.flat()) {
    for (const rate of rates) {
      if (rate.currency !== order.currency) continue;
      const [key, value] = temporalJoinEntry(prefix, order, rate);
      add(output, key, value, false);
    }
  }
  return output;
}

/** The store's rate key of a currency (the dimension table the lookup join reads). */
export function rateKey(prefix: string, currency: string): string {
  return `${prefix}:rate:${currency}`;
}

/** How a rate is stored in the dimension table (and parsed back by the lookup). */
export function encodeRate(rate: Rate): string {
  return JSON.stringify(rate);
}
