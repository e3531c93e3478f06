import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, test } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** Code that runs inside a simulated run. The real-time e2e driver and real clients are outside it. */
const SIMULATED_DIRECTORIES = ['src/sim', 'src/runtime', 'src/connectors', 'model', 'properties'];
const EXCLUDED = ['src/connectors/real/'];
const FORBIDDEN = [/Math\.random\s*\(/, /Date\.now\s*\(/, /new Date\s*\(/, /performance\.now\s*\(/, /\bsetTimeout\s*\(/, /\bsetInterval\s*\(/];
/** The one real-timer use: draining microtasks between steps (it runs no simulated work). */
const ALLOWED = [{ file: 'src/sim/scheduler.ts', pattern: /setImmediate/ }];

function sourceFiles(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return path.endsWith('.ts') ? [path] : [];
  });
}

test('nothing in the simulated code reads real time or real randomness', () => {
  const offenders: string[] = [];
  for (const directory of SIMULATED_DIRECTORIES) {
    for (const file of sourceFiles(join(ROOT, directory))) {
      const path = relative(ROOT, file);
      if (EXCLUDED.some((prefix) => path.startsWith(prefix))) continue;
      readFileSync(file, 'utf8').split('\n').forEach((line, index) => {
        if (line.trim().startsWith('//') || line.trim().startsWith('*')) return;
        for (const pattern of FORBIDDEN) {
          if (pattern.test(line) && !ALLOWED.some((allowed) => allowed.file === path && allowed.pattern.test(line))) {
            offenders.push(`${path}:${index + 1}: ${line.trim()}`);
          }
        }
      });
    }
  }
  expect(offenders).toEqual([]);
});
