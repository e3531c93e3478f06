import { SCENARIOS } from '../../../scenarios/index.ts';
import { explore } from '../../../src/harness/explore.ts';
import type { CaseResult } from '../../../src/harness/run-case.ts';
import type { Scenario } from '../../../src/harness/scenario.ts';
import { SELFTEST_MAX_RUNS, SELFTEST_SEED } from '../../../src/harness/selftest.ts';

export interface PlantedCounterexample {
  readonly scenario: Scenario;
  readonly bug: string;
  readonly property: string;
  /** The shrunk counterexample, with its trace. */
  readonly result: CaseResult;
}

let cached: Promise<PlantedCounterexample[]> | undefined;

/**
 * The shrunk counterexample of every planted bug of `selftest`, found the way selftest
 * finds it (one property at a time, the same seed and run budget). Cached per test file.
 */
export function plantedCounterexamples(): Promise<PlantedCounterexample[]> {
  cached ??= (async () => {
    const found: PlantedCounterexample[] = [];
    for (const scenario of SCENARIOS) {
      for (const bug of scenario.bugs) {
        for (const property of bug.caughtBy) {
          const report = await explore(scenario, {
            size: scenario.defaultSize,
            mode: 'exactly-once',
            backend: scenario.backends[0] ?? 'memory',
            bug: bug.name,
            runs: SELFTEST_MAX_RUNS,
            seed: SELFTEST_SEED,
            maxFaults: 3,
            properties: [property],
            checkDeterminism: property === 'determinism',
          });
          if (report.counterexample === undefined) throw new Error(`planted bug ${scenario.name}/${bug.name} not caught by ${property}: selftest would fail too`);
          found.push({ scenario, bug: bug.name, property, result: report.counterexample.result });
        }
      }
    }
    return found;
  })();
  return cached;
}
