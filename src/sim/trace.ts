/**
 * The trace of a run: every step folded into a 32-bit FNV-1a hash, and optionally kept as
 * readable lines. Bulk exploration only needs the hash, so the hot path hashes two numbers
 * per step and builds no string; replay and timelines ask for the lines.
 */
export interface TraceEntry {
  readonly step: number;
  readonly timeMs: number;
  readonly event: string;
}

const FNV_OFFSET_BASIS = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

export class Trace {
  private hash = FNV_OFFSET_BASIS;
  readonly entries: TraceEntry[] = [];

  constructor(readonly keepEntries: boolean, private readonly maxEntries = 500_000) {}

  /** Folds one step, identified by an event code and its argument, into the hash. */
  fold(code: number, argument: number): void {
    let h = this.hash;
    h = Math.imul(h ^ (code & 0xffff), FNV_PRIME);
    h = Math.imul(h ^ (code >>> 16), FNV_PRIME);
    h = Math.imul(h ^ (argument & 0xffff), FNV_PRIME);
    h = Math.imul(h ^ (argument >>> 16), FNV_PRIME);
    this.hash = h >>> 0;
  }

  /** Folds a free-form event (rare ones: faults, checkpoint decisions) into the hash. */
  foldText(text: string): void {
    let h = this.hash;
    for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), FNV_PRIME);
    this.hash = h >>> 0;
  }

  keep(step: number, timeMs: number, event: string): void {
    if (this.keepEntries && this.entries.length < this.maxEntries) this.entries.push({ step, timeMs, event });
  }

  /** 8 hex digits; equal for two runs when their event sequences agree. */
  get hashHex(): string {
    return this.hash.toString(16).padStart(8, '0');
  }
}
