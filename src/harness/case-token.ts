import { parseFaultPlan } from '../runtime/faults.ts';
import type { CaseSpec, Schedule } from './run-case.ts';
import { checkInputDisorder } from './input-disorder.ts';
import { InputError, MAX_MODULE_PATH_CHARS, MAX_TOKEN_CHARS, checkInteger, checkModulePath, checkPartitionRecords, describeValue, quoteUserText } from './input-bounds.ts';

/**
 * The token format this build writes. A body without `v` is version 0 (tokens printed before
 * versions existed); any other version is refused by name. Version 2 adds the restart delay,
 * the transaction timeout and prepared transactions (the envelope's settings) and the checkpoint
 * timeout (the configuration swarm's) and the input disorder (no build reading version 2 was released
 * without them); a case without
 * them is still written as version 1, so older builds keep reading the tokens they could.
 * Version 3 adds faults placed by situation (a fault's `when`): a version-2 reader would
 * ignore `when` and fire the fault at its step, another case, so such a token is version 3
 * and every other token keeps the version it had.
 */
export const TOKEN_FORMAT_VERSION = 3;
const READABLE_TOKEN_VERSIONS: readonly number[] = [0, 1, 2, 3];
/** Fields a version-1 reader does not know: a token with any of them is written as version 2. */
const VERSION_2_KEYS = ['restartDelayMs', 'transactionTimeoutMs', 'preparedTransactions', 'alignedCheckpointTimeoutMs', 'checkpointTimeoutMs', 'disorder'] as const;
const BODY_KEYS = ['v', 'module', 'tasks', 'size', 'mode', 'backend', 'bug', 'faults', 'schedule', 'maxConcurrentCheckpoints', 'checkpointIntervalMs', 'channelCapacity', 'sinkBufferKeys', 'partitionRecords', ...VERSION_2_KEYS];
const MAX_NAME_CHARS = 128;

/**
 * A replay token is the whole case (scenario, size, mode, backend, bug, fault plan and
 * schedule, and for a user scenario its module path) as base64url JSON behind the scenario's
 * name: `odd-even-sum:eyJ...`. It does not depend on fast-check's seed/path, so it survives
 * changes to the generators. The body carries `"v": 1`, the format version.
 */
export function encodeCase(spec: CaseSpec): string {
  const { scenario, module, ...rest } = spec;
  const version = spec.faults.some((fault) => fault.when !== undefined) ? 3 : VERSION_2_KEYS.some((key) => spec[key] !== undefined) ? 2 : 1;
  const body = { v: version, ...(module === undefined ? {} : { module }), ...rest };
  return `${scenario}:${Buffer.from(JSON.stringify(body), 'utf8').toString('base64url')}`;
}

/** Longest module path a token may carry (the lead's name for the bound in input-bounds.ts). */
export const MAX_MODULE_PATH_LENGTH = MAX_MODULE_PATH_CHARS;

/**
 * The scenario name and module of a token, read before the scenario is loaded (the decoder
 * needs its task count). Checked as decodeCase checks them: the same refusals, by name.
 */
export function peekCase(token: string): { readonly scenario: string; readonly module: string | undefined } {
  const { scenario, body } = splitToken(token);
  const module = body['module'] === undefined ? undefined : checkModulePath(body['module'], 'replay: module');
  return { scenario, module };
}

/** The token's scenario name and its JSON body, checked for length, shape and encoding. */
function splitToken(token: string): { scenario: string; body: Record<string, unknown> } {
  if (typeof token !== 'string') throw new InputError('replay: the token must be a string');
  if (token.length > MAX_TOKEN_CHARS) throw new InputError(`replay: the token is ${token.length} chars, more than the ${MAX_TOKEN_CHARS} a case can need`);
  const separator = token.indexOf(':');
  if (separator <= 0) throw new InputError(`replay: expected <scenario>:<case> as printed by a failure, got ${quoteUserText(token, 40)}`);
  const scenario = checkName(token.slice(0, separator), 'replay: the scenario name');
  const encoded = token.slice(separator + 1);
  if (!/^[A-Za-z0-9_-]*={0,2}$/.test(encoded)) throw new InputError(`replay: the case after '${scenario}:' is not valid base64url JSON (a character outside base64url; was it cut off or wrapped?)`);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(encoded, 'base64url').toString('utf8'));
  } catch {
    throw new InputError(`replay: the case after '${scenario}:' is not valid base64url JSON (was it cut off?)`);
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new InputError('replay: the case must be a JSON object');
  return { scenario, body: body as Record<string, unknown> };
}

/**
 * Decodes and checks a token before anything runs: its format version, every size against
 * the same bounds as the CLI options (input-bounds.ts), the fault plan against the
 * scenario's tasks. Every refusal is an InputError (exit 2) naming the field.
 */
