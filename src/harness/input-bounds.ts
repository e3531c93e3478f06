/**
 * One table of bounds for every value a user hands streamcheck, wherever it enters: CLI
 * options, environment variables, replay tokens and scenario files all check against the
 * same numbers, so a size refused on the command line is refused in a token too, before
 * anything runs (a token with `recordsPerPartition: 1e9` used to run out of memory).
 */

/** Bad user input (a CLI argument, an environment variable, a token, a file): exit code 2. */
export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export interface IntegerBound {
  readonly min: number;
  readonly max: number;
  /** What the number counts, for messages. */
  readonly meaning: string;
}

/** Upper bounds keep one run within memory and minutes on a laptop; lower bounds are what the runtime needs. */
export const INPUT_BOUNDS = {
  partitions: { min: 1, max: 16, meaning: 'source partitions' },
  recordsPerPartition: { min: 0, max: 1_000_000, meaning: 'records per partition' },
  /** End-to-end runs need at least one record per partition to have anything to judge. */
  e2eRecordsPerPartition: { min: 1, max: 100_000, meaning: 'end-to-end records per partition' },
  runs: { min: 1, max: 1_000_000, meaning: 'generated fault plans' },
  seed: { min: 0, max: 2 ** 31 - 1, meaning: 'seed' },
  cycles: { min: 1, max: 10_000, meaning: 'end-to-end crash/restart cycles' },
  maxFaults: { min: 0, max: 20, meaning: 'faults in one plan' },
  proveDeviations: { min: 0, max: 4, meaning: 'choices other than the plain one in one proved schedule' },
  workers: { min: 1, max: 256, meaning: 'worker threads' },
  caseTimeoutMs: { min: 100, max: 86_400_000, meaning: 'wall-clock ms one case may take in a worker thread' },
  /** Fault plans in tokens: a shrunk plan never holds more than the generator's most. */
  faultsInPlan: { min: 0, max: 20, meaning: 'faults in a replayed plan' },
  faultAtStep: { min: 0, max: 100_000_000, meaning: 'the step a fault fires at' },
  faultTimes: { min: 1, max: 1_000, meaning: 'times a fault repeats' },
  scheduleChoices: { min: 0, max: 100_000, meaning: 'scheduling choices in a replayed schedule' },
  scheduleChoice: { min: 0, max: 1_000_000, meaning: 'one scheduling choice' },
  maxConcurrentCheckpoints: { min: 1, max: 16, meaning: 'checkpoints in flight at once' },
  checkpointIntervalMs: { min: 1, max: 3_600_000, meaning: 'virtual ms between checkpoints' },
  checkpointTimeoutMs: { min: 1, max: 3_600_000, meaning: 'virtual ms a checkpoint may take before it expires' },
  channelCapacity: { min: 1, max: 1_024, meaning: 'elements an input channel holds' },
  sinkBufferKeys: { min: 1, max: 1_000_000, meaning: 'keys a buffering sink holds before it flushes' },
  restartDelayMs: { min: 0, max: 3_600_000, meaning: 'virtual ms between a failure and the restart' },
  alignedCheckpointTimeoutMs: { min: 0, max: 3_600_000, meaning: 'virtual ms an aligned checkpoint may align at a task before it switches to unaligned' },
  /** Kafka's transaction.max.timeout.ms default is 15 minutes; a simulated run is far shorter. */
  transactionTimeoutMs: { min: 1, max: 900_000, meaning: 'virtual ms the broker lets a transaction stay open' },
  /** A case's input disorder (src/harness/input-disorder.ts). */
  disorderPercent: { min: 0, max: 100, meaning: 'percent of the out-of-orderness bound' },
  disorderLateEvery: { min: 0, max: 1_000_000, meaning: 'records per late record (0: none)' },
  disorderMs: { min: 0, max: 3_600_000, meaning: 'virtual ms' },
  partitionIndex: { min: 0, max: 15, meaning: 'a partition index' },
  /** Tasks of a replayed job (a fingerprint of a user scenario); 16 partitions of a few operators stay far below. */
  tasks: { min: 1, max: 1_024, meaning: 'tasks of the job' },
} as const satisfies Record<string, IntegerBound>;

export type BoundName = keyof typeof INPUT_BOUNDS;

/** Longest replay token accepted (characters), checked before it is decoded. */
export const MAX_TOKEN_CHARS = 1_000_000;
/** Largest scenario module file loaded (bytes): a scenario is code and a little data, never megabytes of it. */
export const MAX_SCENARIO_MODULE_BYTES = 4 * 1024 * 1024;
/** Longest scenario module path a token may carry. */
export const MAX_MODULE_PATH_CHARS = 1024;
/** How much of a piece of user text a message quotes before cutting it. */
export const QUOTED_TEXT_MAX_CHARS = 80;
/** Longest error message printed; longer ones (a message quoting a huge value) are cut. */
export const MESSAGE_MAX_CHARS = 4_000;

