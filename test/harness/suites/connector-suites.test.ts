import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { checkScenario, defineScenario, sinkSuite, type Scenario } from '../../../src/index.ts';
import { describeScenario, expectBugCaught, expectScenarioToHold, StreamcheckFailure } from '../../../src/vitest.ts';
import { CONNECTOR_SUITES } from '../../../scenarios/connector-suites.ts';
import { hashSinkSuite } from '../../fixtures/user-scenarios/hash-sink.scenario.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';

// Property runs on a loaded 2-core machine: generous budgets, never close to a timeout.
const SLOW_TEST_MS = 300_000;
const scratch = mkdtempSync(join(tmpdir(), 'streamcheck-suites-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('the built-in connectors pass their connector suites', () => {
  for (const suite of CONNECTOR_SUITES) {
    test(`${suite.name}: every invariant holds under generated faults`, async () => {
      const result = await checkScenario(suite, { runs: 30, seed: 7 });
      expect(result.failure?.report).toBeUndefined();
      expect(result.passed).toBe(true);
      expect(result.stats.runs).toBe(30 * result.configurations.length);
      expect(result.stats.crashesInjected).toBeGreaterThan(0);
    }, SLOW_TEST_MS);
  }
});

describe('the built-in connectors hold when their standard job is rescaled up and down on restore', () => {
  for (const suite of CONNECTOR_SUITES) {
    test(`${suite.name}: rescaled up by 1, down by 1, and up then down, after a checkpoint, and up or down before any`, async () => {
      const base: CaseSpec = { scenario: suite.name, size: suite.defaultSize, mode: 'exactly-once', backend: suite.backends[0]!, bug: undefined, faults: [], schedule: { kind: 'seed', seed: 11 }, checkpointIntervalMs: 30 };
      // Each rescale just after a checkpoint completed in the fault-free run, so that the restore has state to redistribute.
      const completed = (await runCase(suite, base)).observations.checkpoints.filter((c) => c.outcome === 'completed').map((c) => c.endedAtStep);
      expect(completed.length).toBeGreaterThan(1);
      const [first, second] = [completed[0]! + 2, completed[1]! + 2];
      for (const faults of [[{ kind: 'rescale', atStep: first, by: 1 }], [{ kind: 'rescale', atStep: first, by: -1 }], [{ kind: 'rescale', atStep: first, by: 2 }, { kind: 'rescale', atStep: second + 60, by: -2 }]] as const) {
        const spec: CaseSpec = { ...base, faults };
        const result = await runCase(suite, spec);
        expect(result.violations, JSON.stringify(faults)).toEqual([]);
        expect(result.observations.outcome).toBe('finished');
        expect((result.observations.rescales ?? []).length, JSON.stringify(faults)).toBeGreaterThan(0);
      }
      // Rescaled before any checkpoint (at the first step): the job runs from scratch on the new layout, and the oracles follow it.
      for (const by of [1, -1]) {
        const result = await runCase(suite, { ...base, faults: [{ kind: 'rescale', atStep: 0, by }] });
        expect(result.violations, `rescale by ${by} at step 0`).toEqual([]);
        expect(result.observations.outcome).toBe('finished');
        expect(result.observations.restores.every((restore) => restore.checkpointId === undefined)).toBe(true);
      }
    }, SLOW_TEST_MS);
  }
});

describe('the built-in connectors hold when their standard job\'s source is rescaled (its splits reassigned) on restore', () => {
  for (const suite of CONNECTOR_SUITES) {
    test(`${suite.name}: the source rescaled down by 1 after a checkpoint, and back up after the next; the source positions hold by split`, async () => {
      const base: CaseSpec = { scenario: suite.name, size: suite.defaultSize, mode: 'exactly-once', backend: suite.backends[0]!, bug: undefined, faults: [], schedule: { kind: 'seed', seed: 11 }, checkpointIntervalMs: 30 };
      const completed = (await runCase(suite, base)).observations.checkpoints.filter((c) => c.outcome === 'completed').map((c) => c.endedAtStep);
      const [first, second] = [completed[0]! + 2, completed[1]! + 2];
      for (const faults of [[{ kind: 'rescale', atStep: first, by: -1, vertex: 'source' }], [{ kind: 'rescale', atStep: first, by: -1, vertex: 'source' }, { kind: 'rescale', atStep: second + 60, by: 1, vertex: 'source' }]] as const) {
        const result = await runCase(suite, { ...base, faults });
        expect(result.violations, JSON.stringify(faults)).toEqual([]);
        expect(result.observations.outcome).toBe('finished');
        const rescales = result.observations.rescales ?? [];
        expect(rescales.map((r) => [r.fromParallelism, r.toParallelism]), JSON.stringify(faults)).toEqual(faults.length === 1 ? [[2, 1]] : [[2, 1], [1, 2]]);
        expect(rescales.every((r) => r.splits!.moves.length === suite.defaultSize.partitions)).toBe(true);
      }
    }, SLOW_TEST_MS);
  }
});

describe('every planted bug of the suites is caught and shrunk to at most 2 faults', () => {
  for (const suite of CONNECTOR_SUITES) {
    for (const bug of suite.bugs) {
      test(`${suite.name} / ${bug.name}`, async () => {
        const failure = await expectBugCaught(suite, bug.name, { runs: 200, modes: ['exactly-once'], backends: [suite.backends[0]!], maxShrunkFaults: 2 });
        const properties = failure.counterexample.result.violations.map((v) => v.property);
        expect(properties.some((p) => bug.caughtBy.includes(p))).toBe(true);
        expect(failure.replayCommand).toMatch(new RegExp(`^npx streamcheck replay ${suite.name}:`));
      }, SLOW_TEST_MS);
    }
  }
});

