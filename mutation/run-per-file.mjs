// `npm run mutation`: one Stryker run per file of the config's `mutate` list. Instrumenting
// every file at once makes each kill command pay for every file's mutation switches (5 min
// instead of 25 s per run); per file, each result lands as it is done and the runs can be
// stopped and resumed. Each file's report is kept as reports/mutation/<file>.json;
// `npm run mutation:summary` prints the per-file table.
//
// Arguments: files to mutate instead of the whole list (src/runtime/channel.ts, or
// src/runtime/job.ts:461-617 for a line range), and `--every K` to test a sample: every
// K-th of the file's single-line mutants in Stryker's order, each given to Stryker as the
// exact range of its code (mutants nested in that code come along; mutants spanning
// several lines, like the removal of a whole block, are left out); or `--sample N`: the
// smallest such stride that tests at most N mutants of each file, all files in one Stryker run. On a 2-core machine shared with
// other work a whole run takes most of a day; `--sample 10` of the ten files, about an hour.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Instrumenter } from '@stryker-mutator/instrumenter';
import config, { unitTestsByFile } from './stryker.config.mjs';

const args = process.argv.slice(2);
const everyAt = args.indexOf('--every');
const every = everyAt < 0 ? 1 : Number(args[everyAt + 1]);
if (!Number.isSafeInteger(every) || every < 1) {
  console.error(`mutation: --every needs a positive integer, got ${JSON.stringify(args[everyAt + 1])}`);
  process.exit(2);
}
const sampleAt = args.indexOf('--sample');
const sample = sampleAt < 0 ? undefined : Number(args[sampleAt + 1]);
if (sample !== undefined && (!Number.isSafeInteger(sample) || sample < 1)) {
  console.error(`mutation: --sample needs a positive integer, got ${JSON.stringify(args[sampleAt + 1])}`);
  process.exit(2);
}
// --survivors: stage two. For each file, only the mutants its stage-one report
// (reports/mutation/<file>.json) lists as survived, each given to Stryker as its exact range,
// against the file's unit tests (unitTestsByFile) and, with MUTATION_SELFTEST=1, selftest;
// the main job is not run again. The report is kept as reports/mutation/<file>.stage2.json;
// `npm run mutation:summary` counts a stage-one survivor killed there as killed.
const survivorsOnly = args.includes('--survivors');
const named = args.filter((arg, index) => arg !== '--survivors' && !(everyAt >= 0 && (index === everyAt || index === everyAt + 1)) && !(sampleAt >= 0 && (index === sampleAt || index === sampleAt + 1)));
const files = named.length > 0 ? named : config.mutate;

/** Stryker's mutate ranges for the sampled mutants of a file (`file:line:column-line:column`, lines 1-based, columns 0-based). */
async function sampledRanges(file, every) {
  if (every === 1 || file.includes(':')) return [file];
  // The instrumenter Stryker itself uses lists the mutants, in the order Stryker numbers them.
  const quiet = { debug() {}, trace() {}, info() {}, warn: console.warn, error: console.error, isTraceEnabled: () => false, isDebugEnabled: () => false, isInfoEnabled: () => false };
  const { mutants } = await new Instrumenter(quiet).instrument([{ name: file, content: readFileSync(file, 'utf8'), mutate: true }], { plugins: null, excludedMutations: [], ignorers: [], noHeader: false });
  const singleLine = mutants.filter(({ location: { start, end } }) => start.line === end.line);
  const within = (outer, inner) =>
    outer.start.line === inner.start.line && outer.start.column <= inner.start.column && inner.end.line === outer.end.line && inner.end.column <= outer.end.column;
  const picked = (stride) => singleLine.filter((_, index) => index % stride === 0);
  // A range brings every mutant inside it along (a condition's range, its operands' mutants):
  // --sample N takes the smallest stride whose ranges hold at most N mutants in all.
  const tested = (stride) => mutants.filter((mutant) => picked(stride).some((chosen) => within(chosen.location, mutant.location))).length;
  let stride = every;
  if (sample !== undefined) for (stride = 1; stride < singleLine.length && tested(stride) > sample; stride++);
  return picked(stride).map(({ location: { start, end } }) => `${file}:${start.line + 1}:${start.column}-${end.line + 1}:${end.column}`);
}

