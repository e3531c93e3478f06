import type { IsolationLevel, KafkaClients, TransactionHandle, TransactionalProducer } from '../src/connectors/kafka-api.ts';

/**
 * The Kafka transaction cases the exactly-once sinks rely on, as a table: the same steps run
 * against the simulated broker (test/connectors/sim) and against a real Kafka through kafkajs
 * (test/e2e). Any difference is a bug in the simulation.
 */
export type ErrorKind = 'fenced' | 'invalid-state';

export type CaseStep =
  | { readonly op: 'init'; readonly tid: string; readonly rememberAs?: string }
  | { readonly op: 'send'; readonly tid: string; readonly partition: number; readonly value: string }
  | { readonly op: 'commit' | 'abort'; readonly tid: string }
  /** Commit a remembered handle through a fresh producer, without initTransactions (Flink's resumeTransaction). */
  | { readonly op: 'resumeCommit'; readonly handle: string }
  /** Wait until the broker aborted every transaction open longer than its timeout. */
  | { readonly op: 'waitForTransactionTimeout' }
  | { readonly op: 'expectRead'; readonly partition: number; readonly isolation: IsolationLevel; readonly values: readonly string[] }
  /** The wrapped step must fail, with an error of this kind. */
  | { readonly op: 'expectError'; readonly kind: ErrorKind; readonly step: CaseStep };

export interface TransactionCase {
  readonly name: string;
  readonly steps: readonly CaseStep[];
}

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
    name: 'an open transaction holds back the last stable offset for other producers',
    steps: [
      { op: 'init', tid: 't1' },
      { op: 'init', tid: 't2' },
      { op: 'send', tid: 't1', partition: 0, value: 'open' },
      { op: 'send', tid: 't2', partition: 0, value: 'later' },
      { op: 'commit', tid: 't2' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: [] },
      { op: 'expectRead', partition: 0, isolation: 'read_uncommitted', values: ['open', 'later'] },
      { op: 'commit', tid: 't1' },
      { op: 'expectRead', partition: 0, isolation: 'read_committed', values: ['open', 'later'] },
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
    name: 'resuming a transaction that never sent anything is refused as an invalid state',
    steps: [
      { op: 'init', tid: 't1', rememberAs: 'empty' },
      { op: 'expectError', kind: 'invalid-state', step: { op: 'resumeCommit', handle: 'empty' } },
      { op: 'commit', tid: 't1' },
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
    ],
  },
];

/** What a case needs from a Kafka: the project's KafkaClients, plus a way to wait out a transaction timeout. */
export interface TransactionCaseDriver {
  readonly clients: KafkaClients;
  readonly topic: string;
  waitForTransactionTimeout(): Promise<void>;
  /** Classifies an error thrown by a client call; undefined when it is of neither kind. */
  classify(error: unknown): ErrorKind | undefined;
}

/** Runs one case; throws an Error naming the case, the step and what differed. */
export async function runTransactionCase(testCase: TransactionCase, driver: TransactionCaseDriver): Promise<void> {
  const producers = new Map<string, TransactionalProducer>();
  const handles = new Map<string, TransactionHandle>();
  const fail = (index: number, message: string): never => {
    throw new Error(`case '${testCase.name}', step ${index + 1}: ${message}`);
  };
  const producerOf = (tid: string, index: number): TransactionalProducer => producers.get(tid) ?? fail(index, `no producer for ${tid}: init it first`);

  const run = async (step: CaseStep, index: number): Promise<void> => {
    switch (step.op) {
      case 'init': {
        const producer = driver.clients.producer(`${driver.topic}-${step.tid}`);
        const handle = await producer.initTransactions();
        producer.beginTransaction();
        producers.set(step.tid, producer);
        if (step.rememberAs !== undefined) handles.set(step.rememberAs, handle);
        return;
      }
      case 'send': {
        const producer = producerOf(step.tid, index);
        await producer.send(driver.topic, step.partition, [{ key: step.tid, value: step.value }]);
        await producer.flush();
        return;
      }
      case 'commit':
        return producerOf(step.tid, index).commitTransaction();
      case 'abort':
        return producerOf(step.tid, index).abortTransaction();
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