describe("a user's sink through streamcheck/vitest", () => {
  describeScenario(hashSinkSuite, { runs: 15, failureFile: false });

  test('a buggy variant fails with the shrunk plan and the replay command, and is kept for the next run', async () => {
    const failureFile = join(scratch, 'failures.json');
    const buggy: Scenario = sinkSuite({
      name: 'user-hash-sink-lazy',
      semantic: 'exactly-once',
      writes: 'overwrite',
      external: (context) => {
        const store = context.env.service('hash-store', new Map<string, string>());
        return {
          createWriter: ({ subtaskIndex }) => {
            const client = store.connect(`sink-${subtaskIndex}`);
            const buffer = new Map<string, string>();
            return {
              write: (record) => {
                buffer.set(record.key, record.value);
              },
              // BUG: flushes only at the end, never on a checkpoint.
              finish: async () => {
                for (const [key, value] of buffer) await client.set(key, value);
                buffer.clear();
              },
            };
          },
          readBack: () => store.state,
        };
      },
    });
    const error = await expectScenarioToHold(buggy, { runs: 50, failureFile }).then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(StreamcheckFailure);
    const message = (error as StreamcheckFailure).message;
    expect(message).toMatch(/FAIL exactly-once violated in user-hash-sink-lazy/);
    expect(message).toMatch(/acknowledged before it was flushed/);
    expect(message).toMatch(/Fault plan \(\d faults?\)/);
    expect(message).toContain('Replay: npx streamcheck replay user-hash-sink-lazy:');
    const kept = JSON.parse(readFileSync(failureFile, 'utf8')) as Record<string, string[]>;
    expect(kept['user-hash-sink-lazy']).toEqual([(error as StreamcheckFailure).token]);
    // The next run replays the kept case first, and says so.
    await expect(expectScenarioToHold(buggy, { runs: 5, failureFile })).rejects.toThrow(/a case that failed before still fails/);
  }, SLOW_TEST_MS);

  test('a kept case that passes now is removed from the failure file', async () => {
    const failureFile = join(scratch, 'passing-failures.json');
    const result = await checkScenario(hashSinkSuite, { runs: 1, modes: ['exactly-once'], backends: ['memory'] });
    expect(result.passed).toBe(true);
    const { FailureStore } = await import('../../../src/harness/failure-store.ts');
    const { encodeCase } = await import('../../../src/harness/case-token.ts');
    const store = new FailureStore(failureFile);
    const token = encodeCase({ scenario: hashSinkSuite.name, size: hashSinkSuite.defaultSize, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'seed', seed: 3 } });
    store.add(hashSinkSuite.name, token);
    await expectScenarioToHold(hashSinkSuite, { runs: 3, modes: ['exactly-once'], backends: ['memory'], failureFile });
    expect(store.tokensFor(hashSinkSuite.name)).toEqual([]);
  }, SLOW_TEST_MS);

  test("the user's planted bug is caught", async () => {
    const failure = await expectBugCaught(hashSinkSuite, 'lazy-flush', { runs: 100 });
    expect(failure.counterexample.result.violations[0]!.anomaly).toBe('lost write');
  }, SLOW_TEST_MS);
});

describe('declarations are checked and name the call and the field', () => {
  test('defineScenario', () => {
    expect(() => defineScenario({ name: 'bad name!', build: () => ({ pipeline: undefined as never }) })).toThrow(/^defineScenario: name must be/);
    expect(() => defineScenario({ name: 'x', size: { partitions: 0 }, build: () => ({ pipeline: undefined as never }) })).toThrow(/defineScenario\(x\): size.partitions must be an integer in \[1, 16\]/);
    expect(() => defineScenario({ name: 'x', faults: ['meteor' as never], build: () => ({ pipeline: undefined as never }) })).toThrow(/unknown fault kind "meteor"/);
    expect(() => defineScenario({ name: 'x', bugs: [{ name: 'b', description: 'd', caughtBy: [] }], build: () => ({ pipeline: undefined as never }) })).toThrow(/must name the properties that catch it/);
  });

  test('the suites', () => {
    const external = () => ({ createWriter: () => ({ write: () => {} }), readBack: () => ({}) });
    expect(() => sinkSuite({ name: 's', semantic: 'maybe-once' as never, writes: 'overwrite', external })).toThrow(/sinkSuite\(s\): semantic must be/);
    expect(() => sinkSuite({ name: 's', semantic: 'exactly-once', writes: 'upsert' as never, external })).toThrow(/writes must be 'overwrite' or 'append'/);
    expect(() => sinkSuite({ name: 's', semantic: 'exactly-once', writes: 'append', data: { keysPerPartition: 0 }, external })).toThrow(/data.keysPerPartition must be an integer/);
  });

  test('the task count comes from the built job, not a declaration', async () => {
    const { taskCountOf } = await import('../../../src/harness/define-scenario.ts');
    expect(hashSinkSuite.taskCount({ partitions: 3, recordsPerPartition: 5 })).toBe(5);
    expect(taskCountOf(hashSinkSuite.build, { partitions: 3, recordsPerPartition: 5 })).toBe(5);
  });
});
