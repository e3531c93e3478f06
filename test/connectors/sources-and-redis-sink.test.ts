import { describe, expect, test } from 'vitest';
import { END_OF_INPUT, type FunctionInitializationContext, type ListState } from '../../src/connectors/api.ts';
import type { ConsumedRecord, KafkaClients } from '../../src/connectors/kafka-api.ts';
import { KafkaPartitionSource, MAX_RECORDS_PER_PARTITION } from '../../src/connectors/kafka-source.ts';
import { PartitionSourceReader } from '../../src/connectors/partition-source.ts';
import type { RedisClient } from '../../src/connectors/redis-api.ts';
import { RedisIdempotentSink, RedisIncrementingSink } from '../../src/connectors/redis-sink.ts';

/**
 * Unit tests of the sources and the idempotent Redis sink, driven directly: the parts of their
 * contract the main job's scenarios never reach (a restore with more than one offset, the
 * record bound, the state and split names, the buffer bound of the sink). Written for the
 * mutation survivors of kafka-source.ts, partition-source.ts and redis-sink.ts.
 */

/** Operator list states by name; only `offsets` is expected. */
function context(lists: Map<string, unknown[]>): FunctionInitializationContext {
  return {
    isRestored: () => lists.size > 0,
    restoredCheckpointId: undefined,
    getOperatorStateStore: () => ({
      getListState: <T>(name: string): ListState<T> => {
        if (!lists.has(name)) lists.set(name, []);
        const list = lists.get(name)! as T[];
        return { get: () => list, update: (v) => void list.splice(0, list.length, ...v), add: (v) => void list.push(v), clear: () => void list.splice(0) };
      },
    }),
    subtaskIndex: 0,
    parallelism: 1,
    attemptNumber: 0,
    report: () => {},
  };
}

/** Kafka clients whose reads answer `records` (from the asked offset on; a function's answer as it is) and remember what was asked. */
function readingClients(records: ConsumedRecord[] | (() => ConsumedRecord[])): KafkaClients & { reads: string[] } {
  const reads: string[] = [];
  const refuse = () => {
    throw new Error('not used');
  };
  return {
    reads,
    producer: refuse,
    resumeTransaction: refuse,
    read: (topic, partition, fromOffset, isolation) => {
      reads.push(`${topic}/${partition} from ${fromOffset} (${isolation})`);
      return Promise.resolve(typeof records === 'function' ? records() : records.filter((record) => record.offset >= fromOffset));
    },
    createTopic: () => Promise.resolve(),
  };
}

const record = (offset: number): ConsumedRecord => ({ topic: 'in', partition: 3, offset, key: String(offset), value: `v${offset}` });

describe('KafkaPartitionSource', () => {
  test('reads read_committed from the offset in list state `offsets`, resumes after each record (offsets may skip), and describes its position', async () => {
    const clients = readingClients([record(0), record(2), record(5)]);
    const lists = new Map<string, unknown[]>();
    const source = new KafkaPartitionSource(clients, 'in', 3, (r) => r.value);
    await source.initializeState(context(lists));
    expect(source.currentPosition()).toEqual({ split: 'in/3', offset: 0 });
    expect(source.pollNext()).toBe('v0');
    expect(source.pollNext()).toBe('v2');
    expect(source.describePosition()).toBe('in/3 @ offset 3');
    source.snapshotState();
    expect([...lists]).toEqual([['offsets', [3]]]);
    // A restore rewinds to the checkpointed offset.
    await source.initializeState(context(lists));
    expect(clients.reads).toEqual(['in/3 from 0 (read_committed)', 'in/3 from 3 (read_committed)']);
    expect(source.pollNext()).toBe('v5');
    expect(source.pollNext()).toBe(END_OF_INPUT);
    expect(source.currentPosition()).toEqual({ split: 'in/3', offset: 6 });
  });

  test('a restore with more than one offset is refused', async () => {
    const source = new KafkaPartitionSource(readingClients([]), 'in', 3, (r) => r.value);
    await expect(source.initializeState(context(new Map([['offsets', [1, 2]]])))).rejects.toThrow(/^Kafka source in\/3: expected one restored offset, got 2$/);
  });

  test(`up to ${MAX_RECORDS_PER_PARTITION} records per partition are held, more are refused`, async () => {
    // Sparse arrays: only the length is read before the bound is checked.
    const atBound = new KafkaPartitionSource(readingClients(() => new Array<ConsumedRecord>(MAX_RECORDS_PER_PARTITION)), 'in', 3, (r) => r.value);
    await expect(atBound.initializeState(context(new Map()))).resolves.toBeUndefined();
    const over = new KafkaPartitionSource(readingClients(() => new Array<ConsumedRecord>(MAX_RECORDS_PER_PARTITION + 1)), 'in', 3, (r) => r.value);
    await expect(over.initializeState(context(new Map()))).rejects.toThrow(`Kafka source in/3: ${MAX_RECORDS_PER_PARTITION + 1} records exceed the bound of ${MAX_RECORDS_PER_PARTITION}`);
  });
});