export function decodeCase(token: string, taskCountOf: (scenario: string, size: CaseSpec['size']) => number): CaseSpec {
  const { scenario, body: record } = splitToken(token);
  const unknownKeys = Object.keys(record).filter((key) => !BODY_KEYS.includes(key));
  if (unknownKeys.length > 0) throw new InputError(`replay: unknown field(s) in the case: ${unknownKeys.slice(0, 5).map((key) => quoteUserText(key, 40)).join(', ')}; known: ${BODY_KEYS.join(', ')}`);

  const version = record['v'] ?? 0;
  if (typeof version !== 'number' || !READABLE_TOKEN_VERSIONS.includes(version)) {
    throw new InputError(`replay: token format version ${describeValue(version)} is not one this streamcheck reads (it reads ${READABLE_TOKEN_VERSIONS.join(', ')}); was it printed by a newer streamcheck?`);
  }
  const module = record['module'] === undefined ? undefined : checkModulePath(record['module'], 'replay: module');
  if (module !== undefined && version < 1) throw new InputError('replay: module needs token format version 1 or later');

  const size = record['size'];
  if (typeof size !== 'object' || size === null || Array.isArray(size)) throw new InputError(`replay: size must be {partitions, recordsPerPartition}, got ${describeValue(size)}`);
  const sizeRecord = size as Record<string, unknown>;
  const checkedSize = {
    partitions: checkInteger('partitions', sizeRecord['partitions'], 'replay: size.partitions'),
    recordsPerPartition: checkInteger('recordsPerPartition', sizeRecord['recordsPerPartition'], 'replay: size.recordsPerPartition'),
  };
  const mode = record['mode'];
  if (mode !== 'exactly-once' && mode !== 'at-least-once' && mode !== 'unaligned') {
    throw new InputError(`replay: mode must be exactly-once, unaligned or at-least-once, got ${describeValue(mode)}`);
  }
  const backend = record['backend'];
  if (backend !== 'memory' && backend !== 'fs' && backend !== 'rocksdb') throw new InputError(`replay: backend must be memory, fs or rocksdb, got ${describeValue(backend)}`);
  const bug = record['bug'] === undefined ? undefined : checkName(record['bug'], 'replay: bug');
  const intervalMs = record['checkpointIntervalMs'];
  if (intervalMs !== undefined) checkInteger('checkpointIntervalMs', intervalMs, 'replay: checkpointIntervalMs');
  const concurrent = record['maxConcurrentCheckpoints'];
  if (concurrent !== undefined) checkInteger('maxConcurrentCheckpoints', concurrent, 'replay: maxConcurrentCheckpoints');
  const channelCapacity = record['channelCapacity'];
  if (channelCapacity !== undefined) checkInteger('channelCapacity', channelCapacity, 'replay: channelCapacity');
  const sinkBufferKeys = record['sinkBufferKeys'];
  if (sinkBufferKeys !== undefined) checkInteger('sinkBufferKeys', sinkBufferKeys, 'replay: sinkBufferKeys');
  const tasks = record['tasks'];
  if (tasks !== undefined) checkInteger('tasks', tasks, 'replay: tasks');
  const partitionRecords = record['partitionRecords'] === undefined ? undefined : checkPartitionRecords(record['partitionRecords'], checkedSize, 'replay: partitionRecords');
  const version2Fields = VERSION_2_KEYS.filter((key) => record[key] !== undefined);
  if (version2Fields.length > 0 && version < 2) throw new InputError(`replay: ${version2Fields.join(', ')} need(s) token format version 2 or later, the token says ${version}`);
  const restartDelayMs = record['restartDelayMs'];
  if (restartDelayMs !== undefined) checkInteger('restartDelayMs', restartDelayMs, 'replay: restartDelayMs');
  const checkpointTimeoutMs = record['checkpointTimeoutMs'];
  if (checkpointTimeoutMs !== undefined) checkInteger('checkpointTimeoutMs', checkpointTimeoutMs, 'replay: checkpointTimeoutMs');
  const transactionTimeoutMs = record['transactionTimeoutMs'];
  if (transactionTimeoutMs !== undefined) checkInteger('transactionTimeoutMs', transactionTimeoutMs, 'replay: transactionTimeoutMs');
  const alignedCheckpointTimeoutMs = record['alignedCheckpointTimeoutMs'];
  if (alignedCheckpointTimeoutMs !== undefined) checkInteger('alignedCheckpointTimeoutMs', alignedCheckpointTimeoutMs, 'replay: alignedCheckpointTimeoutMs');
  const preparedTransactions = record['preparedTransactions'];
  if (preparedTransactions !== undefined && typeof preparedTransactions !== 'boolean') throw new InputError(`replay: preparedTransactions must be true or false, got ${describeValue(preparedTransactions)}`);
  const disorder = record['disorder'] === undefined ? undefined : checkInputDisorder(record['disorder'], 'replay: disorder');
  const faults = record['faults'];
  if (!Array.isArray(faults)) throw new InputError(`replay: faults must be an array, got ${describeValue(faults)}`);
  checkInteger('faultsInPlan', faults.length, 'replay: the number of faults');
  faults.forEach((fault: unknown, index) => {
    const entry = typeof fault === 'object' && fault !== null ? (fault as Record<string, unknown>) : {};
    checkInteger('faultAtStep', entry['atStep'], `replay: fault #${index} atStep`);
    if (entry['times'] !== undefined) checkInteger('faultTimes', entry['times'], `replay: fault #${index} times`);
    if (entry['when'] !== undefined && version < 3) throw new InputError(`replay: fault #${index} is placed by situation (when), which needs token format version 3 or later, the token says ${version}`);
  });
  const schedule = parseSchedule(record['schedule']);

  let taskCount: number;
  try {
    taskCount = taskCountOf(scenario, checkedSize);
  } catch (error) {
    throw new InputError(`replay: ${(error as Error).message}`);
  }
  let checkedFaults: CaseSpec['faults'];
  try {
    checkedFaults = parseFaultPlan(faults, taskCount, 'replay');
  } catch (error) {
    throw new InputError((error as Error).message);
  }
  return {
    scenario,
    ...(module === undefined ? {} : { module }),
    size: checkedSize,
    mode,
    backend,
    bug,
    faults: checkedFaults,
    schedule,
    ...(concurrent === undefined ? {} : { maxConcurrentCheckpoints: concurrent as number }),
    ...(intervalMs === undefined ? {} : { checkpointIntervalMs: intervalMs as number }),
    ...(checkpointTimeoutMs === undefined ? {} : { checkpointTimeoutMs: checkpointTimeoutMs as number }),
    ...(channelCapacity === undefined ? {} : { channelCapacity: channelCapacity as number }),
    ...(sinkBufferKeys === undefined ? {} : { sinkBufferKeys: sinkBufferKeys as number }),
    ...(tasks === undefined ? {} : { tasks: tasks as number }),
    ...(partitionRecords === undefined ? {} : { partitionRecords }),
    ...(restartDelayMs === undefined ? {} : { restartDelayMs: restartDelayMs as number }),
    ...(transactionTimeoutMs === undefined ? {} : { transactionTimeoutMs: transactionTimeoutMs as number }),
    ...(preparedTransactions === undefined ? {} : { preparedTransactions }),
    ...(alignedCheckpointTimeoutMs === undefined ? {} : { alignedCheckpointTimeoutMs: alignedCheckpointTimeoutMs as number }),
    ...(disorder === undefined ? {} : { disorder }),
  };
}

