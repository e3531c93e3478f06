import type { InitializedProducer, IsolationLevel, KafkaClients, TransactionalProducer } from '../src/connectors/kafka-api.ts';

/**
 * The Kafka transaction cases the exactly-once sinks rely on, as a table of data: the same
 * steps run against the simulated broker (test/connectors/sim/kafka-case-table.test.ts) and
 * against a real Kafka through kafkajs (test/e2e/kafka-case-table.e2e.test.ts). A case that
 * passes on one and fails on the other is a bug in the simulation (or in our kafkajs client).
 *
 * Vocabulary (domain words, no code paths):
 * - `tid` names a transactional id (the driver scopes it to its topic so runs do not collide)
 *   and, by default, the latest producer created for it by `init`.
 * - `init` creates a producer for `tid`, calls initTransactions and beginTransaction.
 *   `prepared` registers it for two-phase commit (KIP-939: no transaction timeout);
 *   `keepPrepared` (with `prepared`) keeps the id's open transaction instead of aborting it,
 *   and begins nothing: the new producer may only commit or abort it.
 *   `rememberAs` keeps the returned handle (producer id + epoch) for `resumeCommit`;
 *   `keepProducerAs` keeps the producer object itself, so a step can use it after a newer
 *   `init` of the same id has fenced it (`producer: '<name>'` on send/commit/abort).
 * - `send` sends one record and flushes (the pre-commit of the 2PC sink: durable, uncommitted).
 * - `resumeCommit` commits a remembered handle through a fresh producer without
 *   initTransactions: Flink's recoverAndCommit after a restart.
 * - `waitForTransactionTimeout`: wait until the broker has aborted every transaction open for
 *   longer than its timeout (the driver decides how: advance virtual time, or sleep).
 * - `expectRead` reads a whole partition with the isolation level and compares the values.
 * - `expectEpochAdvance` compares the epochs of two remembered handles of one transactional id.
 * - `expectKept` checks what a `keepPrepared` init (remembered as `init`) kept: the transaction
 *   of remembered handle `transaction`, or nothing (`transaction: null`).
 * - A case with `requires: 'kip-939'` needs a broker and client with KIP-939 (the simulated
 *   broker has it; Kafka 3.x and the kafkajs client do not).
 * - `expectError` runs the wrapped step and requires it to fail with an error of that kind.
 *   Kinds, not codes: Kafka answers a fenced producer with PRODUCER_FENCED or, to older
 *   request versions such as kafkajs speaks, INVALID_PRODUCER_EPOCH; both are 'fenced'.
 */
export type ErrorKind = 'fenced' | 'invalid-state';

export type CaseStep =
  | {
      readonly op: 'init';
      readonly tid: string;
      readonly rememberAs?: string;
      readonly keepProducerAs?: string;
      /** KIP-939: a producer registered for two-phase commit. */
      readonly prepared?: boolean;
      /** KIP-939 keepPreparedTxn (needs `prepared`): keep the open transaction; begin nothing. */
      readonly keepPrepared?: boolean;
    }
  | { readonly op: 'send'; readonly tid: string; readonly partition: number; readonly value: string; readonly producer?: string }
  | { readonly op: 'commit' | 'abort'; readonly tid: string; readonly producer?: string }
  /** Commit a remembered handle through a fresh producer, without initTransactions (Flink's resumeTransaction). */
  | { readonly op: 'resumeCommit'; readonly handle: string }
  /** Wait until the broker aborted every transaction open longer than its timeout. */
  | { readonly op: 'waitForTransactionTimeout' }
  | { readonly op: 'expectRead'; readonly partition: number; readonly isolation: IsolationLevel; readonly values: readonly string[] }
  /** The wrapped step must fail, with an error of this kind. */
  | { readonly op: 'expectError'; readonly kind: ErrorKind; readonly step: CaseStep }
  /** The epoch of remembered handle `to` is `by` more than that of `from` (same producer id). */
  | { readonly op: 'expectEpochAdvance'; readonly from: string; readonly to: string; readonly by: number }
  /** The keepPrepared init remembered as `init` kept the transaction of handle `transaction` (null: kept nothing). */
  | { readonly op: 'expectKept'; readonly init: string; readonly transaction: string | null };

export interface TransactionCase {
  readonly name: string;
  /** A Kafka feature the case needs beyond Kafka 3.x. */
  readonly requires?: 'kip-939';
  readonly steps: readonly CaseStep[];
}

/** Every case uses partitions 0 and 1 of one fresh topic. */
export const CASE_TOPIC_PARTITIONS = 2;

