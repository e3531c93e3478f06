import { expectedStore, expectedTotals, prefixTotals, type OddEvenTotals, type Parity, parityName } from '../model/odd-even-sum.ts';
import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';
import { checkpointedSplitPositions } from '../src/runtime/state.ts';

/**
 * Exactly-once for the odd/even sum: the final key-value store equals the model's, so no
 * input number was lost and none was counted twice.
 */
export function checkExactlyOnceStore(
  actual: Readonly<Record<string, string>>,
  input: readonly (readonly number[])[],
  prefix: string,
): Violation[] {
  const expected = expectedStore(prefix, expectedTotals(input));
  const violations: Violation[] = [];
  const keys = [...new Set([...Object.keys(expected), ...Object.keys(actual)])].sort();
  for (const key of keys) {
    const want = expected[key];
    const got = actual[key];
    if (want === got) continue;
    const anomaly = got === undefined ? 'lost write' : want === undefined ? 'unexpected write' : Number(got) > Number(want) ? 'duplicate' : 'lost write';
    violations.push({ property: 'exactly-once', anomaly, message: `key ${key}: expected ${want ?? '(absent)'}, found ${got ?? '(absent)'}` });
  }
  return violations;
}

export interface ParityAccumulator {
  readonly sum: number;
  readonly count: number;
  /** The input number added last (an increment-style sink writes it). */
  readonly last: number;
}

/**
 * Consistent cut: every completed checkpoint's keyed state (plus, for unaligned checkpoints,
 * its in-flight channel state) equals the model's totals over exactly the records before its
 * source offsets.
 */
export function checkConsistentCuts(
  observations: RunObservations,
  input: readonly (readonly number[])[],
  sourceTasks: readonly number[],
  aggregateName: string,
): Violation[] {
  const violations: Violation[] = [];
  const totalsBefore = prefixTotals(input);
  // The split names once, not per checkpoint: this runs for every completed checkpoint of every judged case.
  const splitNames = sourceTasks.map((_, partition) => `partition-${partition}`);
  for (const checkpoint of observations.checkpoints) {
    if (checkpoint.outcome !== 'completed' || checkpoint.tasks === undefined) continue;
    // By split: a rescaled source's subtask may hold several partitions, or none.
    const positions = checkpointedSplitPositions(checkpoint.tasks);
    const offsets = splitNames.map((split) => positions.get(split)?.offset ?? 0);
    const expected = totalsBefore(offsets);
    const actual = { even: { sum: 0, count: 0 }, odd: { sum: 0, count: 0 } };
    for (const snapshot of checkpoint.tasks) {
      const entries = snapshot.keyedState[aggregateName];
      for (let i = 0; entries !== undefined && i < entries.length; i++) {
        const [key, value] = entries[i]!;
        const bucket = actual[parityName(key as Parity)];
        const accumulator = value as ParityAccumulator;
        bucket.sum += accumulator.sum;
        bucket.count += accumulator.count;
      }
      // Unaligned checkpoints: records in flight at the cut are part of it, as channel state.
      for (const records of snapshot.channelState ?? []) {
        for (const record of records) {
          const input = record.value as { parity: Parity; n: number };
          const bucket = actual[parityName(input.parity)];
          bucket.sum += input.n;
          bucket.count += 1;
        }
      }
    }
    if (sameTotals(actual, expected, 'even') && sameTotals(actual, expected, 'odd')) continue;
    const mismatch = (['even', 'odd'] as const).filter((name) => !sameTotals(actual, expected, name));
    violations.push({
      property: 'consistent-cut',
      anomaly: 'inconsistent offsets',
      message:
        `checkpoint ${checkpoint.checkpointId} has source offsets [${offsets.join(', ')}] but its state ` +
        mismatch.map((name) => `${name}=${fmt(actual[name])} (model: ${fmt(expected[name])})`).join(', '),
    });
  }
  return violations;
}

function sameTotals(a: OddEvenTotals, b: OddEvenTotals, name: 'even' | 'odd'): boolean {
  return a[name].sum === b[name].sum && a[name].count === b[name].count;
}

function fmt(totals: { sum: number; count: number }): string {
  return `sum ${totals.sum}/count ${totals.count}`;
}
