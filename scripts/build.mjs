// `npm run build` (also run by `prepare`, so `npm pack` and `npm ci` build): compiles what the
// package ships into dist/ with declarations, then copies the data files the compiled code
// reads at run time (the regression corpus of the built-in scenarios).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist`;
rmSync(dist, { recursive: true, force: true });
const tsc = `${root}node_modules/typescript/bin/tsc`;
if (!existsSync(tsc)) throw new Error(`build: no TypeScript compiler at ${tsc}; run npm ci first`);
execFileSync(process.execPath, [tsc, '-p', `${root}tsconfig.build.json`], { stdio: 'inherit' });
// src/cli/main.ts reads it as new URL('../../scenarios/corpus/', import.meta.url).
cpSync(`${root}scenarios/corpus`, `${dist}/scenarios/corpus`, { recursive: true });
// The parallel explorer's worker-thread entry is plain JavaScript (it chooses sources or dist/).
cpSync(`${root}src/harness/parallel/worker.mjs`, `${dist}/src/harness/parallel/worker.mjs`);
