/**
 * How a case disorders an event-time scenario's timed input: records out of order within the
 * watermark bound, records later than the bound, and a partition that goes idle. A case field
 * (CaseSpec.disorder), drawn per case by fast-check, carried by replay tokens; a scenario with
 * `Scenario.inputDisorder` builds its input from it (absent: the scenario's own designed input).
 * Its model classifies the late records of whatever input it gets, so the output is judged
 * under every disorder. All zero is no disorder: every record arrives when it happened.
 */
export interface InputDisorder {
  /** An on-time record arrives up to this share (percent) of the scenario's out-of-orderness bound after its event time. 0: in order. */
  readonly withinBoundPercent: number;
  /** One record in this many (per partition, from a seeded draw) arrives later than the bound; 0: none. */
  readonly lateEvery: number;
  /** How far beyond the bound a late record arrives (virtual ms; 0: just beyond it, by 1 ms). */
  readonly lateByMs: number;
  /** A gap without arrivals (virtual ms) halfway through one partition's records; 0: none. */
  readonly idleGapMs: number;
  /** The partition with the gap (taken modulo the case's partitions). */
  readonly idlePartition: number;
  /** Seeds the per-record delays (which records are late, how far each is out of order). */
  readonly seed: number;
}

export const NO_DISORDER: InputDisorder = { withinBoundPercent: 0, lateEvery: 0, lateByMs: 0, idleGapMs: 0, idlePartition: 0, seed: 0 };

/**
 * A deterministic draw in [0, below) for record `offset` of `partition` under `seed` (MurmurHash3's
 * finalizer: neighbouring records get unrelated draws; never Math.random).
 */
export function disorderDraw(seed: number, partition: number, offset: number, salt: number, below: number): number {
  if (below <= 1) return 0;
  let mixed = Math.imul(seed + 1, 0x27d4eb2d) ^ Math.imul(partition + 1, 0x9e3779b1) ^ Math.imul(offset + 1, 0x85ebca6b) ^ Math.imul(salt + 1, 0x165667b1);
  mixed = Math.imul(mixed ^ (mixed >>> 16), 0x85ebca6b);
  mixed = Math.imul(mixed ^ (mixed >>> 13), 0xc2b2ae35);
  mixed ^= mixed >>> 16;
  return (mixed >>> 0) % below;
}
