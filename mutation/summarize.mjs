// Prints the per-file mutation scores of the reports in reports/mutation/*.json (Stryker's
// mutation-testing-report schema) as a Markdown table: killed, timed out, survived, no
// coverage, errors, and the score (detected / (detected + undetected); compile and runtime
// errors are not counted, as Stryker does).
import { readdirSync, readFileSync } from 'node:fs';

const directory = process.argv[2] ?? 'reports/mutation';
const rows = new Map();
for (const report of readdirSync(directory).filter((name) => name.endsWith('.json') && name !== 'mutation.json')) {
  const { files } = JSON.parse(readFileSync(`${directory}/${report}`, 'utf8'));
  for (const [file, { mutants }] of Object.entries(files)) {
    const count = (status) => mutants.filter((mutant) => mutant.status === status).length;
    const row = { killed: count('Killed'), timeout: count('Timeout'), survived: count('Survived'), noCoverage: count('NoCoverage'), errors: count('RuntimeError') + count('CompileError') };
    // A sampled run's report is named <file>.every-K.json: its row says so.
    const sample = /\.every-(\d+)\.json$/.exec(report);
    rows.set(sample === null ? file : `${file} (sample: every ${sample[1]}th single-line mutant)`, row);
  }
}
console.log('| file | mutants | killed | timeout | survived | no coverage | errors | score |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [file, row] of [...rows].sort(([a], [b]) => a.localeCompare(b))) {
  const detected = row.killed + row.timeout;
  const valid = detected + row.survived + row.noCoverage;
  const score = valid === 0 ? 'n/a' : `${((100 * detected) / valid).toFixed(1)}%`;
  console.log(`| ${file} | ${valid + row.errors} | ${row.killed} | ${row.timeout} | ${row.survived} | ${row.noCoverage} | ${row.errors} | ${score} |`);
}
