/**
 * Loading a user's scenario module (`streamcheck run ./my-scenario.ts`, replay tokens that
 * name a module).
 *
 * TypeScript goes through tsx (a dependency of streamcheck), not Node's type stripping:
 * Node 20 has no type stripping at all, and where Node has it (22.18+, 23.6+) it rejects
 * enums, parameter properties and namespaces and needs explicit `.ts` extensions in relative
 * imports, while tsx loads what `tsc` accepts, `.js`-suffixed imports of `.ts` files included.
 *
 * One instance of streamcheck: a user module and the CLI must share the module instances of
 * `streamcheck` and everything it imports (symbols such as END_OF_INPUT, classes checked with
 * instanceof). So tsx's ESM loader is registered process-wide (tsImport's private namespace
 * would load a second copy of streamcheck), and the user's `.ts` files are loaded as ES
 * modules even in a package whose type is commonjs (`npm init -y` writes that): as CommonJS,
 * tsx would compile `import 'streamcheck'` into a require() of a second, CommonJS-compiled
 * copy. `.js` and `.mjs` files follow Node's rules (the package's type, or the extension).
 */
import { statSync } from 'node:fs';
import { extname, isAbsolute, resolve } from 'node:path';
import { register as registerModuleHooks } from 'node:module';
import { pathToFileURL } from 'node:url';

const SUPPORTED_EXTENSIONS = new Set(['.ts', '.mts', '.js', '.mjs']);

/** Every error of importUserModule starts with this (the CLI's isBadInput matches it: exit 2). */
export const SCENARIO_MODULE_ERROR_PREFIX = 'scenario module';

let typescriptLoaderRegistered: Promise<void> | undefined;

/**
 * Imports the module at `path` (relative to `cwd`, or absolute) and returns its exports.
 * Errors name the path as given and the file looked at: no such file, not a file, an
 * extension that is neither TypeScript nor JavaScript, or the module throwing while it loads.
 */
export async function importUserModule(path: string, cwd: string): Promise<Record<string, unknown>> {
  const absolutePath = isAbsolute(path) ? path : resolve(cwd, path);
  const lookedAt = `(looked at ${absolutePath})`;
  let isFile: boolean;
  try {
    isFile = statSync(absolutePath).isFile();
  } catch {
    throw new Error(`${SCENARIO_MODULE_ERROR_PREFIX} ${path} does not exist ${lookedAt}`);
  }
  if (!isFile) throw new Error(`${SCENARIO_MODULE_ERROR_PREFIX} ${path} is not a file ${lookedAt}`);
  const extension = extname(absolutePath);
  if (!SUPPORTED_EXTENSIONS.has(extension)) {
    throw new Error(`${SCENARIO_MODULE_ERROR_PREFIX} ${path} is neither TypeScript nor JavaScript: expected a .ts, .mts, .js or .mjs file, got '${extension || 'no extension'}'`);
  }
  // JavaScript may import TypeScript files too (a .mjs config listing .ts scenarios): one loader for both.
  await registerTypescriptLoader();
  try {
    return (await import(pathToFileURL(absolutePath).href)) as Record<string, unknown>;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint =
      extension === '.js' && /Cannot use import statement outside a module|Unexpected token 'export'/.test(message)
        ? ' (a .js file is CommonJS unless the nearest package.json says "type": "module": set that, or rename the file .mjs or .ts)'
        : '';
    throw new Error(`${SCENARIO_MODULE_ERROR_PREFIX} ${path} failed to load: ${message}${hint}`, { cause: error });
  }
}

/** Set by whoever registers tsx's loader (bin.mjs does inside the repository). */
const TSX_REGISTERED = Symbol.for('streamcheck.tsx-loader-registered');

/**
 * A resolve hook that marks `.ts` files outside node_modules as ES modules (see the top of
 * this file). Hooks registered later run first: this one post-processes what tsx resolved.
 * A data: URL, so the hook is one self-contained string in both layouts (sources, dist).
 */
const TYPESCRIPT_AS_ESM_HOOK = `
export async function resolve(specifier, context, nextResolve) {
  const resolved = await nextResolve(specifier, context);
  if (resolved.url.startsWith('file:') && resolved.url.endsWith('.ts') && !resolved.url.includes('/node_modules/')) {
    return { ...resolved, format: 'module' };
  }
  return resolved;
}`;

/** tsx's ESM loader and the hook above, once per process (a second tsx would run every module through it twice). */
function registerTypescriptLoader(): Promise<void> {
  return (typescriptLoaderRegistered ??= (async () => {
    const registry = globalThis as Record<symbol, unknown>;
    if (registry[TSX_REGISTERED] !== true) {
      const { register } = await import('tsx/esm/api');
      register();
      registry[TSX_REGISTERED] = true;
    }
    registerModuleHooks(`data:text/javascript,${encodeURIComponent(TYPESCRIPT_AS_ESM_HOOK)}`);
  })());
}
