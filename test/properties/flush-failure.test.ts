import { describe, expect, test } from 'vitest';
import { redisSinkSuite } from '../../scenarios/connector-suites.ts';
import { explore } from '../../src/harness/explore.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';

/** 300 generated runs plus shrinking, on a loaded 2-core machine. */
const SEARCH_TIMEOUT_MS = 180_000;

/** The buffered Redis sink calls Redis only when it flushes: the first call a fail-call armed at step 0 meets is checkpoint 1's flush. */
const flushFailsAtCheckpoint = (bug: string | undefined): CaseSpec => ({
  scenario: redisSinkSuite.name,
  size: redisSinkSuite.defaultSize,
  mode: 'exactly-once',
  backend: 'memory',
  bug,
  faults: [{ kind: 'fail-call', atStep: 0, times: 1 }],
  schedule: { kind: 'choices', choices: [], tailSeed: null },
});

describe('a sink flush that fails at a checkpoint', () => {
  test('fails the task in snapshotState: the checkpoint is aborted by the failover, the replay writes everything', async () => {
    const result = await runCase(redisSinkSuite, flushFailsAtCheckpoint(undefined));
    expect(result.observations.failovers.map((failover) => failover.cause)).toEqual([expect.stringMatching(/failed in snapshotState\(1\): redis\.mset.*fail-call fault; not applied/)]);
    expect(result.observations.checkpointEvents.find((event) => event.checkpointId === 1 && event.event !== 'triggered')).toMatchObject({ event: 'aborted', cause: 'failover' });
    expect(result.observations.outcome).toBe('finished');
    expect(result.violations).toEqual([]);
  });

  test('a sink that swallows the failed flush and acknowledges the checkpoint is caught at that checkpoint', async () => {
    const result = await runCase(redisSinkSuite, flushFailsAtCheckpoint('flush-error-swallowed'));
    expect(result.observations.failovers).toEqual([]);
    expect(result.violations.some((v) => v.property === 'exactly-once' && /when checkpoint 1 completed, key .* held \(absent\)/.test(v.message))).toBe(true);
  });

  test('generated plans find the swallowed flush and shrink it to one call fault', async () => {
    const report = await explore(redisSinkSuite, {
      size: redisSinkSuite.defaultSize,
      mode: 'exactly-once',
      backend: 'memory',
      bug: 'flush-error-swallowed',
      runs: 300,
      seed: 424242,
      maxFaults: 3,
      properties: ['exactly-once'],
      checkDeterminism: false,
    });
    const faults = report.counterexample?.result.spec.faults;
    expect(faults, 'flush-error-swallowed was not caught in 300 runs').toBeDefined();
    expect(faults).toHaveLength(1);
    expect(['fail-call', 'timeout-call', 'lose-reply']).toContain(faults![0]!.kind);
  }, SEARCH_TIMEOUT_MS);
});
