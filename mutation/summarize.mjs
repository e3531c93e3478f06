// Prints the per-file mutation scores of the reports in reports/mutation/*.json (Stryker's
// mutation-testing-report schema) as a Markdown table: killed, timed out, survived, no
// coverage, errors, and the score (detected / (detected + undetected); compile and runtime
// errors are not counted, as Stryker does). With --survivors, lists each surviving mutant
// (file:line, mutator, replacement) instead: the input for SURVIVORS.md.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const listSurvivors = process.argv.includes('--survivors');
// --events: the mutants tested so far by a run still going (or stopped), from the
// event-recorder reporter's files, one per tested mutant.
const fromEvents = process.argv.includes('--events');
const directory = process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? (fromEvents ? 'reports/mutation/events' : 'reports/mutation');

const sameMutant = (a, b) =>
  a.mutatorName === b.mutatorName && a.replacement === b.replacement && JSON.stringify(a.location) === JSON.stringify(b.location);

/**
 * A stage-one report's files with the verdicts of its stage two (run-per-file.mjs
 * --survivors, <name>.stage2.json) folded in: a survivor the file's unit tests or selftest
 * killed there (a test failed; a Timeout is not counted) becomes `KilledByTests`, counted as
 * killed in its own column.
 */
function withStageTwo(name, files) {
  const stageTwoName = `${directory}/${name.replace(/\.json$/, '.stage2.json')}`;
  if (!existsSync(stageTwoName)) return files;
  const stageTwo = JSON.parse(readFileSync(stageTwoName, 'utf8')).files;
  for (const [file, { mutants }] of Object.entries(files)) {
    for (const mutant of mutants) {
      if (mutant.status !== 'Survived') continue;
      const again = (stageTwo[file]?.mutants ?? []).find((other) => sameMutant(other, mutant));
      // Only a failing test counts: stage two's kill command is a vitest run whose tests have
      // budgets of minutes, so a Stryker Timeout there is a slow run on a loaded machine more
      // often than a hang (three were false kills of the two-phase-commit sink, checked by hand).
      if (again !== undefined && again.status === 'Killed') mutant.status = 'KilledByTests';
    }
  }
  return files;
}

/** Reports as { name, files: { file: { mutants } } }: the JSON reports, or one made of the tested-mutant events. */
function reports() {
  if (!fromEvents) {
    return readdirSync(directory)
      .filter((name) => name.endsWith('.json') && name !== 'mutation.json' && !/^sample-\d+\.json$/.test(name) && !name.endsWith('.stage2.json'))
      .map((name) => ({ name, files: withStageTwo(name, JSON.parse(readFileSync(`${directory}/${name}`, 'utf8')).files) }));
  }
  const files = {};
  for (const name of readdirSync(directory).filter((event) => event.endsWith('-onMutantTested.json'))) {
    const mutant = JSON.parse(readFileSync(`${directory}/${name}`, 'utf8'));
    const file = relative(process.cwd(), mutant.fileName);
    (files[file] ??= { mutants: [] }).mutants.push(mutant);
  }
  return [{ name: 'events (a run in progress)', files }];
}

const rows = new Map();
for (const { name: report, files } of reports()) {
  for (const [file, { mutants }] of Object.entries(files)) {
    if (listSurvivors) {
      for (const mutant of mutants.filter((m) => m.status === 'Survived' || m.status === 'NoCoverage')) {
        console.log(`${file}:${mutant.location.start.line} ${mutant.mutatorName} ${mutant.status === 'NoCoverage' ? '(no coverage) ' : ''}-> ${JSON.stringify(mutant.replacement)}`);
      }
    }
    const count = (status) => mutants.filter((mutant) => mutant.status === status).length;
    const row = { killed: count('Killed'), byTests: count('KilledByTests'), timeout: count('Timeout'), survived: count('Survived'), noCoverage: count('NoCoverage'), errors: count('RuntimeError') + count('CompileError') };
    // A sampled run's report is named <file>.every-K.json or sample-N.json: its row says so.
    const every = /\.every-(\d+)\.json$/.exec(report);
    const sample = /^sample-(\d+)\.json$/.exec(report) ?? /\.sample-(\d+)\.json$/.exec(report);
    rows.set(every !== null ? `${file} (sample: every ${every[1]}th single-line mutant)` : sample !== null ? `${file} (sample: at most ${sample[1]} mutants, single-line ones and what their code holds)` : file, row);
  }
}
if (listSurvivors) process.exit(0);
// "main job" is stage one's score (the search alone); "with tests" adds the survivors stage
// two killed (the file's unit tests, and selftest when it ran).
console.log('| file | mutants | killed by the main job | timeout | killed by unit tests | survived | no coverage | errors | score (main job) | score (with tests) |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const percent = (part, whole) => (whole === 0 ? 'n/a' : `${((100 * part) / whole).toFixed(1)}%`);
const total = { killed: 0, byTests: 0, timeout: 0, survived: 0, noCoverage: 0, errors: 0 };
for (const [file, row] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
  for (const key of Object.keys(total)) total[key] += row[key];
  const valid = row.killed + row.timeout + row.byTests + row.survived + row.noCoverage;
  console.log(`| ${file} | ${valid + row.errors} | ${row.killed} | ${row.timeout} | ${row.byTests} | ${row.survived} | ${row.noCoverage} | ${row.errors} | ${percent(row.killed + row.timeout, valid)} | ${percent(row.killed + row.timeout + row.byTests, valid)} |`);
}
if (rows.size > 1) {
  const valid = total.killed + total.timeout + total.byTests + total.survived + total.noCoverage;
  console.log(`| all | ${valid + total.errors} | ${total.killed} | ${total.timeout} | ${total.byTests} | ${total.survived} | ${total.noCoverage} | ${total.errors} | ${percent(total.killed + total.timeout, valid)} | ${percent(total.killed + total.timeout + total.byTests, valid)} |`);
}
