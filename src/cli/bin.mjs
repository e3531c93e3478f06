#!/usr/bin/env node
// The `streamcheck` command. The sources are TypeScript; tsx's loader runs them directly,
// so there is no build step between editing a scenario and running it.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
});
