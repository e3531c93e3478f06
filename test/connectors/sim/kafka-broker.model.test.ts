import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { KafkaTransactionModel, type ModelIsolation, type ModelOutcome } from '../../../model/kafka-transactions.ts';
import { KafkaProtocolError, SimKafkaBroker, type InitProducerIdOptions, type InitProducerIdResult, type StoredRecord } from '../../../src/connectors/sim/kafka-broker.ts';

const TOPIC = 'out';
const PARTITIONS = [0, 1] as const;
const TRANSACTIONAL_IDS = ['a', 'b', 'c'] as const;
/** Timeouts short enough that the time steps below cross them, and land on them exactly. */
const TIMEOUTS_MS = [100, 1_000] as const;
const TIME_STEPS_MS = [1, 50, 100, 1_000] as const;
const ISOLATIONS: readonly ModelIsolation[] = ['read_committed', 'read_uncommitted'];

interface Real {
  broker: SimKafkaBroker;
  nowMs: number;
  /** Every handle each transactional id's inits returned, oldest first: older ones are fenced producers. */
  readonly handles: Map<string, { producerId: number; epoch: number }[]>;
}
interface Model {
  readonly model: KafkaTransactionModel;
  /** How many times each id was initialised (what `check` may rely on). */
  readonly inits: Map<string, number>;
}

function outcomeOf(action: () => unknown): ModelOutcome {
  try {
    action();
    return 'ok';
  } catch (error) {
    if (error instanceof KafkaProtocolError && (error.code === 'PRODUCER_FENCED' || error.code === 'INVALID_TXN_STATE' || error.code === 'INVALID_PRODUCER_ID_MAPPING')) return error.code;
    throw error;
  }
}

function offsetsAndValues(records: readonly StoredRecord[]): { offset: number; value: string }[] {
  return records.map((record) => ({ offset: record.offset, value: record.value }));
}

/** After every command: offsets, reads under both isolations, and every id's state and epoch agree. */
function expectAgreement(m: Model, r: Real): void {
  for (const partition of PARTITIONS) {
    expect(r.broker.highWatermark(TOPIC, partition), `high watermark of p${partition}`).toBe(m.model.highWatermark(partition));
    expect(r.broker.lastStableOffset(TOPIC, partition), `last stable offset of p${partition}`).toBe(m.model.lastStableOffset(partition));
    for (const isolation of ISOLATIONS) {
      expect(offsetsAndValues(r.broker.fetch(TOPIC, partition, 0, isolation)), `${isolation} read of p${partition}`).toEqual(m.model.readFrom(partition, 0, isolation));
    }
  }
  for (const transactionalId of TRANSACTIONAL_IDS) {
    const listing = r.broker.describeTransaction(transactionalId);
    const described = m.model.describe(transactionalId);
    expect(listing === undefined ? undefined : { state: listing.state, epoch: listing.epoch }, `transaction state of ${transactionalId}`).toEqual(described);
  }
}

function pushHandle(handles: Map<string, { producerId: number; epoch: number }[]>, id: string, handle: { producerId: number; epoch: number }): void {
  const list = handles.get(id) ?? [];
  list.push(handle);
  handles.set(id, list);
}

/** How an init registers: a plain producer, a KIP-939 2PC producer, or a 2PC producer keeping the prepared transaction. */
type InitKind = 'plain' | 'two-phase' | 'keep-prepared';

class InitCommand implements fc.Command<Model, Real> {
  constructor(readonly id: string, readonly timeoutMs: number, readonly kind: InitKind = 'plain') {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const options = { twoPhaseCommit: this.kind !== 'plain', keepPrepared: this.kind === 'keep-prepared' };
    const expected = m.model.init(this.id, this.timeoutMs, options);
    const handle = r.broker.initProducerId(this.id, this.timeoutMs, r.nowMs, { enableTwoPhaseCommit: options.twoPhaseCommit, keepPreparedTxn: options.keepPrepared });
    expect(handle.epoch).toBe(expected.epoch);
    expect(handle.ongoing?.epoch, 'the kept transaction epoch').toBe(expected.keptEpoch);
    pushHandle(r.handles, this.id, handle);
    m.inits.set(this.id, (m.inits.get(this.id) ?? 0) + 1);
    expectAgreement(m, r);
  }
  toString(): string {
    return `init(${this.id}, timeout ${this.timeoutMs} ms${this.kind === 'plain' ? '' : `, ${this.kind}`})`;
  }
}

