import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { SCENARIOS, findScenario } from '../../scenarios/index.ts';
import { decodeCase, peekCase } from '../harness/case-token.ts';
import { sumStats } from '../harness/check.ts';
import { scenarioModule } from '../harness/define-scenario.ts';
import { checkFingerprint, loadScenarioModule, projectRelative, scenarioForCase } from '../harness/scenario-loader.ts';
import { loadCorpus } from '../harness/corpus.ts';
import { explorationPlans, runJudged, type ExploreOptions, type ExploreStats } from '../harness/explore.ts';
import type { Fault } from '../runtime/faults.ts';
import { exploreParallel, type DeterminismMode, type ParallelReport } from '../harness/parallel/explore-parallel.ts';
import { asRunJson, mergeRuns, type MergedResult } from '../harness/parallel/merge.ts';
import { ProgressLine } from '../harness/parallel/progress.ts';
import { parseShard, type Shard } from '../harness/parallel/shard.ts';
import { InProcessExecutor, WorkerPool, type CaseExecutor } from '../harness/parallel/worker-pool.ts';
import { formatCounterexample, formatStats, formatTimeline, formatVerdict, replayCommand } from '../harness/report.ts';
import { isUserCodeError, type Scenario } from '../harness/scenario.ts';
import { selftest, type SelftestEntry } from '../harness/selftest.ts';
import { proveCommand } from './prove-command.ts';
import { diagnoseToken, diagnosisJson } from '../harness/diagnose-case.ts';
import { formatCoverage, summarizeCoverage } from '../harness/coverage.ts';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import type { StateBackendKind } from '../runtime/state.ts';
import { Interrupted, Interruption, signalExitCode } from './interruption.ts';
import { UsageError, helpText, parseCli, type ParsedOptions } from './parse.ts';
import { envelopeCommand } from './envelope-command.ts';
import { E2E_BUGS, E2E_SCENARIOS, runE2eCycles, type E2eScenario } from '../harness/e2e/e2e-cycles.ts';
import { E2E_POLICY_ENV, ServicesUnavailableError, e2ePolicy, resolveServices, type RunningServices, type Unavailable } from '../harness/e2e/services/index.ts';
import { EnvironmentUnavailableError } from '../harness/e2e/service-faults.ts';
import { INPUT_BOUNDS, InputError, checkInteger, quoteUserText, safeMessage } from '../harness/input-bounds.ts';
import { runSuiteOnServices } from '../harness/e2e/suite-cycles.ts';
import { sinkSuiteInternals } from '../harness/suites/sink-suite.ts';
import { explainCase, formatBlame, type BlameChain } from '../harness/visual/blame.ts';
import { appendStepSummary, writePictures, type PictureRequest } from '../harness/visual/outputs.ts';
import { toJunitXml, type JunitConfiguration } from '../harness/visual/junit.ts';
import { writeFileSync } from 'node:fs';
import type { CaseResult } from '../harness/run-case.ts';

export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  /** Given only on a terminal: rewrites a status line in place (progress of long runs). */
  progress?(text: string): void;
}

/**
 * Exit codes: distinct for "an invariant failed", "bad input", "streamcheck itself broke" and
 * "the environment (Kafka, Redis) is not there". Every error leaves through reportError.
 */
export const EXIT_OK = 0;
export const EXIT_INVARIANT_VIOLATED = 1;
export const EXIT_BAD_INPUT = 2;
export const EXIT_INTERNAL_ERROR = 3;
export const EXIT_ENVIRONMENT_UNAVAILABLE = 4;

/** The `kind` of a `--json` error object, one per non-zero exit code other than 1 (interrupted: 128 + the signal's number). */
export type ErrorKind = 'bad-input' | 'internal-error' | 'environment-unavailable' | 'interrupted';

const INVARIANTS = [
  'exactly-once',
  'consistent-cut',
  'barrier-alignment',
  'liveness',
  'determinism',
  'committed-implies-completed',
  'completed-implies-committed',
  'no-lingering-transaction',
  'checkpoint-progress',
  'restore-choice',
  'state-restore',
  'fault-effects',
  'mode-semantics',
  'flow-control',
] as const;
/** The runtime's invariants plus every property the scenarios' judges report. */
function invariantsOf(scenarios: readonly Scenario[]): string[] {
  return [...new Set([...INVARIANTS, ...scenarios.flatMap((scenario) => scenario.properties ?? [])])];
}

