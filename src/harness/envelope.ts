import fc from 'fast-check';
import { encodeCase } from './case-token.ts';
import { caseArbitrary } from './explore.ts';
import { InputError, checkInteger } from './input-bounds.ts';
import { DEFAULT_JOB_OPTIONS } from '../runtime/job.ts';
import { runCase, type CaseSpec } from './run-case.ts';
import type { Scenario, ScenarioSize, Violation } from './scenario.ts';

/**
 * The unsafe envelope of a transactional sink's configuration: which transaction timeouts,
 * against which checkpoint intervals and restart delays, let the external system (Kafka) abort
 * a transaction that a completed checkpoint already holds, losing its data.
 *
 * A grid search, not a proof: each point runs the same fixed set of generated fault plans
 * (deterministic from the seed), so the region found is "unsafe for at least one of these
 * plans". A point with no loss is only as safe as the plans tried at it.
 */

export interface EnvelopeGrid {
  readonly transactionTimeoutsMs: readonly number[];
  readonly checkpointIntervalsMs: readonly number[];
  readonly restartDelaysMs: readonly number[];
}

export interface EnvelopeOptions {
  readonly grid: EnvelopeGrid;
  /** Generated fault plans run at every point (the same plans at each). */
  readonly plansPerPoint: number;
  readonly seed: number;
  readonly maxFaults: number;
  /** KIP-939 prepared transactions in the sink. */
  readonly preparedTransactions: boolean;
  /** The scenario's default size when absent. */
  readonly size?: ScenarioSize;
  /** Called after each point, for progress. */
  readonly onPoint?: (point: EnvelopePoint, done: number, total: number) => void;
}

export interface EnvelopePoint {
  readonly transactionTimeoutMs: number;
  readonly checkpointIntervalMs: number;
  readonly restartDelayMs: number;
  readonly runs: number;
  /** Runs where a transaction of a completed checkpoint was aborted by the transaction timeout and never committed. */
  readonly lossRuns: number;
  /** Runs that failed some other invariant (reported, not counted as the envelope's loss). */
  readonly otherFailureRuns: number;
  /** A replay token of the first run with a loss at this point. */
  readonly firstLossToken: string | undefined;
  /** A replay token of the first run that failed another invariant at this point. */
  readonly firstOtherFailureToken: string | undefined;
}

export interface EnvelopeReport {
  readonly scenario: string;
  readonly preparedTransactions: boolean;
  readonly grid: EnvelopeGrid;
  readonly plansPerPoint: number;
  readonly seed: number;
  /** How long a checkpoint may take before it expires (not searched: the job's default). */
  readonly checkpointTimeoutMs: number;
  readonly points: readonly EnvelopePoint[];
  /** Points with a loss. */
  readonly unsafe: readonly EnvelopePoint[];
  /** The unsafe point with the longest timeout (closest to the boundary) and its token, when any. */
  readonly counterexample: { readonly point: EnvelopePoint; readonly token: string } | undefined;
}

/**
 * The grid the CLI searches: timeouts from below to above a checkpoint interval plus a restart
 * delay, so the boundary lies inside it. 6 x 2 x 2 points.
 */
export const DEFAULT_ENVELOPE_GRID: EnvelopeGrid = {
  transactionTimeoutsMs: [25, 50, 100, 200, 400, 800, 1_600, 3_200],
  checkpointIntervalsMs: [50, 200],
  restartDelaysMs: [20, 300],
};
export const DEFAULT_ENVELOPE_PLANS_PER_POINT = 100;
export const DEFAULT_ENVELOPE_MAX_FAULTS = 3;
/** Bound on the grid's points: each runs every plan. */
export const MAX_ENVELOPE_POINTS = 512;

/**
 * A violation that is the envelope's loss: a transaction of a completed checkpoint that the
 * broker aborted on its timeout (completed-implies-committed names how the transaction ended).
 */
export function isTimeoutLoss(violation: Violation): boolean {
  return violation.property === 'completed-implies-committed' && violation.message.endsWith('(timeout-abort)');
}

function checkGridAxis(values: readonly number[], bound: 'transactionTimeoutMs' | 'checkpointIntervalMs' | 'restartDelayMs', where: string): void {
  if (values.length === 0) throw new InputError(`envelope: the ${where} axis of the grid is empty`);
  values.forEach((value, index) => checkInteger(bound, value, `envelope: ${where}[${index}]`));
  for (let index = 1; index < values.length; index++) {
    if (values[index]! <= values[index - 1]!) throw new InputError(`envelope: the ${where} axis must be strictly increasing, got ${values.join(', ')}`);
  }
}

