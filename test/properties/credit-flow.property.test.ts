import { fc, test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { keyedCounts } from '../../scenarios/keyed-counts.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { regularJoinScenario } from '../../scenarios/regular-join.ts';
import { caseArbitrary } from '../../src/harness/explore.ts';
import { jobOptionsFor, runCase } from '../../src/harness/run-case.ts';
import type { Scenario } from '../../src/harness/scenario.ts';

/** Network buffers down to the fewest that still move data: one exclusive buffer, no floating ones, no output pool. */
const buffersArbitrary = fc.record({
  exclusiveBuffersPerChannel: fc.integer({ min: 1, max: 3 }),
  floatingBuffersPerGate: fc.integer({ min: 0, max: 4 }),
  outputBuffersPerChannel: fc.integer({ min: 0, max: 2 }),
});

/**
 * Credit-based flow control under generated buffer settings, fault plans and schedules: no
 * receiver ever holds more than its buffers (the flow-control invariant), nothing deadlocks
 * (the job finishes: liveness), and every other invariant holds. Three shapes of input gate:
 * two channels into each keyed subtask (odd-even-sum, also unaligned), a keyed job with
 * sources of their own (keyed-counts), and a two-input join (one gate per input edge).
 */
describe('credit-based flow control under generated buffers', () => {
  const cases: [Scenario, 'exactly-once' | 'unaligned'][] = [
    [oddEvenSum, 'exactly-once'],
    [oddEvenSum, 'unaligned'],
    [keyedCounts, 'exactly-once'],
    [regularJoinScenario, 'exactly-once'],
  ];
  for (const [scenario, mode] of cases) {
    const base = { scenario: scenario.name, size: scenario.defaultSize, mode, backend: scenario.backends[0]!, bug: undefined };
    test.prop([caseArbitrary(scenario, base, 2), buffersArbitrary], { numRuns: 100, seed: 41 })(`${scenario.name} (${mode}): every invariant holds and the job finishes`, async (drawn, buffers) => {
      // The buffers drawn here, not bounded queues the configuration swarm may have drawn.
      const { channelCapacity: _boundedQueues, ...spec } = drawn;
      const withBuffers: Scenario = { ...scenario, jobOptions: { ...scenario.jobOptions, ...buffers } };
      expect(jobOptionsFor(withBuffers, spec)).toMatchObject(buffers);
      const result = await runCase(withBuffers, spec);
      expect(result.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
      expect(result.observations.outcome).toBe('finished');
    });
  }
});
