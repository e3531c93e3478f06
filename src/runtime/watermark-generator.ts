import type { WatermarkStrategy } from './functions.ts';
import { MIN_WATERMARK } from './functions.ts';

/**
 * Stamps records with event (or ingestion) time and derives watermarks from them (Flink's
 * BoundedOutOfOrdernessWatermarks with periodic emission), for a source or an assigner.
 */
export class WatermarkGenerator {
  private maxTimestampMs = MIN_WATERMARK;
  /** The last watermark emitted. */
  emittedMs = MIN_WATERMARK;
  private lastEmitAtMs = -Infinity;

  constructor(readonly strategy: WatermarkStrategy<unknown>) {}

  stamp(value: unknown, nowMs: number): number {
    const timestampMs = this.strategy.timeCharacteristic === 'ingestion' ? nowMs : this.strategy.timestampOf!(value);
    if (!Number.isSafeInteger(timestampMs)) throw new Error(`the timestamp assigner returned ${String(timestampMs)}, not an integer (ms)`);
    if (timestampMs > this.maxTimestampMs) this.maxTimestampMs = timestampMs;
    return timestampMs;
  }

  /** When an advanced watermark held back by the interval becomes due (undefined: none is waiting). */
  pendingDueAtMs(intervalMs: number): number | undefined {
    if (this.maxTimestampMs === MIN_WATERMARK) return undefined;
    if (this.maxTimestampMs - this.strategy.maxOutOfOrdernessMs - 1 <= this.emittedMs) return undefined;
    return this.lastEmitAtMs + intervalMs;
  }

  /** The watermark to emit now, or undefined (not advanced, or emitted too recently). */
  due(nowMs: number, intervalMs: number): number | undefined {
    if (this.maxTimestampMs === MIN_WATERMARK) return undefined;
    const watermarkMs = this.maxTimestampMs - this.strategy.maxOutOfOrdernessMs - 1;
    if (watermarkMs <= this.emittedMs || nowMs - this.lastEmitAtMs < intervalMs) return undefined;
    this.emittedMs = watermarkMs;
    this.lastEmitAtMs = nowMs;
    return watermarkMs;
  }
}

