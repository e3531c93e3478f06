import { describe, expect, test } from 'vitest';
import { EXIT_BAD_INPUT, EXIT_INVARIANT_VIOLATED, EXIT_OK, main } from '../../src/cli/main.ts';
import { encodeCase } from '../../src/harness/case-token.ts';

async function cli(argv: readonly string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err };
}

describe('streamcheck envelope: bad input is refused with exit 2, naming the cause', () => {
  const cases: readonly (readonly [string, readonly string[], RegExp])[] = [
    ['no scenario', ['envelope'], /envelope: --scenario NAME is required/],
    ['a scenario without a transaction timeout', ['envelope', '--scenario', 'odd-even-sum'], /envelope: scenario odd-even-sum has no transaction timeout to search.*try kafka-2pc/],
    ['an unknown scenario', ['envelope', '--scenario', 'kafka-3pc'], /unknown scenario 'kafka-3pc'; known: .*kafka-2pc/],
    ['an option of another command', ['envelope', '--scenario', 'kafka-2pc', '--mode', 'unaligned'], /envelope: option --mode does not apply/],
    ['a value for the flag', ['envelope', '--scenario', 'kafka-2pc', '--prepared-transactions=yes'], /envelope: --prepared-transactions takes no value/],
    ['zero runs', ['envelope', '--scenario', 'kafka-2pc', '--runs', '0'], /envelope: --runs must be in \[1, 1000000\]/],
    ['a positional argument', ['envelope', 'kafka-2pc'], /envelope: unexpected argument 'kafka-2pc'/],
    ['the flag on run', ['run', '--scenario', 'kafka-2pc', '--prepared-transactions'], /run: option --prepared-transactions does not apply \(it is for envelope\)/],
  ];
  for (const [what, argv, message] of cases) {
    test(what, async () => {
      const { code, err } = await cli(argv);
      expect(code).toBe(EXIT_BAD_INPUT);
      expect(err.join('\n')).toMatch(message);
      expect(err.join('\n')).not.toMatch(/\n\s+at /); // no stack
      const json = await cli([...argv, '--json']);
      expect(json.code).toBe(EXIT_BAD_INPUT);
      expect(JSON.parse(json.out[0]!)).toMatchObject({ error: { kind: 'bad-input' } });
    });
  }

  test('replay refuses an envelope token for a scenario without a transaction timeout', async () => {
    const token = encodeCase({ scenario: 'odd-even-sum', size: { partitions: 2, recordsPerPartition: 3 }, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'seed', seed: 1 }, transactionTimeoutMs: 50 });
    const { code, err } = await cli(['replay', token]);
    expect(code).toBe(EXIT_BAD_INPUT);
    expect(err.join('\n')).toMatch(/replay: the token sets a transaction timeout, but scenario odd-even-sum has none/);
  });
});

describe('streamcheck envelope on kafka-2pc (3 plans per point)', () => {
  test('without prepared transactions: a table with LOSS cells, the region in words, a token that replays to the loss; exit 1', async () => {
    const { code, out } = await cli(['envelope', '--scenario', 'kafka-2pc', '--runs', '3']);
    expect(code).toBe(EXIT_INVARIANT_VIOLATED);
    const text = out.join('\n');
    expect(text).toMatch(/^transaction timeout ->\s+25 ms\s+50 ms/m);
    expect(text).toMatch(/LOSS \d\/3/);
    expect(text).toMatch(/In words: unsafe when transaction timeout < checkpoint interval \+ restart delay [+-] \d+ ms/);
    const token = /streamcheck replay (kafka-2pc:\S+)/.exec(text)?.[1];
    expect(token).toBeDefined();
    const replayed = await cli(['replay', token!]);
    expect(replayed.code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(replayed.out.join('\n')).toMatch(/completed-implies-committed/);
  }, 120_000);

  test('with --prepared-transactions: every cell ok, no token; exit 0; --json gives the same verdict', async () => {
    const { code, out } = await cli(['envelope', '--scenario', 'kafka-2pc', '--runs', '3', '--prepared-transactions']);
    expect(code).toBe(EXIT_OK);
    const text = out.join('\n');
    expect(text).not.toMatch(/LOSS/);
    expect(text).toMatch(/No unsafe point with KIP-939 prepared transactions/);
    expect(text).not.toMatch(/streamcheck replay/);
    const json = await cli(['envelope', '--scenario', 'kafka-2pc', '--runs', '3', '--prepared-transactions', '--json']);
    expect(json.code).toBe(EXIT_OK);
    const report = JSON.parse(json.out[0]!) as { unsafe: unknown[]; points: unknown[]; preparedTransactions: boolean };
    expect(report).toMatchObject({ preparedTransactions: true, unsafe: [] });
    expect(report.points).toHaveLength(32);
  }, 120_000);
});