const DEFAULT_RUNS = 200;
const DEFAULT_SEED = 1;
const DEFAULT_MAX_FAULTS = 3;
/** Wall-clock bound on one case in a worker thread (both runs with determinism checked): far beyond any sane case. */
const DEFAULT_CASE_TIMEOUT_MS = 300_000;
const DETERMINISM_WORDS: Record<DeterminismMode, string> = {
  all: 'every case run twice',
  sampled: 'every 10th case run twice',
  failing: 'only the counterexample run twice',
};
const CORPUS_DIRECTORY = fileURLToPath(new URL('../../scenarios/corpus/', import.meta.url));

export async function main(argv: readonly string[], io: CliIo): Promise<number> {
  // Known before parsing, so even a refused command line answers in JSON when asked to.
  const json = argv.includes('--json');
  try {
    const parsed = parseCli(argv);
    if (parsed.command === 'help' || parsed.options.help === true) {
      io.out(helpText(SCENARIOS.map((s) => s.name)));
      return EXIT_OK;
    }
    switch (parsed.command) {
      case 'run':
        return await runCommand(parsed.positionals, parsed.options, io);
      case 'replay':
        return await replayCommandMain(parsed.positionals, parsed.options, io);
      case 'selftest':
        return await selftestCommand(parsed.options, io);
      case 'merge':
        return mergeCommand(parsed.positionals, parsed.options, io);
      case 'prove':
        return await proveCommand(parsed.options, io, scenarioNamed);
      case 'diagnose':
        return await diagnoseCommand(parsed.positionals, parsed.options, io);
      case 'envelope':
        return await envelopeCommand(parsed.options, io);
      case 'e2e':
        return parsed.positionals.length > 0 ? await suiteE2eCommand(parsed.positionals, parsed.options, io) : await e2eCommand(parsed.options, io);
    }
  } catch (error) {
    return reportError(error, json, io);
  }
}

/** Classifies an error into its exit code and prints it once: one JSON object on stdout with --json, text on stderr otherwise. */
function reportError(error: unknown, json: boolean, io: CliIo): number {
  const { kind, code } = classify(error);
  const message = safeMessage(error instanceof Error ? error.message : String(error));
  if (json) {
    io.out(JSON.stringify({ error: { kind, message } }));
    return code;
  }
  switch (kind) {
    case 'bad-input':
      io.err(`streamcheck: ${message}`);
      io.err(`run 'streamcheck --help' for usage`);
      break;
    case 'environment-unavailable':
      io.err(`streamcheck: environment unavailable: ${message}`);
      break;
    case 'interrupted':
      io.err(`streamcheck: ${message}`);
      break;
    case 'internal-error':
      // A worker thread that crashed or hung: its message names the case and how to replay it; the pool's stack says nothing more.
      if (isNamedError(error, 'WorkerCaseError')) {
        io.err(`streamcheck: internal error: ${message}`);
        break;
      }
      // A bug in streamcheck: the stack is what a bug report needs.
      io.err(`streamcheck: internal error: ${error instanceof Error && error.stack !== undefined ? safeMessage(error.stack) : message}`);
      break;
  }
  return code;
}

function classify(error: unknown): { kind: ErrorKind; code: number } {
  if (error instanceof Interrupted) return { kind: 'interrupted', code: signalExitCode(error.signal) };
  if (error instanceof EnvironmentUnavailableError || error instanceof ServicesUnavailableError) return { kind: 'environment-unavailable', code: EXIT_ENVIRONMENT_UNAVAILABLE };
  // Errors in the user's scenario or module (a misdeclared scenario, a module that does not load) are theirs: exit 2.
  if (
    error instanceof InputError ||
    isNamedError(error, 'InputError') ||
    isNamedError(error, 'ScenarioLookupError') ||
    isUserCodeError(error) ||
    (error instanceof TypeError && isUserDeclarationError(error)) ||
    isBadInput(error)
  ) {
    return { kind: 'bad-input', code: EXIT_BAD_INPUT };
  }
  return { kind: 'internal-error', code: EXIT_INTERNAL_ERROR };
}

/** By name, not class: a user's module loaded through tsx may hold its own copy of streamcheck's classes. */
function isNamedError(error: unknown, name: string): boolean {
  return error instanceof Error && error.name === name;
}

/** A TypeError thrown by streamcheck's declaration checks (defineScenario, the suites, checkScenario) names the call. */
function isUserDeclarationError(error: TypeError): boolean {
  return /^(defineScenario|sinkSuite|sourceSuite|twoPhaseCommitSinkSuite|checkScenario)\b/.test(error.message);
}

/** Errors from validating user input elsewhere (scenario names, planted bugs, corpus files, fault plans) name their cause. */
function isBadInput(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  return /^(replay|unknown scenario|scenario module|missing optional dependency|scenario .* has no planted bug|regression corpus|runCase: fault)/.test(error.message);
}

