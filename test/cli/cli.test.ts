import { describe, expect, test } from 'vitest';
import { EXIT_BAD_INPUT, EXIT_INVARIANT_VIOLATED, EXIT_OK, main } from '../../src/cli/main.ts';
import { UsageError, parseCli } from '../../src/cli/parse.ts';

/**
 * Whole-scenario runs on a loaded 2-core machine: generous, never a timing assertion. selftest
 * runs every planted bug check (61): about 30 s of CPU, but over 4 minutes of wall time measured
 * on the loaded machine.
 */
const SLOW_TEST_TIMEOUT_MS = 600_000;
/** selftest searches every planted bug: about 30 s of CPU, over 4 minutes on a loaded 2-core machine. */
const SELFTEST_TIMEOUT_MS = 600_000;

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('parseCli', () => {
  test('parses commands, options and positionals from the option table', () => {
    expect(parseCli(['run', '--scenario', 'odd-even-sum', '--runs=5', '--json'])).toEqual({
      command: 'run',
      positionals: [],
      options: { scenario: 'odd-even-sum', runs: 5, json: true },
    });
    expect(parseCli(['replay', 'tok', '--timeline']).positionals).toEqual(['tok']);
  });

  test('rejects bad input naming the option', () => {
    expect(() => parseCli(['run', '--seed', '-3'])).toThrow(UsageError);
    expect(() => parseCli(['run', '--seed', 'abc'])).toThrow(/--seed must be a whole number/);
    expect(() => parseCli(['run', '--mode', 'maybe'])).toThrow(/--mode must be one of exactly-once, unaligned, at-least-once/);
    expect(() => parseCli(['run', '--timeline'])).toThrow(/does not apply/);
    expect(() => parseCli(['launch'])).toThrow(/unknown command 'launch'/);
    expect(() => parseCli(['run', '--runs'])).toThrow(/needs a value/);
  });
});

describe('streamcheck CLI', () => {
  test('run passes on the correct pipeline and prints the summary', async () => {
    const { code, out } = await cli('run', '--scenario', 'odd-even-sum', '--runs', '20');
    expect(code).toBe(EXIT_OK);
    expect(out).toMatch(/summary: 20 runs, \d+ checkpoints completed, \d+ crashes injected/);
    expect(out).toContain('all held');
  });

  test('run --json with one run reports its trace hash, and the same seed gives the same hash', async () => {
    const first = JSON.parse((await cli('run', '--scenario', 'odd-even-sum', '--runs', '1', '--seed', '5', '--json')).out);
    const second = JSON.parse((await cli('run', '--scenario', 'odd-even-sum', '--runs', '1', '--seed', '5', '--json')).out);
    expect(first.runs).toBe(1);
    expect(first.failures).toBe(0);
    expect(first.traceHash).toMatch(/^[0-9a-f]{8}$/);
    expect(second.traceHash).toBe(first.traceHash);
    expect(first.invariantsChecked).toContain('exactly-once');
  });

  test('a planted bug exits 1 with the shrunk plan in domain words and a replay command that reproduces it', async () => {
    const { code, out } = await cli('run', '--scenario', 'odd-even-sum', '--bug', 'incrby-sink', '--runs', '200');
    expect(code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(out).toMatch(/FAIL exactly-once violated/);
    expect(out).toMatch(/duplicate: key odd-even-sum:\w+:\w+: expected \d+, found \d+/);
    // A failover of any kind: a crash, or the restart of a rescale.
    expect(out).toMatch(/- (task .* crashes|the whole job .* crashes|the job restarts with its keyed part rescaled .*) at step \d+ \(while /);
    const token = /Replay: npx streamcheck replay (\S+)/.exec(out)?.[1];
    expect(token).toBeDefined();
    const replay = await cli('replay', token!, '--timeline');
    expect(replay.code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(replay.out).toMatch(/!! step +\d+ .*fault: /);
    expect(replay.out).toMatch(/FAIL exactly-once violated/);
  });

  test('bad input exits 2 with the cause', async () => {
    expect((await cli('run', '--scenario', 'nope')).err).toMatch(/unknown scenario 'nope'; known: odd-even-sum/);
    expect((await cli('run', '--scenario', 'nope')).code).toBe(EXIT_BAD_INPUT);
    expect((await cli('run')).err).toMatch(/give --suite, --scenario NAME, or a scenario module/);
    expect((await cli('run', '--scenario', 'odd-even-sum', '--seed', 'x')).code).toBe(EXIT_BAD_INPUT);
    expect((await cli('replay', 'odd-even-sum:garbage!')).err).toMatch(/not valid base64url JSON/);
    expect((await cli('run', '--scenario', 'odd-even-sum', '--bug', 'nope')).err).toMatch(/no planted bug 'nope'/);
    expect((await cli('e2e', '--scenario', 'nope', '--cycles', '1')).err).toMatch(/--scenario must be one of odd-even-sum, kafka-2pc/);
    expect((await cli('e2e', '--scenario', 'odd-even-sum')).err).toMatch(/--cycles N is required/);
    expect((await cli('e2e', '--scenario', 'odd-even-sum', '--cycles', '1', '--bug', 'commit-in-snapshot')).err).toMatch(/applies to kafka-2pc only/);
    expect((await cli('e2e', '--scenario', 'kafka-2pc', '--cycles', '0')).code).toBe(EXIT_BAD_INPUT);
  });

  test('selftest --json reports every planted bug caught', async () => {
    const { code, out } = await cli('selftest', '--json');
    const report = JSON.parse(out);
    expect(code).toBe(EXIT_OK);
    expect(report.missed).toBe(0);
    expect(report.plantedBugs.length).toBeGreaterThanOrEqual(7);
    for (const entry of report.plantedBugs) expect(entry.shrunkFaults).toBeLessThanOrEqual(2);
  }, SELFTEST_TIMEOUT_MS);
});