/** Picks the handle of the latest init (generation 0) or of an older, fenced one. */
function handleOf(r: Real, id: string, generation: number): { producerId: number; epoch: number } {
  const handles = r.handles.get(id)!;
  return handles[handles.length - 1 - generation]!;
}

class SendCommand implements fc.Command<Model, Real> {
  constructor(readonly id: string, readonly generation: number, readonly partition: number, readonly value: string) {}
  check(m: Readonly<Model>): boolean {
    return (m.inits.get(this.id) ?? 0) > this.generation;
  }
  run(m: Model, r: Real): void {
    const handle = handleOf(r, this.id, this.generation);
    const expected = m.model.send(this.id, handle.epoch, this.partition, this.value);
    const actual = outcomeOf(() => r.broker.produce(this.id, handle.producerId, handle.epoch, TOPIC, this.partition, [{ key: this.id, value: this.value }], r.nowMs));
    expect(actual).toBe(expected);
    expectAgreement(m, r);
  }
  toString(): string {
    return `send(${this.id}${this.generation > 0 ? ` fenced-${this.generation}` : ''}, p${this.partition}, ${JSON.stringify(this.value)})`;
  }
}

/** Commit or abort; with generation > 0 it is a fenced producer trying to finish its transaction. */
class EndCommand implements fc.Command<Model, Real> {
  constructor(readonly id: string, readonly generation: number, readonly commit: boolean) {}
  check(m: Readonly<Model>): boolean {
    return (m.inits.get(this.id) ?? 0) > this.generation;
  }
  run(m: Model, r: Real): void {
    const handle = handleOf(r, this.id, this.generation);
    const expected = m.model.end(this.id, handle.epoch, this.commit);
    expect(outcomeOf(() => r.broker.endTransaction(this.id, handle.producerId, handle.epoch, this.commit, r.nowMs))).toBe(expected);
    expectAgreement(m, r);
  }
  toString(): string {
    return `${this.commit ? 'commit' : 'abort'}(${this.id}${this.generation > 0 ? ` fenced-${this.generation}` : ''})`;
  }
}

/** A producer that never called initProducerId tries to commit. */
class UnregisteredCommitCommand implements fc.Command<Model, Real> {
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    expect(m.model.end('never-initialised', 0, true)).toBe('INVALID_PRODUCER_ID_MAPPING');
    expect(outcomeOf(() => r.broker.endTransaction('never-initialised', 1, 0, true, r.nowMs))).toBe('INVALID_PRODUCER_ID_MAPPING');
    expectAgreement(m, r);
  }
  toString(): string {
    return 'commit(never-initialised)';
  }
}

class AdvanceTimeCommand implements fc.Command<Model, Real> {
  constructor(readonly stepMs: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    r.nowMs += this.stepMs;
    m.model.advanceTimeTo(r.nowMs);
    r.broker.advanceTimeTo(r.nowMs);
    expectAgreement(m, r);
  }
  toString(): string {
    return `advance(${this.stepMs} ms)`;
  }
}

/** A read from a chosen offset (a fraction of the high watermark), so offsets in the middle of the log are exercised. */
class ReadFromCommand implements fc.Command<Model, Real> {
  constructor(readonly partition: number, readonly isolation: ModelIsolation, readonly fromFraction: number) {}
  check(): boolean {
    return true;
  }
  run(m: Model, r: Real): void {
    const fromOffset = Math.floor(m.model.highWatermark(this.partition) * this.fromFraction);
    expect(offsetsAndValues(r.broker.fetch(TOPIC, this.partition, fromOffset, this.isolation))).toEqual(m.model.readFrom(this.partition, fromOffset, this.isolation));
  }
  toString(): string {
    return `read(p${this.partition}, ${this.isolation}, from ${Math.round(this.fromFraction * 100)}% of the log)`;
  }
}

