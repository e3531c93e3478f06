/**
 * The installable package: what `npm run build` produces, what the tarball holds, and that
 * the optional end-to-end packages are never loaded up front. The consumer path itself (pack,
 * install into a fresh project, run the bin) is .ci/consumer-smoke.sh.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OPTIONAL_PACKAGES = ['kafkajs', 'ioredis', 'testcontainers', '@testcontainers/redis'];
/** tsc over the shipped folders plus `npm pack`: seconds on an idle machine, far more on a loaded 2-core one. */
const BUILD_TIMEOUT_MS = 180_000;

interface PackageJson {
  exports: Record<string, string | { types: string; default: string }>;
  types: string;
  bin: Record<string, string>;
  files: string[];
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
  peerDependenciesMeta: Record<string, { optional?: boolean }>;
  scripts: Record<string, string>;
}

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as PackageJson;

function filesUnder(directory: string): string[] {
  return readdirSync(directory, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => join(entry.parentPath, entry.name));
}

let packedFiles: string[] = [];

describe('the built package', () => {
  beforeAll(() => {
    execFileSync(process.execPath, [join(ROOT, 'scripts/build.mjs')], { cwd: ROOT, stdio: 'pipe' });
    // --ignore-scripts: the build above already ran; pack only lists what `files` selects.
    const listing = execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    packedFiles = (JSON.parse(listing) as { files: { path: string }[] }[])[0]!.files.map((file) => file.path);
  }, BUILD_TIMEOUT_MS);

  test('every exports entry and the types entry point at built files that ship', () => {
    expect(Object.keys(manifest.exports)).toEqual(expect.arrayContaining(['.', './vitest']));
    for (const [entry, target] of Object.entries(manifest.exports)) {
      if (typeof target === 'string') continue; // ./package.json
      for (const file of [target.types, target.default]) {
        expect(existsSync(join(ROOT, file)), `${entry} -> ${file} built`).toBe(true);
        expect(packedFiles, `${entry} -> ${file} in the tarball`).toContain(file.replace(/^\.\//, ''));
      }
    }
    expect(manifest.types).toBe((manifest.exports['.'] as { types: string }).types);
  });

  test('the tarball holds the built code, its data and the bin, and nothing of the repository around them', () => {
    expect(packedFiles).toContain(manifest.bin['streamcheck']);
    // Read at run time by the built-in scenarios' regression run (src/cli/main.ts).
    for (const corpusFile of readdirSync(join(ROOT, 'scenarios/corpus'))) expect(packedFiles).toContain(`dist/scenarios/corpus/${corpusFile}`);
    // The parallel explorer's worker-thread entry, plain JavaScript beside the compiled worker-main.js.
    expect(packedFiles).toEqual(expect.arrayContaining(['dist/src/harness/parallel/worker.mjs', 'dist/src/harness/parallel/worker-main.js']));
    for (const folder of ['src/runtime', 'scenarios', 'model', 'properties']) expect(packedFiles.some((file) => file.startsWith(`dist/${folder}/`)), folder).toBe(true);
    const outsiders = packedFiles.filter((file) => /^(test|bench|\.ci|examples|scripts|node_modules)\//.test(file) || (file.startsWith('src/') && file !== manifest.bin['streamcheck']) || file.startsWith('dist/test/'));
    expect(outsiders).toEqual([]);
  });

  test('the end-to-end packages are optional peer dependencies, kept for this repository as dev dependencies', () => {
    for (const name of OPTIONAL_PACKAGES) {
      expect(manifest.dependencies[name], `${name} is no run-time dependency`).toBeUndefined();
      expect(manifest.peerDependencies[name], `${name} peer`).toBeDefined();
      expect(manifest.peerDependenciesMeta[name]?.optional, `${name} optional`).toBe(true);
      expect(manifest.devDependencies[name], `${name} dev`).toBeDefined();
    }
    expect(Object.keys(manifest.dependencies).sort()).toEqual(['fast-check', 'seedrandom', 'tsx']);
  });

  test('no built module imports an optional package at its top: they load at their point of use', () => {
    const staticImports: string[] = [];
    for (const file of filesUnder(join(ROOT, 'dist')).filter((path) => path.endsWith('.js'))) {
      const source = readFileSync(file, 'utf8');
      for (const name of OPTIONAL_PACKAGES) {
        // `import x from 'p'`, `import { x } from 'p'`, `export ... from 'p'`, `import 'p'`; type-only imports are erased by the build.
        const pattern = new RegExp(`^\\s*(import\\s+([\\w$*{},\\s]+\\s+from\\s+)?|export\\s+[\\w$*{},\\s]+\\s+from\\s+)['"]${name.replace('/', '\\/')}['"]`, 'm');
        if (pattern.test(source)) staticImports.push(`${file.slice(ROOT.length)} imports ${name}`);
      }
    }
    expect(staticImports).toEqual([]);
  });

  test('the compiled CLI runs from dist/ with plain Node (what the installed bin runs)', () => {
    const compiled = join(ROOT, 'dist/src/cli/run-cli.js');
    const help = spawnSync(process.execPath, [compiled, '--help'], { encoding: 'utf8' });
    expect(help.status, help.stderr).toBe(0);
    expect(help.stdout).toContain('Commands:');
    const run = spawnSync(process.execPath, [compiled, 'run', '--scenario', 'odd-even-sum', '--runs', '3'], { encoding: 'utf8' });
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/summary: 3 runs, .*all held/);
  }, BUILD_TIMEOUT_MS);
});
