import { expect, test } from 'vitest';
import { describeScenario, expectBugCaught } from 'streamcheck/vitest';
import { txnStoreSuite } from '../streamcheck/txn-store.scenario.ts';

describeScenario(txnStoreSuite, { runs: 50 });

test('the suite catches a sink that commits before its checkpoint completed', async () => {
  const failure = await expectBugCaught(txnStoreSuite, 'commit-in-snapshot', { runs: 100 });
  expect(failure.counterexample.result.violations[0]!.property).toBe('committed-implies-completed');
});
