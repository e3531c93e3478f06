#!/usr/bin/env node
// The `streamcheck` command. Two layouts, one rule: the TypeScript sources next to this file
// win when they are there.
// - In the repository (src/cli/run-cli.ts exists), tsx's loader runs the sources directly:
//   no build step between editing a scenario and running it.
// - In the installed package only this file of src/ ships; it runs the compiled JavaScript
//   in dist/ with plain Node.
import { existsSync } from 'node:fs';

const sources = new URL('./run-cli.ts', import.meta.url);
if (existsSync(sources)) {
  const { register } = await import('tsx/esm/api');
  register();
  // load-module.ts registers the loader for user scenarios unless this flag says it is there.
  globalThis[Symbol.for('streamcheck.tsx-loader-registered')] = true;
  await import(sources.href);
} else {
  await import(new URL('../../dist/src/cli/run-cli.js', import.meta.url).href);
}
