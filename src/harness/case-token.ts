import { parseFaultPlan } from '../runtime/faults.ts';
import type { CaseSpec, Schedule } from './run-case.ts';

/**
 * A replay token is the whole case (scenario, size, mode, backend, bug, fault plan and
 * schedule) as base64url JSON behind the scenario's name: `odd-even-sum:eyJ...`. It does
 * not depend on fast-check's seed/path, so it survives changes to the generators.
 */
export function encodeCase(spec: CaseSpec): string {
  const { scenario, ...rest } = spec;
  return `${scenario}:${Buffer.from(JSON.stringify(rest), 'utf8').toString('base64url')}`;
}

export const MAX_MODULE_PATH_LENGTH = 1024;

/** The scenario name and module of a token, read before the scenario is loaded (the decoder needs its task count). */
export function peekCase(token: string): { readonly scenario: string; readonly module: string | undefined } {
  const separator = token.indexOf(':');
  if (separator <= 0) throw new Error(`replay: expected <scenario>:<case> as printed by a failure, got '${token.slice(0, 40)}'`);
  let body: unknown;
  try {
    body = JSON.parse(Buffer.from(token.slice(separator + 1), 'base64url').toString('utf8'));
  } catch {
    throw new Error(`replay: the case after '${token.slice(0, Math.min(separator, 40))}:' is not valid base64url JSON (was it cut off?)`);
  }
  const module = typeof body === 'object' && body !== null ? (body as Record<string, unknown>)['module'] : undefined;
  return { scenario: token.slice(0, separator), module: typeof module === 'string' ? module : undefined };
}

export function decodeCase(token: string, taskCountOf: (scenario: string, size: CaseSpec['size']) => number): CaseSpec {
  const separator = token.indexOf(':');
  if (separator <= 0) throw new Error(`replay: expected <scenario>:<case> as printed by a failure, got '${token.slice(0, 40)}'`);
  const scenario = token.slice(0, separator);
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(Buffer.from(token.slice(separator + 1), 'base64url').toString('utf8')) as Record<string, unknown>;
  } catch {
    throw new Error(`replay: the case after '${scenario}:' is not valid base64url JSON (was it cut off?)`);
  }
  if (typeof body !== 'object' || body === null) throw new Error('replay: the case must be a JSON object');
  const size = body['size'] as CaseSpec['size'] | undefined;
  if (
    typeof size !== 'object' || size === null ||
    !Number.isSafeInteger(size.partitions) || size.partitions < 1 ||
    !Number.isSafeInteger(size.recordsPerPartition) || size.recordsPerPartition < 0
  ) {
    throw new Error('replay: size must be {partitions >= 1, recordsPerPartition >= 0}');
  }
  const mode = body['mode'];
  if (mode !== 'exactly-once' && mode !== 'at-least-once' && mode !== 'unaligned') {
    throw new Error(`replay: mode must be exactly-once, unaligned or at-least-once, got ${JSON.stringify(mode)}`);
  }
  const backend = body['backend'];
  if (backend !== 'memory' && backend !== 'fs') throw new Error(`replay: backend must be memory or fs, got ${JSON.stringify(backend)}`);
  const bug = body['bug'];
  if (bug !== undefined && typeof bug !== 'string') throw new Error('replay: bug must be a string when present');
  const intervalMs = body['checkpointIntervalMs'];
  if (intervalMs !== undefined && (!Number.isSafeInteger(intervalMs) || (intervalMs as number) < 1)) {
    throw new Error(`replay: checkpointIntervalMs must be a positive integer, got ${JSON.stringify(intervalMs)}`);
  }
  const sinkBufferKeys = body['sinkBufferKeys'];
  if (sinkBufferKeys !== undefined && (!Number.isSafeInteger(sinkBufferKeys) || (sinkBufferKeys as number) < 1)) {
    throw new Error(`replay: sinkBufferKeys must be a positive integer, got ${JSON.stringify(sinkBufferKeys)}`);
  }
  const channelCapacity = body['channelCapacity'];
  if (channelCapacity !== undefined && (!Number.isSafeInteger(channelCapacity) || (channelCapacity as number) < 1)) {
    throw new Error(`replay: channelCapacity must be a positive integer, got ${JSON.stringify(channelCapacity)}`);
  }
  const module = body['module'];
  if (module !== undefined && (typeof module !== 'string' || module.length === 0 || module.length > MAX_MODULE_PATH_LENGTH || /[\u0000-\u001f]/.test(module))) {
    throw new Error(`replay: module must be a path of 1-${MAX_MODULE_PATH_LENGTH} printable characters`);
  }
  const tasks = body['tasks'];
  if (tasks !== undefined && (!Number.isSafeInteger(tasks) || (tasks as number) < 1)) throw new Error(`replay: tasks must be a positive integer, got ${JSON.stringify(tasks)}`);
  const concurrent = body['maxConcurrentCheckpoints'];
  if (concurrent !== undefined && (!Number.isSafeInteger(concurrent) || (concurrent as number) < 1)) {
    throw new Error(`replay: maxConcurrentCheckpoints must be a positive integer, got ${JSON.stringify(concurrent)}`);
  }
  return {
    scenario,
    size: { partitions: size.partitions, recordsPerPartition: size.recordsPerPartition },
    mode,
    backend,
    bug,
    faults: parseFaultPlan(body['faults'], taskCountOf(scenario, size), 'replay'),
    schedule: parseSchedule(body['schedule']),
    ...(concurrent === undefined ? {} : { maxConcurrentCheckpoints: concurrent as number }),
    ...(intervalMs === undefined ? {} : { checkpointIntervalMs: intervalMs as number }),
    ...(channelCapacity === undefined ? {} : { channelCapacity: channelCapacity as number }),
    ...(sinkBufferKeys === undefined ? {} : { sinkBufferKeys: sinkBufferKeys as number }),
    ...(module === undefined ? {} : { module: module as string }),
    ...(tasks === undefined ? {} : { tasks: tasks as number }),
  };
}

function parseSchedule(input: unknown): Schedule {
  if (typeof input !== 'object' || input === null) throw new Error('replay: schedule must be an object');
  const record = input as Record<string, unknown>;
  if (record['kind'] === 'seed') {
    const seed = record['seed'];
    if (!Number.isSafeInteger(seed) || (seed as number) < 0) throw new Error(`replay: seed must be a non-negative integer, got ${JSON.stringify(seed)}`);
    return { kind: 'seed', seed: seed as number };
  }
  if (record['kind'] === 'choices') {
    const choices = record['choices'];
    const tailSeed = record['tailSeed'];
    if (!Array.isArray(choices) || !choices.every((c) => Number.isSafeInteger(c) && c >= 0)) {
      throw new Error('replay: choices must be an array of non-negative integers');
    }
    if (tailSeed !== null && (!Number.isSafeInteger(tailSeed) || (tailSeed as number) < 0)) {
      throw new Error(`replay: tailSeed must be null or a non-negative integer, got ${JSON.stringify(tailSeed)}`);
    }
    return { kind: 'choices', choices: choices as number[], tailSeed: tailSeed as number | null };
  }
  throw new Error(`replay: schedule kind must be 'seed' or 'choices', got ${JSON.stringify(record['kind'])}`);
}
