/**
 * The connector suites on real services: the built-in Redis sink's suite against a real
 * Redis, crash/restart cycles with cut connections, judged by the simulation's oracles; and
 * its planted bug caught there too.
 */
import { describe, expect, test } from 'vitest';
import { runSuiteOnServices } from '../../src/harness/e2e/suite-cycles.ts';
import { e2ePolicy } from '../../src/harness/e2e/services/index.ts';
import { kafkaSinkSuite, redisSinkSuite } from '../../scenarios/connector-suites.ts';
import { useServices } from './services-fixture.ts';

const CYCLES_TEST_TIMEOUT_MS = 180_000;
const CYCLES_TO_CATCH_ACK_BEFORE_FLUSH = 30;

describe.skipIf(e2ePolicy() === 'off')('connector suites against real Redis', () => {
  const { need } = useServices();

  test('the Redis sink suite: 4 cycles, each with a crash (two with cut connections), nothing lost or duplicated', async (ctx) => {
    const cycles = await runSuiteOnServices(redisSinkSuite, { services: need(ctx), cycles: 4, seed: 11, log: (line) => console.log(`[suite-e2e] ${line}`) });
    expect(cycles).toHaveLength(4);
    for (const cycle of cycles) {
      expect(cycle.violations).toEqual([]);
      expect(cycle.outcome).toBe('finished');
      expect(cycle.crashes).toBe(1);
      expect([cycle.lost, cycle.duplicated, cycle.keysHeld]).toEqual([0, 0, 8]);
    }
    expect(cycles[1]!.connectionsCut + cycles[3]!.connectionsCut).toBeGreaterThanOrEqual(1);
  }, CYCLES_TEST_TIMEOUT_MS);

  test('the planted bug "acknowledge before flush" is caught on the real Redis, naming the seed', async (ctx) => {
    // In real time the bug shows only when a checkpoint's completion is judged before the
    // sink's late flush reached Redis: about one cycle in four here (seeds 1-7, 3 cycles each),
    // so it takes several. A cycle of this suite takes 0.1 to 0.2 s; 30 miss it all with a
    // chance of about 0.75^30, under 0.02 %.
    const lines: string[] = [];
    const cycles = await runSuiteOnServices(redisSinkSuite, { services: need(ctx), cycles: CYCLES_TO_CATCH_ACK_BEFORE_FLUSH, seed: 3, bug: 'ack-before-flush', log: (line) => lines.push(line) });
    const caught = cycles.findIndex((cycle) => cycle.violations.some((v) => v.anomaly === 'lost write'));
    expect(caught).toBeGreaterThanOrEqual(0);
    expect(lines.join('\n')).toMatch(new RegExp(`fault placement: --seed 3, cycle ${caught + 1}\\b`));
  }, CYCLES_TEST_TIMEOUT_MS);

  test('the Kafka two-phase-commit sink suite on a real broker: exactly-once, and commit-in-snapshot caught', async (ctx) => {
    const services = need(ctx);
    const cycles = await runSuiteOnServices(kafkaSinkSuite, { services, cycles: 2, seed: 5, size: { recordsPerPartition: 150 } });
    for (const cycle of cycles) {
      expect(cycle.violations).toEqual([]);
      expect([cycle.lost, cycle.duplicated, cycle.keysHeld]).toEqual([0, 0, 8]);
    }
    const [buggy] = await runSuiteOnServices(kafkaSinkSuite, { services, cycles: 1, seed: 5, bug: 'commit-in-snapshot', size: { recordsPerPartition: 150 } });
    expect(buggy!.violations.some((v) => v.property === 'committed-implies-completed')).toBe(true);
  }, CYCLES_TEST_TIMEOUT_MS);
});
