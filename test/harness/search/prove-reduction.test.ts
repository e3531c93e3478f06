import { describe, expect, test } from 'vitest';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { kafka2pc } from '../../../scenarios/kafka-2pc.ts';
import { prove, type ProveOptions } from '../../../src/harness/prove.ts';
import { hashSimulationState, summarizeHistory } from '../../../src/harness/prove/state-hash.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';
import type { Scenario } from '../../../src/harness/scenario.ts';
import type { ChoiceSource } from '../../../src/sim/choice.ts';
import type { Scheduler, StepOption } from '../../../src/sim/scheduler.ts';
import type { JobRuntime } from '../../../src/runtime/job.ts';
import type { SimEnvironment } from '../../../src/connectors/sim/environment.ts';

/** Full and reduced exhaustive searches on a loaded 2-core machine: generous, never a timing assertion. */
const REDUCTION_TEST_TIMEOUT_MS = 900_000;

const bound = (overrides: Partial<ProveOptions>): ProveOptions => ({
  size: { partitions: 2, recordsPerPartition: 2 }, maxFaults: 0, maxDeviations: 0, bug: undefined, maxSchedules: 100_000, checkDeterminism: false, ...overrides,
});

/** Whether each planted bug (and the correct job, as "none") shows a violation within the bound. */
async function foundByBug(scenario: Scenario, options: ProveOptions): Promise<Record<string, boolean>> {
  const found: Record<string, boolean> = {};
  for (const bug of [undefined, ...scenario.bugs.map((b) => b.name)]) {
    const report = await prove(scenario, { ...options, bug });
    expect(report.counterexample !== undefined || report.exhausted, `${bug}: bound not exhausted`).toBe(true);
    found[bug ?? 'none'] = report.counterexample !== undefined;
  }
  return found;
}

describe('prove: partial-order reduction and the state cache', () => {
  // Soundness on small instances: the reduced search finds exactly the planted bugs the full one finds.
  const instances: { scenario: Scenario; options: ProveOptions }[] = [
    { scenario: oddEvenSum, options: bound({ size: { partitions: 2, recordsPerPartition: 1 }, maxFaults: 1 }) },
    { scenario: oddEvenSum, options: bound({ maxDeviations: 1 }) },
    { scenario: kafka2pc, options: bound({ size: { partitions: 1, recordsPerPartition: 2 }, maxFaults: 1 }) },
  ];
  test.each(instances)('$scenario.name $options.size, $options.maxFaults fault(s), $options.maxDeviations deviation(s): the same bugs found with and without the reduction', async ({ scenario, options }) => {
    const full = await foundByBug(scenario, { ...options, reduce: false });
    const reduced = await foundByBug(scenario, { ...options, reduce: true });
    expect(reduced).toEqual(full);
    // Not a vacuous comparison: the correct job holds, and the bound shows some bugs.
    expect(full['none']).toBe(false);
    expect(Object.values(full).filter(Boolean).length).toBeGreaterThan(0);
  }, REDUCTION_TEST_TIMEOUT_MS);

  test('the reduction prunes: fewer runs judged for the same verdict, and every branch is judged or accounted for', async () => {
    const options = bound({ maxDeviations: 2 });
    const reduced = await prove(oddEvenSum, { ...options, reduce: true });
    expect(reduced).toMatchObject({ exhausted: true, counterexample: undefined });
    expect(reduced.prunedBy.stateCache).toBeGreaterThan(0);
    expect(reduced.pruned).toBe(reduced.prunedBy.sleepSets + reduced.prunedBy.stateCache + reduced.prunedBy.sameTrace);
    const full = await prove(oddEvenSum, { ...options, maxDeviations: 1, reduce: false });
    const reducedOne = await prove(oddEvenSum, { ...options, maxDeviations: 1, reduce: true });
    // One deviation: the plain run and one run per alternative at every step, pruned or judged.
    expect(reducedOne.explored + reducedOne.pruned).toBe(full.explored + full.pruned);
    expect(reducedOne.explored).toBeLessThan(full.explored);
  }, REDUCTION_TEST_TIMEOUT_MS);

  test('events of different tasks that touch no shared channel commute: their footprints are disjoint, and both orders reach the same state', async () => {
    // Record the options and the state hash before every step of the plain run.
    const spec: CaseSpec = { scenario: 'odd-even-sum', size: { partitions: 2, recordsPerPartition: 2 }, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null }, checkpointIntervalMs: 10 };
    type Running = { readonly scheduler: Scheduler; readonly job: JobRuntime; readonly env: SimEnvironment };
    const statesAfter = async (choices: readonly number[]): Promise<{ options: (StepOption[] | undefined)[]; hashes: string[] }> => {
      let running: Running | undefined;
      const options: (StepOption[] | undefined)[] = [];
      const hashes: string[] = [];
      const source: ChoiceSource = {
        pick: (count) => {
          options.push(running!.scheduler.stepOptions());
          hashes.push(`${hashSimulationState(running!.scheduler, running!.job, running!.env)} ${summarizeHistory(running!.job.observations)}`);
          return count > 1 ? (choices[hashes.length - 1] ?? 0) % count : 0;
        },
        describe: () => 'test',
      };
      await runCase(oddEvenSum, spec, { choiceSource: source, onStart: (r) => (running = r) });
      return { options, hashes };
    };
    const plain = await statesAfter([]);
    // The first step whose plain event (option 0) and option 1 are declared independent.
    const independent = (a: StepOption, b: StepOption): boolean => a.touches !== undefined && b.touches !== undefined && !a.touches.some((r) => b.touches!.includes(r));
    const step = plain.options.findIndex((options) => options !== undefined && options.length > 1 && independent(options[0]!, options[1]!));
    expect(step).toBeGreaterThanOrEqual(0);
    const [first, second] = plain.options[step]!;
    // The swapped order: option 1 first, then (if it is still there) the plain event.
    const swapped = await statesAfter([...Array(step).fill(0), 1]);
    const plainNext = swapped.options[step + 1]!.findIndex((option) => option.id === first!.id);
    expect(plainNext, `${first!.id} still enabled after ${second!.id}`).toBeGreaterThanOrEqual(0);
    const both = await statesAfter([...Array(step).fill(0), 1, plainNext]);
    const plainThenSecond = plain.options[step + 1]!.findIndex((option) => option.id === second!.id);
    const reference = await statesAfter([...Array(step + 1).fill(0), plainThenSecond]);
    expect(both.hashes[step + 2]).toBe(reference.hashes[step + 2]);
    // And the hash tells different states apart: after one step of either order they differ.
    expect(swapped.hashes[step + 1]).not.toBe(plain.hashes[step + 1]);
  }, REDUCTION_TEST_TIMEOUT_MS);
});
