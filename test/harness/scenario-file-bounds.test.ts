import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { EXIT_BAD_INPUT, main } from '../../src/cli/main.ts';
import { defineScenario } from '../../src/harness/define-scenario.ts';
import { INPUT_BOUNDS, MAX_SCENARIO_MODULE_BYTES } from '../../src/harness/input-bounds.ts';
import { sinkSuite } from '../../src/harness/suites/sink-suite.ts';

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

/** A scenario object written by hand (no defineScenario), declaring `defaultSize`. */
const handWritten = (defaultSize: string): string =>
  `export default { name: 'hand-written', description: '', defaultSize: ${defaultSize}, faultKinds: [], backends: ['memory'], bugs: [], taskCount: () => 1, build: () => { throw new Error('not built in this test'); } };\n`;

describe('scenario files are held to the bounds of the command line', () => {
  let dir = '';
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'streamcheck-scenario-bounds-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('a module file past the size bound is refused by name before it is imported (exit 2)', async () => {
    const path = join(dir, 'huge.scenario.mjs');
    // Would throw if imported: the refusal must come first.
    await writeFile(path, `throw new Error('imported after all');\n/*${'x'.repeat(MAX_SCENARIO_MODULE_BYTES)}*/\n`);
    const { code, out, err } = await cli('run', path);
    expect(code).toBe(EXIT_BAD_INPUT);
    expect(`${out}${err}`).toMatch(new RegExp(`scenario module '.*huge\\.scenario\\.mjs' is \\d+ bytes, more than the ${MAX_SCENARIO_MODULE_BYTES} a scenario file may have`));
    expect(`${out}${err}`).not.toMatch(/imported after all|\n\s+at /);
  });

  test('a hand-written scenario declaring a huge size is refused naming the field (exit 2)', async () => {
    const path = join(dir, 'wide.scenario.mjs');
    await writeFile(path, handWritten('{ partitions: 1e6, recordsPerPartition: 10 }'));
    const wide = await cli('run', path);
    expect(wide.code).toBe(EXIT_BAD_INPUT);
    expect(`${wide.out}${wide.err}`).toMatch(/scenario 'hand-written' defaultSize\.partitions must be in \[1, 16\] \(source partitions\), got 1000000/);
    const long = join(dir, 'long.scenario.mjs');
    await writeFile(long, handWritten('{ partitions: 2, recordsPerPartition: 1e9 }'));
    const longResult = await cli('run', long);
    expect(longResult.code).toBe(EXIT_BAD_INPUT);
    expect(`${longResult.out}${longResult.err}`).toMatch(/defaultSize\.recordsPerPartition must be in \[0, 1000000\]/);
    const shapeless = join(dir, 'shapeless.scenario.mjs');
    await writeFile(shapeless, handWritten('"big"'));
    const shapelessResult = await cli('run', shapeless);
    expect(shapelessResult.code).toBe(EXIT_BAD_INPUT);
    expect(`${shapelessResult.out}${shapelessResult.err}`).toMatch(/defaultSize must be \{partitions, recordsPerPartition\}, got 'big'/);
  });

  test('defineScenario and the suites accept what --records accepts and refuse one more', () => {
    const build = () => ({ pipeline: undefined as never });
    const most = INPUT_BOUNDS.recordsPerPartition.max;
    expect(defineScenario({ name: 'at-the-bound', size: { recordsPerPartition: most }, build }).defaultSize.recordsPerPartition).toBe(most);
    expect(() => defineScenario({ name: 'past-the-bound', size: { recordsPerPartition: most + 1 }, build })).toThrow(/defineScenario\(past-the-bound\): size\.recordsPerPartition must be an integer in \[0, 1000000\], got 1000001/);
    expect(() => defineScenario({ name: 'wide', size: { partitions: INPUT_BOUNDS.partitions.max + 1 }, build })).toThrow(/size\.partitions must be an integer in \[1, 16\]/);
    const external = () => ({ createWriter: () => ({ write: () => undefined }), readBack: () => new Map() });
    expect(() => sinkSuite({ name: 'big-suite', semantic: 'exactly-once', writes: 'overwrite', data: { recordsPerPartition: most + 1 }, external } as never)).toThrow(
      /data\.recordsPerPartition must be an integer in \[0, 1000000\], got 1000001/,
    );
  });
});
