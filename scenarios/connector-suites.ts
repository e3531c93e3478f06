import type { FunctionInitializationContext } from '../src/connectors/api.ts';
import { KafkaPartitionSource } from '../src/connectors/kafka-source.ts';
import { BuggyKafkaTwoPhaseCommitSink, KafkaTwoPhaseCommitSink, type KafkaSinkOptions } from '../src/connectors/kafka-sink.ts';
import { PartitionSourceReader } from '../src/connectors/partition-source.ts';
import { RedisIdempotentSink, RedisIncrementingSink } from '../src/connectors/redis-sink.ts';
import { SimKafkaBroker } from '../src/connectors/sim/kafka-broker.ts';
import { SimKafkaClients } from '../src/connectors/sim/kafka-clients.ts';
import { SimRedisServer } from '../src/connectors/sim/redis.ts';
import type { RedisClient } from '../src/connectors/redis-api.ts';
import { sinkSuite, twoPhaseCommitSinkSuite } from '../src/harness/suites/sink-suite.ts';
import { sourceSuite } from '../src/harness/suites/source-suite.ts';
import { testDataLog, type TestRecord } from '../src/harness/suites/test-data.ts';

/**
 * The built-in connectors, tested through the same connector suites users get (the suites
 * are not a parallel world), each with the planted bugs its suite must catch.
 */

const REDIS_PREFIX = 'suite';

/** PLANTED BUG: acknowledges the checkpoint without flushing its buffer (it flushes only when full or at the end). */
class AckBeforeFlushRedisSink extends RedisIdempotentSink<string> {
  override snapshotState(): void {}
}

/**
 * PLANTED BUG: a failed flush at a checkpoint is logged and swallowed, so the checkpoint is
 * acknowledged with its writes never applied (the correct sink fails the task: the
 * checkpoint is aborted by the failover and the replay writes them again).
 */
class FlushErrorSwallowingRedisSink extends RedisIdempotentSink<string> {
  override snapshotState(): Promise<void> | void {
    return super.snapshotState()?.catch(() => undefined);
  }
}

/** The idempotent Redis sink (SET of `suite:<key>` to the record's value), through the sink suite. */
export const redisSinkSuite = sinkSuite({
  name: 'redis-sink-suite',
  description: 'the built-in idempotent Redis sink (buffered MSET) through the sink suite',
  semantic: 'exactly-once',
  writes: 'overwrite',
  bugs: [
    { name: 'incrby-sink', description: 'the sink counts each record with INCRBY instead of SET of its value: replays count twice' },
    { name: 'ack-before-flush', description: 'the sink acknowledges a checkpoint without flushing its buffer: acknowledged writes are lost on a crash' },
    { name: 'flush-error-swallowed', description: 'a flush that fails at a checkpoint is swallowed and the checkpoint acknowledged: its writes are never applied' },
  ],
  external: ({ env, bug }) => {
    const redis = new SimRedisServer(env);
    const client = (subtaskIndex: number): RedisClient => redis.client(`redis-sink-${subtaskIndex}`);
    return {
      createWriter: ({ subtaskIndex }) => {
        const entries = (key: string | number, value: string): Record<string, string> => ({ [`${REDIS_PREFIX}:${key}`]: value });
        if (bug === 'incrby-sink') return new RedisIncrementingSink<string>(client(subtaskIndex), (key) => ({ [`${REDIS_PREFIX}:${key}`]: 1 }));
        if (bug === 'ack-before-flush') return new AckBeforeFlushRedisSink(client(subtaskIndex), entries);
        if (bug === 'flush-error-swallowed') return new FlushErrorSwallowingRedisSink(client(subtaskIndex), entries);
        return new RedisIdempotentSink<string>(client(subtaskIndex), entries);
      },
      readBack: () => new Map(Object.entries(redis.stringSnapshot()).map(([key, value]) => [key.slice(REDIS_PREFIX.length + 1), value])),
    };
  },
  // The same sink against a real Redis, on keys of the cycle's own namespace.
  real: ({ redis, namespace, bug }) => {
    const prefix = `${namespace}:${REDIS_PREFIX}`;
    const reader = redis();
    return {
      createWriter: () => {
        const client = redis();
        const entries = (key: string | number, value: string): Record<string, string> => ({ [`${prefix}:${key}`]: value });
        if (bug === 'incrby-sink') return new RedisIncrementingSink<string>(client, (key) => ({ [`${prefix}:${key}`]: 1 }));
        if (bug === 'ack-before-flush') return new AckBeforeFlushRedisSink(client, entries);
        if (bug === 'flush-error-swallowed') return new FlushErrorSwallowingRedisSink(client, entries);
        return new RedisIdempotentSink<string>(client, entries);
      },
      readBack: async () => {
        const held = new Map<string, string>();
        for (const key of (await reader.keys(`${prefix}:*`)).sort()) held.set(key.slice(prefix.length + 1), (await reader.get(key)) ?? '');
        return held;
      },
    };
  },
});

/** PLANTED BUG: a restore resumes one record past the checkpointed offset. */
class RestorePastOffsetSource extends PartitionSourceReader<TestRecord> {
  override initializeState(context: FunctionInitializationContext): void {
    super.initializeState(context);
    if (context.isRestored()) this.pollNext();
  }
}

