/**
 * Every way a value enters streamcheck, tried with bad values: the exit code, the message
 * naming the cause, and with --json the same code with one `{"error": {kind, message}}` object
 * on stdout. No stack, no raw control character, no unbounded echo of user text.
 */
import { afterEach, describe, expect, test, vi } from 'vitest';
import { EXIT_BAD_INPUT, EXIT_ENVIRONMENT_UNAVAILABLE, main } from '../../src/cli/main.ts';
import { encodeCase } from '../../src/harness/case-token.ts';

interface Outcome {
  readonly code: number;
  readonly out: string[];
  readonly err: string[];
}

async function cli(argv: readonly string[]): Promise<Outcome> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err };
}

const token = (body: Record<string, unknown>, scenario = 'odd-even-sum'): string => `${scenario}:${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
const goodBody = { v: 1, size: { partitions: 2, recordsPerPartition: 3 }, mode: 'exactly-once', backend: 'memory', faults: [], schedule: { kind: 'seed', seed: 1 } };
const ESCAPE = '\u001b';

interface BadInput {
  readonly what: string;
  readonly argv: readonly string[];
  readonly env?: Record<string, string>;
  readonly code: number;
  readonly kind: 'bad-input' | 'environment-unavailable';
  readonly message: RegExp;
}

const BAD_INPUTS: readonly BadInput[] = [
  { what: 'unknown command', argv: ['launch'], code: 2, kind: 'bad-input', message: /unknown command 'launch'; commands: run, replay/ },
  { what: 'stray positional', argv: ['selftest', 'extra'], code: 2, kind: 'bad-input', message: /selftest: unexpected argument 'extra'/ },
  { what: 'second token', argv: ['replay', 'a:b', 'c:d'], code: 2, kind: 'bad-input', message: /replay: unexpected argument 'c:d' \(replay takes the token and options\)/ },
  { what: 'repeated flag', argv: ['run', '--scenario', 'odd-even-sum', '--runs', '1', '--runs=2'], code: 2, kind: 'bad-input', message: /run: option --runs given more than once/ },
  { what: 'repeated boolean flag', argv: ['run', '--suite', '--suite'], code: 2, kind: 'bad-input', message: /option --suite given more than once/ },
  { what: 'unknown option', argv: ['run', '--turbo'], code: 2, kind: 'bad-input', message: /run: unknown option '--turbo'/ },
  { what: 'option of another command', argv: ['run', '--timeline'], code: 2, kind: 'bad-input', message: /--timeline does not apply/ },
  { what: 'negative seed', argv: ['run', '--scenario', 'odd-even-sum', '--seed', '-3'], code: 2, kind: 'bad-input', message: /--seed must be a whole number, got '-3'/ },
  { what: 'seed too large', argv: ['run', '--scenario', 'odd-even-sum', '--seed', '99999999999'], code: 2, kind: 'bad-input', message: /--seed must be in \[0, 2147483647\]/ },
  { what: '17 partitions', argv: ['run', '--scenario', 'odd-even-sum', '--partitions', '17'], code: 2, kind: 'bad-input', message: /--partitions must be in \[1, 16\] \(source partitions\), got 17/ },
  { what: 'huge records', argv: ['run', '--scenario', 'odd-even-sum', '--records', '1000000000'], code: 2, kind: 'bad-input', message: /--records must be in \[0, 1000000\]/ },
  { what: 'e2e --records 0', argv: ['e2e', '--scenario', 'kafka-2pc', '--cycles', '1', '--records', '0'], code: 2, kind: 'bad-input', message: /e2e: --records must be in \[1, 100000\]/ },
  { what: 'e2e --cycles 0', argv: ['e2e', '--scenario', 'kafka-2pc', '--cycles', '0'], code: 2, kind: 'bad-input', message: /--cycles must be in \[1, 10000\]/ },
  { what: 'escape sequence in a scenario name', argv: ['run', '--scenario', `${ESCAPE}[31mred`], code: 2, kind: 'bad-input', message: /unknown scenario '\\u001b\[31mred'/ },
  { what: '100 KB scenario name', argv: ['run', '--scenario', 'x'.repeat(100_000)], code: 2, kind: 'bad-input', message: /unknown scenario 'x{80}… \(100000 chars\)'/ },
  { what: 'token without separator', argv: ['replay', 'garbage'], code: 2, kind: 'bad-input', message: /expected <scenario>:<case>/ },
  { what: 'token cut off', argv: ['replay', 'odd-even-sum:eyJzaXpl'], code: 2, kind: 'bad-input', message: /not valid base64url JSON/ },
  { what: 'token with 1e9 records', argv: ['replay', token({ ...goodBody, size: { partitions: 2, recordsPerPartition: 1e9 } })], code: 2, kind: 'bad-input', message: /replay: size.recordsPerPartition must be in \[0, 1000000\]/ },
  { what: 'token with 1e6 partitions', argv: ['replay', token({ ...goodBody, size: { partitions: 1e6, recordsPerPartition: 1 } })], code: 2, kind: 'bad-input', message: /replay: size.partitions must be in \[1, 16\]/ },
  { what: 'token of a future format', argv: ['replay', token({ ...goodBody, v: 4 })], code: 2, kind: 'bad-input', message: /token format version 4 is not one this streamcheck reads/ },
  { what: 'token with an unknown field', argv: ['replay', token({ ...goodBody, turbo: true })], code: 2, kind: 'bad-input', message: /unknown field\(s\) in the case: 'turbo'/ },
  { what: 'token with an absolute module path', argv: ['replay', token({ ...goodBody, module: '/etc/passwd' })], code: 2, kind: 'bad-input', message: /module must be relative to the project root/ },
  { what: 'token for an unknown scenario', argv: ['replay', token(goodBody, `evil${ESCAPE}]0;title`)], code: 2, kind: 'bad-input', message: /scenario name must be at most 128 printable chars/ },
  { what: 'token with an unknown bug', argv: ['replay', token({ ...goodBody, bug: 'nope' })], code: 2, kind: 'bad-input', message: /has no planted bug 'nope'/ },
  { what: 'token with 10 000 faults', argv: ['replay', token({ ...goodBody, faults: Array.from({ length: 10_000 }, () => ({ kind: 'crash-job', atStep: 1 })) })], code: 2, kind: 'bad-input', message: /the number of faults must be in \[0, 20\]/ },
  { what: 'STREAMCHECK_E2E bogus', argv: ['e2e', '--scenario', 'kafka-2pc', '--cycles', '1'], env: { STREAMCHECK_E2E: 'bogus' }, code: 2, kind: 'bad-input', message: /STREAMCHECK_E2E must be required, auto or off; got 'bogus'/ },
  { what: 'STREAMCHECK_E2E=off', argv: ['e2e', '--scenario', 'kafka-2pc', '--cycles', '1'], env: { STREAMCHECK_E2E: 'off' }, code: 2, kind: 'bad-input', message: /STREAMCHECK_E2E=off forbids starting or using Kafka and Redis/ },
  { what: 'STREAMCHECK_E2E_PROVIDER bogus', argv: ['e2e', '--scenario', 'kafka-2pc', '--cycles', '1'], env: { STREAMCHECK_E2E_PROVIDER: 'bogus' }, code: 2, kind: 'bad-input', message: /STREAMCHECK_E2E_PROVIDER must be testcontainers, local or auto; got 'bogus'/ },
  { what: 'Redis URL with http://', argv: ['e2e', '--scenario', 'odd-even-sum', '--cycles', '1'], env: { STREAMCHECK_KAFKA_BROKERS: '127.0.0.1:1', STREAMCHECK_REDIS_URL: 'http://127.0.0.1:6379' }, code: 2, kind: 'bad-input', message: /STREAMCHECK_REDIS_URL must use the scheme redis:\/\/ \(or rediss:\/\/ for TLS\), got 'http'/ },
  { what: 'Redis URL without scheme', argv: ['e2e', '--scenario', 'odd-even-sum', '--cycles', '1'], env: { STREAMCHECK_KAFKA_BROKERS: '127.0.0.1:1', STREAMCHECK_REDIS_URL: 'localhost:6379' }, code: 2, kind: 'bad-input', message: /STREAMCHECK_REDIS_URL must/ },
  { what: 'Kafka broker not host:port', argv: ['e2e', '--scenario', 'odd-even-sum', '--cycles', '1'], env: { STREAMCHECK_KAFKA_BROKERS: 'kafka', STREAMCHECK_REDIS_URL: 'redis://127.0.0.1:1/0' }, code: 2, kind: 'bad-input', message: /STREAMCHECK_KAFKA_BROKERS entries must be host:port/ },
  { what: 'Kafka endpoint where nothing listens', argv: ['e2e', '--scenario', 'odd-even-sum', '--cycles', '1'], env: { STREAMCHECK_KAFKA_BROKERS: '127.0.0.1:1', STREAMCHECK_REDIS_URL: 'redis://127.0.0.1:1/0' }, code: EXIT_ENVIRONMENT_UNAVAILABLE, kind: 'environment-unavailable', message: /no Kafka broker of STREAMCHECK_KAFKA_BROKERS answers ApiVersions: 127.0.0.1:1: ECONNREFUSED/ },
];

const rows: string[] = [];

describe('bad input, every way it enters', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  test.each(BAD_INPUTS)('$what: exit $code', async ({ what, argv, env, code, kind, message }) => {
    for (const [name, value] of Object.entries({ STREAMCHECK_KAFKA_BROKERS: '', STREAMCHECK_REDIS_URL: '', STREAMCHECK_E2E_PROVIDER: '', STREAMCHECK_E2E: 'auto', ...env })) vi.stubEnv(name, value);
    const text = await cli(argv);
    expect(text.code).toBe(code);
    const stderr = text.err.join('\n');
    expect(stderr).toMatch(message);
    expect(stderr).not.toMatch(/\n\s+at /); // no stack
    expect(stderr).not.toContain(ESCAPE);
    expect(stderr.length).toBeLessThan(5_000);
    // Progress lines ("services: ...") may precede an unavailable environment; bad input prints nothing else.
    if (kind === 'bad-input') expect(text.out).toEqual([]);

    const json = await cli([...argv, '--json']);
    expect(json.code).toBe(code);
    expect(json.err).toEqual([]);
    expect(json.out).toHaveLength(1);
    const parsed = JSON.parse(json.out[0]!) as { error: { kind: string; message: string } };
    expect(Object.keys(parsed)).toEqual(['error']);
    expect(parsed.error.kind).toBe(kind);
    expect(parsed.error.message).toMatch(message);
    rows.push(`| ${what} | ${code} | ${stderr.split('\n')[0]!.slice(0, 160).replace(/\|/g, '\\|')} |`);
  });

  test('a bug in streamcheck is exit 3, kind internal-error, with its stack in text and one JSON object with --json', async () => {
    // The first line printed throws a TypeError: a broken assumption inside streamcheck.
    const brokenOnce = (): { code: Promise<number>; out: string[]; err: string[] } => {
      const out: string[] = [];
      const err: string[] = [];
      let thrown = false;
      const argv = ['replay', encodeCase({ scenario: 'odd-even-sum', size: { partitions: 1, recordsPerPartition: 1 }, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'seed', seed: 1 } })];
      return {
        code: main(json ? [...argv, '--json'] : argv, {
          out: (line) => {
            if (!thrown) {
              thrown = true;
              throw new TypeError('planted: cannot read properties of undefined');
            }
            out.push(line);
          },
          err: (line) => err.push(line),
        }),
        out,
        err,
      };
    };
    let json = false;
    const text = brokenOnce();
    expect(await text.code).toBe(3);
    expect(text.err.join('\n')).toMatch(/^streamcheck: internal error: TypeError: planted: cannot read properties of undefined\n\s+at /);
    json = true;
    const asJson = brokenOnce();
    expect(await asJson.code).toBe(3);
    expect(asJson.out.map((line) => JSON.parse(line))).toEqual([{ error: { kind: 'internal-error', message: 'planted: cannot read properties of undefined' } }]);
    expect(EXIT_BAD_INPUT).toBe(2);
  });

  test('prints the table of bad inputs for the closing note', () => {
    expect(rows.length).toBe(BAD_INPUTS.length);
    console.log(['| input | exit | message (first line) |', '|---|---|---|', ...rows].join('\n'));
  });
});
