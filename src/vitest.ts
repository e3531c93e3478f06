/**
 * `streamcheck/vitest`: streamcheck inside a vitest suite.
 *
 * ```ts
 * import { describeScenario } from 'streamcheck/vitest';
 * import { redisHashSinkSuite } from './redis-hash-sink.scenario.ts';
 *
 * describeScenario(redisHashSinkSuite);
 * ```
 *
 * A failing check fails the test with the shrunk fault plan in domain words and the replay
 * command. The environment steers runs, as madsim's seed variables do:
 * - `STREAMCHECK_SEED=N`: the fast-check seed (default 1);
 * - `STREAMCHECK_RUNS=N`: generated cases per configuration (default 100);
 * - `STREAMCHECK_REPLAY=<token>`: run only that case (tests of other scenarios are skipped).
 *
 * Failed cases are kept in `.streamcheck/failures.json` of the project (like Hypothesis's
 * example database) and re-run first next time, until they pass; then they are removed.
 * Move a token into your own regression list to keep it for good.
 */
import { describe, test } from 'vitest';
import { peekCase } from './harness/case-token.ts';
import { checkScenario, replayCase, type CheckOptions, type CheckResult } from './harness/check.ts';
import { FailureStore } from './harness/failure-store.ts';
import { runSuiteOnServices, type SuiteCycleResult } from './harness/e2e/suite-cycles.ts';
import type { Scenario } from './harness/scenario.ts';

export type { CheckOptions, CheckResult } from './harness/check.ts';

/** A streamcheck verdict inside a test: the message is the counterexample a person reads. */
export class StreamcheckFailure extends Error {
  constructor(message: string, readonly token: string | undefined) {
    super(message);
    this.name = 'StreamcheckFailure';
  }
}

export interface VitestCheckOptions extends CheckOptions {
  /** Timeout of each test in ms (default 600,000: property runs on a loaded machine take their time). */
  readonly timeoutMs?: number;
  /** Where failed cases are kept (default `.streamcheck/failures.json` under `cwd`); false: nowhere. */
  readonly failureFile?: string | false;
}

const DEFAULT_TEST_TIMEOUT_MS = 600_000;

function fromEnvironment(name: string, min: number, max: number): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return undefined;
  const value = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new TypeError(`${name} must be a whole number in [${min}, ${max}], got '${raw.slice(0, 40)}'`);
  }
  return value;
}

function effectiveOptions(options: VitestCheckOptions): VitestCheckOptions {
  const seed = fromEnvironment('STREAMCHECK_SEED', 0, 2 ** 31 - 1);
  const runs = fromEnvironment('STREAMCHECK_RUNS', 1, 1_000_000);
  return { ...options, ...(seed === undefined ? {} : { seed }), ...(runs === undefined ? {} : { runs }) };
}

/**
 * Checks a scenario inside a test: re-runs its kept failures first, then explores; throws a
 * `StreamcheckFailure` (failing the test) with the counterexample and the replay command.
 */
export async function expectScenarioToHold(scenario: Scenario, options: VitestCheckOptions = {}): Promise<CheckResult | undefined> {
  const effective = effectiveOptions(options);
  const cwd = effective.cwd ?? process.cwd();
  const store = effective.failureFile === false ? undefined : new FailureStore(effective.failureFile ?? FailureStore.defaultPath(cwd));
  const replay = process.env['STREAMCHECK_REPLAY'];
  if (replay !== undefined && replay !== '') {
    const { result, report } = await replayCase(scenario, replay);
    if (result.violations.length > 0) throw new StreamcheckFailure(`${report}\nReplay: npx streamcheck replay ${replay}`, replay);
    return undefined;
  }
  for (const token of store?.tokensFor(scenario.name) ?? []) {
    const { result, report } = await replayCase(scenario, token);
    if (result.violations.length > 0) {
      throw new StreamcheckFailure(`a case that failed before still fails (kept in ${store!.path}):\n${report}\nReplay: npx streamcheck replay ${token}`, token);
    }
    store!.remove(scenario.name, token);
  }
  const result = await checkScenario(scenario, effective);
  if (result.failure !== undefined) {
    store?.add(scenario.name, result.failure.token);
    throw new StreamcheckFailure(`${result.summary}\n${result.failure.report}`, result.failure.token);
  }
  return result;
}

