// Entry of a worker thread: the sources are TypeScript, so register tsx's loader first,
// exactly as the `streamcheck` command does (src/cli/bin.mjs), then load the runner.
import { register } from 'tsx/esm/api';

register();
await import('./worker-main.ts');
