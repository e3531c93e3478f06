import fc from 'fast-check';
import { disorderDraw, NO_DISORDER, type InputDisorder } from '../../model/input-disorder.ts';
import { possiblyLate } from '../../model/joins.ts';
import { checkInteger, describeValue, InputError } from './input-bounds.ts';

export { NO_DISORDER, type InputDisorder };


const FIELDS = ['withinBoundPercent', 'lateEvery', 'lateByMs', 'idleGapMs', 'idlePartition', 'seed'] as const;

/**
 * The draw of a case: no disorder first (what shrinking goes back to), the scenario's designed
 * input (undefined) or a disorder whose every field shrinks toward none. The values sit on both
 * sides of what matters: late by less than a 100 ms window and by more; a gap shorter than an
 * idleness timeout, and long enough for other partitions' windows to fire while it lasts.
 */
export function inputDisorderArbitrary(): fc.Arbitrary<InputDisorder | undefined> {
  const drawn = fc.record({
    withinBoundPercent: fc.constantFrom(0, 100, 50, 20),
    lateEvery: fc.constantFrom(0, 12, 6, 3),
    lateByMs: fc.constantFrom(0, 30, 150),
    idleGapMs: fc.constantFrom(0, 600, 30, 250),
    idlePartition: fc.nat({ max: 3 }),
    seed: fc.nat({ max: 999 }),
  });
  // Cross-shrinking: a drawn disorder also shrinks to none, not only field by field.
  return fc.oneof(
    { withCrossShrink: true },
    { weight: 1, arbitrary: fc.constant<InputDisorder | undefined>(NO_DISORDER) },
    { weight: 2, arbitrary: fc.constant<InputDisorder | undefined>(undefined) },
    { weight: 5, arbitrary: drawn },
  );
}

/** A disorder from a token or a file, every field checked by name (InputError: exit 2). */
export function checkInputDisorder(value: unknown, where: string): InputDisorder {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InputError(`${where} must be an object {${FIELDS.join(', ')}}, got ${describeValue(value)}`);
  const record = value as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(FIELDS as readonly string[]).includes(key));
  if (unknown.length > 0) throw new InputError(`${where}: unknown field(s) ${unknown.slice(0, 5).join(', ')}; known: ${FIELDS.join(', ')}`);
  return {
    withinBoundPercent: checkInteger('disorderPercent', record['withinBoundPercent'], `${where}.withinBoundPercent`),
    lateEvery: checkInteger('disorderLateEvery', record['lateEvery'], `${where}.lateEvery`),
    lateByMs: checkInteger('disorderMs', record['lateByMs'], `${where}.lateByMs`),
    idleGapMs: checkInteger('disorderMs', record['idleGapMs'], `${where}.idleGapMs`),
    idlePartition: checkInteger('partitionIndex', record['idlePartition'], `${where}.idlePartition`),
    seed: checkInteger('seed', record['seed'], `${where}.seed`),
  };
}

/** Domain words for reports: `in order`, `out of order within 50 % of the bound, 1 in 6 late by 150 ms, partition 1 idle for 600 ms`. */
export function describeInputDisorder(disorder: InputDisorder | undefined): string {
  if (disorder === undefined) return "the scenario's designed disorder";
  const parts = [disorder.withinBoundPercent === 0 ? 'in order' : `out of order within ${disorder.withinBoundPercent} % of the bound`];
  if (disorder.lateEvery > 0) parts.push(`1 in ${disorder.lateEvery} late by ${disorder.lateByMs} ms beyond the bound`);
  if (disorder.idleGapMs > 0) parts.push(`partition ${disorder.idlePartition} idle for ${disorder.idleGapMs} ms`);
  return parts.join(', ');
}

/** A record of a user's input with its event time, before arrival times are drawn. */
export interface TimestampedRecord<T> {
  readonly value: T;
  readonly timestampMs: number;
}

/**
 * Arrival times for a user's timed input under a case's disorder, partition by partition (for
 * `timedPartitionLog` and `TimedPartitionSourceReader`), sorted by arrival: each record arrives
 * at its event time plus a drawn delay (up to `withinBoundPercent` of `maxOutOfOrdernessMs`,
 * or, for 1 in `lateEvery`, `maxOutOfOrdernessMs + 1 + lateByMs`), and the records of partition
 * `idlePartition` from the middle of its event time on arrive `idleGapMs` later. Without a
 * disorder, each record arrives at its event time.
 */
export function arrivalsUnder<T>(
  disorder: InputDisorder | undefined,
  partitions: ReadonlyArray<ReadonlyArray<TimestampedRecord<T>>>,
  maxOutOfOrdernessMs: number,
): Array<Array<{ readonly value: T; readonly arrivalMs: number }>> {
  if (!Number.isSafeInteger(maxOutOfOrdernessMs) || maxOutOfOrdernessMs < 0) throw new Error(`arrivalsUnder: maxOutOfOrdernessMs must be a non-negative integer, got ${String(maxOutOfOrdernessMs)}`);
  const d = disorder ?? NO_DISORDER;
  const withinBoundMs = Math.floor((maxOutOfOrdernessMs * d.withinBoundPercent) / 100);
  const gapped = d.idleGapMs > 0 && partitions.length > 0 ? d.idlePartition % partitions.length : undefined;
  return partitions.map((records, partition) => {
    const times = records.map((record) => record.timestampMs);
    const middleMs = times.length === 0 ? 0 : (Math.min(...times) + Math.max(...times)) / 2;
    return records
      .map((record, offset) => {
        if (!Number.isSafeInteger(record.timestampMs)) throw new Error(`arrivalsUnder: partition ${partition} record ${offset}: timestampMs must be an integer, got ${String(record.timestampMs)}`);
        const late = d.lateEvery > 0 && disorderDraw(d.seed, partition, offset, 1, d.lateEvery) === 0;
        const delayMs = late ? maxOutOfOrdernessMs + 1 + d.lateByMs : disorderDraw(d.seed, partition, offset, 2, withinBoundMs + 1);
        const gapMs = partition === gapped && record.timestampMs >= middleMs ? d.idleGapMs : 0;
        return { value: record.value, arrivalMs: Math.max(0, record.timestampMs) + delayMs + gapMs, offset };
      })
      .sort((a, b) => a.arrivalMs - b.arrivalMs || a.offset - b.offset)
      .map(({ value, arrivalMs }) => ({ value, arrivalMs }));
  });
}

/**
 * Per partition and record (in arrival order): whether a bounded-out-of-orderness watermark
 * may have passed it. A record is safe when its event time is within the bound of the largest
 * before it in its partition: a task's watermark, the minimum over its inputs, never passes it
 * under any interleaving or restore, so a model may require it. Late ones may be dropped (and
 * after a restore, which starts the watermark over, taken again): require nothing of them.
 */
export function lateUnderBound<T>(
  partitions: ReadonlyArray<ReadonlyArray<{ readonly value: T; readonly arrivalMs: number }>>,
  timestampOf: (value: T) => number,
  maxOutOfOrdernessMs: number,
): boolean[][] {
  return possiblyLate(partitions, timestampOf, maxOutOfOrdernessMs);
}