const commandArbitraries = (() => {
  const id = fc.constantFrom(...TRANSACTIONAL_IDS);
  // Mostly the current producer; sometimes the one fenced by the latest init, or the one before it.
  const generation = fc.constantFrom(0, 0, 0, 0, 1, 2);
  const partition = fc.constantFrom(...PARTITIONS);
  return [
    fc.tuple(id, fc.constantFrom(...TIMEOUTS_MS)).map(([i, timeoutMs]) => new InitCommand(i, timeoutMs)),
    fc.tuple(id, fc.constantFrom(...TIMEOUTS_MS), fc.constantFrom<InitKind>('two-phase', 'keep-prepared')).map(([i, timeoutMs, kind]) => new InitCommand(i, timeoutMs, kind)),
    fc.tuple(id, generation, partition, fc.string({ minLength: 1, maxLength: 2 })).map(([i, g, p, v]) => new SendCommand(i, g, p, v)),
    fc.tuple(id, generation, partition, fc.string({ minLength: 1, maxLength: 2 })).map(([i, g, p, v]) => new SendCommand(i, g, p, v)),
    fc.tuple(id, generation, fc.boolean()).map(([i, g, commit]) => new EndCommand(i, g, commit)),
    fc.constantFrom(...TIME_STEPS_MS).map((stepMs) => new AdvanceTimeCommand(stepMs)),
    fc.tuple(partition, fc.constantFrom(...ISOLATIONS), fc.constantFrom(0, 0.25, 0.5, 1)).map(([p, isolation, fraction]) => new ReadFromCommand(p, isolation, fraction)),
    fc.constant(new UnregisteredCommitCommand()),
  ];
})();

function brokerAgreesWithModel(makeBroker: () => SimKafkaBroker): fc.IPropertyWithHooks<[Iterable<fc.Command<Model, Real>>]> {
  return fc.property(fc.commands(commandArbitraries, { maxCommands: 50, size: 'large' }), (commands) => {
    const broker = makeBroker();
    broker.createTopic(TOPIC, PARTITIONS.length);
    fc.modelRun(() => ({ model: { model: new KafkaTransactionModel(), inits: new Map() }, real: { broker, nowMs: 0, handles: new Map() } }), commands);
  });
}

// Planted bugs: brokers the model-based property must reject. Each overrides a public method only.

/** read_committed ignores the last stable offset: committed records behind an open transaction leak. */
class BrokerWithoutLastStableOffset extends SimKafkaBroker {
  override fetch(topic: string, partition: number, fromOffset: number, isolation: 'read_committed' | 'read_uncommitted'): StoredRecord[] {
    const all = super.fetch(topic, partition, fromOffset, 'read_uncommitted');
    return isolation === 'read_committed' ? all.filter((record) => record.transaction.status === 'committed') : all;
  }
}

/** A retried commit is refused (Flink's recoverAndCommit would then fail). */
class BrokerWithNonIdempotentCommit extends SimKafkaBroker {
  override endTransaction(transactionalId: string, producerId: number, epoch: number, commit: boolean, nowMs: number): void {
    const before = this.describeTransaction(transactionalId);
    if (commit && before?.state === 'CompleteCommit' && before.epoch === epoch) throw new KafkaProtocolError('INVALID_TXN_STATE', 'already committed');
    super.endTransaction(transactionalId, producerId, epoch, commit, nowMs);
  }
}

/** Transaction timeouts never fire: a stuck producer holds back the last stable offset forever. */
class BrokerWithoutTimeouts extends SimKafkaBroker {
  override advanceTimeTo(): void {}
}

/** The epoch check is skipped: a fenced (zombie) producer can still commit or abort. */
class BrokerThatDoesNotFence extends SimKafkaBroker {
  override endTransaction(transactionalId: string, producerId: number, epoch: number, commit: boolean, nowMs: number): void {
    super.endTransaction(transactionalId, producerId, this.describeTransaction(transactionalId)?.epoch ?? epoch, commit, nowMs);
  }
}

