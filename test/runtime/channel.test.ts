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
  expect(() => channel.push({ kind: ElementKind.Record, key: 1, value: 'c' })).toThrow(/full/);
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
