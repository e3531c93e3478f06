import { expect, test } from 'vitest';
import { Channel, ElementKind, END_OF_INPUT_ELEMENT } from '../../src/runtime/channel.ts';

test('a channel is a bounded FIFO that records barrier positions and end of input', () => {
  const channel = new Channel(0, 0, 1, 0, 2);
  channel.push({ kind: ElementKind.Record, key: 1, value: 'a' });
  expect(channel.hasRoom).toBe(true);
  channel.push({ kind: ElementKind.Record, key: 1, value: 'b' });
  expect(channel.hasRoom).toBe(false);
  // Barriers and end-of-input may use the control slack past the record capacity.
  channel.push({ kind: ElementKind.Barrier, checkpointId: 5 });
  channel.push(END_OF_INPUT_ELEMENT);
  expect([...channel.barrierPositions]).toEqual([[5, 2]]);
  expect(channel.inFlight().map((e) => e.kind)).toEqual([ElementKind.Record, ElementKind.Record, ElementKind.Barrier, ElementKind.EndOfInput]);
  expect((channel.take() as { value: string }).value).toBe('a');
  channel.take();
  channel.take();
  expect(channel.ended).toBe(false);
  channel.take();
  expect(channel.ended).toBe(true);
  expect(channel.recordsTaken).toBe(2);
  expect(() => channel.take()).toThrow(/empty/);
});

test('an unaligned barrier overtakes records but never an older barrier', () => {
  const channel = new Channel(0, 0, 1, 0, 4);
  channel.push({ kind: ElementKind.Record, key: 1, value: 'a' });
  channel.pushFront({ kind: ElementKind.Barrier, checkpointId: 1 });
  channel.push({ kind: ElementKind.Record, key: 1, value: 'b' });
  channel.pushFront({ kind: ElementKind.Barrier, checkpointId: 2 });
  const order = channel.inFlight().map((e) => (e.kind === ElementKind.Barrier ? `B${e.checkpointId}` : (e as { value: string }).value));
  expect(order).toEqual(['B1', 'B2', 'a', 'b']);
  expect(channel.barrierPositions.get(1)).toBe(1);
  expect(channel.barrierPositions.get(2)).toBe(2);
});

test('a channel grows past its slack in order (timers firing emit several records in one step), carrying timestamps, watermarks and status', () => {
  const channel = new Channel(0, 0, 1, 0, 1);
  channel.pushRecord('k', 'a', 5);
  channel.take(); // the ring's head moves, so growth must unwrap it
  channel.pushRecord('k', 'b', 7);
  channel.push({ kind: ElementKind.Watermark, timestampMs: 6 });
  channel.push({ kind: ElementKind.WatermarkStatus, idle: true });
  channel.pushRecord('k', 'c');
  channel.push({ kind: ElementKind.Barrier, checkpointId: 1 });
  expect(channel.hasRoom).toBe(false);
  expect(channel.size).toBe(5);
  // Strict: a record without a timestamp has no timestampMs at all.
  expect(channel.inFlight()).toStrictEqual([
    { kind: ElementKind.Record, key: 'k', value: 'b', timestampMs: 7 },
    { kind: ElementKind.Watermark, timestampMs: 6 },
    { kind: ElementKind.WatermarkStatus, idle: true },
    { kind: ElementKind.Record, key: 'k', value: 'c' },
    { kind: ElementKind.Barrier, checkpointId: 1 },
  ]);
  expect(channel.takeNext()).toBe(ElementKind.Record);
  expect(channel.takenTimestamp).toBe(7);
  expect(channel.takeNext()).toBe(ElementKind.Watermark);
  expect(channel.takenValue).toBe(6);
  // A watermark's timestamp is its value; takenTimestamp is a record's event time only.
  expect(channel.takenTimestamp).toBeUndefined();
  expect(channel.peek()).toStrictEqual({ kind: ElementKind.WatermarkStatus, idle: true });
  expect(channel.take()).toStrictEqual({ kind: ElementKind.WatermarkStatus, idle: true });
  expect(channel.take()).toStrictEqual({ kind: ElementKind.Record, key: 'k', value: 'c' });
  expect(channel.peek()).toStrictEqual({ kind: ElementKind.Barrier, checkpointId: 1 });
  expect(channel.take()).toStrictEqual({ kind: ElementKind.Barrier, checkpointId: 1 });
  expect(channel.barrierPositions.get(1)).toBe(3);
});

test('a channel refuses a number of exclusive buffers that is not a positive integer', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) {
    expect(() => new Channel(0, 0, 1, 0, bad)).toThrow(`Channel: exclusiveBuffers must be a positive integer, got ${bad}`);
  }
  expect(new Channel(0, 0, 1, 0, 1).credit).toBe(1);
});

test('records ahead of a barrier: the ones queued in front of it, and all queued; none for a barrier not in the channel', () => {
  const channel = new Channel(0, 0, 1, 0, 8);
  channel.pushRecord('k', 'a');
  channel.pushRecord('k', 'b');
  channel.push({ kind: ElementKind.Barrier, checkpointId: 3 });
  channel.push({ kind: ElementKind.Watermark, timestampMs: 1 });
  channel.pushRecord('k', 'c');
  expect(channel.recordsAheadOf(3)).toEqual({ ahead: 2, queued: 3 });
  expect(channel.recordsAheadOf(4)).toBeUndefined();
  channel.pushFront({ kind: ElementKind.Barrier, checkpointId: 4 });
  expect(channel.recordsAheadOf(4)).toEqual({ ahead: 0, queued: 3 });
  expect(channel.recordsAheadOf(3)).toEqual({ ahead: 2, queued: 3 });
});

test('copying the records in front refuses to copy more than are queued (slots freed by takes are not records)', () => {
  const channel = new Channel(0, 0, 1, 0, 1);
  channel.pushRecord('k', 'a');
  channel.takeNext(); // its slot is free now, and the ring wraps onto it below
  channel.pushRecord('k', 'b');
  channel.push({ kind: ElementKind.Watermark, timestampMs: 1 });
  channel.pushRecord('k', 'c');
  expect(channel.copyQueuedRecords(2)).toStrictEqual([
    { kind: ElementKind.Record, key: 'k', value: 'b' },
    { kind: ElementKind.Record, key: 'k', value: 'c' },
  ]);
  expect(channel.size).toBe(3);
  expect(() => channel.copyQueuedRecords(3)).toThrow('Channel 0: 3 records expected in front, only 2 queued');
});

test('channel state replays only into an empty channel; records pushed count over the whole run, across restarts', () => {
  const channel = new Channel(0, 0, 1, 0, 2);
  channel.pushRecord('k', 'a');
  expect(() => channel.replayInFlight([{ kind: ElementKind.Record, key: 'k', value: 'x' }])).toThrow('Channel 0: replay into a channel that is not empty');
  channel.reset();
  channel.replayInFlight([
    { kind: ElementKind.Record, key: 'k', value: 'x' },
    { kind: ElementKind.Record, key: 'k', value: 'y', timestampMs: 2 },
  ]);
  channel.pushRecord('k', 'b');
  expect([channel.recordsPushed, channel.recordsPushedTotal]).toEqual([3, 2]);
  expect(channel.inFlight().map((e) => (e as { value: string }).value)).toEqual(['x', 'y', 'b']);
});