/** KIP-939 ignored: the transaction timeout ends a 2PC producer's transactions too. */
class BrokerThatTimesOutPreparedTransactions extends SimKafkaBroker {
  private ending = false;
  override advanceTimeTo(nowMs: number): void {
    super.advanceTimeTo(nowMs);
    if (this.ending) return; // endTransaction below advances time itself
    this.ending = true;
    try {
      for (const listing of this.listTransactions()) {
        if (listing.state === 'Ongoing' && listing.transactionStartMs + listing.transactionTimeoutMs < this.currentTimeMs) {
          super.endTransaction(listing.transactionalId, listing.producerId, listing.epoch, false, nowMs);
        }
      }
    } finally {
      this.ending = false;
    }
  }
}

/** keepPreparedTxn aborts the open transaction like a plain init. */
class BrokerThatAbortsPreparedOnInit extends SimKafkaBroker {
  override initProducerId(transactionalId: string, transactionTimeoutMs: number, nowMs: number, options: InitProducerIdOptions = {}): InitProducerIdResult {
    return super.initProducerId(transactionalId, transactionTimeoutMs, nowMs, { enableTwoPhaseCommit: options.enableTwoPhaseCommit ?? false });
  }
}

/** read_uncommitted hides aborted records (it must see everything up to the high watermark). */
class BrokerHidingAbortedFromUncommitted extends SimKafkaBroker {
  override fetch(topic: string, partition: number, fromOffset: number, isolation: 'read_committed' | 'read_uncommitted'): StoredRecord[] {
    const records = super.fetch(topic, partition, fromOffset, isolation);
    return records.filter((record) => record.transaction.status !== 'aborted');
  }
}

describe('SimKafkaBroker against the transaction model (fc.commands)', () => {
  test('every command sequence agrees with the model', () => {
    fc.assert(brokerAgreesWithModel(() => new SimKafkaBroker()), { numRuns: 1_500, seed: 31 });
  });

  const plantedBugs: readonly (readonly [string, () => SimKafkaBroker])[] = [
    ['no last stable offset', () => new BrokerWithoutLastStableOffset()],
    ['non-idempotent commit', () => new BrokerWithNonIdempotentCommit()],
    ['no transaction timeouts', () => new BrokerWithoutTimeouts()],
    ['no fencing of older epochs', () => new BrokerThatDoesNotFence()],
    ['read_uncommitted hides aborted records', () => new BrokerHidingAbortedFromUncommitted()],
    ['KIP-939: the timeout aborts 2PC transactions', () => new BrokerThatTimesOutPreparedTransactions()],
    ['KIP-939: keepPreparedTxn aborts the open transaction', () => new BrokerThatAbortsPreparedOnInit()],
  ];
  for (const [name, make] of plantedBugs) {
    test(`the model catches a broker with a planted bug: ${name}`, () => {
      const details = fc.check(brokerAgreesWithModel(make), { numRuns: 3_000, seed: 31 });
      expect(details.failed).toBe(true);
    });
  }
});