describe('PartitionSourceReader', () => {
  const log = { endOffset: (partition: number) => partition + 2, read: (partition: number, offset: number) => `p${partition}o${offset}` };

  test('reads its partition from the offset in list state `offsets`; its split is named `<prefix>-<partition>`; it describes its position', () => {
    const lists = new Map<string, unknown[]>();
    const reader = new PartitionSourceReader(log, 1);
    reader.initializeState(context(lists));
    expect(reader.pollNext()).toBe('p1o0');
    reader.snapshotState();
    expect([...lists]).toEqual([['offsets', [1]]]);
    expect(reader.currentPosition()).toEqual({ split: 'partition-1', offset: 1 });
    expect(reader.describePosition()).toBe('partition 1 @ offset 1');
    expect(new PartitionSourceReader(log, 1, 'test-data').currentPosition().split).toBe('test-data-1');
    const restored = new PartitionSourceReader(log, 1);
    restored.initializeState(context(lists));
    expect([restored.pollNext(), restored.pollNext(), restored.pollNext()]).toEqual(['p1o1', 'p1o2', END_OF_INPUT]);
  });

  test('a restore with more than one offset is refused', () => {
    expect(() => new PartitionSourceReader(log, 1).initializeState(context(new Map([['offsets', [1, 2]]])))).toThrow(/^partition source 1: expected one restored offset, got 2$/);
  });
});

/** A Redis client that records each MSET. */
function msetClient(): RedisClient & { msets: Record<string, string>[] } {
  const msets: Record<string, string>[] = [];
  return { msets, mset: (entries: Record<string, string>) => (msets.push({ ...entries }), Promise.resolve('OK')) } as unknown as RedisClient & { msets: Record<string, string>[] };
}

