import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { KafkaTransactionModel, type ModelOutcome } from '../../../model/kafka-transactions.ts';
import { KafkaProtocolError, SimKafkaBroker } from '../../../src/connectors/sim/kafka-broker.ts';

const TOPIC = 't';
const TIMEOUT_MS = 1_000;
const IDS = ['a', 'b'];

interface Real {
  broker: SimKafkaBroker;
  nowMs: number;
  /** The handle each transactional id's latest init returned, and the one before (a fenced zombie). */
  handles: Map<string, { producerId: number; epoch: number }[]>;
}
type Model = { model: KafkaTransactionModel; zombies: Map<string, number[]> };

function outcomeOf(action: () => void): ModelOutcome {
  try {
    action();
    return 'ok';
  } catch (error) {
    if (error instanceof KafkaProtocolError && (error.code === 'INVALID_PRODUCER_EPOCH' || error.code === 'INVALID_TXN_STATE')) return error.code;
    throw error;
  }
}

class Init implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string) {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const epoch = m.model.init(this.id);
    const handle = r.broker.initProducerId(this.id, TIMEOUT_MS, r.nowMs);
    expect(handle.epoch).toBe(epoch);
    (r.handles.get(this.id) ?? r.handles.set(this.id, []).get(this.id)!).push(handle);
    (m.zombies.get(this.id) ?? m.zombies.set(this.id, []).get(this.id)!).push(epoch);
  }
  toString = () => `init(${this.id})`;
}

/** `generation` 0 uses the latest handle, 1 the one before it (a zombie producer). */
class Send implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string, readonly generation: number, readonly partition: number, readonly value: string) {}
  check = (m: Readonly<Model>) => (m.zombies.get(this.id)?.length ?? 0) > this.generation;
  async run(m: Model, r: Real): Promise<void> {
    const handles = r.handles.get(this.id)!;
    const handle = handles[handles.length - 1 - this.generation]!;
    const expected = m.model.send(this.id, handle.epoch, this.partition, this.value);
    expect(outcomeOf(() => r.broker.produce(this.id, handle.producerId, handle.epoch, TOPIC, this.partition, [{ key: this.id, value: this.value }], r.nowMs))).toBe(expected);
  }
  toString = () => `send(${this.id}${this.generation ? ' zombie' : ''}, p${this.partition}, ${this.value})`;
}

class End implements fc.AsyncCommand<Model, Real> {
  constructor(readonly id: string, readonly generation: number, readonly commit: boolean) {}
  check = (m: Readonly<Model>) => (m.zombies.get(this.id)?.length ?? 0) > this.generation;
  async run(m: Model, r: Real): Promise<void> {
    const handles = r.handles.get(this.id)!;
    const handle = handles[handles.length - 1 - this.generation]!;
    const expected = m.model.end(this.id, handle.epoch, this.commit);
    expect(outcomeOf(() => r.broker.endTransaction(this.id, handle.producerId, handle.epoch, this.commit, r.nowMs))).toBe(expected);
  }
  toString = () => `${this.commit ? 'commit' : 'abort'}(${this.id}${this.generation ? ' zombie' : ''})`;
}

class Timeout implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    m.model.expireOpen();
    r.nowMs += TIMEOUT_MS + 1;
    r.broker.advanceTimeTo(r.nowMs);
    // The broker bumped the epoch of every timed-out transaction: their producers are fenced
    // (no client holds the bumped epoch; a new one gets a newer one from init).
  }
  toString = () => 'timeout';
}

class Read implements fc.AsyncCommand<Model, Real> {
  constructor(readonly partition: number, readonly isolation: 'read_committed' | 'read_uncommitted') {}
  check = () => true;
  async run(m: Model, r: Real): Promise<void> {
    const actual = r.broker.fetch(TOPIC, this.partition, 0, this.isolation).map((record) => record.value);
    expect(actual).toEqual(m.model.read(this.partition, this.isolation));
  }
  toString = () => `read(p${this.partition}, ${this.isolation})`;
}

function modelProperty(makeBroker: () => SimKafkaBroker) {
  const id = fc.constantFrom(...IDS);
  const generation = fc.constantFrom(0, 0, 0, 1);
  const partition = fc.constantFrom(0, 1);
  const commands = [
    id.map((i) => new Init(i)),
    fc.tuple(id, generation, partition, fc.string({ minLength: 1, maxLength: 3 })).map(([i, g, p, v]) => new Send(i, g, p, v)),
    fc.tuple(id, generation, fc.boolean()).map(([i, g, c]) => new End(i, g, c)),
    fc.constant(new Timeout()),
    fc.tuple(partition, fc.constantFrom('read_committed' as const, 'read_uncommitted' as const)).map(([p, iso]) => new Read(p, iso)),
  ];
  return fc.asyncProperty(fc.commands(commands, { maxCommands: 40, size: 'large' }), async (cmds) => {
    const broker = makeBroker();
    broker.createTopic(TOPIC, 2);
    await fc.asyncModelRun(() => ({ model: { model: new KafkaTransactionModel(), zombies: new Map() }, real: { broker, nowMs: 0, handles: new Map() } }), cmds);
  });
}

/** PLANTED BUG: a broker whose read_committed ignores open transactions (no last stable offset). */
class BrokerWithoutLastStableOffset extends SimKafkaBroker {
  override lastStableOffset(topic: string, partition: number): number {
    return this.highWatermark(topic, partition);
  }
}

/** PLANTED BUG: a broker that rejects a retried commit (recoverAndCommit would then fail). */
class BrokerWithNonIdempotentCommit extends SimKafkaBroker {
  override endTransaction(transactionalId: string, producerId: number, epoch: number, commit: boolean, nowMs: number): void {
    const before = this.listTransactions().find((t) => t.transactionalId === transactionalId);
    if (commit && before?.state === 'CompleteCommit' && before.epoch === epoch) throw new KafkaProtocolError('INVALID_TXN_STATE', 'already committed');
    super.endTransaction(transactionalId, producerId, epoch, commit, nowMs);
  }
}

describe('SimKafkaBroker against the transaction model (fc.commands)', () => {
  test('every command sequence agrees with the model', async () => {
    await fc.assert(modelProperty(() => new SimKafkaBroker()), { numRuns: 2_000, seed: 31 });
  });

  for (const [name, make] of [
    ['no last stable offset', () => new BrokerWithoutLastStableOffset()],
    ['non-idempotent commit', () => new BrokerWithNonIdempotentCommit()],
  ] as const) {
    test(`the model catches a broker with a planted bug: ${name}`, async () => {
      const details = await fc.check(modelProperty(make), { numRuns: 5_000, seed: 31 });
      expect(details.failed).toBe(true);
    });
  }
});
