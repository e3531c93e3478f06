import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import type { StateBackendKind } from '../runtime/state.ts';
import { decodeCase, encodeCase, peekCase } from './case-token.ts';
import { scenarioModule } from './define-scenario.ts';
import { explore, runJudged, type Counterexample, type ExploreStats } from './explore.ts';
import { formatCounterexample, formatVerdict } from './report.ts';
import type { CaseResult } from './run-case.ts';
import { checkFingerprint, projectRelative, ScenarioLookupError } from './scenario-loader.ts';
import type { Scenario, ScenarioSize } from './scenario.ts';

/** Options of `checkScenario`; every field has a default. */
export interface CheckOptions {
  /** Generated cases per configuration (mode x backend); default 100. */
  readonly runs?: number;
  /** fast-check seed: the same seed generates the same cases; default 1. */
  readonly seed?: number;
  /** Most faults in one generated plan; default 3. */
  readonly maxFaults?: number;
  /** Checkpointing modes; default: the scenario's. */
  readonly modes?: readonly CheckpointingMode[];
  /** State backends; default: the scenario's. */
  readonly backends?: readonly StateBackendKind[];
  /** Size of generated cases; default: the scenario's. */
  readonly size?: Partial<ScenarioSize>;
  /** Build the scenario with one of its planted bugs. */
  readonly bug?: string;
  /** Run every case twice and compare traces; default true. */
  readonly checkDeterminism?: boolean;
  /** Project root that replay tokens name modules relative to; default `process.cwd()`. */
  readonly cwd?: string;
}

export interface CheckFailure {
  readonly counterexample: Counterexample;
  /** The replay token of the shrunk case. */
  readonly token: string;
  /** `npx streamcheck replay <token>`. */
  readonly replayCommand: string;
  /** The report a person reads: violations, the shrunk fault plan in domain words, the run, the replay command. */
  readonly report: string;
}

export interface CheckResult {
  readonly scenario: string;
  readonly passed: boolean;
  readonly configurations: readonly { readonly mode: CheckpointingMode; readonly backend: StateBackendKind; readonly runs: number; readonly passed: boolean }[];
  readonly stats: ExploreStats;
  readonly failure: CheckFailure | undefined;
  /** One line: what ran and whether every invariant held. */
  readonly summary: string;
}

const DEFAULT_CHECK_RUNS = 100;
const MAX_CHECK_RUNS = 1_000_000;

/**
 * Explores a scenario (yours from `defineScenario`, or a connector suite): generated fault
 * plans and schedules for every mode and backend, each case judged by every invariant; on
 * the first failure, the shrunk counterexample with its replay token.
 */
export async function checkScenario(scenario: Scenario, options: CheckOptions = {}): Promise<CheckResult> {
  const runs = options.runs ?? DEFAULT_CHECK_RUNS;
  if (!Number.isSafeInteger(runs) || runs < 1 || runs > MAX_CHECK_RUNS) throw new TypeError(`checkScenario(${scenario.name}): runs must be an integer in [1, ${MAX_CHECK_RUNS}], got ${JSON.stringify(runs)}`);
  const seed = options.seed ?? 1;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 2 ** 31 - 1) throw new TypeError(`checkScenario(${scenario.name}): seed must be an integer in [0, 2^31-1], got ${JSON.stringify(seed)}`);
  if (options.bug !== undefined && !scenario.bugs.some((bug) => bug.name === options.bug)) {
    throw new TypeError(`checkScenario(${scenario.name}): no planted bug '${options.bug}'; known: ${scenario.bugs.map((b) => b.name).join(', ') || '(none)'}`);
  }
  const size = { ...scenario.defaultSize, ...options.size };
  const cwd = options.cwd ?? process.cwd();
  const definedIn = scenarioModule(scenario);
  const module = definedIn === undefined ? undefined : projectRelative(definedIn, cwd);
  const modes = options.modes ?? scenario.modes ?? ['exactly-once', 'unaligned'];
  const backends = options.backends ?? scenario.backends;
  const configurations: { mode: CheckpointingMode; backend: StateBackendKind; runs: number; passed: boolean }[] = [];
  const allStats: ExploreStats[] = [];
  let failure: CheckFailure | undefined;
  for (const mode of modes) {
    for (const backend of backends) {
      const report = await explore(scenario, {
        size,
        mode,
        backend,
        bug: options.bug,
        runs,
        seed,
        maxFaults: options.maxFaults ?? 3,
        checkDeterminism: options.checkDeterminism ?? true,
        ...(module === undefined ? {} : { module }),
      });
      allStats.push(report.stats);
      configurations.push({ mode, backend, runs: report.stats.runs, passed: report.counterexample === undefined });
      if (report.counterexample !== undefined) {
        const token = `${encodeCase(report.counterexample.result.spec)}`;
        failure = { counterexample: report.counterexample, token, replayCommand: `npx streamcheck replay ${token}`, report: formatCounterexample(report.counterexample) };
        break;
      }
    }
    if (failure !== undefined) break;
  }
  const stats = sumStats(allStats);
  const passed = failure === undefined;
  const summary =
    `${scenario.name}: ${stats.runs} runs over ${configurations.map((c) => `${c.mode}/${c.backend}`).join(', ')}, ` +
    `${stats.checkpointsCompleted} checkpoints completed, ${stats.crashesInjected} crashes injected: ` +
    (passed ? 'every invariant held' : `VIOLATED (${[...new Set(failure!.counterexample.result.violations.map((v) => v.property))].join(', ')})`);
  return { scenario: scenario.name, passed, configurations, stats, failure, summary };
}

/** Re-runs exactly the case a token names on `scenario` (which must be the token's). */
export async function replayCase(scenario: Scenario, token: string, options: { readonly keepTrace?: boolean } = {}): Promise<{ readonly result: CaseResult; readonly report: string }> {
  const reference = peekCase(token);
  if (reference.scenario !== scenario.name) throw new ScenarioLookupError(`replay: the token is for scenario '${reference.scenario}', not '${scenario.name}'`);
  const spec = decodeCase(token, (_, size) => scenario.taskCount(size));
  checkFingerprint(spec, scenario);
  const result = await runJudged(scenario, spec, { checkDeterminism: true }, options.keepTrace ?? false);
  return { result, report: formatVerdict(result).join('\n') };
}

export function sumStats(all: readonly ExploreStats[]): ExploreStats {
  const total: ExploreStats = { runs: 0, checkpointsCompleted: 0, crashesInjected: 0, faultsInjected: 0, restores: 0, faultPointsReached: {}, faultsNotReached: 0, faultPointsNeverReached: [], steps: 0, coverage: {}, lastTraceHash: '' };
  for (const stats of all) {
    total.runs += stats.runs;
    total.checkpointsCompleted += stats.checkpointsCompleted;
    total.crashesInjected += stats.crashesInjected;
    total.faultsInjected += stats.faultsInjected;
    total.restores += stats.restores;
    total.faultsNotReached += stats.faultsNotReached;
    total.steps += stats.steps;
    total.lastTraceHash = stats.lastTraceHash;
    for (const [point, count] of Object.entries(stats.faultPointsReached)) total.faultPointsReached[point] = (total.faultPointsReached[point] ?? 0) + count;
    total.faultPointsNeverReached.push(...stats.faultPointsNeverReached);
    for (const [point, count] of Object.entries(stats.coverage)) total.coverage[point] = (total.coverage[point] ?? 0) + count;
  }
  return total;
}
