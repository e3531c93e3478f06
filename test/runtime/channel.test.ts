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
  expect(channel.barrierPositions.get(5)).toBe(2);
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
  expect(channel.inFlight()).toEqual([
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
  expect(channel.barrierPositions.get(1)).toBe(3);
});
