/**
 * What an exactly-once log of running sums must look like. A keyed running sum emits, for
 * each input of its key, (sum, count, last): under exactly-once the committed log of a key
 * is one step per input, in an order that keeps each source partition's order. Pure data in,
 * anomalies out; knows nothing of the runtime.
 */
export interface RunningSumEntry {
  readonly sum: number;
  readonly count: number;
  readonly last: number;
}

export interface LogAnomaly {
  /** Jepsen's words: 'duplicate', 'lost write', 'nonmonotonic poll', 'inconsistent offsets'. */
  readonly anomaly: string;
  readonly message: string;
}

/**
 * Checks one key's committed log against the inputs of that key.
 * `partitionOf(n)` names the source partition of input n; `positionOf(n)` its offset there.
 */
export function checkRunningSumLog(
  key: string,
  log: readonly RunningSumEntry[],
  inputs: readonly number[],
  partitionOf: (input: number) => number,
  positionOf: (input: number) => number,
): LogAnomaly[] {
  const anomalies: LogAnomaly[] = [];
  let sum = 0;
  const seen = new Map<number, number>();
  const lastPositionByPartition = new Map<number, number>();
  log.forEach((entry, index) => {
    sum += entry.last;
    if (entry.count !== index + 1 || entry.sum !== sum) {
      if (anomalies.length < 5) {
        anomalies.push({
          anomaly: entry.count <= index ? 'duplicate' : 'lost write',
          message: `${key}: entry ${index} is (sum ${entry.sum}, count ${entry.count}) but the log so far adds up to (sum ${sum}, count ${index + 1})`,
        });
      }
      sum = entry.sum; // resynchronise so one anomaly is not reported at every later entry
    }
    seen.set(entry.last, (seen.get(entry.last) ?? 0) + 1);
    const partition = partitionOf(entry.last);
    const position = positionOf(entry.last);
    const previous = lastPositionByPartition.get(partition);
    if (previous !== undefined && position <= previous && anomalies.length < 5) {
      anomalies.push({ anomaly: 'nonmonotonic poll', message: `${key}: input ${entry.last} (partition ${partition}, offset ${position}) follows offset ${previous}` });
    }
    lastPositionByPartition.set(partition, position);
  });
  const duplicated = [...seen.entries()].filter(([, times]) => times > 1).map(([input]) => input);
  const expected = new Set(inputs);
  const lost = inputs.filter((input) => !seen.has(input));
  const unexpected = [...seen.keys()].filter((input) => !expected.has(input));
  if (duplicated.length > 0) anomalies.push({ anomaly: 'duplicate', message: `${key}: inputs counted more than once: ${preview(duplicated)}` });
  if (lost.length > 0) anomalies.push({ anomaly: 'lost write', message: `${key}: inputs never in the committed output: ${preview(lost)}` });
  if (unexpected.length > 0) anomalies.push({ anomaly: 'unexpected write', message: `${key}: inputs that do not belong to this key: ${preview(unexpected)}` });
  return anomalies;
}

function preview(values: readonly number[]): string {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length <= 8 ? sorted.join(', ') : `${sorted.slice(0, 8).join(', ')} ... (${sorted.length} in all)`;
}