describe('RedisIdempotentSink', () => {
  test('maxBufferedKeys must be a positive integer', () => {
    for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new RedisIdempotentSink(msetClient(), () => ({}), bad)).toThrow(`RedisIdempotentSink: maxBufferedKeys must be a positive integer, got ${bad}`);
    }
    expect(() => new RedisIdempotentSink(msetClient(), () => ({}), 1)).not.toThrow();
  });

  test('buffers the newest value per key and sends one MSET when maxBufferedKeys keys are buffered, on a snapshot and at the end of input', async () => {
    const client = msetClient();
    const sink = new RedisIdempotentSink<number>(client, (key, value) => ({ [`k:${key}`]: String(value) }), 2);
    sink.initializeState();
    await sink.write({ key: 'a', value: 1 });
    await sink.write({ key: 'a', value: 2 });
    expect(client.msets).toEqual([]);
    await sink.write({ key: 'b', value: 3 });
    expect(client.msets).toEqual([{ 'k:a': '2', 'k:b': '3' }]);
    await sink.write({ key: 'c', value: 4 });
    await sink.snapshotState();
    await sink.snapshotState();
    expect(client.msets).toEqual([{ 'k:a': '2', 'k:b': '3' }, { 'k:c': '4' }]);
    await sink.write({ key: 'd', value: 5 });
    await sink.finish();
    expect(client.msets).toEqual([{ 'k:a': '2', 'k:b': '3' }, { 'k:c': '4' }, { 'k:d': '5' }]);
  });

  test('by default 16 keys are buffered before an MSET', async () => {
    const client = msetClient();
    const sink = new RedisIdempotentSink<number>(client, (key, value) => ({ [String(key)]: String(value) }));
    for (let key = 0; key < 15; key++) await sink.write({ key, value: key });
    expect(client.msets).toHaveLength(0);
    await sink.write({ key: 15, value: 15 });
    expect(client.msets).toHaveLength(1);
    expect(Object.keys(client.msets[0]!)).toHaveLength(16);
  });

  test('initializeState drops what was buffered before it (a restore replays it)', async () => {
    const client = msetClient();
    const sink = new RedisIdempotentSink<number>(client, (key, value) => ({ [String(key)]: String(value) }), 4);
    await sink.write({ key: 'lost', value: 1 });
    sink.initializeState();
    await sink.finish();
    expect(client.msets).toEqual([]);
  });
});

/** A Redis client that records each INCRBY as [key, increment], in call order. */
function incrbyClient(): RedisClient & { increments: [string, number][] } {
  const increments: [string, number][] = [];
  return { increments, incrby: (key: string, increment: number) => (increments.push([key, increment]), Promise.resolve(increment)) } as unknown as RedisClient & { increments: [string, number][] };
}

// The INCRBY sink is the negative control of selftest's planted bug `incrby-sink` (a replay
// after a restore counts twice); the main job never builds it, so its own contract is pinned here.
describe('RedisIncrementingSink', () => {
  test('sums the increments per key and sends one INCRBY per key when maxBufferedRecords records are buffered, on a snapshot and at the end of input', async () => {
    const client = incrbyClient();
    const sink = new RedisIncrementingSink<number>(client, (key, value) => ({ [`sum:${key}`]: value, total: 1 }), 3);
    sink.initializeState();
    await sink.write({ key: 'a', value: 2 });
    await sink.write({ key: 'a', value: 5 });
    expect(client.increments).toEqual([]);
    await sink.write({ key: 'b', value: 4 });
    expect(client.increments).toEqual([['sum:a', 7], ['total', 3], ['sum:b', 4]]);
    await sink.write({ key: 'c', value: 1 });
    await sink.snapshotState();
    await sink.snapshotState();
    expect(client.increments.slice(3)).toEqual([['sum:c', 1], ['total', 1]]);
    await sink.write({ key: 'c', value: 6 });
    await sink.finish();
    expect(client.increments.slice(5)).toEqual([['sum:c', 6], ['total', 1]]);
  });

  test('by default 16 records are buffered; the count starts again after each flush', async () => {
    const client = incrbyClient();
    const sink = new RedisIncrementingSink<number>(client, (key) => ({ [String(key)]: 1 }));
    for (let record = 0; record < 15; record++) await sink.write({ key: 'k', value: record });
    expect(client.increments).toEqual([]);
    await sink.write({ key: 'k', value: 15 });
    expect(client.increments).toEqual([['k', 16]]);
    for (let record = 0; record < 15; record++) await sink.write({ key: 'k', value: record });
    expect(client.increments).toHaveLength(1);
  });

  test('initializeState drops what was buffered before it, and a flush of nothing sends nothing', async () => {
    const client = incrbyClient();
    const sink = new RedisIncrementingSink<number>(client, (key) => ({ [String(key)]: 1 }), 4);
    await sink.write({ key: 'lost', value: 1 });
    sink.initializeState();
    await sink.snapshotState();
    await sink.finish();
    expect(client.increments).toEqual([]);
  });
});
