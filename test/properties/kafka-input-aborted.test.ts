import { afterEach, describe, expect, test, vi } from 'vitest';
import { kafka2pc } from '../../scenarios/kafka-2pc.ts';
import { SimKafkaClients } from '../../src/connectors/sim/kafka-clients.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';

/**
 * The kafka-2pc input topic holds an aborted transaction between two committed ones, so the
 * source's read_committed isolation is exercised on every run: reading it uncommitted
 * counts the aborted records, and exactly-once says so.
 */
const spec: CaseSpec = { scenario: 'kafka-2pc', size: kafka2pc.defaultSize, mode: 'exactly-once', backend: 'fs', bug: undefined, faults: [], schedule: { kind: 'seed', seed: 1 } };

describe('aborted transactions in the input topic', () => {
  afterEach(() => vi.restoreAllMocks());

  test('read_committed skips them', async () => {
    expect((await runCase(kafka2pc, spec)).violations).toEqual([]);
  });

  test('a source reading read_uncommitted counts them, and exactly-once catches it', async () => {
    const read = SimKafkaClients.prototype.read;
    vi.spyOn(SimKafkaClients.prototype, 'read').mockImplementation(function (this: SimKafkaClients, topic, partition, offset) {
      return read.call(this, topic, partition, offset, 'read_uncommitted');
    });
    const violations = (await runCase(kafka2pc, spec)).violations;
    expect(violations.filter((v) => v.property === 'exactly-once').map((v) => v.message).join('\n')).toMatch(/1000001/);
  });
});
