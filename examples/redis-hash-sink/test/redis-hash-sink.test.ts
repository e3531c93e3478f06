import { expect, test } from 'vitest';
import { describeScenario, expectBugCaught } from 'streamcheck/vitest';
import { redisHashSinkSuite } from '../streamcheck/redis-hash-sink.scenario.ts';

// Every mode and backend the suite declares, under generated crashes and lost notifications.
describeScenario(redisHashSinkSuite, { runs: 50 });

test('the suite catches a sink that increments instead of setting', async () => {
  const failure = await expectBugCaught(redisHashSinkSuite, 'hincrby-count', { runs: 100 });
  expect(failure.replayCommand).toMatch(/^npx streamcheck replay redis-hash-sink:/);
});