describe('SimKafkaBroker: key cases', () => {
  const TIMEOUT_MS = 1_000;
  function brokerWithTopic(): SimKafkaBroker {
    const broker = new SimKafkaBroker({ trace: true });
    broker.createTopic(TOPIC, 2);
    return broker;
  }
  const record = (value: string) => [{ key: 'k', value }];
  const values = (records: readonly StoredRecord[]) => records.map((r) => r.value);

  test('commit makes records visible to read_committed; markers take offsets', () => {
    const broker = brokerWithTopic();
    const { producerId, epoch } = broker.initProducerId('t1', TIMEOUT_MS, 0);
    expect(broker.produce('t1', producerId, epoch, TOPIC, 0, [...record('a'), ...record('b')], 1)).toBe(0);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual([]);
    expect(broker.lastStableOffset(TOPIC, 0)).toBe(0);
    broker.endTransaction('t1', producerId, epoch, true, 2);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual(['a', 'b']);
    expect(broker.highWatermark(TOPIC, 0)).toBe(3); // two records and the commit marker
    expect(broker.lastStableOffset(TOPIC, 0)).toBe(3);
    expect(broker.produce('t1', producerId, epoch, TOPIC, 0, record('c'), 3)).toBe(3);
  });

  test('an open transaction holds back the last stable offset for another producer on the same partition only', () => {
    const broker = brokerWithTopic();
    const open = broker.initProducerId('open', TIMEOUT_MS, 0);
    const other = broker.initProducerId('other', TIMEOUT_MS, 0);
    broker.produce('open', open.producerId, open.epoch, TOPIC, 0, record('held'), 0);
    broker.produce('other', other.producerId, other.epoch, TOPIC, 0, record('later'), 0);
    broker.produce('other', other.producerId, other.epoch, TOPIC, 1, record('elsewhere'), 0);
    broker.endTransaction('other', other.producerId, other.epoch, true, 0);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual([]);
    expect(values(broker.fetch(TOPIC, 1, 0, 'read_committed'))).toEqual(['elsewhere']);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_uncommitted'))).toEqual(['held', 'later']);
  });

  test('initProducerId fences the older producer, aborts its open transaction, and skips the fencing epoch', () => {
    const broker = brokerWithTopic();
    const old = broker.initProducerId('t1', TIMEOUT_MS, 0);
    broker.produce('t1', old.producerId, old.epoch, TOPIC, 0, record('zombie'), 0);
    const renewed = broker.initProducerId('t1', TIMEOUT_MS, 1);
    expect(renewed).toEqual({ producerId: old.producerId, epoch: old.epoch + 2 });
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual([]);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_uncommitted'))).toEqual(['zombie']);
    const fenced = (() => {
      try {
        broker.endTransaction('t1', old.producerId, old.epoch, true, 2);
      } catch (error) {
        return error;
      }
      return undefined;
    })();
    expect(fenced).toBeInstanceOf(KafkaProtocolError);
    expect((fenced as KafkaProtocolError).code).toBe('PRODUCER_FENCED');
    expect((fenced as KafkaProtocolError).message).toMatch(new RegExp(`'t1'.*producer id ${old.producerId}, epoch ${old.epoch}.*current epoch is ${renewed.epoch}`));
    expect(broker.events.map((e) => e.kind)).toEqual(['init', 'fence-abort', 'init', 'rejected']);
  });

  test('initProducerId without an open transaction bumps the epoch by one', () => {
    const broker = brokerWithTopic();
    const first = broker.initProducerId('t1', TIMEOUT_MS, 0);
    expect(broker.initProducerId('t1', TIMEOUT_MS, 0).epoch).toBe(first.epoch + 1);
    expect(broker.initProducerId('t2', TIMEOUT_MS, 0).producerId).not.toBe(first.producerId);
  });

  test('a retried commit of a committed transaction succeeds without a new marker; abort after commit is INVALID_TXN_STATE', () => {
    const broker = brokerWithTopic();
    const { producerId, epoch } = broker.initProducerId('t1', TIMEOUT_MS, 0);
    broker.produce('t1', producerId, epoch, TOPIC, 0, record('once'), 0);
    broker.endTransaction('t1', producerId, epoch, true, 0);
    const highWatermark = broker.highWatermark(TOPIC, 0);
    broker.endTransaction('t1', producerId, epoch, true, 1);
    expect(broker.highWatermark(TOPIC, 0)).toBe(highWatermark);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual(['once']);
    expect(() => broker.endTransaction('t1', producerId, epoch, false, 1)).toThrow(expect.objectContaining({ code: 'INVALID_TXN_STATE' }));
  });

  test('ending a transaction that sent nothing since init is INVALID_TXN_STATE', () => {
    const broker = brokerWithTopic();
    const { producerId, epoch } = broker.initProducerId('t1', TIMEOUT_MS, 0);
    expect(() => broker.endTransaction('t1', producerId, epoch, true, 0)).toThrow(expect.objectContaining({ code: 'INVALID_TXN_STATE' }));
  });

  test('a transaction open for longer than its timeout is aborted and its producer fenced, not a millisecond earlier', () => {
    const broker = brokerWithTopic();
    const { producerId, epoch } = broker.initProducerId('t1', TIMEOUT_MS, 0);
    broker.produce('t1', producerId, epoch, TOPIC, 0, record('late'), 10);
    broker.advanceTimeTo(10 + TIMEOUT_MS);
    expect(broker.describeTransaction('t1')).toMatchObject({ state: 'Ongoing', epoch, transactionStartMs: 10, transactionTimeoutMs: TIMEOUT_MS, partitions: [`${TOPIC}/0`] });
    broker.advanceTimeTo(10 + TIMEOUT_MS + 1);
    expect(broker.describeTransaction('t1')).toMatchObject({ state: 'CompleteAbort', epoch: epoch + 1 });
    expect(() => broker.endTransaction('t1', producerId, epoch, true, 2_000)).toThrow(expect.objectContaining({ code: 'PRODUCER_FENCED' }));
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual([]);
    expect(broker.events.find((e) => e.kind === 'timeout-abort')).toMatchObject({ transactionalId: 't1', epoch, records: 1, atMs: 10 + TIMEOUT_MS + 1 });
    // The next init takes the epoch after the one the timeout used to fence.
    expect(broker.initProducerId('t1', TIMEOUT_MS, 3_000).epoch).toBe(epoch + 2);
  });

  test('KIP-939: the timeout does not abort a two-phase-commit producer\'s transaction, but does abort a plain one', () => {
    const broker = brokerWithTopic();
    const prepared = broker.initProducerId('prepared', TIMEOUT_MS, 0, { enableTwoPhaseCommit: true });
    const plain = broker.initProducerId('plain', TIMEOUT_MS, 0);
    broker.produce('prepared', prepared.producerId, prepared.epoch, TOPIC, 0, record('kept'), 0);
    broker.produce('plain', plain.producerId, plain.epoch, TOPIC, 1, record('lost'), 0);
    broker.advanceTimeTo(10 * TIMEOUT_MS);
    expect(broker.expireOpenTransactions()).toBe(0);
    expect(broker.describeTransaction('prepared')).toMatchObject({ state: 'Ongoing', epoch: prepared.epoch });
    expect(broker.describeTransaction('plain')).toMatchObject({ state: 'CompleteAbort', epoch: plain.epoch + 1 });
    broker.endTransaction('prepared', prepared.producerId, prepared.epoch, true, 10 * TIMEOUT_MS);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual(['kept']);
    expect(values(broker.fetch(TOPIC, 1, 0, 'read_committed'))).toEqual([]);
  });

  test('KIP-939: keepPreparedTxn fences the old producer, keeps its transaction, and the new epoch may only commit or abort it', () => {
    const broker = brokerWithTopic();
    const old = broker.initProducerId('t1', TIMEOUT_MS, 0, { enableTwoPhaseCommit: true });
    broker.produce('t1', old.producerId, old.epoch, TOPIC, 0, record('prepared'), 0);
    const recovered = broker.initProducerId('t1', TIMEOUT_MS, 5, { enableTwoPhaseCommit: true, keepPreparedTxn: true });
    expect(recovered).toEqual({ producerId: old.producerId, epoch: old.epoch + 1, ongoing: { producerId: old.producerId, epoch: old.epoch } });
    expect(broker.describeTransaction('t1')).toMatchObject({ state: 'Ongoing', epoch: old.epoch + 1 });
    expect(() => broker.endTransaction('t1', old.producerId, old.epoch, true, 6)).toThrow(expect.objectContaining({ code: 'PRODUCER_FENCED' }));
    expect(() => broker.produce('t1', recovered.producerId, recovered.epoch, TOPIC, 0, record('more'), 6)).toThrow(expect.objectContaining({ code: 'INVALID_TXN_STATE' }));
    // Kept across a second restart too: the ongoing epoch is still the writer's.
    const again = broker.initProducerId('t1', TIMEOUT_MS, 7, { enableTwoPhaseCommit: true, keepPreparedTxn: true });
    expect(again.ongoing).toEqual({ producerId: old.producerId, epoch: old.epoch });
    broker.endTransaction('t1', again.producerId, again.epoch, true, 8);
    expect(values(broker.fetch(TOPIC, 0, 0, 'read_committed'))).toEqual(['prepared']);
    expect(broker.events.filter((e) => e.kind === 'commit')).toEqual([expect.objectContaining({ transactionalId: 't1', epoch: old.epoch, records: 1 })]);
    // Nothing open: keepPreparedTxn is a plain init, and reports no ongoing transaction.
    expect(broker.initProducerId('t1', TIMEOUT_MS, 9, { enableTwoPhaseCommit: true, keepPreparedTxn: true })).toEqual({ producerId: old.producerId, epoch: again.epoch + 1 });
  });

  test('KIP-939: a plain initProducerId still aborts a prepared transaction; keepPreparedTxn needs enableTwoPhaseCommit', () => {
    const broker = brokerWithTopic();
    const old = broker.initProducerId('t1', TIMEOUT_MS, 0, { enableTwoPhaseCommit: true });
    broker.produce('t1', old.producerId, old.epoch, TOPIC, 0, record('aborted'), 0);
    expect(() => broker.initProducerId('t1', TIMEOUT_MS, 1, { keepPreparedTxn: true })).toThrow(/INVALID_REQUEST: .*keepPreparedTxn needs enableTwoPhaseCommit \(KIP-939\)/);
    expect(broker.initProducerId('t1', TIMEOUT_MS, 1, { enableTwoPhaseCommit: true }).epoch).toBe(old.epoch + 2);
    expect(broker.events.map((e) => e.kind)).toEqual(['init', 'fence-abort', 'init']);
  });

  test('the trace records begin and produce besides the outcomes; the outcome log does not', () => {
    const broker = brokerWithTopic();
    const { producerId, epoch } = broker.initProducerId('t1', TIMEOUT_MS, 0);
    broker.produce('t1', producerId, epoch, TOPIC, 1, record('x'), 5);
    broker.endTransaction('t1', producerId, epoch, false, 6);
    expect(broker.trace.map((e) => e.kind)).toEqual(['init', 'begin', 'produce', 'abort']);
    expect(broker.trace[2]).toMatchObject({ kind: 'produce', topic: TOPIC, partition: 1, firstOffset: 0, records: 1, atMs: 5 });
    expect(broker.events.map((e) => e.kind)).toEqual(['init', 'abort']);
    expect(new SimKafkaBroker().trace).toHaveLength(0);
  });

  test('requests outside the protocol are refused with Kafka error codes', () => {
    const broker = brokerWithTopic();
    expect(() => broker.initProducerId('t1', 0, 0)).toThrow(expect.objectContaining({ code: 'INVALID_TRANSACTION_TIMEOUT' }));
    const { producerId, epoch } = broker.initProducerId('t1', TIMEOUT_MS, 0);
    expect(() => broker.produce('t1', producerId, epoch, TOPIC, 2, record('x'), 0)).toThrow(expect.objectContaining({ code: 'UNKNOWN_TOPIC_OR_PARTITION' }));
    expect(() => broker.produce('t1', producerId + 1, epoch, TOPIC, 0, record('x'), 0)).toThrow(expect.objectContaining({ code: 'INVALID_PRODUCER_ID_MAPPING' }));
    expect(() => broker.fetch(TOPIC, 0, 1, 'read_uncommitted')).toThrow(expect.objectContaining({ code: 'OFFSET_OUT_OF_RANGE' }));
    expect(() => broker.fetch('missing', 0, 0, 'read_committed')).toThrow(/UNKNOWN_TOPIC_OR_PARTITION: SimKafkaBroker.fetch\(missing\/0\): no topic 'missing'/);
  });

  test('listTransactions reports every id, sorted, with state, partitions and start time', () => {
    const broker = brokerWithTopic();
    const b = broker.initProducerId('b', TIMEOUT_MS, 0);
    broker.initProducerId('a', 500, 0);
    broker.produce('b', b.producerId, b.epoch, TOPIC, 1, record('x'), 7);
    broker.produce('b', b.producerId, b.epoch, TOPIC, 0, record('y'), 8);
    expect(broker.listTransactions()).toEqual([
      { transactionalId: 'a', producerId: b.producerId + 1, epoch: 0, state: 'Empty', partitions: [], transactionStartMs: -1, transactionTimeoutMs: 500 },
      { transactionalId: 'b', producerId: b.producerId, epoch: 0, state: 'Ongoing', partitions: [`${TOPIC}/0`, `${TOPIC}/1`], transactionStartMs: 7, transactionTimeoutMs: TIMEOUT_MS },
    ]);
  });
});
