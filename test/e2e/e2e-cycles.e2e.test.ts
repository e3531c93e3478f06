/**
 * The runtime driving the real connectors in real time: crash/restart cycles against real
 * Kafka and Redis, judged with the same checks as the simulation, and the planted bug
 * "commit in snapshotState" caught on the real broker.
 */
import { describe, expect, test } from 'vitest';
import { runE2eCycles, type E2eOptions } from '../../src/harness/e2e/e2e-cycles.ts';
import { e2ePolicy } from '../../src/harness/e2e/services/index.ts';
import type { RunningServices } from '../../src/harness/e2e/services/types.ts';
import { useServices } from './services-fixture.ts';

const CYCLES_TEST_TIMEOUT_MS = 120_000;
const policy = e2ePolicy();

function options(running: RunningServices, overrides: Partial<E2eOptions> & Pick<E2eOptions, 'scenario'>): E2eOptions {
  return { cycles: 3, seed: 7, recordsPerPartition: 60, services: running, log: (line) => console.log(`[e2e] ${line}`), ...overrides };
}

describe.skipIf(policy === 'off')('crash/restart cycles on real Kafka and Redis', () => {
  const { need } = useServices();

  test('odd-even-sum into Redis: every cycle crashes (one also loses its Redis connections), restarts from its checkpoint, and ends exactly-once', async (ctx) => {
    const cycles = await runE2eCycles(options(need(ctx), { scenario: 'odd-even-sum' }));
    expect(cycles).toHaveLength(3);
    for (const cycle of cycles) {
      expect(cycle.violations).toEqual([]);
      expect(cycle.outcome).toBe('finished');
      expect(cycle.crashes).toBe(1);
      expect(cycle.restores).toBeGreaterThanOrEqual(1);
      expect([cycle.lost, cycle.duplicated, cycle.recordsOut]).toEqual([0, 0, cycle.recordsIn]);
    }
    // The second cycle reached Redis through the in-process proxy, which cut its connections.
    expect(cycles[1]!.connectionsCut).toBeGreaterThanOrEqual(1);
  }, CYCLES_TEST_TIMEOUT_MS);

  test('kafka-2pc: crashes and failing commits, and the read_committed output is exactly-once', async (ctx) => {
    const cycles = await runE2eCycles(options(need(ctx), { scenario: 'kafka-2pc' }));
    for (const cycle of cycles) {
      expect(cycle.violations).toEqual([]);
      expect([cycle.lost, cycle.duplicated, cycle.recordsOut]).toEqual([0, 0, cycle.recordsIn]);
    }
    expect(cycles.reduce((sum, cycle) => sum + cycle.failedCommits, 0)).toBeGreaterThanOrEqual(1);
  }, CYCLES_TEST_TIMEOUT_MS);

  test('the planted bug "commit in snapshotState" is caught on the real broker', async (ctx) => {
    const [cycle] = await runE2eCycles(options(need(ctx), { scenario: 'kafka-2pc', cycles: 1, bug: 'commit-in-snapshot' }));
    expect(cycle!.violations.some((v) => v.property === 'committed-implies-completed' && v.anomaly === 'precommitted read')).toBe(true);
  }, CYCLES_TEST_TIMEOUT_MS);
});
