#!/usr/bin/env node
// The `streamcheck` command. The sources are TypeScript; tsx's loader runs them directly,
// so there is no build step between editing a scenario and running it.
import { register } from 'tsx/esm/api';

register();
// `streamcheck replay ... | head` closes stdout early: that is the reader's choice, not a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}
const { main } = await import('./main.ts');
process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  // Progress only where a person watches: never into a pipe, a file or a CI log.
  ...(process.stderr.isTTY ? { progress: (text) => process.stderr.write(text) } : {}),
});
// Interrupted (SIGINT/SIGTERM: 128 + signal): the started services are stopped; work still
// under way is abandoned, so end now instead of waiting for it to notice.
if (process.exitCode >= 128) process.exit(process.exitCode);