interface ScenarioRun {
  readonly scenario: string;
  readonly mode: CheckpointingMode;
  readonly backend: StateBackendKind;
  readonly report: ParallelReport;
  readonly elapsedMs: number;
}

async function runCommand(positionals: readonly string[], options: ParsedOptions, io: CliIo): Promise<number> {
  const suite = options.suite === true;
  if (positionals.length > 1) throw new UsageError(`run: expects at most one scenario module, got ${positionals.length} arguments`);
  const modulePath = positionals[0];
  if (suite && modulePath !== undefined) throw new UsageError('run: give either --suite or a scenario module, not both');
  if (!suite && modulePath === undefined && options.scenario === undefined) throw new UsageError('run: give --suite, --scenario NAME, or a scenario module (run ./my.scenario.ts)');
  if (suite && options.scenario !== undefined) throw new UsageError('run: give exactly one of --suite or --scenario NAME');
  const cwd = process.cwd();
  let scenarios: readonly Scenario[];
  if (modulePath !== undefined) {
    const loaded = await loadScenarioModule(modulePath, cwd);
    scenarios = options.scenario === undefined ? loaded : loaded.filter((s) => s.name === options.scenario);
    if (scenarios.length === 0) throw new UsageError(`run: ${modulePath} exports no scenario named ${quoteUserText(String(options.scenario))}; it exports ${loaded.map((s) => s.name).join(', ')}`);
  } else scenarios = suite ? SCENARIOS : [scenarioNamed(options.scenario as string)];
  // A user's module runs like the main job: every mode and backend the scenario declares.
  const everyConfiguration = suite || modulePath !== undefined;

  const modesOf = (scenario: Scenario): readonly CheckpointingMode[] =>
    options.mode !== undefined ? [options.mode as CheckpointingMode] : everyConfiguration ? scenario.modes ?? ['exactly-once', 'unaligned'] : ['exactly-once'];
  const runs = (options.runs as number | undefined) ?? DEFAULT_RUNS;
  const seed = (options.seed as number | undefined) ?? DEFAULT_SEED;
  const json = options.json === true;
  let shard: Shard | undefined;
  if (options.shard !== undefined) {
    try {
      shard = parseShard(options.shard as string);
    } catch (error) {
      throw new UsageError(`run: ${(error as Error).message}`);
    }
  }
  const determinism = (options.determinism as DeterminismMode | undefined) ?? 'all';
  const workers = (options.workers as number | undefined) ?? availableParallelism();
  for (const scenario of scenarios) {
    if (options.bug !== undefined && !scenario.bugs.some((bug) => bug.name === options.bug)) {
      throw new UsageError(`run: scenario ${scenario.name} has no planted bug ${quoteUserText(String(options.bug))}; known: ${scenario.bugs.map((b) => b.name).join(', ')}`);
    }
  }

  const corpusResults: { name: string; passed: boolean; lines: string[] }[] = [];
  // The corpus is a handful of fixed cases: the first shard runs it, the others would only repeat it.
  if (suite && (shard === undefined || shard.index === 1)) {
    for (const entry of loadCorpus(CORPUS_DIRECTORY)) {
      const scenario = await scenarioForCase(peekCase(entry.token), SCENARIOS, cwd);
      const spec = decodeCase(entry.token, (_, size) => scenario.taskCount(size));
      const result = await runJudged(scenario, spec, { checkDeterminism: true });
      corpusResults.push({ name: `${entry.file}: ${entry.name}`, passed: result.violations.length === 0, lines: formatVerdict(result) });
    }
  }

  const results: ScenarioRun[] = [];
  const executor: CaseExecutor = workers === 1 ? new InProcessExecutor(cwd) : new WorkerPool(workers, cwd, (options['case-timeout-ms'] as number | undefined) ?? DEFAULT_CASE_TIMEOUT_MS);
  const progress = json || io.progress === undefined ? undefined : new ProgressLine(io.progress);
  try {
    for (const scenario of scenarios) {
      const size = {
        partitions: (options.partitions as number | undefined) ?? scenario.defaultSize.partitions,
        recordsPerPartition: (options.records as number | undefined) ?? scenario.defaultSize.recordsPerPartition,
      };
      // Without --backend: every backend the scenario supports in the suite, its first one otherwise.
      const backends: readonly StateBackendKind[] = options.backend !== undefined ? [options.backend as StateBackendKind] : everyConfiguration ? scenario.backends : scenario.backends.slice(0, 1);
      const definedIn = scenarioModule(scenario);
      // The fault plans of the scenario's configurations so far: each steers past those before it (steering.ts).
      const priorPlans: (readonly Fault[])[] = [];
      for (const mode of modesOf(scenario)) for (const backend of backends) {
        if (results.at(-1)?.report.counterexample !== undefined) break;
        const started = performance.now();
        const label = `${scenario.name} [${mode}, ${backend}]`;
        const exploreOptions: ExploreOptions = {
          size,
          mode,
          backend,
          bug: options.bug as string | undefined,
          runs,
          seed,
          maxFaults: (options['max-faults'] as number | undefined) ?? DEFAULT_MAX_FAULTS,
          checkDeterminism: true,
          ...(definedIn === undefined ? {} : { module: projectRelative(definedIn, cwd) }),
          priorPlans: [...priorPlans],
        };
        const report = await exploreParallel(scenario, exploreOptions, {
          executor,
          determinism,
          ...(shard === undefined ? {} : { shard }),
          ...(progress === undefined ? {} : { onProgress: (figures) => progress.update({ label, done: figures.done, total: figures.total, faultsReached: figures.faultsReached }, started) }),
        });
        progress?.clear();
        results.push({ scenario: scenario.name, mode, backend, report, elapsedMs: performance.now() - started });
        // The next configuration aims past this one's plans (all of them, whatever this shard ran: a function of the seed).
        priorPlans.push(...explorationPlans(scenario, exploreOptions));
      }
      if (results.at(-1)?.report.counterexample !== undefined) break;
    }
  } finally {
    progress?.clear();
    await executor.close();
  }

  const failedAt = results.findIndex((result) => result.report.counterexample !== undefined);
  const failed = failedAt < 0 ? undefined : results[failedAt];
  const corpusFailures = corpusResults.filter((result) => !result.passed);
  const total = sumStats(results.map((result) => result.report.stats));
  const failedCase = failed?.report.counterexample?.result;
  // Coverage per scenario over its modes and backends. Must-reach points are judged on the main
  // job (--suite) only, whole: a shard or a short run of one scenario sees only part of the cases.
  const coverage = scenarios.map((scenario) => summarizeCoverage(scenario, sumStats(results.filter((r) => r.scenario === scenario.name).map((r) => r.report.stats)).coverage));
  const judgeMustReach = suite && failed === undefined && shard === undefined;
  const missingMustReach = judgeMustReach ? coverage.flatMap((c) => c.missingMustReach.map((point) => `${c.scenario}: ${point}`)) : [];
  const blame = failedCase === undefined ? [] : await explainCase(scenarios.find((s) => s.name === failedCase.spec.scenario)!, failedCase);
  if (json) {
    const counterexample = failed?.report.counterexample;
    io.out(
      JSON.stringify({
        scenarios: results.map((r) => ({
          scenario: r.scenario, mode: r.mode, backend: r.backend, runs: r.report.stats.runs, failed: r.report.counterexample !== undefined, elapsedMs: Math.round(r.elapsedMs),
          caseRange: r.report.caseRange, ...(r.report.failingIndex === undefined ? {} : { failingIndex: r.report.failingIndex }),
        })),
        seed,
        shard: shard ?? null,
        workers,
        determinism,
        runs: total.runs,
        failures: (failed === undefined ? 0 : 1) + corpusFailures.length,
        checkpointsCompleted: total.checkpointsCompleted,
        crashesInjected: total.crashesInjected,
        faultsInjected: total.faultsInjected,
        faultPointsReached: total.faultPointsReached,
        faultsNotReached: total.faultsNotReached,
        faultPointsNeverReached: [...new Set(total.faultPointsNeverReached)].filter((point) => total.faultPointsReached[point] === undefined),
        invariantsChecked: invariantsOf(scenarios),
        corpus: corpusResults.map((r) => ({ name: r.name, passed: r.passed })),
        coverage: coverage.map((c) => ({ scenario: c.scenario, reached: c.reached, defined: c.defined, neverReached: c.neverReached })),
        missingMustReach,
        ...(total.runs === 1 ? { traceHash: total.lastTraceHash } : {}),
        ...(counterexample === undefined
          ? {}
          : {
              counterexample: {
                // Where it was found, so `merge` picks the one an unsharded run reports.
                configuration: failedAt,
                caseIndex: failed!.report.failingIndex,
                scenario: failed!.scenario,
                mode: failed!.mode,
                backend: failed!.backend,
                violations: counterexample.result.violations,
                faults: counterexample.result.spec.faults,
                schedule: counterexample.result.spec.schedule,
                traceHash: counterexample.result.observations.traceHash,
                foundAfterRuns: counterexample.foundAfterRuns,
                replay: replayCommand(counterexample.result),
                blame,
              },
            }),
      }),
    );
  } else {
    for (const result of corpusResults) {
      io.out(`${result.passed ? 'ok  ' : 'FAIL'} corpus ${result.name}`);
      if (!result.passed) for (const line of result.lines) io.out(`     ${line}`);
    }
    for (const result of results) {
      io.out(`${result.report.counterexample === undefined ? 'ok  ' : 'FAIL'} ${result.scenario} [${result.mode}, ${result.backend} backend] ${result.report.stats.runs} runs in ${(result.elapsedMs / 1000).toFixed(1)}s`);
      const control = scenarios.find((scenario) => scenario.name === result.scenario)?.negativeControl;
      if (control !== undefined) io.out(`  negative control: ${control}`);
      io.out(formatStats(result.report.stats));
    }
    if (failed?.report.counterexample !== undefined) {
      io.out('');
      io.out(formatCounterexample(failed.report.counterexample, blame));
    }
    io.out('');
    io.out(
      `summary: ${total.runs} runs, ${total.checkpointsCompleted} checkpoints completed, ${total.crashesInjected} crashes injected, ` +
        `${corpusResults.length} corpus cases; invariants checked: ${invariantsOf(scenarios).join(', ')}: ` +
        (failed === undefined && corpusFailures.length === 0 ? 'all held' : 'VIOLATED') +
        ` (determinism: ${DETERMINISM_WORDS[determinism]}; ${workers} worker${workers === 1 ? '' : 's'}${shard === undefined ? '' : `; shard ${shard.index}/${shard.count}`})`,
    );
    for (const summary of coverage) for (const line of formatCoverage(judgeMustReach ? summary : { ...summary, missingMustReach: [] })) io.out(line);
  }
  if (failedCase !== undefined) writeCasePictures(failedCase, blame, options, json, io);
  if (failedCase !== undefined && process.env['GITHUB_STEP_SUMMARY']) appendStepSummary(process.env['GITHUB_STEP_SUMMARY'], failedCase, blame);
  if (typeof options.junit === 'string') {
    const configurations: JunitConfiguration[] = results.map((r) => {
      const result = r.report.counterexample?.result;
      return {
        scenario: r.scenario, mode: r.mode, backend: r.backend, runs: r.report.stats.runs, elapsedMs: r.elapsedMs,
        ...(result === undefined ? {} : { counterexample: { violations: result.violations, report: formatCounterexample(r.report.counterexample!), blame: formatBlame(blame).join('\n'), replay: replayCommand(result) } }),
      };
    });
    writeJunit(options.junit, toJunitXml(configurations, invariantsOf(scenarios), corpusResults.map((c) => ({ name: c.name, passed: c.passed, report: c.lines.join('\n') }))), json, io);
  }
  return failed === undefined && corpusFailures.length === 0 && missingMustReach.length === 0 ? EXIT_OK : EXIT_INVARIANT_VIOLATED;
}