/** The partition source (offsets in operator state), through the source suite. */
export const partitionSourceSuite = sourceSuite({
  name: 'partition-source-suite',
  description: 'the built-in partition source through the source suite',
  bugs: [{ name: 'restore-past-offset', description: 'a restore resumes one record past the checkpointed offset', caughtBy: ['exactly-once', 'source-positions', 'consistent-cut'] }],
  external: ({ bug }) => {
    let log = testDataLog([]);
    return {
      writeTestData: (splits) => {
        log = testDataLog(splits);
      },
      createReader: ({ subtaskIndex }) => (bug === 'restore-past-offset' ? new RestorePastOffsetSource(log, subtaskIndex) : new PartitionSourceReader(log, subtaskIndex)),
    };
  },
});

const INPUT_TOPIC = 'suite-input';
const OUTPUT_TOPIC = 'suite-output';
const OUTPUT_PARTITIONS = 2;

/** The Kafka source (read_committed, offsets in operator state), through the source suite. */
export const kafkaSourceSuite = sourceSuite({
  name: 'kafka-source-suite',
  description: 'the built-in Kafka source (read_committed) through the source suite',
  external: ({ env }) => {
    const broker = new SimKafkaBroker();
    const clients = new SimKafkaClients(broker, env);
    return {
      writeTestData: (splits) => {
        broker.createTopic(INPUT_TOPIC, splits.length);
        const loader = broker.initProducerId('suite-loader', 60_000, 0);
        splits.forEach((records, partition) => {
          broker.produce('suite-loader', loader.producerId, loader.epoch, INPUT_TOPIC, partition, records.map((r) => ({ key: r.key, value: String(r.seq) })), 0);
        });
        broker.endTransaction('suite-loader', loader.producerId, loader.epoch, true, 0);
      },
      createReader: ({ subtaskIndex }) =>
        new KafkaPartitionSource<TestRecord>(clients, INPUT_TOPIC, subtaskIndex, (record) => ({ key: record.key, seq: Number(record.value), value: `${record.key}@${record.value}` })),
    };
  },
});

/** The Kafka two-phase-commit sink, through the two-phase-commit sink suite. */
export const kafkaSinkSuite = twoPhaseCommitSinkSuite({
  name: 'kafka-2pc-sink-suite',
  description: 'the built-in Kafka two-phase-commit sink through the two-phase-commit sink suite',
  backends: ['fs'],
  bugs: [{ name: 'commit-in-snapshot', description: 'the sink commits in snapshotState instead of on notify-complete', caughtBy: ['committed-implies-completed'] }],
  external: ({ env, bug }) => {
    const broker = new SimKafkaBroker();
    broker.createTopic(OUTPUT_TOPIC, OUTPUT_PARTITIONS);
    const clients = new SimKafkaClients(broker, env);
    return {
      createWriter: ({ subtaskIndex }) => {
        const options: KafkaSinkOptions<TestRecord> = {
          clients,
          topic: OUTPUT_TOPIC,
          transactionalIdPrefix: 'suite-sink',
          subtaskIndex,
          partitionOf: (record) => Number(record.key.slice(1, record.key.indexOf('-'))) % OUTPUT_PARTITIONS,
          serialize: (record) => ({ key: record.key, value: record.value }),
        };
        return bug === 'commit-in-snapshot' ? new BuggyKafkaTwoPhaseCommitSink(options, 'commit-in-snapshot') : new KafkaTwoPhaseCommitSink(options);
      },
      readBack: () => committedByKey(Array.from({ length: OUTPUT_PARTITIONS }, (_, partition) => broker.fetch(OUTPUT_TOPIC, partition, 0, 'read_committed'))),
    };
  },
  // The same sink against a real broker: a topic of the cycle's own, read back read_committed.
  real: async ({ kafka, namespace, bug }) => {
    const clients = kafka();
    const topic = `${namespace}-out`;
    await clients.createTopic(topic, OUTPUT_PARTITIONS);
    return {
      createWriter: ({ subtaskIndex }) => {
        const options: KafkaSinkOptions<TestRecord> = {
          clients,
          topic,
          transactionalIdPrefix: `${namespace}-sink`,
          subtaskIndex,
          partitionOf: (record) => Number(record.key.slice(1, record.key.indexOf('-'))) % OUTPUT_PARTITIONS,
          serialize: (record) => ({ key: record.key, value: record.value }),
        };
        return bug === 'commit-in-snapshot' ? new BuggyKafkaTwoPhaseCommitSink(options, 'commit-in-snapshot') : new KafkaTwoPhaseCommitSink(options);
      },
      readBack: async () => committedByKey(await Promise.all(Array.from({ length: OUTPUT_PARTITIONS }, (_, partition) => clients.read(topic, partition, 0, 'read_committed')))),
    };
  },
});

/** What a read_committed reader of the output partitions sees, per key, in partition order. */
function committedByKey(partitions: readonly (readonly { readonly key: string | null; readonly value: string | null }[])[]): Map<string, string[]> {
  const byKey = new Map<string, string[]>();
  for (const records of partitions) {
    for (const record of records) {
      const key = record.key ?? '';
      byKey.set(key, [...(byKey.get(key) ?? []), record.value ?? '']);
    }
  }
  return byKey;
}

export const CONNECTOR_SUITES = [redisSinkSuite, partitionSourceSuite, kafkaSourceSuite, kafkaSinkSuite];
