import { expect, test } from 'vitest';
import { defineScenario } from '../../src/harness/define-scenario.ts';
import { runCase } from '../../src/harness/run-case.ts';
import { expectedUnionSums, KeyedStore, unionSum } from '../runtime/event-time-jobs.ts';

test('defineScenario accepts a job graph: tasks are counted from its vertices and the job runs', async () => {
  let store = new KeyedStore<{ key: string | number; value: number }>((r) => r.key);
  const scenario = defineScenario({
    name: 'union-sum',
    module: import.meta.url,
    build: ({ size }) => {
      store = new KeyedStore<{ key: string | number; value: number }>((r) => r.key);
      return {
        pipeline: unionSum(store, size.recordsPerPartition),
        judge: () => (JSON.stringify(store.sorted()) === JSON.stringify(expectedUnionSums(size.recordsPerPartition)) ? [] : [{ property: 'exactly-once', anomaly: 'wrong sums', message: JSON.stringify(store.sorted()) }]),
      };
    },
  });
  const size = { partitions: 2, recordsPerPartition: 20 };
  expect(scenario.taskCount(size)).toBe(8);
  const result = await runCase(scenario, { scenario: 'union-sum', size, mode: 'exactly-once', backend: 'fs', bug: undefined, faults: [{ kind: 'crash-task', atStep: 60, task: 6 }], schedule: { kind: 'seed', seed: 4 } });
  expect(result.violations).toEqual([]);
  expect(result.observations.outcome).toBe('finished');
  expect(result.observations.failovers).toHaveLength(1);
});
