// @ts-check
/**
 * Mutation testing of the runtime and the connectors against the search (issues 14 and 17):
 * every mutant of the files below is run through a short main job (the kill command below);
 * a mutant the invariants never notice is behaviour the search does not see.
 *
 * Slow on purpose, so not part of `npm test` or CI: `npm run mutation` (all files, one
 * Stryker run per file, results in reports/mutation/) or
 * `npm run mutation -- src/runtime/channel.ts` for one file (`npm run mutation:summary`
 * prints the per-file table).
 *
 * Kill command (mutation/kill.sh): `run --suite --runs 20 --shard 1/1 --determinism failing
 * --workers 1`. Why this one, measured on the 2-core machine:
 * - the whole main job (200 runs per scenario, every case run twice for determinism) takes
 *   minutes per mutant even unmutated: hundreds of mutants would take days;
 * - unloaded, `--runs 20` takes about 7 s, `--runs 10` about 4 s, selftest about 15 s;
 *   instrumented with one file's mutants and with other work on the machine, the kill
 *   command of the dry run took 84 s with selftest in it (load average 8 to 16);
 * - so selftest is left out by default (MUTATION_SELFTEST=1 puts it back): it can only kill
 *   more mutants, so the scores measured without it are a lower bound;
 * - 20 runs per scenario and configuration (about 900 cases) plus the corpus: the bugs a
 *   mutant plants are mostly not rare ones, and a mutant only a long run would find is one
 *   a planted bug of the same kind would be found late for too;
 * - `--determinism failing`: nondeterminism is a property of the scheduler and simulator,
 *   which are not mutated here; rerunning every case doubles the time for nothing;
 * - `--workers 1`: Stryker runs two mutants at once (concurrency 2), one core each;
 * - `--shard 1/1`: a run of 20 cases cannot reach every must-reach coverage point of the
 *   200-run job, so must-reach is not judged (a shard never judges it); every invariant,
 *   the corpus and the counterexample search are as in the main job.
 * The command runner has no coverage: each mutant costs one whole kill command. A mutant
 * whose run outlives 1.5 x the dry run + timeoutMS is a Timeout, which Stryker counts as
 * detected (a hang: `--workers 1` runs cases in-process, with no case timeout of its own).
 * Instrumenting every file at once makes every kill command run all the mutation switches
 * (the dry run took 5 min instead of 25 s): run-per-file.mjs instruments one file at a time.
 */
/**
 * Stage two (`npm run mutation -- --survivors <file>`): a mutant the short main job let live is
 * run again against the unit tests of its file (and `selftest`, which kills mutants of the
 * planted-bug code and mutants that hide a planted bug). Together the two stages are the
 * issue's kill command (the main job plus selftest, and the vitest suite where it is fast):
 * running the main job again in stage two would only repeat stage one's verdict, since a run
 * is deterministic. The tests of a file are the ones that drive it directly; each list runs in
 * seconds, the whole suite would take minutes per mutant.
 */
export const unitTestsByFile = {
  'src/runtime/barrier-handler.ts': ['test/runtime/barrier-handler.test.ts', 'test/runtime/alignment-timeout.test.ts', 'test/runtime/unaligned-progress.test.ts'],
  'src/runtime/channel.ts': ['test/runtime/channel.test.ts', 'test/runtime/credit-flow.test.ts'],
  'src/runtime/state.ts': ['test/runtime/state.test.ts', 'test/runtime/backends', 'test/runtime/keyed-state.test.ts', 'test/runtime/rescale.test.ts', 'test/runtime/split-owning-reader.test.ts'],
  'src/runtime/checkpoint-coordinator.ts': ['test/runtime/checkpoint-coordinator.test.ts', 'test/runtime/new-faults.test.ts', 'test/runtime/situation-placement.test.ts', 'test/runtime/alignment-timeout.test.ts'],
  'src/runtime/job.ts': ['test/runtime/job.test.ts', 'test/connectors/misbehaving-connectors.test.ts', 'test/runtime/new-faults.test.ts', 'test/runtime/situation-placement.test.ts', 'test/runtime/rescale.test.ts', 'test/runtime/execution-ids.test.ts'],
  'src/connectors/two-phase-commit-sink.ts': ['test/connectors'],
  'src/connectors/kafka-sink.ts': ['test/connectors'],
  'src/connectors/kafka-source.ts': ['test/connectors'],
  'src/connectors/partition-source.ts': ['test/connectors', 'test/runtime/split-owning-reader.test.ts'],
  'src/connectors/redis-sink.ts': ['test/connectors'],
};

/** Stage two copies the tests into each sandbox; stage one reads only what the main job reads. */
const stageTwo = (process.env.MUTATION_TESTS ?? '') !== '';

export default {
  testRunner: 'command',
  commandRunner: { command: 'sh mutation/kill.sh' },
  coverageAnalysis: 'off',
  // The files the issues name: barrier handler, channels, state, the coordinator and
  // restore (job.ts, checkpoint-coordinator.ts), the sinks and sources.
  mutate: [
    'src/runtime/barrier-handler.ts',
    'src/runtime/channel.ts',
    'src/runtime/state.ts',
    'src/runtime/checkpoint-coordinator.ts',
    'src/runtime/job.ts',
    'src/connectors/two-phase-commit-sink.ts',
    'src/connectors/kafka-sink.ts',
    'src/connectors/kafka-source.ts',
    'src/connectors/partition-source.ts',
    'src/connectors/redis-sink.ts',
  ],
  // Two mutants at a time: the machine has 2 cores shared with other work.
  concurrency: 2,
  timeoutFactor: 1.5,
  // A mutant that hangs the run costs 1.5 x the dry run + timeoutMS, and some do (a channel
  // that never frees a credit, a loop whose exit is mutated away): 150 s made the channel's
  // 313 mutants an estimated 1.5-hour run. With the machine loaded (the kill command then
  // takes about 6 s instead of 4.6 s idle), 30 s is five times a surviving mutant's run, and
  // a Timeout still counts as detected.
  timeoutMS: 30_000,
  dryRunTimeoutMinutes: 10,
  // Only what the kill command reads is copied into each sandbox.
  ignorePatterns: ['/coverage', '/dist', '/docs', '/bench', '/reports', '/.streamcheck', '/.streamcheck-cache', ...(stageTwo ? [] : ['/test']), '/examples', '/mutation/*.md'],
  tempDirName: '.stryker-tmp',
  // Stryker rewrites the tsconfig's extends/references paths with the TypeScript 5 API, which
  // TypeScript 7 no longer has; this tsconfig has neither, so the sandbox's copy is used as is
  // (a name that no file has turns the rewrite off).
  tsconfigFile: 'mutation/no-tsconfig-rewrite.json',
  // event-recorder: one file per tested mutant as it is done (reports/mutation/events), so a
  // run stopped before its end still tells what it found (`npm run mutation:summary -- --events`).
  reporters: ['clear-text', 'progress', 'json', 'html', 'event-recorder'],
  eventReporter: { baseDir: 'reports/mutation/events' },
  jsonReporter: { fileName: 'reports/mutation/mutation.json' },
  htmlReporter: { fileName: 'reports/mutation/mutation.html' },
  thresholds: { high: 85, low: 60, break: null },
};
