import { describe, expect, test } from 'vitest';
import { SCENARIOS } from '../../scenarios/index.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { explore } from '../../src/harness/explore.ts';
import type { Scenario } from '../../src/harness/scenario.ts';

/**
 * Every invariant is shown to catch a planted bug: fast-check must find a counterexample
 * violating exactly that property, and shrink it to a small fault plan.
 */
const MAX_SHRUNK_FAULTS = 2;
const MAX_SHRUNK_CHOICES = 12;
/** 300 generated runs plus shrinking, on a loaded 2-core machine. */
const SEARCH_TIMEOUT_MS = 120_000;

describe('planted bugs are caught and shrunk', () => {
  for (const scenario of SCENARIOS) for (const bug of scenario.bugs) {
    for (const property of bug.caughtBy) {
      test(`${scenario.name}: ${bug.name} is caught by ${property}`, async () => {
        const report = await explore(scenario, {
          size: scenario.defaultSize,
          mode: 'exactly-once',
          backend: scenario.backends[0]!,
          bug: bug.name,
          runs: 300,
          seed: 424242,
          maxFaults: 3,
          properties: [property],
          checkDeterminism: property === 'determinism',
        });
        const counterexample = report.counterexample;
        expect(counterexample, `${bug.name} was not caught by ${property} in 300 runs`).toBeDefined();
        expect(counterexample!.result.violations.length).toBeGreaterThan(0);
        expect(counterexample!.result.violations.every((v) => v.property === property)).toBe(true);
        expect(counterexample!.result.spec.faults.length).toBeLessThanOrEqual(MAX_SHRUNK_FAULTS);
        const schedule = counterexample!.result.spec.schedule;
        expect(schedule.kind === 'choices' ? schedule.choices.length : 0).toBeLessThanOrEqual(MAX_SHRUNK_CHOICES);
      }, SEARCH_TIMEOUT_MS);
    }
  }

  for (const scenario of SCENARIOS) {
    test(`${scenario.name}: the correct pipeline is not flagged by the same search`, async () => {
      const report = await explore(scenario, {
        size: scenario.defaultSize,
        mode: 'exactly-once',
        backend: scenario.backends[0]!,
        bug: undefined,
        runs: 300,
        seed: 424242,
        maxFaults: 3,
        checkDeterminism: true,
      });
      expect(report.counterexample?.result.violations).toBeUndefined();
      expect(report.stats.runs).toBe(300);
      // Crashes are a good part of the faults (the steered rounds spread the rest over every kind and situation).
      expect(report.stats.crashesInjected).toBeGreaterThan(60);
    }, SEARCH_TIMEOUT_MS);
  }

  test('the settings the unaligned-acks-at-input-end bug runs with do not flag the correct runtime', async () => {
    const planted = oddEvenSum.bugs.find((bug) => bug.name === 'unaligned-acks-at-input-end')!;
    const { dropBarriersAfterUnalignedSnapshot, ...settings } = planted.jobOptions!;
    expect(dropBarriersAfterUnalignedSnapshot).toBe(true);
    const control: Scenario = { ...oddEvenSum, bugs: [{ name: 'settings-only', description: 'the planted bug\'s settings without the bug', caughtBy: [], jobOptions: settings }] };
    const report = await explore(control, {
      size: oddEvenSum.defaultSize,
      mode: 'exactly-once',
      backend: 'memory',
      bug: 'settings-only',
      runs: 300,
      seed: 424242,
      maxFaults: 3,
      checkDeterminism: false,
    });
    expect(report.counterexample?.result.violations).toBeUndefined();
  }, SEARCH_TIMEOUT_MS);

  test('at-least-once needs a failover to break exactly-once: its shrunk plan keeps one (a crash, or the restart of a rescale)', async () => {
    const report = await explore(oddEvenSum, {
      size: oddEvenSum.defaultSize,
      mode: 'exactly-once',
      backend: 'memory',
      bug: 'at-least-once-mode',
      runs: 300,
      seed: 7,
      maxFaults: 3,
      properties: ['exactly-once'],
      checkDeterminism: false,
    });
    const faults = report.counterexample!.result.spec.faults;
    expect(faults).toHaveLength(1);
    expect(faults[0]!.kind).toMatch(/^(crash-task|crash-job|rescale)$/);
    expect(report.counterexample!.result.violations.some((v) => v.anomaly === 'duplicate')).toBe(true);
  }, SEARCH_TIMEOUT_MS);
});