/** Runs the grid search; every refusal (a scenario without transaction timeouts, a bad grid) is an InputError. */
export async function searchEnvelope(scenario: Scenario, options: EnvelopeOptions): Promise<EnvelopeReport> {
  if (scenario.transactionTimeouts === undefined) {
    throw new InputError(`envelope: scenario ${scenario.name} has no transaction timeout to search (its sink writes no transactions the external system times out); try kafka-2pc`);
  }
  const { grid } = options;
  checkGridAxis(grid.transactionTimeoutsMs, 'transactionTimeoutMs', 'transaction timeout');
  checkGridAxis(grid.checkpointIntervalsMs, 'checkpointIntervalMs', 'checkpoint interval');
  checkGridAxis(grid.restartDelaysMs, 'restartDelayMs', 'restart delay');
  const total = grid.transactionTimeoutsMs.length * grid.checkpointIntervalsMs.length * grid.restartDelaysMs.length;
  if (total > MAX_ENVELOPE_POINTS) throw new InputError(`envelope: the grid has ${total} points, more than ${MAX_ENVELOPE_POINTS}`);
  checkInteger('runs', options.plansPerPoint, 'envelope: plans per point');
  checkInteger('seed', options.seed, 'envelope: seed');
  checkInteger('maxFaults', options.maxFaults, 'envelope: max faults');

  const size = options.size ?? scenario.defaultSize;
  const base = { scenario: scenario.name, size, mode: 'exactly-once' as const, backend: scenario.backends[0] ?? 'memory', bug: undefined };
  // The same plans at every point, so points differ only in the settings searched. The
  // configuration swarm's draws are left out: concurrent checkpoints come with their own (short)
  // interval, the axis searched here, and the checkpoint timeout, mode and backend are the report's.
  const plans = fc
    .sample(caseArbitrary(scenario, base, options.maxFaults), { seed: options.seed, numRuns: options.plansPerPoint })
    .map(({ maxConcurrentCheckpoints: _concurrent, checkpointTimeoutMs: _timeout, ...plan }) => ({
      ...plan,
      mode: base.mode,
      backend: base.backend,
      // A fault that needs prepared transactions on (Scenario.faultSettings: the zombie fence)
      // is left out: whether they are on is what this search compares.
      faults: plan.faults.filter((fault) => scenario.faultSettings?.[fault.kind]?.preparedTransactions === undefined),
    }));

  const points: EnvelopePoint[] = [];
  for (const checkpointIntervalMs of grid.checkpointIntervalsMs) {
    for (const restartDelayMs of grid.restartDelaysMs) {
      for (const transactionTimeoutMs of grid.transactionTimeoutsMs) {
        let lossRuns = 0;
        let otherFailureRuns = 0;
        let firstLossToken: string | undefined;
        let firstOtherFailureToken: string | undefined;
        for (const plan of plans) {
          const spec: CaseSpec = { ...plan, checkpointIntervalMs, restartDelayMs, transactionTimeoutMs, preparedTransactions: options.preparedTransactions };
          const { violations } = await runCase(scenario, spec);
          if (violations.some(isTimeoutLoss)) {
            lossRuns++;
            firstLossToken ??= encodeCase(spec);
          } else if (violations.length > 0) {
            otherFailureRuns++;
            firstOtherFailureToken ??= encodeCase(spec);
          }
        }
        const point = { transactionTimeoutMs, checkpointIntervalMs, restartDelayMs, runs: plans.length, lossRuns, otherFailureRuns, firstLossToken, firstOtherFailureToken };
        points.push(point);
        options.onPoint?.(point, points.length, total);
      }
    }
  }
  const unsafe = points.filter((point) => point.lossRuns > 0);
  const closest = unsafe.reduce<EnvelopePoint | undefined>((best, point) => (best === undefined || point.transactionTimeoutMs > best.transactionTimeoutMs ? point : best), undefined);
  return {
    scenario: scenario.name,
    preparedTransactions: options.preparedTransactions,
    grid,
    plansPerPoint: plans.length,
    seed: options.seed,
    checkpointTimeoutMs: DEFAULT_JOB_OPTIONS.checkpointTimeoutMs,
    points,
    unsafe,
    counterexample: closest === undefined ? undefined : { point: closest, token: closest.firstLossToken! },
  };
}

/** The table: one row per (checkpoint interval, restart delay), one column per timeout; a cell is loss runs / runs, or "ok". */
export function formatEnvelopeTable(report: EnvelopeReport): string[] {
  const timeouts = report.grid.transactionTimeoutsMs;
  const rowLabel = (interval: number, delay: number): string => `interval ${interval} ms, restart ${delay} ms`;
  const labelWidth = Math.max(...report.grid.checkpointIntervalsMs.flatMap((interval) => report.grid.restartDelaysMs.map((delay) => rowLabel(interval, delay).length)), 'transaction timeout ->'.length);
  const cellOf = (point: EnvelopePoint): string => (point.lossRuns > 0 ? `LOSS ${point.lossRuns}/${point.runs}` : 'ok');
  const cellWidth = Math.max(...timeouts.map((timeout) => `${timeout} ms`.length), ...report.points.map((point) => cellOf(point).length)) + 2;
  const lines = ['transaction timeout ->'.padEnd(labelWidth) + timeouts.map((timeout) => `${timeout} ms`.padStart(cellWidth)).join('')];
  for (const interval of report.grid.checkpointIntervalsMs) {
    for (const delay of report.grid.restartDelaysMs) {
      const cells = timeouts.map((timeout) => {
        const point = report.points.find((p) => p.transactionTimeoutMs === timeout && p.checkpointIntervalMs === interval && p.restartDelayMs === delay)!;
        return cellOf(point).padStart(cellWidth);
      });
      lines.push(rowLabel(interval, delay).padEnd(labelWidth) + cells.join(''));
    }
  }
  return lines;
}