function mergeCommand(positionals: readonly string[], options: ParsedOptions, io: CliIo): number {
  const inputs = positionals.map((source) => {
    let text: string;
    try {
      text = readFileSync(source, 'utf8');
    } catch (error) {
      throw new UsageError(`merge: cannot read ${source}: ${(error as Error).message}`);
    }
    try {
      return { source, run: asRunJson(JSON.parse(text), source) };
    } catch (error) {
      if (error instanceof SyntaxError) throw new UsageError(`merge: ${source} is not JSON (${error.message}); give the output of 'streamcheck run --json'`);
      throw error;
    }
  });
  const merged: MergedResult = mergeRuns(inputs);
  if (options.json === true) io.out(JSON.stringify(merged));
  else {
    for (const entry of merged.corpus) if (!entry.passed) io.out(`FAIL corpus ${entry.name}`);
    const counterexample = merged.counterexample;
    if (counterexample !== undefined) {
      io.out(`FAIL ${String(counterexample['scenario'])} [${String(counterexample['mode'])}, ${String(counterexample['backend'])} backend]: first failing case ${counterexample.caseIndex} of seed ${merged.seed}`);
      for (const violation of (counterexample['violations'] as { anomaly: string; message: string }[] | undefined) ?? []) io.out(`  ${violation.anomaly}: ${violation.message}`);
      if (typeof counterexample['replay'] === 'string') io.out(`Replay: ${counterexample['replay']}`);
    }
    io.out(
      `merged ${merged.shards} shard${merged.shards === 1 ? '' : 's'}: ${merged.runs} runs, ${merged.checkpointsCompleted} checkpoints completed, ${merged.crashesInjected} crashes injected, ` +
        `${merged.corpus.length} corpus cases; invariants checked: ${merged.invariantsChecked.join(', ')}: ${merged.failures === 0 ? 'all held' : 'VIOLATED'} (determinism: ${merged.determinism.join(', ')})`,
    );
  }
  return merged.failures === 0 ? EXIT_OK : EXIT_INVARIANT_VIOLATED;
}

