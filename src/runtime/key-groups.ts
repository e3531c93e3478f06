/**
 * Key groups, after Flink's KeyGroupRangeAssignment: a key belongs to one of
 * `maxParallelism` key groups (a hash of the key modulo the maximum parallelism), and each
 * subtask of a keyed operator owns one contiguous range of key groups. Routing (keyBy) and
 * keyed state both go through the key group, so when a restore changes the parallelism the
 * state of a key group moves whole to the one subtask that now receives its records.
 */
import type { Key } from '../connectors/api.ts';

/**
 * The number of key groups when a job sets none. Flink's default is 128; with 128 the
 * built-in scenarios' two parity keys (0 and 1) both fall into the first half of the key
 * groups and one of their two keyed subtasks would idle, so the simulated jobs default to 32,
 * where they spread over both. A job sets its own with JobOptions.maxParallelism.
 */
export const DEFAULT_MAX_PARALLELISM = 32;
/** The largest maximum parallelism a job may set (Flink's upper bound is 32768; a simulated job needs far fewer). */
export const MAX_MAX_PARALLELISM = 32_768;

/** The key's own hash: a number's integer part, a string's Java-style hashCode. */
export function keyHashOf(key: Key): number {
  if (typeof key === 'number') return Math.floor(Math.abs(key)) >>> 0;
  let hash = 0;
  for (let i = 0; i < key.length; i++) hash = (Math.imul(hash, 31) + key.charCodeAt(i)) | 0;
  return hash >>> 0;
}

/** Spreads neighbouring hashes over the key groups (Flink runs the hashCode through murmur: small keys would otherwise share the first range). */
function murmurFinalize(hash: number): number {
  let h = hash >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35) >>> 0;
  h ^= h >>> 16;
  return h >>> 0;
}

export function checkMaxParallelism(maxParallelism: number, where: string): void {
  if (!Number.isSafeInteger(maxParallelism) || maxParallelism < 1 || maxParallelism > MAX_MAX_PARALLELISM) {
    throw new Error(`${where}: maxParallelism must be an integer in [1, ${MAX_MAX_PARALLELISM}], got ${String(maxParallelism)}`);
  }
}

/** The key group of a key: KeyGroupRangeAssignment.assignToKeyGroup. */
export function keyGroupOf(key: Key, maxParallelism: number): number {
  return murmurFinalize(keyHashOf(key)) % maxParallelism;
}

/** The subtask that owns a key group at a parallelism: KeyGroupRangeAssignment.computeOperatorIndexForKeyGroup. */
export function operatorIndexOf(keyGroup: number, maxParallelism: number, parallelism: number): number {
  return Math.floor((keyGroup * parallelism) / maxParallelism);
}

/** The key groups subtask `subtask` owns, first and last inclusive: KeyGroupRangeAssignment.computeKeyGroupRangeForOperatorIndex. */
export function keyGroupRangeOf(maxParallelism: number, parallelism: number, subtask: number): { readonly first: number; readonly last: number } {
  const first = Math.ceil((subtask * maxParallelism) / parallelism);
  const last = Math.ceil(((subtask + 1) * maxParallelism) / parallelism) - 1;
  return { first, last };
}

/** The subtask a key is routed to, and whose keyed state holds it. */
export function subtaskOfKey(key: Key, maxParallelism: number, parallelism: number): number {
  return operatorIndexOf(keyGroupOf(key, maxParallelism), maxParallelism, parallelism);
}