/** A scenario or bug name: non-empty, bounded, no control characters. */
function checkName(value: unknown, where: string): string {
  if (typeof value !== 'string' || value.length === 0) throw new InputError(`${where} must be a non-empty string, got ${describeValue(value)}`);
  // eslint-disable-next-line no-control-regex
  if (value.length > MAX_NAME_CHARS || /[\u0000-\u001f\u007f-\u009f]/.test(value)) {
    throw new InputError(`${where} must be at most ${MAX_NAME_CHARS} printable chars, got ${quoteUserText(value, 40)}`);
  }
  return value;
}

function parseSchedule(input: unknown): Schedule {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new InputError(`replay: schedule must be an object, got ${describeValue(input)}`);
  const record = input as Record<string, unknown>;
  if (record['kind'] === 'seed') {
    return { kind: 'seed', seed: checkInteger('seed', record['seed'], 'replay: schedule.seed') };
  }
  if (record['kind'] === 'choices') {
    const choices = record['choices'];
    const tailSeed = record['tailSeed'];
    if (!Array.isArray(choices)) throw new InputError(`replay: schedule.choices must be an array, got ${describeValue(choices)}`);
    checkInteger('scheduleChoices', choices.length, 'replay: the number of schedule.choices');
    choices.forEach((choice: unknown, index) => checkInteger('scheduleChoice', choice, `replay: schedule.choices[${index}]`));
    if (tailSeed !== null) checkInteger('seed', tailSeed, 'replay: schedule.tailSeed (or null)');
    return { kind: 'choices', choices: choices as number[], tailSeed: tailSeed as number | null };
  }
  throw new InputError(`replay: schedule kind must be 'seed' or 'choices', got ${describeValue(record['kind'])}`);
}
