import { findScenario } from '../../scenarios/index.ts';
import {
  DEFAULT_ENVELOPE_GRID,
  DEFAULT_ENVELOPE_MAX_FAULTS,
  DEFAULT_ENVELOPE_PLANS_PER_POINT,
  describeEnvelope,
  formatEnvelopeTable,
  searchEnvelope,
} from '../harness/envelope.ts';
import type { CliIo } from './main.ts';
import { UsageError, type ParsedOptions } from './parse.ts';

const DEFAULT_ENVELOPE_SEED = 1;

/**
 * `envelope --scenario S [--prepared-transactions] [--runs N] [--seed N] [--json]`: the grid
 * search of envelope.ts. Exit 0 when no run at any point lost data or failed another
 * invariant, 1 otherwise (the unsafe region is a finding, like a violated invariant), 2 on bad input.
 */
export async function envelopeCommand(options: ParsedOptions, io: CliIo): Promise<number> {
  if (options.scenario === undefined) throw new UsageError('envelope: --scenario NAME is required (a scenario with a transaction timeout, e.g. kafka-2pc)');
  const scenario = findScenario(String(options.scenario));
  if (scenario.transactionTimeouts === undefined) {
    throw new UsageError(`envelope: scenario ${scenario.name} has no transaction timeout to search (its sink writes no transactions an external system times out); try kafka-2pc`);
  }
  const json = options.json === true;
  const report = await searchEnvelope(scenario, {
    grid: DEFAULT_ENVELOPE_GRID,
    plansPerPoint: (options.runs as number | undefined) ?? DEFAULT_ENVELOPE_PLANS_PER_POINT,
    seed: (options.seed as number | undefined) ?? DEFAULT_ENVELOPE_SEED,
    maxFaults: DEFAULT_ENVELOPE_MAX_FAULTS,
    preparedTransactions: options['prepared-transactions'] === true,
    onPoint: (point, done, total) =>
      io.progress?.(`envelope: ${done}/${total} points (timeout ${point.transactionTimeoutMs} ms, interval ${point.checkpointIntervalMs} ms, restart ${point.restartDelayMs} ms)`),
  });
  const words = describeEnvelope(report);
  if (json) {
    io.out(JSON.stringify({ ...report, summary: words.join('\n'), replay: report.counterexample === undefined ? undefined : `streamcheck replay ${report.counterexample.token}` }));
  } else {
    io.out(
      `envelope of ${report.scenario} ${report.preparedTransactions ? 'with' : 'without'} prepared transactions (KIP-939): ` +
        `${report.points.length} points x ${report.plansPerPoint} fault plans (seed ${report.seed}); a cell is runs that lost a checkpointed transaction to the timeout`,
    );
    for (const line of formatEnvelopeTable(report)) io.out(line);
    for (const line of words) io.out(line);
    if (report.counterexample !== undefined) {
      const { point, token } = report.counterexample;
      io.out(`Counterexample at timeout ${point.transactionTimeoutMs} ms, interval ${point.checkpointIntervalMs} ms, restart delay ${point.restartDelayMs} ms:`);
      io.out(`  streamcheck replay ${token}`);
    }
  }
  const otherFailures = report.points.some((point) => point.otherFailureRuns > 0);
  return report.unsafe.length === 0 && !otherFailures ? 0 : 1;
}
