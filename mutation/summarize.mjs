// Prints the per-file mutation scores of the reports in reports/mutation/*.json (Stryker's
// mutation-testing-report schema) as a Markdown table: killed, timed out, survived, no
// coverage, errors, and the score (detected / (detected + undetected); compile and runtime
// errors are not counted, as Stryker does). With --survivors, lists each surviving mutant
// (file:line, mutator, replacement) instead: the input for SURVIVORS.md.
import { readdirSync, readFileSync } from 'node:fs';
import { relative } from 'node:path';

const listSurvivors = process.argv.includes('--survivors');
// --events: the mutants tested so far by a run still going (or stopped), from the
// event-recorder reporter's files, one per tested mutant.
const fromEvents = process.argv.includes('--events');
const directory = process.argv.slice(2).find((arg) => !arg.startsWith('--')) ?? (fromEvents ? 'reports/mutation/events' : 'reports/mutation');

/** Reports as { name, files: { file: { mutants } } }: the JSON reports, or one made of the tested-mutant events. */
function reports() {
  if (!fromEvents) {
    return readdirSync(directory)
      .filter((name) => name.endsWith('.json') && name !== 'mutation.json')
      .map((name) => ({ name, files: JSON.parse(readFileSync(`${directory}/${name}`, 'utf8')).files }));
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
    const row = { killed: count('Killed'), timeout: count('Timeout'), survived: count('Survived'), noCoverage: count('NoCoverage'), errors: count('RuntimeError') + count('CompileError') };
    // A sampled run's report is named <file>.every-K.json or sample-N.json: its row says so.
    const every = /\.every-(\d+)\.json$/.exec(report);
    const sample = /^sample-(\d+)\.json$/.exec(report);
    rows.set(every !== null ? `${file} (sample: every ${every[1]}th single-line mutant)` : sample !== null ? `${file} (sample: at most ${sample[1]} mutants, single-line ones and what their code holds)` : file, row);
  }
}
if (listSurvivors) process.exit(0);
console.log('| file | mutants | killed | timeout | survived | no coverage | errors | score |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [file, row] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
  const detected = row.killed + row.timeout;
  const valid = detected + row.survived + row.noCoverage;
  const score = valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(1)}%`;
  console.log(`| ${file} | ${valid + row.errors} | ${row.killed} | ${row.timeout} | ${row.survived} | ${row.noCoverage} | ${row.errors} | ${score} |`);
}