export const TRANSACTION_CASES: readonly TransactionCase[] = [
  {
    name: 'commit makes records visible to read_committed',
    steps: [
      { op: 'init', tid: 't1' },
      { op: 'send', tid: 't1', partition: 0, value: 'a' },
      { op: 'send', tid: 't1', partition: 0, value: 'b' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'commit', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['a', 'b'] },
    ],
  },
  {
    name: 'abort hides records from read_committed but not from read_uncommitted',
    steps: [
      { op: 'init', tid: 't1' },
      { op: 'send', tid: 't1', partition: 0, value: 'a' },
      { op: 'abort', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['a'] },
    ],
  },
  {
    name: 'read_uncommitted sees aborted and open records; read_committed sees neither',
    steps: [
      { op: 'init', tid: 't1' },
      { op: 'init', tid: 't2' },
      { op: 'send', tid: 't1', partition: 0, value: 'aborted' },
      { op: 'abort', tid: 't1' },
      { op: 'send', tid: 't2', partition: 0, value: 'open' },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['aborted', 'open'] },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
    ],
  },
  {
    name: 'read_committed skips an aborted transaction and shows the committed one after it',
    steps: [
      { op: 'init', tid: 't1' },
      { op: 'init', tid: 't2' },
      { op: 'send', tid: 't1', partition: 0, value: 'aborted' },
      { op: 'send', tid: 't2', partition: 0, value: 'committed' },
      { op: 'abort', tid: 't1' },
      { op: 'commit', tid: 't2' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['committed'] },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['aborted', 'committed'] },
    ],
  },
  {
    name: 'an open transaction holds back the last stable offset for other producers',
    steps: [
      { op: 'init', tid: 't1' },
      { op: 'init', tid: 't2' },
      { op: 'send', tid: 't1', partition: 0, value: 'open' },
      { op: 'send', tid: 't2', partition: 0, value: 'later' },
      { op: 'send', tid: 't2', partition: 1, value: 'elsewhere' },
      { op: 'commit', tid: 't2' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'expectRead', partition: 1, isolation: 'read_committed', values: ['elsewhere'] },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['open', 'later'] },
      { op: 'commit', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['open', 'later'] },
    ],
  },
  {
    name: 'a transaction over two partitions becomes visible on both at its commit',
    steps: [
      { op: 'init', tid: 't1' },
      { op: 'send', tid: 't1', partition: 0, value: 'x' },
      { op: 'send', tid: 't1', partition: 1, value: 'y' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'expectRead', partition: 1, isolation: 'read_committed', values: [] },
      { op: 'commit', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['x'] },
      { op: 'expectRead', partition: 1, isolation: 'read_committed', values: ['y'] },
    ],
  },
  {
    name: 'initTransactions fences the older producer and aborts its open transaction',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'old' },
      { op: 'send', tid: 't1', partition: 0, value: 'zombie' },
      { op: 'init', tid: 't1' },
      { op: 'expectError', kind: 'fenced', step: { op: 'resumeCommit', handle: 'old' } },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['zombie'] },
    ],
  },
  {
    name: 'initTransactions over an open transaction advances the epoch by two (fence, then the retried init), otherwise by one',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'first' },
      { op: 'send', tid: 't1', partition: 0, value: 'open' },
      { op: 'init', tid: 't1', rememberAs: 'second' },
      { op: 'expectEpochAdvance', from: 'first', to: 'second', by: 2 },
      { op: 'init', tid: 't1', rememberAs: 'third' },
      { op: 'expectEpochAdvance', from: 'second', to: 'third', by: 1 },
    ],
  },
  {
    name: 'a fenced producer can neither send nor commit, and the new one is unaffected',
    steps: [
      { op: 'init', tid: 't1', keepProducerAs: 'zombie' },
      { op: 'send', tid: 't1', partition: 0, value: 'before' },
      { op: 'init', tid: 't1' },
      { op: 'expectError', kind: 'fenced', step: { op: 'send', tid: 't1', producer: 'zombie', partition: 1, value: 'fenced' } },
      { op: 'expectError', kind: 'fenced', step: { op: 'commit', tid: 't1', producer: 'zombie' } },
      { op: 'send', tid: 't1', partition: 0, value: 'current' },
      { op: 'commit', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['current'] },
      { op: 'expectRead', partition: 1, isolation: 'read_uncommitted', values: [] },
    ],
  },
  {
    name: 'a pre-committed transaction is resumed by producer id and epoch and committed without initTransactions',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'pending' },
      { op: 'send', tid: 't1', partition: 1, value: 'x' },
      { op: 'resumeCommit', handle: 'pending' },
      { op: 'expectRead', partition: 1, isolation: 'read_committed', values: ['x'] },
    ],
  },
  {
    name: 're-committing an already committed transaction succeeds and changes nothing',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'done' },
      { op: 'send', tid: 't1', partition: 0, value: 'once' },
      { op: 'commit', tid: 't1' },
      { op: 'resumeCommit', handle: 'done' },
      { op: 'resumeCommit', handle: 'done' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['once'] },
    ],
  },
  {
    name: 'committing a transaction its producer aborted is an invalid state, and its records stay hidden',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'aborted' },
      { op: 'send', tid: 't1', partition: 0, value: 'gone' },
      { op: 'abort', tid: 't1' },
      { op: 'expectError', kind: 'invalid-state', step: { op: 'resumeCommit', handle: 'aborted' } },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
    ],
  },
  {
    name: 'resuming a transaction that never sent anything is refused as an invalid state',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'empty' },
      { op: 'expectError', kind: 'invalid-state', step: { op: 'resumeCommit', handle: 'empty' } },
      { op: 'commit', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: [] },
    ],
  },
  {
    name: 'committing after the broker timed the transaction out fails, and its records stay hidden',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'slow' },
      { op: 'send', tid: 't1', partition: 0, value: 'late' },
      { op: 'waitForTransactionTimeout' },
      { op: 'expectError', kind: 'fenced', step: { op: 'resumeCommit', handle: 'slow' } },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['late'] },
      // The timeout bumped the epoch to fence the writer; the next init bumps it again.
      { op: 'init', tid: 't1', rememberAs: 'after' },
      { op: 'expectEpochAdvance', from: 'slow', to: 'after', by: 2 },
    ],
  },
  {
    name: 'KIP-939: a transaction of a two-phase-commit producer outlives the transaction timeout and commits',
    requires: 'kip-939',
    steps: [
      { op: 'init', tid: 't1', prepared: true },
      { op: 'init', tid: 't2' },
      { op: 'send', tid: 't1', partition: 0, value: 'prepared' },
      { op: 'send', tid: 't2', partition: 1, value: 'plain' },
      { op: 'waitForTransactionTimeout' },
      { op: 'commit', tid: 't1' },
      { op: 'expectError', kind: 'fenced', step: { op: 'commit', tid: 't2' } },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['prepared'] },
      { op: 'expectRead', partition: 1, isolation: 'read_committed', values: [] },
    ],
  },
  {
    name: 'KIP-939: initTransactions with keepPreparedTxn fences the old producer and keeps its transaction, which the new producer commits',
    requires: 'kip-939',
    steps: [
      { op: 'init', tid: 't1', prepared: true, rememberAs: 'pending', keepProducerAs: 'crashed' },
      { op: 'send', tid: 't1', partition: 0, value: 'prepared' },
      { op: 'waitForTransactionTimeout' },
      { op: 'init', tid: 't1', prepared: true, keepPrepared: true, rememberAs: 'recovered' },
      { op: 'expectKept', init: 'recovered', transaction: 'pending' },
      { op: 'expectEpochAdvance', from: 'pending', to: 'recovered', by: 1 },
      { op: 'expectError', kind: 'fenced', step: { op: 'commit', tid: 't1', producer: 'crashed' } },
      { op: 'expectError', kind: 'invalid-state', step: { op: 'send', tid: 't1', partition: 0, value: 'more' } },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'commit', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['prepared'] },
      // Nothing open any more: keepPreparedTxn keeps nothing.
      { op: 'init', tid: 't1', prepared: true, keepPrepared: true, rememberAs: 'later' },
      { op: 'expectKept', init: 'later', transaction: null },
    ],
  },
  {
    name: 'KIP-939: a plain initTransactions still aborts a prepared transaction',
    requires: 'kip-939',
    steps: [
      { op: 'init', tid: 't1', prepared: true, rememberAs: 'pending' },
      { op: 'send', tid: 't1', partition: 0, value: 'aborted' },
      { op: 'init', tid: 't1', prepared: true, rememberAs: 'plain' },
      { op: 'expectEpochAdvance', from: 'pending', to: 'plain', by: 2 },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['aborted'] },
    ],
  },
];