/**
 * Checks that `value` is a whole number within the named bound; `where` names the input
 * (`--partitions`, `replay: size.partitions`, `STREAMCHECK_...`). Returns the number.
 */
export function checkInteger(bound: BoundName, value: unknown, where: string): number {
  const { min, max, meaning } = INPUT_BOUNDS[bound];
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new InputError(`${where} must be a whole number (${meaning}), got ${describeValue(value)}`);
  }
  if (value < min || value > max) throw new InputError(`${where} must be in [${min}, ${max}] (${meaning}), got ${value}`);
  return value;
}

/** Parses decimal text (a CLI option or an environment variable) and checks it against the bound. */
export function parseIntegerText(bound: BoundName, text: string, where: string): number {
  if (!/^\d{1,16}$/.test(text)) throw new InputError(`${where} must be a whole number, got ${quoteUserText(text)}`);
  return checkInteger(bound, Number(text), where);
}

/** A JSON value as a message shows it: short values whole, long ones cut with their length. */
export function describeValue(value: unknown): string {
  if (typeof value === 'string') return quoteUserText(value);
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return truncateText(escapeControlCharacters(text), QUOTED_TEXT_MAX_CHARS);
}

/**
 * User text inside a message: quoted, control characters shown as escapes (never sent to
 * the terminal), and cut after QUOTED_TEXT_MAX_CHARS with its full length named.
 */
export function quoteUserText(text: string, maxChars: number = QUOTED_TEXT_MAX_CHARS): string {
  return `'${truncateText(escapeControlCharacters(text), maxChars, text.length)}'`;
}

/** C0/C1 control characters, DEL, and the line/paragraph separators as \n, \t, \u001b, ...; backslashes doubled unless told not to. */
export function escapeControlCharacters(text: string, options: { readonly escapeBackslash?: boolean } = {}): string {
  const pattern = options.escapeBackslash === false ? /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/g : /[\u0000-\u001f\u007f-\u009f\u2028\u2029\\]/g;
  return text.replace(pattern, (character) => {
    switch (character) {
      case '\\':
        return '\\\\';
      case '\n':
        return '\\n';
      case '\r':
        return '\\r';
      case '\t':
        return '\\t';
      default:
        return `\\u${character.charCodeAt(0).toString(16).padStart(4, '0')}`;
    }
  });
}

/** Cuts text longer than maxChars, naming the original's length (which escaping may have changed). */
export function truncateText(text: string, maxChars: number, originalLength: number = text.length): string {
  if (text.length <= maxChars) return text;
  return `${text.slice(0, maxChars)}… (${originalLength} chars)`;
}

/**
 * A whole message ready for a terminal, the last line of defence behind quoteUserText:
 * control characters escaped except the line breaks between lines (a multi-line message
 * means them), and cut at MESSAGE_MAX_CHARS.
 */
export function safeMessage(message: string): string {
  const lines = message.split('\n').map((line) => escapeControlCharacters(line, { escapeBackslash: false }));
  return truncateText(lines.join('\n'), MESSAGE_MAX_CHARS, message.length);
}

/** Checks a scenario module path as a token or file carries it: relative, posix separators, bounded, no control characters. */
export function checkModulePath(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InputError(`${where} must be a non-empty string, got ${describeValue(value)}`);
  if (value.length > MAX_MODULE_PATH_CHARS) throw new InputError(`${where} must be at most ${MAX_MODULE_PATH_CHARS} chars, got ${value.length} chars`);
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f-\u009f]/.test(value)) throw new InputError(`${where} must not contain control characters, got ${quoteUserText(value)}`);
  if (value.includes('\\')) throw new InputError(`${where} must use posix separators '/', got ${quoteUserText(value)}`);
  if (value.startsWith('/')) throw new InputError(`${where} must be relative to the project root, got ${quoteUserText(value)}`);
  return value;
}

/**
 * Records in each partition of a case whose partitions differ in length: one whole number
 * per partition of `size`, none longer than `size.recordsPerPartition` (the model numbers
 * partition p's records from p * recordsPerPartition + 1).
 */
export function checkPartitionRecords(value: unknown, size: { readonly partitions: number; readonly recordsPerPartition: number }, where: string): readonly number[] {
  if (!Array.isArray(value)) throw new InputError(`${where} must be an array of records per partition, got ${describeValue(value)}`);
  if (value.length !== size.partitions) throw new InputError(`${where} must name ${size.partitions} partitions (the size's), got ${value.length}`);
  return value.map((records: unknown, partition) => {
    const checked = checkInteger('recordsPerPartition', records, `${where}[${partition}]`);
    if (checked > size.recordsPerPartition) throw new InputError(`${where}[${partition}] must be at most the size's ${size.recordsPerPartition} records per partition, got ${checked}`);
    return checked;
  });
}
