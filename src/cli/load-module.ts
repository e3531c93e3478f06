import { existsSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/**
 * Imports a user's scenario module: `.ts`/`.mts` through tsx's `tsImport` (tsx is a
 * dependency, and type stripping alone would not cover `.ts` import specifiers of older
 * Node versions), `.js`/`.mjs` with a plain import.
 */
export async function importUserModule(path: string, cwd: string): Promise<Record<string, unknown>> {
  const absolute = isAbsolute(path) ? path : resolve(cwd, path);
  if (!existsSync(absolute)) throw new Error(`scenario module ${path} does not exist (looked at ${absolute})`);
  const url = pathToFileURL(absolute).href;
  try {
    if (/\.[cm]?tsx?$/.test(absolute)) {
      const { tsImport } = await import('tsx/esm/api');
      return (await tsImport(url, import.meta.url)) as Record<string, unknown>;
    }
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    throw new Error(`scenario module ${path} failed to load: ${error instanceof Error ? error.message : String(error)}`);
  }
}
