import { describe, expect, test } from 'vitest';
import { kafka2pc } from '../../../scenarios/kafka-2pc.ts';
import { oddEvenSum } from '../../../scenarios/odd-even-sum.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';
import { Channel, ElementKind } from '../../../src/runtime/channel.ts';

const SLOW_TEST_MS = 120_000;

/**
 * Trace hashes and step counts of the step loop before it stopped allocating (element objects
 * in channels, strings on timer and I/O steps), measured on that code: the lean loop must
 * run the very same steps, aligned and unaligned, with crashes and restores.
 */
const HASHES_BEFORE: readonly (readonly [string, number, string, number])[] = [
  ['odd-even-sum', 0, 'b4d4c7cf', 163],
  ['odd-even-sum', 1, 'cd3325fc', 284],
  ['odd-even-sum', 2, 'd84723c1', 166],
  ['odd-even-sum', 3, '109616bf', 284],
  ['odd-even-sum', 4, '7d08f48b', 165],
  ['odd-even-sum', 5, 'ff218bd9', 287],
  ['odd-even-sum', 6, '567e7b19', 166],
  ['odd-even-sum', 7, '62cebe45', 286],
  ['odd-even-sum', 8, '34e5064b', 166],
  ['odd-even-sum', 9, 'a104f05c', 285],
  ['odd-even-sum', 10, 'cfad49b0', 163],
  ['odd-even-sum', 11, '75198563', 305],
  ['kafka-2pc', 0, '02e12ffb', 181],
  ['kafka-2pc', 1, 'faa4a27a', 306],
  ['kafka-2pc', 2, '9846a609', 182],
  ['kafka-2pc', 3, '4e5f9420', 304],
  ['kafka-2pc', 4, 'ac7a2063', 181],
  ['kafka-2pc', 5, 'fe3e849d', 306],
  ['kafka-2pc', 6, '45648450', 181],
  ['kafka-2pc', 7, '06de2cf4', 307],
  ['kafka-2pc', 8, '7c636fc6', 183],
  ['kafka-2pc', 9, '6020746c', 305],
  ['kafka-2pc', 10, 'b3c63626', 179],
  ['kafka-2pc', 11, '87ac38e7', 325],
];

describe('the allocation-free step loop keeps its meaning', () => {
  test('a record pushed with pushRecord and taken with takeNext is the same record push/take carry, in order with barriers', () => {
    const channel = new Channel(0, 0, 1, 0, 4);
    channel.pushRecord('k', { n: 1 });
    channel.push({ kind: ElementKind.Barrier, checkpointId: 7 });
    channel.pushRecord(undefined, 'plain');
    expect(channel.inFlight()).toEqual([{ kind: ElementKind.Record, key: 'k', value: { n: 1 } }, { kind: ElementKind.Barrier, checkpointId: 7 }, { kind: ElementKind.Record, key: undefined, value: 'plain' }]);
    expect(channel.barrierPositions.get(7)).toBe(1);
    expect(channel.takeNext()).toBe(ElementKind.Record);
    expect([channel.takenKey, channel.takenValue]).toEqual(['k', { n: 1 }]);
    expect(channel.takeNext()).toBe(ElementKind.Barrier);
    expect(channel.takenValue).toBe(7);
    expect(channel.take()).toEqual({ kind: ElementKind.Record, key: undefined, value: 'plain' });
    expect(channel.recordsTaken).toBe(2);
    // Wrap around the ring several times: slots are reused, never confused.
    for (let i = 0; i < 20; i++) {
      channel.pushRecord(i, i * 10);
      expect(channel.takeNext()).toBe(ElementKind.Record);
      expect([channel.takenKey, channel.takenValue]).toEqual([i, i * 10]);
    }
  });

  test('an unaligned barrier overtakes records stored in the parallel arrays, keys and values moving with them', () => {
    const channel = new Channel(0, 0, 1, 0, 4);
    channel.pushRecord('a', 1);
    channel.pushRecord('b', 2);
    channel.pushFront({ kind: ElementKind.Barrier, checkpointId: 3 });
    expect(channel.inFlight()).toEqual([{ kind: ElementKind.Barrier, checkpointId: 3 }, { kind: ElementKind.Record, key: 'a', value: 1 }, { kind: ElementKind.Record, key: 'b', value: 2 }]);
  });

  test('the same trace hashes and steps as the loop that allocated', async () => {
    const scenarios = { [oddEvenSum.name]: oddEvenSum, [kafka2pc.name]: kafka2pc };
    const actual: (readonly [string, number, string, number])[] = [];
    for (const [name, seed] of HASHES_BEFORE) {
      const scenario = scenarios[name]!;
      const spec: CaseSpec = {
        scenario: name, size: { partitions: 2, recordsPerPartition: 30 }, mode: seed % 3 === 0 ? 'exactly-once' : 'unaligned', backend: scenario.backends[0]!, bug: undefined,
        faults: seed % 2 ? [{ kind: 'crash-task', atStep: 40 + seed * 9, task: 1 }, { kind: 'crash-job', atStep: 120 }] : [], schedule: { kind: 'seed', seed },
      };
      const result = await runCase(scenario, spec);
      actual.push([name, seed, result.observations.traceHash, result.observations.steps]);
    }
    expect(actual).toEqual(HASHES_BEFORE);
  }, SLOW_TEST_MS);

  test('timer and I/O steps hash the same whether or not the trace lines are kept (they are built only when kept)', async () => {
    for (const [scenario, backend] of [[oddEvenSum, 'memory'], [kafka2pc, kafka2pc.backends[0]!]] as const) {
      for (let seed = 0; seed < 4; seed++) {
        const spec: CaseSpec = { scenario: scenario.name, size: { partitions: 2, recordsPerPartition: 20 }, mode: 'exactly-once', backend, bug: undefined, faults: [{ kind: 'crash-task', atStep: 30 + seed * 7, task: 1 }], schedule: { kind: 'seed', seed } };
        const kept = await runCase(scenario, spec, { keepTrace: true });
        const hashed = await runCase(scenario, spec);
        expect(hashed.observations.traceHash).toBe(kept.observations.traceHash);
        expect(kept.trace.some((entry) => /^io .+ done$/.test(entry.event)) || kept.trace.some((entry) => /^timer /.test(entry.event))).toBe(true);
      }
    }
  }, SLOW_TEST_MS);
});
