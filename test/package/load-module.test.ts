/**
 * importUserModule: a user's scenario module in TypeScript or JavaScript loads; every way it
 * can fail is an error that starts with 'scenario module' (the CLI's bad-input prefix, exit 2)
 * and names the file. The Node-only cases (a .ts file in a CommonJS-typed project sharing
 * one streamcheck instance with the CLI) run against the packed tarball in
 * .ci/consumer-smoke.sh, outside vitest's own module loader.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { importUserModule } from '../../src/cli/load-module.ts';
import { MISSING_OPTIONAL_DEPENDENCY_PREFIX, MissingOptionalDependencyError, importOptionalDependency } from '../../src/connectors/real/optional-dependency.ts';

let project: string;

beforeAll(() => {
  project = mkdtempSync(join(tmpdir(), 'streamcheck-load-module-'));
  mkdirSync(join(project, 'scenarios'));
  // TypeScript that type stripping alone would reject (an enum, a parameter property) and a
  // `.js`-suffixed import of a `.ts` sibling, as tsc-style projects write them.
  writeFileSync(join(project, 'scenarios/sink.ts'), 'export class NamedSink { constructor(readonly name: string) {} }\n');
  writeFileSync(
    join(project, 'scenarios/my-scenario.ts'),
    "import { NamedSink } from './sink.js';\nenum Size { Small = 2 }\nexport const partitions: number = Size.Small;\nexport const sink = new NamedSink('hash-sink');\n",
  );
  writeFileSync(join(project, 'scenarios/esm.mts'), 'export const kind: string = "mts";\n');
  writeFileSync(join(project, 'plain.mjs'), 'export const kind = "mjs";\n');
  writeFileSync(join(project, 'throws.ts'), "const where: string = 'while loading';\nthrow new Error(`connector config missing ${where}`);\n");
  writeFileSync(join(project, 'notes.txt'), 'not a module\n');
});

afterAll(() => rmSync(project, { recursive: true, force: true }));

describe('importUserModule', () => {
  test('loads TypeScript (relative to cwd, and absolute) and JavaScript modules, returning their exports', async () => {
    const scenario = await importUserModule('scenarios/my-scenario.ts', project);
    expect(scenario['partitions']).toBe(2);
    expect((scenario['sink'] as { name: string }).name).toBe('hash-sink');
    expect((await importUserModule(join(project, 'scenarios/esm.mts'), '/'))['kind']).toBe('mts');
    expect((await importUserModule('./plain.mjs', project))['kind']).toBe('mjs');
  });

  test('a missing file, a folder and an unsupported extension are errors naming the path', async () => {
    await expect(importUserModule('scenarios/nope.ts', project)).rejects.toThrow(/^scenario module scenarios\/nope\.ts does not exist \(looked at \/.*\/scenarios\/nope\.ts\)$/);
    await expect(importUserModule('scenarios', project)).rejects.toThrow(/^scenario module scenarios is not a file \(looked at \/.*\/scenarios\)$/);
    await expect(importUserModule('notes.txt', project)).rejects.toThrow(/^scenario module notes\.txt is neither TypeScript nor JavaScript: expected a \.ts, \.mts, \.js or \.mjs file, got '\.txt'$/);
  });

  test("a module that throws while loading is reported with the module's own message", async () => {
    const failure = importUserModule('throws.ts', project);
    await expect(failure).rejects.toThrow(/^scenario module throws\.ts failed to load: connector config missing while loading$/);
    await expect(failure).rejects.toHaveProperty('cause.message', 'connector config missing while loading');
  });
});

describe('importOptionalDependency', () => {
  test('a package that is not installed is an error naming it and how to install it', async () => {
    const missing = importOptionalDependency('streamcheck-no-such-package', 'the test of missing packages');
    await expect(missing).rejects.toBeInstanceOf(MissingOptionalDependencyError);
    await expect(missing).rejects.toThrow(
      `${MISSING_OPTIONAL_DEPENDENCY_PREFIX} 'streamcheck-no-such-package': the test of missing packages needs it; install it next to streamcheck (npm install --save-dev streamcheck-no-such-package)`,
    );
  });

  test('an installed package loads, once', async () => {
    const first = importOptionalDependency<{ default: unknown }>('seedrandom', 'the test');
    expect(importOptionalDependency('seedrandom', 'the test')).toBe(first);
    expect(typeof (await first).default).toBe('function');
  });
});
