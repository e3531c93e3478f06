import type { Key } from '../src/connectors/api.ts';
import type { Violation } from '../src/harness/scenario.ts';
import { keyGroupOf, keyGroupRangeOf } from '../src/runtime/key-groups.ts';
import type { RunObservations } from '../src/runtime/observations.ts';
import type { SplitReassignment } from '../src/runtime/split-reassignment.ts';

export const RESCALE_STATE = 'rescale-state';
const MAX_VIOLATIONS = 5;

/**
 * A restore onto another parallelism moves state without losing, duplicating or misplacing any
 * of it, judged per key group and per list state from what the runtime redistributed:
 * - every key of keyed state (and of timers) lands on the subtask whose key-group range holds
 *   the key's key group: the subtask its records are routed to;
 * - per keyed state, the keys after the restore are the keys the checkpoint held, each once;
 * - an even-split list state keeps all its elements, spread so that shares differ by at most
 *   one; a union list state reaches every new subtask whole;
 * - a rescaled source: every split the checkpoint held lands on exactly one new subtask, at
 *   its checkpointed position, and every new subtask gets an even share of the splits.
 */
export function checkRescaleState(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
  const add = (anomaly: string, message: string): void => {
    if (violations.length < MAX_VIOLATIONS) violations.push({ property: RESCALE_STATE, anomaly, message });
  };
  for (const rescale of observations.rescales ?? []) {
    const where = `restoring checkpoint ${rescale.checkpointId} (${rescale.fromParallelism} -> ${rescale.toParallelism} subtasks of ${rescale.vertexName}, ${rescale.maxParallelism} key groups)`;
    const keysAfter: Record<string, Key[]> = {};
    rescale.subtasks.forEach((subtask, index) => {
      const range = keyGroupRangeOf(rescale.maxParallelism, rescale.toParallelism, index);
      for (const [name, keys] of Object.entries(subtask.keys)) {
        (keysAfter[name] ??= []).push(...keys);
        for (const key of keys) {
          const keyGroup = keyGroupOf(key, rescale.maxParallelism);
          if (keyGroup < range.first || keyGroup > range.last) {
            add('inconsistent offsets', `${where}: subtask ${index} got ${name} of key ${JSON.stringify(key)} (key group ${keyGroup}), but it owns key groups ${range.first}..${range.last}: the key's records go elsewhere`);
          }
        }
      }
    });
    for (const name of new Set([...Object.keys(rescale.keysBefore), ...Object.keys(keysAfter)])) {
      const before = countKeys(rescale.keysBefore[name] ?? []);
      const after = countKeys(keysAfter[name] ?? []);
      for (const [key, count] of before) {
        const got = after.get(key) ?? 0;
        if (got < count) add('lost write', `${where}: ${name} of key ${key} was checkpointed but no subtask got it back`);
        else if (got > count) add('duplicate', `${where}: ${name} of key ${key} was restored ${got} times`);
      }
      for (const key of after.keys()) if (!before.has(key)) add('duplicate', `${where}: ${name} of key ${key} was restored but never checkpointed`);
    }
    for (const [name, { elements, union }] of Object.entries(rescale.listStatesBefore)) {
      const shares = rescale.subtasks.map((subtask) => subtask.listElements[name] ?? 0);
      if (union) {
        const short = shares.findIndex((share) => share !== elements);
        if (short >= 0) add('lost write', `${where}: union list state ${name} held ${elements} element(s), subtask ${short} got ${shares[short]} (every subtask must get all of them)`);
        continue;
      }
      const total = shares.reduce((sum, share) => sum + share, 0);
      if (total !== elements) add(total < elements ? 'lost write' : 'duplicate', `${where}: list state ${name} held ${elements} element(s) over the old subtasks, the new ones got ${total} (${shares.join(' + ')})`);
      else if (Math.max(...shares) - Math.min(...shares) > 1) add('uneven split', `${where}: list state ${name} split ${shares.join(' / ')}: an even split differs by at most one`);
    }
    if (rescale.splits !== undefined) checkSplitReassignment(where, rescale.splits, rescale.toParallelism, add);
  }
  return violations;
}

/** Every checkpointed split on exactly one new subtask, resumed at its checkpointed offset; shares even, none empty. */
function checkSplitReassignment(where: string, splits: SplitReassignment, toParallelism: number, add: (anomaly: string, message: string) => void): void {
  const checkpointed = new Map<string, { offset: number; subtask: number }>();
  splits.before.forEach((positions, subtask) => {
    for (const position of positions) checkpointed.set(position.split, { offset: position.offset, subtask });
  });
  const restoredBy = new Map<string, number[]>();
  splits.after.forEach((positions, subtask) => {
    for (const position of positions) {
      restoredBy.set(position.split, [...(restoredBy.get(position.split) ?? []), subtask]);
      const before = checkpointed.get(position.split);
      if (before === undefined) add('duplicate', `${where}: new subtask ${subtask} reads split ${position.split}, which the checkpoint does not hold`);
      else if (before.offset !== position.offset) {
        const effect = position.offset < before.offset ? `records ${position.offset}..${before.offset - 1} are read twice` : `records ${before.offset}..${position.offset - 1} are skipped`;
        add('inconsistent offsets', `${where}: split ${position.split} (old subtask ${before.subtask}, checkpointed at offset ${before.offset}) resumes on new subtask ${subtask} at offset ${position.offset}: ${effect}`);
      }
    }
  });
  for (const [split, { offset, subtask }] of checkpointed) {
    const owners = restoredBy.get(split) ?? [];
    if (owners.length === 0) add('lost write', `${where}: split ${split} (old subtask ${subtask}, checkpointed at offset ${offset}) is assigned to no new subtask: its records from offset ${offset} on are never read`);
    else if (owners.length > 1) add('duplicate', `${where}: split ${split} is assigned to new subtasks ${owners.join(' and ')}: both read it`);
  }
  const shares = Array.from({ length: toParallelism }, (_, subtask) => splits.after[subtask]?.length ?? 0);
  if (Math.min(...shares) === 0 || Math.max(...shares) - Math.min(...shares) > 1) add('uneven split', `${where}: splits spread ${shares.join(' / ')} over the new subtasks: an even split gives every subtask one and differs by at most one`);
}

function countKeys(keys: readonly Key[]): Map<string, number> {
  const counts = new Map<string, number>();
  for (const key of keys) counts.set(JSON.stringify(key), (counts.get(JSON.stringify(key)) ?? 0) + 1);
  return counts;
}
