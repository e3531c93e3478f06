/**
 * For any argument list and any replay token: main() ends with 0, 1 or 2 (never 3, an
 * internal error), prints no stack, and returns (each property's runs are bounded by the
 * test's timeout, not by a timed assertion). main() runs in-process with a recording io.
 * Sizes stay tiny so a valid command line runs in milliseconds: every `run` gets one run
 * of a two-record case unless the generated arguments already set those options (then the
 * repeated flag is refused, which is also an answer).
 */
import { fc, test } from '@fast-check/vitest';
import { afterAll, beforeAll, describe, expect, vi } from 'vitest';
import { main } from '../../src/cli/main.ts';
import { encodeCase } from '../../src/harness/case-token.ts';

const PROPERTY_TIMEOUT_MS = 300_000;

async function outcome(argv: readonly string[]): Promise<{ code: number; text: string }> {
  const lines: string[] = [];
  const code = await main(argv, { out: (line) => lines.push(line), err: (line) => lines.push(line) });
  return { code, text: lines.join('\n') };
}

function expectAnswered({ code, text }: { code: number; text: string }): void {
  expect([0, 1, 2]).toContain(code);
  expect(text).not.toMatch(/internal error/);
  expect(text).not.toMatch(/\n\s+at .*:\d+:\d+/); // a stack frame
  expect(text).not.toMatch(/[\u0000-\u0009\u000b-\u001f\u007f]/); // control characters reach no terminal
}

const COMMANDS = ['run', 'replay', 'selftest', 'e2e', 'help', '--help', '-h', 'launch', ''];
const OPTION_NAMES = ['scenario', 'cycles', 'suite', 'seed', 'runs', 'mode', 'backend', 'partitions', 'records', 'bug', 'max-faults', 'timeline', 'json', 'help', 'turbo', ''];
const VALUES = ['odd-even-sum', 'kafka-2pc', 'nope', '0', '1', '2', '-1', '17', '1e9', '99999999999999999999', 'exactly-once', 'unaligned', 'at-least-once', 'maybe', 'fs', 'memory', 'incrby-sink', '', ' ', '\u001b[2J', 'x'.repeat(300)];

const argument = fc.oneof(
  fc.constantFrom(...OPTION_NAMES).map((name) => `--${name}`),
  fc.tuple(fc.constantFrom(...OPTION_NAMES), fc.constantFrom(...VALUES)).map(([name, value]) => `--${name}=${value}`),
  fc.constantFrom(...VALUES),
  fc.string({ maxLength: 20 }),
  fc.string({ unit: 'binary', maxLength: 12 }),
);

/** Argument lists; `run` and `selftest` are kept tiny (selftest is refused through an unknown option: its valid runs take seconds). */
const argvArbitrary = fc.tuple(fc.constantFrom(...COMMANDS), fc.array(argument, { maxLength: 6 })).map(([command, rest]) => {
  const argv = command === '' ? rest : [command, ...rest];
  if (command === 'run') argv.push('--runs=1', '--records=2', '--partitions=1', '--max-faults=1');
  if (command === 'selftest') argv.push('--turbo');
  return argv;
});

const base = { size: { partitions: 1, recordsPerPartition: 2 }, mode: 'exactly-once', backend: 'memory', faults: [], schedule: { kind: 'seed', seed: 1 } };

/** Token bodies: a valid tiny case with one field replaced by any JSON value, or any JSON at all. */
const bodyArbitrary = fc.oneof(
  fc.tuple(fc.constantFrom('v', 'module', 'size', 'mode', 'backend', 'bug', 'faults', 'schedule', 'maxConcurrentCheckpoints', 'checkpointIntervalMs', 'extra'), fc.jsonValue({ maxDepth: 3 })).map(([field, value]) => ({ ...base, [field]: value })),
  fc.tuple(fc.constantFrom('partitions', 'recordsPerPartition'), fc.oneof(fc.integer(), fc.double(), fc.constant(1e9), fc.constant(1e6))).map(([field, value]) => ({ ...base, size: { ...base.size, [field]: value } })),
  fc.array(fc.record({ kind: fc.constantFrom('crash-task', 'crash-job', 'fail-commit', 'meteor'), atStep: fc.oneof(fc.nat(200), fc.integer()), task: fc.integer({ min: -1, max: 5 }), times: fc.integer({ min: -1, max: 4 }) }, { requiredKeys: ['kind', 'atStep'] }), { maxLength: 3 }).map((faults) => ({ ...base, faults })),
  fc.jsonValue({ maxDepth: 3 }),
);
const tokenArbitrary = fc.oneof(
  fc.tuple(fc.constantFrom('odd-even-sum', 'kafka-2pc', 'nope', '', '\u001b[31m'), bodyArbitrary).map(([scenario, body]) => `${scenario}:${Buffer.from(JSON.stringify(body) ?? 'null').toString('base64url')}`),
  fc.string({ maxLength: 60 }),
  fc.constant(encodeCase({ scenario: 'odd-even-sum', size: { partitions: 1, recordsPerPartition: 2 }, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'seed', seed: 1 } })).chain((valid) =>
    fc.nat(valid.length).map((cut) => valid.slice(0, cut)),
  ),
);

describe('CLI parser and token decoder under arbitrary input', () => {
  beforeAll(() => {
    // e2e never reaches a service here: off is refused as bad input before anything starts.
    vi.stubEnv('STREAMCHECK_E2E', 'off');
  });
  afterAll(() => {
    vi.unstubAllEnvs();
  });

  test.prop([argvArbitrary], { numRuns: 300, seed: 15 })('any argument list exits 0, 1 or 2 without a stack', async (argv) => {
    expectAnswered(await outcome(argv));
  }, PROPERTY_TIMEOUT_MS);

  test.prop([tokenArbitrary, fc.boolean()], { numRuns: 300, seed: 15 })('any replay token exits 0, 1 or 2 without a stack', async (token, json) => {
    const result = await outcome(['replay', token, ...(json ? ['--json'] : [])]);
    expectAnswered(result);
    if (json) expect(() => JSON.parse(result.text)).not.toThrow();
  }, PROPERTY_TIMEOUT_MS);
});