/** A built-in scenario by name; an unknown name is bad input, quoted (escaped and cut) in the message. */
function scenarioNamed(name: string): Scenario {
  const scenario = SCENARIOS.find((candidate) => candidate.name === name);
  if (scenario === undefined) throw new UsageError(`unknown scenario ${quoteUserText(name)}; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  return scenario;
}

/** --mermaid, --trace FILE and --html FILE for one replayed or shrunk case. */
function writeCasePictures(result: CaseResult, blame: readonly BlameChain[], options: ParsedOptions, json: boolean, io: CliIo): void {
  const request: PictureRequest = {
    ...(options.mermaid === true ? { mermaid: true } : {}),
    ...(typeof options.trace === 'string' ? { tracePath: options.trace } : {}),
    ...(typeof options.html === 'string' ? { htmlPath: options.html } : {}),
  };
  for (const line of writePictures(result, blame, request)) {
    if (json) io.err(line);
    else io.out(line);
  }
}

function writeJunit(path: string, xml: string, json: boolean, io: CliIo): void {
  try {
    writeFileSync(path, xml);
  } catch (error) {
    throw new Error(`replay: cannot write the JUnit file '${path}': ${error instanceof Error ? error.message : String(error)}`);
  }
  if (json) io.err(`JUnit XML written to ${path}`);
  else io.out(`JUnit XML written to ${path}`);
}

async function replayCommandMain(positionals: readonly string[], options: ParsedOptions, io: CliIo): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(`replay: expects exactly one token (as printed after 'Replay:'), got ${positionals.length}`);
  const token = positionals[0]!;
  const scenario = await scenarioForCase(peekCase(token), SCENARIOS, process.cwd());
  const spec = decodeCase(token, (_, size) => scenario.taskCount(size));
  checkFingerprint(spec, scenario);
  if (spec.bug !== undefined && !scenario.bugs.some((bug) => bug.name === spec.bug)) {
    throw new UsageError(`replay: scenario ${scenario.name} has no planted bug ${quoteUserText(spec.bug)}; known: ${scenario.bugs.map((b) => b.name).join(', ')}`);
  }
  if ((spec.transactionTimeoutMs !== undefined || spec.preparedTransactions !== undefined) && scenario.transactionTimeouts === undefined) {
    throw new UsageError(`replay: the token sets a transaction timeout, but scenario ${scenario.name} has none (envelope tokens are for scenarios such as kafka-2pc)`);
  }
  const result = await runJudged(scenario, spec, { checkDeterminism: true }, true);
  const blame = await explainCase(scenario, result);
  if (options.json === true) {
    io.out(
      JSON.stringify({
        passed: result.violations.length === 0,
        violations: result.violations,
        outcome: result.observations.outcome,
        steps: result.observations.steps,
        traceHash: result.observations.traceHash,
        output: result.output,
        blame,
        ...(options.timeline === true ? { timeline: result.trace } : {}),
      }),
    );
  } else {
    if (options.timeline === true) io.out(formatTimeline(result.trace));
    for (const line of formatVerdict(result, blame)) io.out(line);
  }
  writeCasePictures(result, blame, options, options.json === true, io);
  if (typeof options.junit === 'string') {
    const configuration: JunitConfiguration = {
      scenario: spec.scenario, mode: spec.mode, backend: spec.backend, runs: 1, elapsedMs: 0,
      ...(result.violations.length === 0 ? {} : { counterexample: { violations: result.violations, report: formatVerdict(result).join('\n'), blame: formatBlame(blame).join('\n'), replay: replayCommand(result) } }),
    };
    writeJunit(options.junit, toJunitXml([configuration], invariantsOf([scenario])), options.json === true, io);
  }
  return result.violations.length === 0 ? EXIT_OK : EXIT_INVARIANT_VIOLATED;
}

/** `streamcheck diagnose <token>`: the case re-run, and the diagnosis of what it measured (src/harness/diagnose-case.ts). */
async function diagnoseCommand(positionals: readonly string[], options: ParsedOptions, io: CliIo): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(`diagnose: expects exactly one token (as printed after 'Replay:'), got ${positionals.length}`);
  const diagnosed = await diagnoseToken(positionals[0]!, SCENARIOS, process.cwd());
  if (options.json === true) io.out(JSON.stringify(diagnosisJson(diagnosed)));
  else for (const line of diagnosed.lines(options.logs === true)) io.out(line);
  return EXIT_OK;
}

async function selftestCommand(options: ParsedOptions, io: CliIo): Promise<number> {
  const json = options.json === true;
  const entries: SelftestEntry[] = await selftest(SCENARIOS, {
    ...(options.runs === undefined ? {} : { maxRuns: options.runs as number }),
    ...(options.seed === undefined ? {} : { seed: options.seed as number }),
    onEntry: (entry) => {
      if (json) return;
      io.out(
        `${entry.caught ? 'caught ' : 'MISSED '} ${entry.scenario} / ${entry.bug} by ${entry.property}: ` +
          (entry.caught
            ? `after ${entry.runsToCatch} run(s), shrunk to ${entry.shrunkFaults} fault(s) and ${entry.shrunkChoices} choice(s) in ${entry.shrinkSteps} shrink step(s)`
            : `not caught in ${entry.runsToCatch} runs`),
      );
    },
  });
  const missed = entries.filter((entry) => !entry.caught);
  if (json) io.out(JSON.stringify({ plantedBugs: entries, caught: entries.length - missed.length, missed: missed.length }));
  else io.out(`selftest: ${entries.length - missed.length}/${entries.length} planted bug checks caught`);
  return missed.length === 0 ? EXIT_OK : EXIT_INVARIANT_VIOLATED;
}

const DEFAULT_E2E_RECORDS = 100;
const E2E_SERVICES_TIMEOUT_MS = 150_000;

/** `e2e <module>`: the module's sink suites (those with a `real` connector) in crash/restart cycles on real services. */
async function suiteE2eCommand(positionals: readonly string[], options: ParsedOptions, io: CliIo): Promise<number> {
  if (positionals.length !== 1) throw new UsageError(`e2e: expects at most one scenario module, got ${positionals.length} arguments`);
  if (options.cycles === undefined) throw new UsageError('e2e: --cycles N is required');
  if (options.records !== undefined) checkInteger('e2eRecordsPerPartition', options.records, 'e2e: --records');
  if (e2ePolicy() === 'off') throw new UsageError(`e2e: ${E2E_POLICY_ENV}=off forbids starting or using Kafka and Redis; unset it (or set auto or required) to run e2e`);
  const loaded = await loadScenarioModule(positionals[0]!, process.cwd());
  const suites = loaded.filter((scenario) => (options.scenario === undefined || scenario.name === options.scenario) && sinkSuiteInternals(scenario)?.real !== undefined);
  if (suites.length === 0) throw new UsageError(`e2e: ${quoteUserText(positionals[0]!)} exports no sink suite with a 'real' connector${options.scenario === undefined ? '' : ` named ${quoteUserText(String(options.scenario))}`}`);
  const json = options.json === true;
  return withE2eServices(json, io, async (services, interruption, log) => {
    const seed = (options.seed as number | undefined) ?? DEFAULT_SEED;
    const summaries = [];
    for (const suite of suites) {
      const cycles = await interruption.race(
        runSuiteOnServices(suite, {
          services,
          cycles: options.cycles as number,
          seed,
          ...(options.bug === undefined ? {} : { bug: options.bug as string }),
          ...(options.records === undefined ? {} : { size: { recordsPerPartition: options.records as number } }),
          log: (line) => log(`${suite.name}: ${line}`),
        }),
      );
      const total = (pick: (c: (typeof cycles)[number]) => number): number => cycles.reduce((sum, c) => sum + pick(c), 0);
      summaries.push({ suite: suite.name, cycles: cycles.length, recordsIn: total((c) => c.recordsIn), lost: total((c) => c.lost), duplicated: total((c) => c.duplicated), violations: total((c) => c.violations.length), seed });
    }
    if (json) io.out(JSON.stringify({ provider: services.provider, suites: summaries }));
    else for (const s of summaries) io.out(`e2e ${s.suite} on ${services.provider} services: ${s.cycles} cycles, records in ${s.recordsIn}, lost ${s.lost}, duplicated ${s.duplicated}, violations ${s.violations} (seed ${s.seed})`);
    return summaries.every((s) => s.lost === 0 && s.duplicated === 0 && s.violations === 0) ? EXIT_OK : EXIT_INVARIANT_VIOLATED;
  });
}

/**
 * Resolves Kafka and Redis for an e2e command, runs `body` with them, and stops whatever was
 * started, on success, failure and interruption. No services is an unavailable environment (exit 4).
 */
async function withE2eServices(
  json: boolean,
  io: CliIo,
  body: (services: RunningServices, interruption: Interruption, log: (line: string) => void) => Promise<number>,
): Promise<number> {
  const log = (line: string): void => {
    if (!json) io.out(line);
  };
  const interruption = new Interruption();
  try {
    const services = await interruption.race(resolveServices({ policy: 'auto', timeoutMs: E2E_SERVICES_TIMEOUT_MS, log: (line) => log(`services: ${line}`) }), stopIfStarted);
    if ('unavailable' in services) throw new EnvironmentUnavailableError(`e2e: no Kafka and Redis to run against: ${services.reason}`, 'services', 'none');
    try {
      return await body(services, interruption, log);
    } finally {
      await services.stop();
    }
  } finally {
    interruption.dispose();
  }
}

/** On an interruption while services were being started: stop them once the start settles. */
async function stopIfStarted(pending: Promise<RunningServices | Unavailable>): Promise<void> {
  const started = await pending.catch(() => undefined);
  if (started !== undefined && !('unavailable' in started)) await started.stop();
}

async function e2eCommand(options: ParsedOptions, io: CliIo): Promise<number> {
  const scenario = options.scenario as string | undefined;
  if (scenario === undefined || !(E2E_SCENARIOS as readonly string[]).includes(scenario)) {
    throw new UsageError(`e2e: --scenario must be one of ${E2E_SCENARIOS.join(', ')}, got ${scenario === undefined ? 'nothing' : quoteUserText(scenario)}`);
  }
  if (options.cycles === undefined) throw new UsageError('e2e: --cycles N is required');
  const bug = options.bug as string | undefined;
  if (bug !== undefined && !(E2E_BUGS as readonly string[]).includes(bug)) throw new UsageError(`e2e: --bug must be one of ${E2E_BUGS.join(', ')}, got ${quoteUserText(bug)}`);
  if (bug !== undefined && scenario !== 'kafka-2pc') throw new UsageError(`e2e: --bug ${bug} applies to kafka-2pc only`);
  const recordsPerPartition = checkInteger('e2eRecordsPerPartition', (options.records as number | undefined) ?? DEFAULT_E2E_RECORDS, 'e2e: --records');
  // The environment is checked before anything starts: a bogus policy or provider is bad input.
  if (e2ePolicy() === 'off') throw new UsageError(`e2e: ${E2E_POLICY_ENV}=off forbids starting or using Kafka and Redis; unset it (or set auto or required) to run e2e`);
  const json = options.json === true;
  return withE2eServices(json, io, async (services, interruption, log) => {
    const cycles = await interruption.race(
      runE2eCycles({
        scenario: scenario as E2eScenario,
        cycles: options.cycles as number,
        seed: (options.seed as number | undefined) ?? DEFAULT_SEED,
        recordsPerPartition,
        ...(bug === undefined ? {} : { bug: bug as (typeof E2E_BUGS)[number] }),
        services,
        log,
        isStopRequested: () => interruption.signal !== undefined,
      }),
    );
    const sum = (pick: (c: (typeof cycles)[number]) => number): number => cycles.reduce((total, c) => total + pick(c), 0);
    const times = cycles.map((c) => c.wallMs).sort((a, b) => a - b);
    const totals = {
      scenario,
      provider: services.provider,
      cycles: cycles.length,
      recordsIn: sum((c) => c.recordsIn),
      recordsOut: sum((c) => c.recordsOut),
      lost: sum((c) => c.lost),
      duplicated: sum((c) => c.duplicated),
      crashes: sum((c) => c.crashes),
      failedCommits: sum((c) => c.failedCommits),
      serviceRetries: sum((c) => c.serviceRetries),
      violations: sum((c) => c.violations.length),
      cycleSecondsP50: Number(((times[Math.floor((times.length - 1) / 2)] ?? 0) / 1000).toFixed(2)),
      cycleSecondsMax: Number(((times.at(-1) ?? 0) / 1000).toFixed(2)),
    };
    if (json) io.out(JSON.stringify({ ...totals, perCycle: cycles }));
    else {
      io.out(
        `e2e ${scenario} on ${services.provider} services: ${totals.cycles} cycles, records in ${totals.recordsIn}, out ${totals.recordsOut}, ` +
          `lost ${totals.lost}, duplicated ${totals.duplicated}, crashes ${totals.crashes}, failed commits ${totals.failedCommits}, ` +
          `service retries ${totals.serviceRetries}, violations ${totals.violations}; cycle time p50 ${totals.cycleSecondsP50} s, max ${totals.cycleSecondsMax} s`,
      );
    }
    return totals.lost === 0 && totals.duplicated === 0 && totals.violations === 0 ? EXIT_OK : EXIT_INVARIANT_VIOLATED;
  });
}

