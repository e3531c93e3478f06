/**
 * End-to-end figures on real Kafka (services from STREAMCHECK_* endpoints, Testcontainers or
 * local processes, as the e2e tests find them):
 * - records/s of the exactly-once pipeline (kafka-2pc: Kafka source -> keyed sum -> Kafka 2PC
 *   sink, checkpoint every 150 ms), without faults: over the job (deploy to end: reading the
 *   input, processing, transactional produce, commits), and over the whole cycle (topic
 *   creation, loading the input and reading the output back included);
 * - records/s of raw transactional produce of the same records on the same broker through
 *   the same kafkajs client (one transaction per 500 records), and the pipeline's share of it;
 * - seconds per crash/restart cycle (one crash per cycle, kafka-2pc and odd-even-sum), whole
 *   and the job alone (crash, restart delay and recovery inside).
 * Prints figures; asserts nothing about time (the aims, half of raw produce and under 2 s a
 * cycle, are printed beside them).
 *
 *   npx tsx bench/e2e-throughput.ts [recordsPerPartition=5000]
 */
import { randomUUID } from 'node:crypto';
import { availableParallelism, loadavg } from 'node:os';
import { KafkajsClients } from '../src/connectors/real/kafka-clients.ts';
import { runE2eCycles } from '../src/harness/e2e/e2e-cycles.ts';
import { resolveServices } from '../src/harness/e2e/services/index.ts';

const RECORDS_PER_PARTITION = Number(process.argv[2] ?? 5_000);
const RAW_BATCH = 500;
const CYCLES = 5;
const AIM_SHARE_OF_RAW = 0.5;
const AIM_CYCLE_SECONDS = 2;

const services = await resolveServices({ policy: 'auto', timeoutMs: 150_000 });
if ('unavailable' in services) {
  console.log(`bench e2e: skipped, no Kafka/Redis: ${services.reason}`);
  process.exit(0);
}
try {
  const quiet = (): void => {};
  const [pipeline] = await runE2eCycles({ scenario: 'kafka-2pc', cycles: 1, seed: 1, recordsPerPartition: RECORDS_PER_PARTITION, services, log: quiet, faults: false });
  const records = 2 * RECORDS_PER_PARTITION;

  const clients = new KafkajsClients({ brokers: [...services.kafkaBrokers] });
  const topic = `bench-raw-${randomUUID().slice(0, 8)}`;
  await clients.createTopic(topic, 2);
  const rawStarted = performance.now();
  const producer = clients.producer(`${topic}-tx`);
  await producer.initTransactions();
  for (let sent = 0; sent < records; sent += RAW_BATCH) {
    producer.beginTransaction();
    const batch = Array.from({ length: Math.min(RAW_BATCH, records - sent) }, (_, i) => ({ key: String(sent + i), value: String(sent + i) }));
    await producer.send(topic, (sent / RAW_BATCH) % 2, batch);
    await producer.commitTransaction();
  }
  const rawSeconds = (performance.now() - rawStarted) / 1000;
  await clients.close();

  const cycles2pc = await runE2eCycles({ scenario: 'kafka-2pc', cycles: CYCLES, seed: 2, recordsPerPartition: 100, services, log: quiet });
  const cyclesRedis = await runE2eCycles({ scenario: 'odd-even-sum', cycles: CYCLES, seed: 3, recordsPerPartition: 100, services, log: quiet });
  const mean = (values: number[]): string => (values.reduce((a, b) => a + b, 0) / values.length / 1000).toFixed(2);
  const jobPerSecond = records / (pipeline!.jobMs / 1000);
  const rawPerSecond = records / rawSeconds;

  console.log(`end-to-end on ${services.provider} services (${services.kafkaBrokers.join(',')}), ${availableParallelism()} cores, load average ${loadavg()[0]!.toFixed(1)}:`);
  console.log(
    `  exactly-once pipeline (kafka-2pc, ${records} records, no faults, ${pipeline!.checkpointsCompleted} checkpoints): ${jobPerSecond.toFixed(0)} records/s over the job (${(pipeline!.jobMs / 1000).toFixed(2)} s), ` +
      `${(records / (pipeline!.wallMs / 1000)).toFixed(0)} records/s over the whole cycle (${(pipeline!.wallMs / 1000).toFixed(1)} s); lost ${pipeline!.lost}, duplicated ${pipeline!.duplicated}`,
  );
  console.log(`  raw kafkajs transactional produce (${RAW_BATCH} records a transaction): ${rawPerSecond.toFixed(0)} records/s (${rawSeconds.toFixed(1)} s)`);
  console.log(`  pipeline job / raw produce: ${((jobPerSecond / rawPerSecond) * 100).toFixed(0)} % (aim: at least ${AIM_SHARE_OF_RAW * 100} %)`);
  console.log(
    `  seconds per crash/restart cycle (2x100 records, aim under ${AIM_CYCLE_SECONDS} s): kafka-2pc ${mean(cycles2pc.map((c) => c.wallMs))} s (job ${mean(cycles2pc.map((c) => c.jobMs))} s), ` +
      `odd-even-sum ${mean(cyclesRedis.map((c) => c.wallMs))} s (job ${mean(cyclesRedis.map((c) => c.jobMs))} s)`,
  );
} finally {
  await services.stop();
}
