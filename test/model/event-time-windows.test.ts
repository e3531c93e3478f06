import { describe, expect, it } from 'vitest';
import {
  EVENT_TIME_WINDOW_SETTINGS,
  EVENT_TIME_WINDOW_TIMELINE,
  eventTimeWindowInput,
  eventTimeWindowModel,
  eventTimeWindowTimeline,
  idlePartitionOf,
  type TimedReading,
} from '../../model/event-time-windows.ts';

const reading = (id: string, sensor: string, timestampMs: number, arrivalMs: number): TimedReading => ({ value: { id, sensor, timestampMs }, arrivalMs });

describe('event-time window input', () => {
  it('is deterministic, arrives in order per partition, and stays within the bound except for offline sensors', () => {
    const input = eventTimeWindowInput(2, 40);
    expect(eventTimeWindowInput(2, 40)).toEqual(input);
    for (const partition of input) {
      for (let i = 1; i < partition.length; i++) expect(partition[i]!.arrivalMs).toBeGreaterThanOrEqual(partition[i - 1]!.arrivalMs);
      for (const { value, arrivalMs } of partition) {
        const delay = arrivalMs - value.timestampMs;
        if (value.sensor.endsWith('offline')) expect(delay === EVENT_TIME_WINDOW_TIMELINE.offlineDelayMs || value.timestampMs === 0).toBe(true);
        else expect(delay).toBeLessThanOrEqual(EVENT_TIME_WINDOW_SETTINGS.maxOutOfOrdernessMs);
      }
    }
    // Disorder within the bound does happen.
    const outOfOrder = input.some((partition) => partition.some((r, i) => i > 0 && !r.value.sensor.endsWith('offline') && r.value.timestampMs < partition[i - 1]!.value.timestampMs));
    expect(outOfOrder).toBe(true);
  });

  it('the idle partition has no arrival inside the idle gap; the others arrive all along the timeline', () => {
    const input = eventTimeWindowInput(2, 40);
    expect(idlePartitionOf(2)).toBe(1);
    const { idleFromMs, idleUntilMs } = eventTimeWindowTimeline(40);
    expect(input[1]!.filter((r) => r.arrivalMs >= idleFromMs && r.arrivalMs < idleUntilMs)).toEqual([]);
    expect(input[0]!.filter((r) => r.arrivalMs >= idleFromMs && r.arrivalMs < idleUntilMs).length).toBeGreaterThan(10);
    // The other partition keeps arriving after the idle one resumes, so it cannot end while that one is idle.
    expect(input[0]!.at(-1)!.arrivalMs).toBeGreaterThan(idleUntilMs + EVENT_TIME_WINDOW_SETTINGS.windowSizeMs);
  });
});

describe('event-time window model', () => {
  it('a reading within the bound of its partition is on time; beyond it, a late candidate', () => {
    const model = eventTimeWindowModel([[reading('a', 's', 100, 100), reading('b', 's', 71, 101), reading('c', 's', 69, 102)]], { ...EVENT_TIME_WINDOW_SETTINGS, maxOutOfOrdernessMs: 30 });
    expect(model.classOf.get('a')).toBe('on-time');
    expect(model.classOf.get('b')).toBe('on-time');
    expect(model.classOf.get('c')).toBe('late-candidate');
    // b and c share [0, 100): one candidate makes the whole cell uncertain.
    expect(model.cells.get('s:0')).toMatchObject({ readings: ['b', 'c'], exact: false });
    expect(model.cells.get('s:100')).toMatchObject({ readings: ['a'], exact: true });
  });

  it('readings after an idle gap are candidates, and the other partition must fire during the gap', () => {
    const model = eventTimeWindowModel(eventTimeWindowInput(2, 40));
    const idle = model.idleProgress!;
    expect(idle.partition).toBe(1);
    expect(idle.resumesAtMs).toBe(eventTimeWindowTimeline(40).idleUntilMs);
    expect(idle.cellsToFire.length).toBeGreaterThan(0);
    for (const id of idle.cellsToFire) expect(id.startsWith('p0-')).toBe(true);
    const input = eventTimeWindowInput(2, 40);
    for (const { value, arrivalMs } of input[1]!) {
      if (arrivalMs >= idle.resumesAtMs) expect(model.classOf.get(value.id)).toBe('late-candidate');
      else if (!value.sensor.endsWith('offline')) expect(model.classOf.get(value.id)).toBe('on-time');
    }
  });

  it('offline sensors are the only late candidates of a partition that never idles, and their cells hold nothing else', () => {
    const input = eventTimeWindowInput(2, 40);
    const model = eventTimeWindowModel(input);
    for (const { value } of input[0]!) {
      if (model.classOf.get(value.id) === 'late-candidate') expect(value.sensor).toBe('p0-offline');
    }
    const exactCells = [...model.cells.values()].filter((cell) => cell.exact);
    expect(exactCells.length).toBeGreaterThan([...model.cells.values()].length / 2);
    expect([...model.cells.values()].reduce((n, cell) => n + cell.readings.length, 0)).toBe(80);
  });

  it('refuses sizes that are not counts', () => {
    expect(() => eventTimeWindowInput(0, 4)).toThrow(/partitionCount must be >= 1/);
    expect(() => eventTimeWindowInput(2, -1)).toThrow(/recordsPerPartition must be >= 0/);
  });
});
