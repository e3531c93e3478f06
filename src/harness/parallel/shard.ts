/** One of `count` CI shards, 1-based like vitest's `--shard 2/3`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

/** Parses `i/n` (1 <= i <= n); a message that names the input otherwise. */
export function parseShard(raw: string): Shard {
  const match = /^(\d+)\/(\d+)$/.exec(raw);
  if (match === null) throw new Error(`--shard must look like i/n (for example 2/4), got '${raw}'`);
  const index = Number(match[1]);
  const count = Number(match[2]);
  if (count < 1 || index < 1 || index > count || !Number.isSafeInteger(count)) throw new Error(`--shard i/n needs 1 <= i <= n, got '${raw}'`);
  return { index, count };
}

/**
 * The generated-case indexes [start, end) a shard runs. Every shard generates the same
 * case sequence from the same seed and runs its own contiguous slice, so the shards together
 * run exactly the unsharded cases, and the lowest failing index over all shards is the one
 * an unsharded run would report.
 */
export function shardRange(runs: number, shard: Shard | undefined): { readonly start: number; readonly end: number } {
  if (shard === undefined) return { start: 0, end: runs };
  return { start: Math.floor(((shard.index - 1) * runs) / shard.count), end: Math.floor((shard.index * runs) / shard.count) };
}
