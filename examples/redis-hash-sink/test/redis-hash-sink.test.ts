import { expect, test } from 'vitest';
import { describeScenario, expectBugCaught, expectSuiteOnServices } from 'streamcheck/vitest';
import { redisHashSinkSuite } from '../streamcheck/redis-hash-sink.scenario.ts';

// Every mode and backend the suite declares, under generated crashes and lost notifications.
describeScenario(redisHashSinkSuite, { runs: 50 });

test('the suite catches a sink that increments instead of setting', async () => {
  const failure = await expectBugCaught(redisHashSinkSuite, 'hincrby-count', { runs: 100 });
  expect(failure.replayCommand).toMatch(/^npx streamcheck replay redis-hash-sink:/);
});

// The same sink against a real Redis (CI sets STREAMCHECK_REDIS_URL): crash/restart cycles, cut connections.
const redisUrl = process.env['STREAMCHECK_REDIS_URL'];
test.skipIf(redisUrl === undefined)('exactly-once against a real Redis too', async () => {
  const cycles = await expectSuiteOnServices(redisHashSinkSuite, { redisUrl: redisUrl!, cycles: 4 });
  expect(cycles.every((cycle) => cycle.lost === 0 && cycle.duplicated === 0)).toBe(true);
});
