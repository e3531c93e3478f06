// Entry of a worker thread, with the rule of the `streamcheck` command (src/cli/bin.mjs):
// in the repository (the TypeScript sources are next to this file) register tsx's loader and
// run the sources; in the installed package run the compiled worker-main.js beside it.
import { existsSync } from 'node:fs';

const sources = new URL('./worker-main.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  // load-module.ts registers the loader for user scenarios unless this flag says it is there.
  globalThis[Symbol.for('streamcheck.tsx-loader-registered')] = true;
  await import(sources.href);
} else {
  await import(new URL('./worker-main.js', import.meta.url).href);
}
