import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { EXIT_BAD_INPUT, EXIT_INTERNAL_ERROR, EXIT_INVARIANT_VIOLATED, EXIT_OK, main } from '../../../src/cli/main.ts';
import { formatProgress, ProgressLine } from '../../../src/harness/parallel/progress.ts';

const SLOW_TEST_MS = 300_000;

async function cli(argv: string[], withProgress = false): Promise<{ code: number; out: string; err: string; progress: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const progress: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line), ...(withProgress ? { progress: (text: string) => progress.push(text) } : {}) });
  return { code, out: out.join('\n'), err: err.join('\n'), progress };
}

/** The run's JSON without what legitimately differs between worker counts: wall time and the count itself. */
function comparable(json: string): unknown {
  const parsed = JSON.parse(json) as Record<string, unknown>;
  delete parsed['workers'];
  for (const scenario of parsed['scenarios'] as Record<string, unknown>[]) delete scenario['elapsedMs'];
  return parsed;
}

const BUGGY = ['run', '--scenario', 'odd-even-sum', '--bug', 'incrby-sink', '--records', '8', '--runs', '150', '--seed', '4', '--json'];

describe('run --workers, --shard and merge', () => {
  test('--workers 2 prints the same JSON result as --workers 1: cases, counterexample, shrunk case, figures', async () => {
    const one = await cli([...BUGGY, '--workers', '1']);
    const two = await cli([...BUGGY, '--workers', '2']);
    expect(one.code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(two.code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(comparable(two.out)).toEqual(comparable(one.out));
    expect((JSON.parse(two.out) as { workers: number }).workers).toBe(2);
  }, SLOW_TEST_MS);

  test('shards merged give the unsharded counterexample and exit code; a missing or repeated shard is refused', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'streamcheck-shards-'));
    const whole = JSON.parse((await cli([...BUGGY, '--workers', '2'])).out) as { counterexample: { caseIndex: number; replay: string } };
    const files: string[] = [];
    for (let index = 1; index <= 3; index++) {
      const shard = await cli([...BUGGY, '--workers', '2', '--shard', `${index}/3`]);
      expect([EXIT_OK, EXIT_INVARIANT_VIOLATED]).toContain(shard.code);
      const file = join(directory, `shard-${index}.json`);
      writeFileSync(file, shard.out);
      files.push(file);
    }
    const merged = await cli(['merge', ...files, '--json']);
    expect(merged.code).toBe(EXIT_INVARIANT_VIOLATED);
    const result = JSON.parse(merged.out) as { shards: number; counterexample: { caseIndex: number; replay: string } };
    expect(result.shards).toBe(3);
    expect(result.counterexample.caseIndex).toBe(whole.counterexample.caseIndex);
    expect(result.counterexample.replay).toBe(whole.counterexample.replay);
    const text = await cli(['merge', ...files]);
    expect(text.code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(text.out).toMatch(/merged 3 shards: \d+ runs.*VIOLATED/);
    expect(text.out).toContain(`Replay: ${whole.counterexample.replay}`);

    const missing = await cli(['merge', files[0]!, files[2]!]);
    expect(missing.code).toBe(EXIT_BAD_INPUT);
    expect(missing.err).toMatch(/shard 2\/3 missing/);
    const twice = await cli(['merge', ...files, files[1]!]);
    expect(twice.code).toBe(EXIT_BAD_INPUT);
    expect(twice.err).toMatch(/shard 2\/3 given twice/);
    const notJson = join(directory, 'not.json');
    writeFileSync(notJson, 'FAIL odd-even-sum');
    const garbage = await cli(['merge', notJson]);
    expect(garbage.code).toBe(EXIT_BAD_INPUT);
    expect(garbage.err).toMatch(/not\.json is not JSON/);
  }, SLOW_TEST_MS);

  test('passing shards merge to exit 0 with the runs of the unsharded run', async () => {
    const directory = mkdtempSync(join(tmpdir(), 'streamcheck-shards-'));
    const passing = ['run', '--scenario', 'odd-even-sum', '--records', '6', '--runs', '20', '--json', '--workers', '2'];
    const whole = JSON.parse((await cli(passing)).out) as { runs: number; checkpointsCompleted: number };
    const files = [1, 2].map((index) => join(directory, `shard-${index}.json`));
    for (const [i, file] of files.entries()) writeFileSync(file, (await cli([...passing, '--shard', `${i + 1}/2`])).out);
    const merged = await cli(['merge', ...files, '--json']);
    expect(merged.code).toBe(EXIT_OK);
    const result = JSON.parse(merged.out) as { runs: number; checkpointsCompleted: number; failures: number };
    expect(result).toMatchObject({ runs: whole.runs, checkpointsCompleted: whole.checkpointsCompleted, failures: 0 });
  }, SLOW_TEST_MS);

  test('bad --shard and --workers values are bad input', async () => {
    for (const shard of ['0/3', '4/3', '2', 'a/b']) {
      const result = await cli(['run', '--scenario', 'odd-even-sum', '--runs', '1', '--shard', shard]);
      expect(result.code).toBe(EXIT_BAD_INPUT);
      expect(result.err).toMatch(/--shard/);
    }
    const workers = await cli(['run', '--scenario', 'odd-even-sum', '--runs', '1', '--workers', '0']);
    expect(workers.code).toBe(EXIT_BAD_INPUT);
  });

  test('the summary names the determinism mode; progress goes to a terminal only, never with --json', async () => {
    const text = await cli(['run', '--scenario', 'odd-even-sum', '--records', '6', '--runs', '12', '--workers', '1', '--determinism', 'sampled'], true);
    expect(text.code).toBe(EXIT_OK);
    expect(text.out).toMatch(/all held \(determinism: every 10th case run twice; 1 worker\)/);
    expect(text.progress.join('')).toMatch(/odd-even-sum \[exactly-once, memory\]: 12\/12 cases, \d+ cases\/s, \d+ faults reached/);
    const json = await cli(['run', '--scenario', 'odd-even-sum', '--records', '6', '--runs', '12', '--workers', '1', '--json'], true);
    expect(json.progress).toEqual([]);
    expect(JSON.parse(json.out)).toMatchObject({ determinism: 'all', shard: null });
  }, SLOW_TEST_MS);

  test('a worker that dies mid-case: exit 3 naming the case and its replay token', async () => {
    const result = await cli(['run', 'test/fixtures/parallel/misbehaving-worker.scenario.ts', '--scenario', 'exiting-sink', '--runs', '3', '--workers', '2']);
    expect(result.code).toBe(EXIT_INTERNAL_ERROR);
    expect(result.err).toMatch(/worker \d exited with code 7 while running case \d+ of exiting-sink \(replay: npx streamcheck replay \S+\)/);
  }, SLOW_TEST_MS);
});

describe('progress line', () => {
  test('cases done, cases/s, faults reached and time left; at most one line per interval until the end', () => {
    expect(formatProgress({ label: 'x', done: 250, total: 1000, faultsReached: 42, elapsedMs: 500 })).toBe('x: 250/1,000 cases, 500 cases/s, 42 faults reached, ~2s left');
    let now = 0;
    const written: string[] = [];
    const line = new ProgressLine((text) => written.push(text), () => now);
    line.update({ label: 'x', done: 1, total: 10, faultsReached: 0 }, 0);
    now = 10;
    line.update({ label: 'x', done: 2, total: 10, faultsReached: 0 }, 0);
    expect(written).toHaveLength(1);
    now = 20;
    line.update({ label: 'x', done: 10, total: 10, faultsReached: 3 }, 0);
    expect(written).toHaveLength(2);
    expect(written[1]).toMatch(/10\/10 cases/);
    line.clear();
    expect(written[2]).toBe('\r\u001b[2K');
  });
});