/**
 * One `describe` for a scenario or connector suite, one test per checkpointing mode and
 * state backend. With `STREAMCHECK_REPLAY` set, only the test of the token's scenario runs.
 */
export function describeScenario(scenario: Scenario, options: VitestCheckOptions = {}): void {
  const replay = process.env['STREAMCHECK_REPLAY'];
  const replayScenario = replay === undefined || replay === '' ? undefined : peekCase(replay).scenario;
  const modes = options.modes ?? scenario.modes ?? ['exactly-once', 'unaligned'];
  const backends = options.backends ?? scenario.backends;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TEST_TIMEOUT_MS;
  describe(`streamcheck: ${scenario.name}`, () => {
    if (replayScenario !== undefined) {
      test.skipIf(replayScenario !== scenario.name)(`replays ${replayScenario} case from STREAMCHECK_REPLAY`, async () => {
        await expectScenarioToHold(scenario, options);
      }, timeoutMs);
      return;
    }
    for (const mode of modes) {
      for (const backend of backends) {
        test(`${mode} checkpoints, ${backend} backend: every invariant holds under generated faults`, async () => {
          await expectScenarioToHold(scenario, { ...options, modes: [mode], backends: [backend] });
        }, timeoutMs);
      }
    }
  });
}

/**
 * Runs a sink suite's `real` connector against real services in crash/restart cycles (see
 * `runSuiteOnServices`) and fails the test with the first cycle's violations and the seed
 * that reproduces its fault placement.
 */
export async function expectSuiteOnServices(
  suite: Scenario,
  options: { readonly redisUrl: string; readonly kafkaBrokers?: readonly string[]; readonly cycles?: number; readonly seed?: number; readonly bug?: string },
): Promise<SuiteCycleResult[]> {
  const seed = options.seed ?? fromEnvironment('STREAMCHECK_SEED', 0, 2 ** 31 - 1) ?? 1;
  const cycles = await runSuiteOnServices(suite, {
    services: { redisUrl: options.redisUrl, kafkaBrokers: options.kafkaBrokers ?? [] },
    cycles: options.cycles ?? 5,
    seed,
    ...(options.bug === undefined ? {} : { bug: options.bug }),
  });
  const failed = cycles.find((cycle) => cycle.violations.length > 0);
  if (failed !== undefined) {
    const lines = failed.violations.slice(0, 8).map((v) => `  ${v.property} / ${v.anomaly}: ${v.message}`);
    throw new StreamcheckFailure(
      `${suite.name} on real services: cycle ${failed.cycle + 1} of ${cycles.length} (${failed.outcome}, lost ${failed.lost}, duplicated ${failed.duplicated}):\n${lines.join('\n')}\n` +
        `Reproduce the fault placement with seed ${seed} (STREAMCHECK_SEED=${seed}), cycle ${failed.cycle + 1}.`,
      undefined,
    );
  }
  return cycles;
}

/**
 * Proves the check can fail: the planted bug `bug` must be caught within the runs and shrunk
 * to at most `maxShrunkFaults` faults. Returns the failure for further assertions.
 */
export async function expectBugCaught(
  scenario: Scenario,
  bug: string,
  options: VitestCheckOptions & { readonly maxShrunkFaults?: number } = {},
): Promise<NonNullable<CheckResult['failure']>> {
  const result = await checkScenario(scenario, { ...effectiveOptions(options), bug });
  if (result.failure === undefined) throw new StreamcheckFailure(`planted bug '${bug}' of ${scenario.name} was not caught: ${result.summary}`, undefined);
  const faults = result.failure.counterexample.result.spec.faults.length;
  const maxShrunkFaults = options.maxShrunkFaults ?? 2;
  if (faults > maxShrunkFaults) throw new StreamcheckFailure(`planted bug '${bug}' was caught but shrunk only to ${faults} faults (at most ${maxShrunkFaults} expected):\n${result.failure.report}`, result.failure.token);
  return result.failure;
}