/**
 * What a case needs from a Kafka: the project's KafkaClients (the sim implements it over
 * SimKafkaBroker, src/connectors/real over kafkajs), a fresh topic with
 * CASE_TOPIC_PARTITIONS partitions, and a way to wait out a transaction timeout.
 */
export interface TransactionCaseDriver {
  readonly clients: KafkaClients;
  readonly topic: string;
  /** Resolves once the broker has aborted every transaction open for longer than the producers' timeout. */
  waitForTransactionTimeout(): Promise<void>;
  /** Classifies an error thrown by a client call; undefined when it is of neither kind. */
  classify(error: unknown): ErrorKind | undefined;
}

/** Bound on the steps of one case (a table entry is data; a runaway one is a mistake). */
const MAX_STEPS_PER_CASE = 100;

/** Runs one case; throws an Error naming the case, the step and what differed. */
export async function runTransactionCase(testCase: TransactionCase, driver: TransactionCaseDriver): Promise<void> {
  if (testCase.steps.length === 0 || testCase.steps.length > MAX_STEPS_PER_CASE) {
    throw new Error(`runTransactionCase: case '${testCase.name}' has ${testCase.steps.length} steps; expected 1..${MAX_STEPS_PER_CASE}`);
  }
  /** The latest producer of each tid, and producers kept by name. */
  const latestProducers = new Map<string, TransactionalProducer>();
  const keptProducers = new Map<string, TransactionalProducer>();
  const handles = new Map<string, InitializedProducer>();
  const fail = (index: number, message: string): never => {
    throw new Error(`case '${testCase.name}', step ${index + 1}: ${message}`);
  };
  const producerOf = (step: { readonly tid: string; readonly producer?: string }, index: number): TransactionalProducer => {
    if (step.producer !== undefined) return keptProducers.get(step.producer) ?? fail(index, `no producer kept as '${step.producer}'`);
    return latestProducers.get(step.tid) ?? fail(index, `no producer for ${step.tid}: init it first`);
  };

  const run = async (step: CaseStep, index: number): Promise<void> => {
    switch (step.op) {
      case 'init': {
        const id = `${driver.topic}-${step.tid}`;
        const producer = step.prepared === true ? driver.clients.producer(id, { preparedTransactions: true }) : driver.clients.producer(id);
        const handle = step.keepPrepared === true ? await producer.initTransactions({ keepPreparedTransaction: true }) : await producer.initTransactions();
        if (step.keepPrepared !== true) producer.beginTransaction();
        latestProducers.set(step.tid, producer);
        if (step.rememberAs !== undefined) handles.set(step.rememberAs, handle);
        if (step.keepProducerAs !== undefined) keptProducers.set(step.keepProducerAs, producer);
        return;
      }
      case 'send': {
        const producer = producerOf(step, index);
        await producer.send(driver.topic, step.partition, [{ key: step.tid, value: step.value }]);
        await producer.flush();
        return;
      }
      case 'commit':
        return producerOf(step, index).commitTransaction();
      case 'abort':
        return producerOf(step, index).abortTransaction();
      case 'resumeCommit': {
        const handle = handles.get(step.handle) ?? fail(index, `no remembered handle '${step.handle}'`);
        return driver.clients.resumeTransaction(handle).commitTransaction();
      }
      case 'waitForTransactionTimeout':
        return driver.waitForTransactionTimeout();
      case 'expectRead': {
        const values = (await driver.clients.read(driver.topic, step.partition, 0, step.isolation)).map((record) => record.value);
        if (JSON.stringify(values) !== JSON.stringify(step.values)) {
          fail(index, `${step.isolation} read of partition ${step.partition} returned ${JSON.stringify(values)}, expected ${JSON.stringify(step.values)}`);
        }
        return;
      }
      case 'expectEpochAdvance': {
        const from = handles.get(step.from) ?? fail(index, `no remembered handle '${step.from}'`);
        const to = handles.get(step.to) ?? fail(index, `no remembered handle '${step.to}'`);
        if (from.producerId !== to.producerId) fail(index, `handles '${step.from}' and '${step.to}' have producer ids ${from.producerId} and ${to.producerId}; expected one`);
        if (to.epoch - from.epoch !== step.by) fail(index, `epoch went from ${from.epoch} ('${step.from}') to ${to.epoch} ('${step.to}'), expected an advance of ${step.by}`);
        return;
      }
      case 'expectKept': {
        const init = handles.get(step.init) ?? fail(index, `no remembered handle '${step.init}'`);
        const kept = init.preparedTransaction;
        const expected = step.transaction === null ? undefined : (handles.get(step.transaction) ?? fail(index, `no remembered handle '${step.transaction}'`));
        const describe = (handle: { producerId: number; epoch: number } | undefined): string => (handle === undefined ? 'nothing' : `producer ${handle.producerId} epoch ${handle.epoch}`);
        if (describe(kept) !== describe(expected)) fail(index, `the init '${step.init}' kept ${describe(kept)}, expected ${describe(expected)}`);
        return;
      }
      case 'expectError': {
        let thrown: unknown;
        try {
          await run(step.step, index);
        } catch (error) {
          thrown = error;
        }
        if (thrown === undefined) fail(index, `${step.step.op} succeeded, expected a ${step.kind} error`);
        const kind = driver.classify(thrown);
        if (kind !== step.kind) fail(index, `${step.step.op} failed with ${String(thrown)} (${kind ?? 'unclassified'}), expected a ${step.kind} error`);
        return;
      }
    }
  };
  for (const [index, step] of testCase.steps.entries()) await run(step, index);
}
