import { describe, expect, test } from 'vitest';
import type { TransactionHandle, TransactionalProducer } from '../../src/connectors/kafka-api.ts';
import { KafkaTwoPhaseCommitSink } from '../../src/connectors/kafka-sink.ts';
import { SimKafkaBroker } from '../../src/connectors/sim/kafka-broker.ts';
import { SimKafkaClients } from '../../src/connectors/sim/kafka-clients.ts';
import { DEFAULT_JOB_OPTIONS, JobRuntime } from '../../src/runtime/job.ts';
import { pipeline } from '../../src/runtime/pipeline.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';
import { countingSource } from './counting-source.ts';

/** Simulated clients that count the producers handed out and those closed (a real producer holds connections until closed). */
class CountingClients extends SimKafkaClients {
  created = 0;
  closed = 0;

  override producer(...args: Parameters<SimKafkaClients['producer']>): TransactionalProducer {
    return this.counted(super.producer(...args));
  }

  override resumeTransaction(handle: TransactionHandle): TransactionalProducer {
    return this.counted(super.resumeTransaction(handle));
  }

  private counted(producer: TransactionalProducer): TransactionalProducer {
    this.created++;
    const close = producer.close.bind(producer);
    producer.close = () => {
      this.closed++;
      return close();
    };
    return producer;
  }
}

describe('KafkaTwoPhaseCommitSink closes the producers it is done with', () => {
  test('after many checkpoints, only the open transaction\'s producer is left unclosed', async () => {
    const scheduler = new Scheduler({ choices: new RandomChoices(7), msPerStep: 1, maxSteps: 200_000, keepTrace: false });
    const broker = new SimKafkaBroker();
    broker.createTopic('out', 1);
    const clients = new CountingClients(broker, scheduler);
    const spec = pipeline('closing')
      .source('numbers', 1, () => countingSource(400))
      .map('id', (n: number) => n)
      .keyBy((n) => n % 2, 1)
      .sink('kafka', ({ subtaskIndex }) => new KafkaTwoPhaseCommitSink<number>({ clients, topic: 'out', transactionalIdPrefix: 'sink', subtaskIndex, partitionOf: () => 0, serialize: (n) => ({ key: String(n), value: String(n) }) }))
      .build();
    const observations = await new JobRuntime(spec, { ...DEFAULT_JOB_OPTIONS, checkpointIntervalMs: 20 }, scheduler, []).run();
    expect(observations.outcome).toBe('finished');
    const completed = observations.checkpoints.filter((checkpoint) => checkpoint.outcome === 'completed').length;
    // One producer per transaction: without closing, every checkpoint's producer stayed open.
    expect(completed).toBeGreaterThanOrEqual(5);
    expect(clients.created).toBeGreaterThan(completed);
    // The sink's one open transaction (begun after the last pre-commit) keeps its producer.
    expect(clients.created - clients.closed).toBeLessThanOrEqual(1);
    expect(broker.fetch('out', 0, 0, 'read_committed')).toHaveLength(400);
  });
});
