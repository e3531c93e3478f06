import { describe, expect, test } from 'vitest';
import { EXIT_BAD_INPUT, EXIT_INVARIANT_VIOLATED, EXIT_OK, main } from '../../src/cli/main.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

const HASH_SINK = 'test/fixtures/user-scenarios/hash-sink.scenario.ts';
const BROKEN = 'test/fixtures/user-scenarios/broken.scenario.ts';
const SLOW_TEST_MS = 300_000;

function rewriteToken(token: string, change: (body: Record<string, unknown>) => void): string {
  const separator = token.indexOf(':');
  const body = JSON.parse(Buffer.from(token.slice(separator + 1), 'base64url').toString('utf8')) as Record<string, unknown>;
  change(body);
  return `${token.slice(0, separator)}:${Buffer.from(JSON.stringify(body)).toString('base64url')}`;
}

describe("the CLI runs a user's scenario module", () => {
  test('run <module> explores every scenario it exports, in every mode and backend it declares', async () => {
    const { code, out } = await cli('run', HASH_SINK, '--runs', '10');
    expect(code).toBe(EXIT_OK);
    expect(out).toMatch(/user-hash-sink/);
    expect(out).toMatch(/summary: 40 runs/);
    expect(out).toContain('all held');
  }, SLOW_TEST_MS);

  test('a failure prints a replay command that works from the CLI, and a token whose module changed is refused', async () => {
    const failed = await cli('run', HASH_SINK, '--bug', 'lazy-flush', '--runs', '50', '--mode', 'exactly-once', '--backend', 'memory');
    expect(failed.code).toBe(EXIT_INVARIANT_VIOLATED);
    const token = /Replay: npx streamcheck replay (\S+)/.exec(failed.out)?.[1];
    expect(token).toBeDefined();
    const replayed = await cli('replay', token!);
    expect(replayed.err).toBe("");
    expect(replayed.code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(replayed.out).toMatch(/FAIL exactly-once violated in user-hash-sink/);

    const otherJob = rewriteToken(token!, (body) => {
      body['tasks'] = 99;
    });
    const refused = await cli('replay', otherJob);
    expect(refused.code).toBe(EXIT_BAD_INPUT);
    expect(refused.err).toMatch(/now builds a job of 4 tasks .* but the token was made on one of 99/);

    const moved = rewriteToken(token!, (body) => {
      body['module'] = 'test/fixtures/user-scenarios/gone.scenario.ts';
    });
    const missing = await cli('replay', moved);
    expect(missing.code).toBe(EXIT_BAD_INPUT);
    expect(missing.err).toMatch(/scenario module test\/fixtures\/user-scenarios\/gone.scenario.ts does not exist/);
  }, SLOW_TEST_MS);

  test("errors in the user's code are the user's: exit 2, the scenario and the call named, no stack", async () => {
    const build = await cli('run', BROKEN, '--scenario', 'throwing-build', '--runs', '3');
    expect(build.code).toBe(EXIT_BAD_INPUT);
    expect(build.err).toMatch(/defineScenario\(throwing-build\): build\(\) threw: the store is not configured/);
    expect(build.err).not.toMatch(/\n\s+at /);

    const sink = await cli('run', BROKEN, '--scenario', 'throwing-sink', '--runs', '3', '--mode', 'exactly-once', '--backend', 'memory');
    expect(sink.code).toBe(EXIT_INVARIANT_VIOLATED);
    expect(sink.out).toMatch(/task exploding\[0\] failed: disk on fire/);

    const readBack = await cli('run', BROKEN, '--scenario', 'throwing-read-back', '--runs', '3');
    expect(readBack.code).toBe(EXIT_BAD_INPUT);
    expect(readBack.err).toMatch(/sinkSuite\(throwing-read-back\): readBack\(\) failed: the store is unreachable/);

    const nothing = await cli('run', 'test/fixtures/user-scenarios/../../cli/user-scenarios.test.ts');
    expect(nothing.code).toBe(EXIT_BAD_INPUT);
  }, SLOW_TEST_MS);

  test('a module that exports no scenario, or no scenario of that name, is bad input', async () => {
    const unknownName = await cli('run', HASH_SINK, '--scenario', 'nope');
    expect(unknownName.code).toBe(EXIT_BAD_INPUT);
    expect(unknownName.err).toMatch(/exports no scenario named 'nope'; it exports user-hash-sink/);
    const noScenario = await cli('run', 'scenarios/corpus/../../model/odd-even-sum.ts');
    expect(noScenario.code).toBe(EXIT_BAD_INPUT);
    expect(noScenario.err).toMatch(/exports no scenario/);
  });
});