mkdirSync('reports/mutation', { recursive: true });

/** A file's stage-one report under the options given (reports/mutation/<name>.json): <file>, <file>.every-K or <file>.sample-N. */
function reportName(file) {
  return `${file.replace(/[/:]/g, '_')}${every > 1 ? `.every-${every}` : sample !== undefined ? `.sample-${sample}` : ''}`;
}

/** Runs Stryker on the given mutate patterns; its JSON report is kept as reports/mutation/<name>.json. */
function stryker(patterns, name, env = process.env) {
  const result = spawnSync('npx', ['stryker', 'run', 'mutation/stryker.config.mjs', '--mutate', patterns.join(',')], { stdio: 'inherit', env });
  if (result.status !== 0) {
    console.error(`mutation: stryker failed on ${name} (exit ${result.status ?? result.signal})`);
    process.exit(result.status ?? 1);
  }
  copyFileSync(config.jsonReporter.fileName, `reports/mutation/${name}.json`);
}

for (const file of files) {
  if (!existsSync(file.replace(/:.*$/, ''))) {
    console.error(`mutation: no file ${file}`);
    process.exit(2);
  }
}
if (sample !== undefined && !survivorsOnly) {
  // A sample of every file in one Stryker run: a few mutants per file instrument little, and
  // one dry run serves them all.
  const started = Date.now();
  console.log(`mutation: a sample of at most ${sample} mutants of each of ${files.join(', ')}`);
  const patterns = [];
  for (const file of files) patterns.push(...(await sampledRanges(file, 0)));
  stryker(patterns, `sample-${sample}`);
  // Each file's part of the sample, for stage two (--survivors --sample N <file>).
  const { files: sampled, ...rest } = JSON.parse(readFileSync(`reports/mutation/sample-${sample}.json`, 'utf8'));
  for (const [file, part] of Object.entries(sampled)) {
    writeFileSync(`reports/mutation/${reportName(file)}.json`, JSON.stringify({ ...rest, files: { [file]: part } }));
  }
  console.log(`mutation: sample done in ${Math.round((Date.now() - started) / 1000)} s`);
  process.exit(0);
}
if (survivorsOnly) {
  for (const file of files) {
    // A sampled stage one (--every K, or the file's part of a --sample N) has its own report.
    const name = reportName(file);
    const stageOne = `reports/mutation/${name}.json`;
    const tests = unitTestsByFile[file];
    if (!existsSync(stageOne) || tests === undefined) {
      console.error(`mutation: --survivors needs ${stageOne} (run \`npm run mutation -- ${every > 1 ? `--every ${every} ` : sample !== undefined ? `--sample ${sample} ` : ''}${file}\` first) and the file's unit tests in unitTestsByFile`);
      process.exit(2);
    }
    const { mutants } = JSON.parse(readFileSync(stageOne, 'utf8')).files[file];
    // Stryker's report: lines and columns 1-based; a mutate range: lines 1-based, columns 0-based.
    const ranges = [...new Set(mutants.filter((mutant) => mutant.status === 'Survived').map(({ location: { start, end } }) => `${file}:${start.line}:${start.column - 1}-${end.line}:${end.column - 1}`))];
    if (ranges.length === 0) continue;
    const started = Date.now();
    console.log(`mutation: stage two of ${file}: ${ranges.length} survivor ranges against ${tests.join(' ')}${process.env.MUTATION_SELFTEST === '1' ? ' and selftest' : ''}`);
    stryker(ranges, `${name}.stage2`, { ...process.env, MUTATION_MAIN: '0', MUTATION_TESTS: tests.join(' ') });
    console.log(`mutation: stage two of ${file} done in ${Math.round((Date.now() - started) / 1000)} s`);
  }
  process.exit(0);
}
for (const file of files) {
  const started = Date.now();
  console.log(`mutation: ${file}${every > 1 ? ` (every ${every}th single-line mutant)` : ''}`);
  stryker(await sampledRanges(file, every), reportName(file));
  console.log(`mutation: ${file} done in ${Math.round((Date.now() - started) / 1000)} s`);
}
