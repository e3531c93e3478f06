import { prove } from '../harness/prove.ts';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import { replayCommand } from '../harness/report.ts';
import { quoteUserText } from '../harness/input-bounds.ts';
import type { Scenario } from '../harness/scenario.ts';
import { EXIT_BAD_INPUT, EXIT_INVARIANT_VIOLATED, EXIT_OK, type CliIo } from './main.ts';
import { UsageError, type ParsedOptions } from './parse.ts';

/** Two partitions: barrier alignment (and the bugs that break it) needs a task with two inputs. */
const DEFAULT_PROVE_PARTITIONS = 2;
const DEFAULT_PROVE_RECORDS = 2;
const DEFAULT_PROVE_FAULTS = 1;
const DEFAULT_PROVE_DEVIATIONS = 1;
const DEFAULT_PROVE_MAX_SCHEDULES = 100_000;

/**
 * `prove --scenario S [--mode M] [--partitions P] [--records N] [--faults F] [--deviations D] [--bug B] [--no-reduce]`:
 * the bounded exhaustive search of src/harness/prove.ts. Exit 0 when no schedule of the bound
 * violates anything, 1 with the first (shortest) counterexample, 2 on bad input or when
 * --max-schedules stopped the search before the bound was exhausted (an unexhausted bound proves nothing).
 */
export async function proveCommand(options: ParsedOptions, io: CliIo, scenarioNamed: (name: string) => Scenario): Promise<number> {
  if (options.scenario === undefined) throw new UsageError('prove: give --scenario NAME');
  const scenario = scenarioNamed(options.scenario as string);
  if (options.bug !== undefined && !scenario.bugs.some((bug) => bug.name === options.bug)) {
    throw new UsageError(`prove: scenario ${scenario.name} has no planted bug ${quoteUserText(String(options.bug))}; known: ${scenario.bugs.map((b) => b.name).join(', ') || '(none)'}`);
  }
  const size = {
    partitions: (options.partitions as number | undefined) ?? DEFAULT_PROVE_PARTITIONS,
    recordsPerPartition: (options.records as number | undefined) ?? DEFAULT_PROVE_RECORDS,
  };
  const maxFaults = (options.faults as number | undefined) ?? DEFAULT_PROVE_FAULTS;
  const maxDeviations = (options.deviations as number | undefined) ?? DEFAULT_PROVE_DEVIATIONS;
  const report = await prove(scenario, {
    size,
    maxFaults,
    maxDeviations,
    bug: options.bug as string | undefined,
    maxSchedules: (options['max-schedules'] as number | undefined) ?? DEFAULT_PROVE_MAX_SCHEDULES,
    checkDeterminism: true,
    reduce: options['no-reduce'] !== true,
    ...(options.mode === undefined ? {} : { mode: options.mode as CheckpointingMode }),
  });
  const bound = `${scenario.name} (${options.mode ?? 'exactly-once'}), ${size.partitions} partition(s) x ${size.recordsPerPartition} record(s), up to ${maxFaults} fault(s), up to ${maxDeviations} deviation(s)`;
  const counterexample = report.counterexample;
  if (options.json === true) {
    io.out(
      JSON.stringify({
        bound,
        explored: report.explored,
        pruned: report.pruned,
        prunedBy: report.prunedBy,
        faultPlans: report.faultPlans,
        exhausted: report.exhausted,
        counterexample: counterexample === undefined ? null : { violations: counterexample.result.violations, deviations: counterexample.deviations, replay: counterexample.token },
      }),
    );
  } else {
    io.out(
      `prove ${bound}: ${report.explored} schedule(s) explored, ${report.pruned} pruned ` +
        `(${report.prunedBy.sleepSets} asleep, ${report.prunedBy.stateCache} at a state already explored, ${report.prunedBy.sameTrace} repeating a trace), ${report.faultPlans} fault plan(s)`,
    );
    if (counterexample !== undefined) {
      io.out(`counterexample (${counterexample.result.spec.faults.length} fault(s), ${counterexample.deviations} deviation(s)):`);
      for (const violation of counterexample.result.violations) io.out(`  ${violation.property}: ${violation.anomaly}: ${violation.message}`);
      io.out(`replay: ${replayCommand(counterexample.result)}`);
    } else if (report.exhausted) io.out('no violation in any schedule');
    else io.out(`bound not exhausted: stopped after --max-schedules ${report.explored} runs without a violation; raise --max-schedules or lower the bound`);
  }
  if (counterexample !== undefined) return EXIT_INVARIANT_VIOLATED;
  return report.exhausted ? EXIT_OK : EXIT_BAD_INPUT;
}
