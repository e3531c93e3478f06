import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { EXIT_BAD_INPUT, EXIT_INVARIANT_VIOLATED, EXIT_OK, main } from '../../../src/cli/main.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const directory = mkdtempSync(join(tmpdir(), 'streamcheck-pictures-'));
afterAll(() => rmSync(directory, { recursive: true, force: true }));
const savedSummary = process.env['GITHUB_STEP_SUMMARY'];
afterEach(() => {
  if (savedSummary === undefined) delete process.env['GITHUB_STEP_SUMMARY'];
  else process.env['GITHUB_STEP_SUMMARY'] = savedSummary;
});

describe('picture flags of run and replay', () => {
  test('a failing run prints the blame chain, appends diagram and replay command to the GitHub job summary, and writes JUnit', async () => {
    const summary = join(directory, 'summary.md');
    const junit = join(directory, 'run.xml');
    process.env['GITHUB_STEP_SUMMARY'] = summary;
    const { code, out } = await cli('run', '--scenario', 'odd-even-sum', '--bug', 'incrby-sink', '--runs', '30', '--junit', junit);
    expect(code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(out).toMatch(/Blame \(exactly-once, key odd-even-sum:\w+:\w+\):/);
    expect(out).toMatch(/=> duplicate after restore .*; the invariant first became false at step \d+/);
    const markdown = readFileSync(summary, 'utf8');
    expect(markdown).toMatch(/^## streamcheck: FAIL exactly-once violated/);
    expect(markdown).toContain('```mermaid\nsequenceDiagram\n');
    const replay = /Replay: (npx streamcheck replay \S+)/.exec(out)![1]!;
    expect(markdown).toContain(`\`\`\`sh\n${replay}\n\`\`\``);
    const xml = readFileSync(junit, 'utf8');
    // One test case per invariant of the runtime: the eight of the pictures' first version, the four
    // checkpoint invariants that came after them (progress, restore choice, fault effects, mode semantics)
    // the state backend's restore check, and credit-based flow control's buffer bound.
    const invariantNames = [...xml.matchAll(/<testcase classname="[^"]*" name="([^"]+)"/g)].map((m) => m[1]);
    expect(invariantNames).toEqual(expect.arrayContaining(['exactly-once', 'consistent-cut', 'barrier-alignment', 'liveness', 'determinism', 'committed-implies-completed', 'completed-implies-committed', 'no-lingering-transaction']));
    expect(invariantNames).toEqual(expect.arrayContaining(['checkpoint-progress', 'restore-choice', 'fault-effects', 'mode-semantics']));
    expect(invariantNames).toContain('state-restore');
    expect(invariantNames).toContain('flow-control');
    expect(invariantNames).toHaveLength(14);
    expect(xml).toMatch(/<testcase classname="streamcheck\.odd-even-sum\.exactly-once\.memory" name="exactly-once" time="[\d.]+">\n\s+<failure message="duplicate: /);
    expect(xml).toContain(`| replay: ${replay}"`);
  }, 180_000);

  test('replay --mermaid --trace --html --junit draws the same case every way', async () => {
    const first = await cli('run', '--scenario', 'odd-even-sum', '--bug', 'incrby-sink', '--runs', '30');
    const token = /Replay: npx streamcheck replay (\S+)/.exec(first.out)![1]!;
    const [trace, html, junit] = ['t.json', 'r.html', 'r.xml'].map((name) => join(directory, name));
    const { code, out } = await cli('replay', token, '--mermaid', '--trace', trace!, '--html', html!, '--junit', junit!);
    expect(code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(out).toContain('\nsequenceDiagram\n  participant C as coordinator\n');
    expect(out).toContain('⚠ FIRST FALSE @');
    expect(out).toContain(`trace written to ${trace}`);
    const parsed = JSON.parse(readFileSync(trace!, 'utf8')) as { traceEvents: { ph: string }[] };
    expect(parsed.traceEvents.some((e) => e.ph === 'b')).toBe(true);
    expect(readFileSync(html!, 'utf8')).toContain('<svg id="lanes"');
    expect(readFileSync(junit!, 'utf8')).toContain('<failure message="duplicate: ');
  }, 180_000);

  test('a passing run writes JUnit without failures, and draws nothing', async () => {
    const junit = join(directory, 'pass.xml');
    const html = join(directory, 'pass.html');
    const { code } = await cli('run', '--scenario', 'odd-even-sum', '--runs', '3', '--junit', junit, '--html', html);
    expect(code).toBe(EXIT_OK);
    const xml = readFileSync(junit, 'utf8');
    expect(xml).toContain('failures="0"');
    expect(xml).not.toContain('<failure');
    expect(existsSync(html)).toBe(false);
  }, 180_000);

  test('an output file that cannot be written is bad input (exit 2), naming the file', async () => {
    const first = await cli('run', '--scenario', 'odd-even-sum', '--bug', 'incrby-sink', '--runs', '30');
    const token = /Replay: npx streamcheck replay (\S+)/.exec(first.out)![1]!;
    const { code, err } = await cli('replay', token, '--html', join(directory, 'no', 'such', 'dir', 'r.html'));
    expect(code).toBe(EXIT_BAD_INPUT);
    expect(err).toMatch(/cannot write the html file '.*r\.html'/);
  }, 180_000);
});
