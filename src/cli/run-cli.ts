/**
 * The `streamcheck` command's process side: arguments from argv, lines to stdout/stderr, the
 * exit code from main(). src/cli/bin.mjs imports this file (the sources through tsx inside
 * the repository, the compiled dist/src/cli/run-cli.js in the installed package).
 */
import { main } from './main.ts';

// `streamcheck replay ... | head` closes stdout early: that is the reader's choice, not a crash.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await main(process.argv.slice(2), {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
  // Progress only where a person watches: never into a pipe, a file or a CI log.
  ...(process.stderr.isTTY ? { progress: (text: string) => process.stderr.write(text) } : {}),
});
// Interrupted (SIGINT/SIGTERM: 128 + signal): the started services are stopped; work still
// under way is abandoned, so end now instead of waiting for it to notice.
if (process.exitCode >= 128) process.exit(process.exitCode);
