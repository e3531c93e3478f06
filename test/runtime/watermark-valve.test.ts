import { describe, expect, it } from 'vitest';
import { MAX_WATERMARK, MIN_WATERMARK } from '../../src/runtime/functions.ts';
import { WatermarkValve } from '../../src/runtime/watermark-valve.ts';

describe('WatermarkValve', () => {
  it('is the minimum over its inputs and never goes back', () => {
    const valve = new WatermarkValve(2);
    expect(valve.onWatermark(0, 10)).toBe(false);
    expect(valve.watermarkMs).toBe(MIN_WATERMARK);
    expect(valve.onWatermark(1, 5)).toBe(true);
    expect(valve.watermarkMs).toBe(5);
    expect(valve.onWatermark(1, 20)).toBe(true);
    expect(valve.watermarkMs).toBe(10);
    expect(() => valve.onWatermark(1, 19)).toThrow(/after 20/);
  });

  it('leaves idle inputs out; all idle makes the task idle; a resumed input behind does not pull it back', () => {
    const valve = new WatermarkValve(2);
    valve.onWatermark(0, 10);
    valve.onWatermark(1, 3);
    expect(valve.watermarkMs).toBe(3);
    expect(valve.onStatus(1, true)).toBe(true);
    expect(valve.watermarkMs).toBe(10);
    expect(valve.idle).toBe(false);
    expect(valve.onStatus(0, true)).toBe(true);
    expect(valve.idle).toBe(true);
    expect(valve.onStatus(1, false)).toBe(true); // active again, at 3: behind the task's 10
    expect(valve.idle).toBe(false);
    expect(valve.watermarkMs).toBe(10);
    expect(valve.onWatermark(1, 8)).toBe(false);
    expect(valve.onWatermark(1, 12)).toBe(true); // caught up: takes part again
    expect(valve.watermarkMs).toBe(12);
  });

  it('counts an ended input as MAX_WATERMARK', () => {
    const valve = new WatermarkValve(2);
    valve.onWatermark(1, 7);
    expect(valve.onEndOfInput(0)).toBe(true);
    expect(valve.watermarkMs).toBe(7);
    valve.onEndOfInput(1);
    expect(valve.watermarkMs).toBe(MAX_WATERMARK);
  });

  it('planted bug watermarkAsMaxOfInputs: the fastest input decides', () => {
    const valve = new WatermarkValve(2, true);
    valve.onWatermark(0, 10);
    expect(valve.watermarkMs).toBe(10);
    valve.onWatermark(1, 3);
    expect(valve.watermarkMs).toBe(10);
  });
});
