import { expect, test } from 'vitest';
import { describeScenario, expectBugCaught } from 'streamcheck/vitest';
import { arraySourceSuite } from '../streamcheck/array-source.scenario.ts';

describeScenario(arraySourceSuite, { runs: 50 });

test('the suite catches a source that restores one past its offset', async () => {
  const failure = await expectBugCaught(arraySourceSuite, 'restore-past-offset', { runs: 200 });
  expect(failure.counterexample.result.violations.map((v) => v.property)).toContain('source-positions');
});