/**
 * The region in words: per row the longest unsafe and the shortest safe timeout above it; then
 * the bound a checkpointed transaction's lifetime suggests (it stays open until the next
 * checkpoint commits it: an interval, plus up to the checkpoint timeout when that checkpoint
 * expires; after a failure, plus the restart delay and the recovery) checked against the data,
 * and the observed bound "timeout < interval + restart delay + margin".
 */
export function describeEnvelope(report: EnvelopeReport): string[] {
  const lines: string[] = [];
  const otherFailures = report.points.filter((point) => point.otherFailureRuns > 0);
  if (otherFailures.length > 0) {
    const runs = otherFailures.reduce((sum, point) => sum + point.otherFailureRuns, 0);
    lines.push(`${runs} run(s) at ${otherFailures.length} point(s) failed another invariant (not a timeout loss); replay one: streamcheck replay ${otherFailures[0]!.firstOtherFailureToken!}`);
  }
  const kip = report.preparedTransactions ? 'with KIP-939 prepared transactions' : 'without prepared transactions';
  if (report.unsafe.length === 0) {
    lines.push(`No unsafe point ${kip}: no checkpointed transaction was aborted by the transaction timeout in ${report.points.length} points x ${report.plansPerPoint} fault plans.`);
    return lines;
  }
  lines.push(`Unsafe region ${kip}: ${report.unsafe.length} of ${report.points.length} points lost a checkpointed transaction to the transaction timeout.`);
  for (const interval of report.grid.checkpointIntervalsMs) {
    for (const delay of report.grid.restartDelaysMs) {
      const row = report.points.filter((point) => point.checkpointIntervalMs === interval && point.restartDelayMs === delay);
      const unsafe = row.filter((point) => point.lossRuns > 0);
      if (unsafe.length === 0) {
        lines.push(`  interval ${interval} ms, restart delay ${delay} ms: safe at every timeout tried (${row[0]!.transactionTimeoutMs} ms and up)`);
        continue;
      }
      const longestUnsafe = Math.max(...unsafe.map((point) => point.transactionTimeoutMs));
      const safeAbove = row.find((point) => point.transactionTimeoutMs > longestUnsafe)?.transactionTimeoutMs;
      lines.push(
        `  interval ${interval} ms, restart delay ${delay} ms: unsafe up to a timeout of ${longestUnsafe} ms` +
          (safeAbove === undefined ? ', and at every longer timeout tried' : `, safe from ${safeAbove} ms`),
      );
    }
  }
  const marginMs = Math.max(...report.unsafe.map((point) => point.transactionTimeoutMs - point.checkpointIntervalMs - point.restartDelayMs)) + 1;
  const signedMargin = marginMs < 0 ? `- ${-marginMs} ms` : `+ ${marginMs} ms`;
  lines.push(`In words: unsafe when transaction timeout < checkpoint interval + restart delay ${signedMargin} (the most any unsafe point here exceeded interval + delay, plus 1 ms).`);
  const lifetimeOf = (point: EnvelopePoint): number => point.checkpointIntervalMs + report.checkpointTimeoutMs + point.restartDelayMs;
  const beyondLifetime = report.unsafe.filter((point) => point.transactionTimeoutMs > lifetimeOf(point));
  lines.push(
    `  A checkpointed transaction stays open until the next checkpoint commits it (an interval, plus up to the checkpoint timeout, ${report.checkpointTimeoutMs} ms, when that checkpoint expires), ` +
      `and after a failure until the restarted job recovers it (the restart delay and the recovery): ` +
      (beyondLifetime.length === 0
        ? `every unsafe point here has timeout <= interval + checkpoint timeout + restart delay.`
        : `${beyondLifetime.length} unsafe point(s) lie beyond interval + checkpoint timeout + restart delay (recovery or repeated failovers take longer).`),
  );
  const safeBelowLine = report.points.filter((point) => point.lossRuns === 0 && point.transactionTimeoutMs < point.checkpointIntervalMs + point.restartDelayMs + marginMs);
  if (safeBelowLine.length > 0) {
    lines.push(`  ${safeBelowLine.length} point(s) under that line lost nothing with these plans (a loss needs a fault at the right moment; more plans find more).`);
  }
  return lines;
}
