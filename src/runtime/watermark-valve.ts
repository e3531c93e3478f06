/**
 * A task's watermark over its input channels (Flink's StatusWatermarkValve): per channel the
 * last watermark and whether it is idle; the task's watermark is the minimum over the active
 * channels that caught up with it ("aligned"), and never goes back. A channel that becomes
 * active again behind the task's watermark does not pull it back: it rejoins the minimum once
 * its own watermark caught up. All channels idle: the task is idle. An ended channel counts as
 * active at MAX_WATERMARK (its upstream emitted everything).
 *
 * Each method returns whether the task's watermark or idleness changed; read `watermarkMs`
 * and `idle` afterwards.
 */
import { MAX_WATERMARK, MIN_WATERMARK } from './functions.ts';

export class WatermarkValve {
  private readonly channelWatermark: number[];
  private readonly channelIdle: boolean[];
  /** Active and caught up with the task's watermark: takes part in the minimum. */
  private readonly channelAligned: boolean[];
  watermarkMs = MIN_WATERMARK;
  idle = false;

  constructor(
    readonly channelCount: number,
    /** Planted bug `watermarkAsMaxOfInputs`: the task's watermark is the maximum over its inputs. */
    private readonly maxOfInputs = false,
    /**
     * Planted bug `resumedInputPullsWatermarkBack`: a channel that becomes active again joins the
     * minimum at once, behind the task's watermark, and pulls it back (the valve forgets that
     * a watermark, once passed on, promised that nothing older follows).
     */
    private readonly resumedInputPullsBack = false,
  ) {
    this.channelWatermark = new Array<number>(channelCount).fill(MIN_WATERMARK);
    this.channelIdle = new Array<boolean>(channelCount).fill(false);
    this.channelAligned = new Array<boolean>(channelCount).fill(true);
  }

  /** A watermark from `slot`; a channel's watermarks never go back (an upstream task's output is monotonic). */
  onWatermark(slot: number, watermarkMs: number): boolean {
    if (watermarkMs < this.channelWatermark[slot]!) {
      throw new Error(`WatermarkValve: watermark ${watermarkMs} on input ${slot} after ${this.channelWatermark[slot]}`);
    }
    this.channelWatermark[slot] = watermarkMs;
    if (this.channelIdle[slot]) return false; // Flink drops a watermark on an idle channel's behalf only if it stays idle; an active status comes first
    if (!this.channelAligned[slot] && watermarkMs >= this.watermarkMs) this.channelAligned[slot] = true;
    return this.recompute();
  }

  onStatus(slot: number, idle: boolean): boolean {
    if (this.channelIdle[slot] === idle) return false;
    this.channelIdle[slot] = idle;
    if (idle) this.channelAligned[slot] = false;
    else this.channelAligned[slot] = this.resumedInputPullsBack || this.channelWatermark[slot]! >= this.watermarkMs;
    return this.recompute();
  }

  /** The channel ended: it counts as active at MAX_WATERMARK. */
  onEndOfInput(slot: number): boolean {
    this.channelWatermark[slot] = MAX_WATERMARK;
    this.channelIdle[slot] = false;
    this.channelAligned[slot] = true;
    return this.recompute();
  }

  private recompute(): boolean {
    let combined = this.maxOfInputs ? MIN_WATERMARK : MAX_WATERMARK;
    let anyActive = false;
    for (let slot = 0; slot < this.channelCount; slot++) {
      if (this.channelIdle[slot]) continue;
      anyActive = true;
      if (!this.channelAligned[slot]) continue;
      const watermark = this.channelWatermark[slot]!;
      combined = this.maxOfInputs ? Math.max(combined, watermark) : Math.min(combined, watermark);
    }
    const idle = !anyActive;
    let changed = idle !== this.idle;
    this.idle = idle;
    // Nothing active and aligned (all idle, or the active ones are behind): the watermark stays.
    const anyAligned = this.channelAligned.some((aligned, slot) => aligned && !this.channelIdle[slot]);
    if (this.resumedInputPullsBack && !idle && anyAligned && combined < this.watermarkMs && combined > MIN_WATERMARK) {
      this.watermarkMs = combined;
      return true;
    }
    if (!idle && anyAligned && combined > this.watermarkMs) {
      this.watermarkMs = combined;
      changed = true;
      // Channels that were behind and caught up now take part again.
      for (let slot = 0; slot < this.channelCount; slot++) {
        if (!this.channelIdle[slot] && !this.channelAligned[slot] && this.channelWatermark[slot]! >= this.watermarkMs) this.channelAligned[slot] = true;
      }
    }
    return changed;
  }
}
