/**
 * Scenarios with a planted cause the diagnosis must find (issue 11): a slow operator, a skewed
 * key, and a slow asynchronous snapshot phase over large keyed state. Each is a keyed count
 * and sum (exactly-once over an idempotent Redis-like sink) whose judge also diagnoses the
 * run and checks that the diagnosis names the planted cause.
 */
import { PartitionSourceReader, type PartitionLog } from '../src/connectors/partition-source.ts';
import { RedisIdempotentSink } from '../src/connectors/redis-sink.ts';
import { SimRedisServer } from '../src/connectors/sim/redis.ts';
import { diagnose, diagnosisBugsFor, SKEW_MIN_RECORDS, type Diagnosis } from '../src/harness/diagnose.ts';
import { LOST_WRITE } from '../src/harness/run-case.ts';
import type { PlantedBug, Scenario, ScenarioSize, Violation } from '../src/harness/scenario.ts';
import type { Fault } from '../src/runtime/faults.ts';
import type { JobOptions } from '../src/runtime/job.ts';
import type { RunObservations } from '../src/runtime/observations.ts';
import { pipeline } from '../src/runtime/pipeline.ts';
import { partitionOf } from '../src/runtime/task.ts';

export const BACKPRESSURE_DIAGNOSIS = 'backpressure-diagnosis';
export const SKEW_DIAGNOSIS = 'skew-diagnosis';
export const SLOW_CHECKPOINT_DIAGNOSIS = 'slow-checkpoint-diagnosis';

const KEY_PREFIX = 'flow';
export const FLOW_KEYED_PARALLELISM = 2;
/** The hot key of a skewed input. */
export const HOT_KEY = 'hot';

export interface FlowRecord {
  readonly n: number;
  readonly key: string;
}

/** How a flow scenario's input is keyed. */
export interface FlowKeys {
  /** Keys `k0 .. k<keyCount-1>` by n mod keyCount. */
  readonly keyCount: (size: ScenarioSize) => number;
  /** Share of the records (percent) that go to the hot key instead (0: none). */
  readonly hotKeyPercent: number;
  /** The hot key (default HOT_KEY). */
  readonly hotKey?: string;
}

/** Record n goes to the hot key when its hash falls under the share (a fixed, spread-out choice of records). */
function isHot(n: number, percent: number): boolean {
  return (Math.imul(n, 2654435761) >>> 0) % 100 < percent;
}

/**
 * The input as a partitioned log whose records not yet read can be skewed (the skew-keys
 * fault): a record read once keeps its key, so a restore re-reads what it read before.
 */
export class SkewableLog implements PartitionLog<FlowRecord> {
  private readonly readUpTo: number[];

  constructor(readonly partitions: FlowRecord[][]) {
    this.readUpTo = partitions.map(() => 0);
  }

  endOffset(partition: number): number {
    return this.partitions[partition]!.length;
  }

  read(partition: number, offset: number): FlowRecord {
    const records = this.partitions[partition];
    if (records === undefined || offset < 0 || offset >= records.length) throw new Error(`SkewableLog: offset ${offset} out of range in partition ${partition}`);
    this.readUpTo[partition] = Math.max(this.readUpTo[partition]!, offset + 1);
    return records[offset]!;
  }

  /** From each partition's first record never read on, at least `hotKeyPercent` % go to the hot key. */
  skewKeys(hotKeyPercent: number): void {
    this.partitions.forEach((records, partition) => {
      for (let offset = this.readUpTo[partition]!; offset < records.length; offset++) {
        const record = records[offset]!;
        if (isHot(record.n * 7 + 3, hotKeyPercent)) records[offset] = { n: record.n, key: HOT_KEY };
      }
    });
  }
}

export function flowInput(size: ScenarioSize, keys: FlowKeys, partitionRecords?: readonly number[]): FlowRecord[][] {
  const keyCount = keys.keyCount(size);
  return Array.from({ length: size.partitions }, (_, p) =>
    Array.from({ length: partitionRecords?.[p] ?? size.recordsPerPartition }, (_, i) => {
      const n = p * size.recordsPerPartition + i + 1;
      return { n, key: keys.hotKeyPercent > 0 && isHot(n, keys.hotKeyPercent) ? (keys.hotKey ?? HOT_KEY) : balancedKey(n % keyCount) };
    }),
  );
}

/** Keys taken in turn from each keyed subtask's share (by key group), so that every subtask gets the same load and only the planted cause stands out. */
const balancedKeys: string[] = [];
function balancedKey(index: number): string {
  if (balancedKeys.length <= index) {
    const bySubtask: string[][] = Array.from({ length: FLOW_KEYED_PARALLELISM }, () => []);
    for (let candidate = 0; bySubtask.some((keys) => keys.length <= index); candidate++) bySubtask[keyedSubtaskOf(`k${candidate}`)]!.push(`k${candidate}`);
    balancedKeys.length = 0;
    for (let i = 0; i <= index; i++) balancedKeys.push(bySubtask[i % FLOW_KEYED_PARALLELISM]![Math.floor(i / FLOW_KEYED_PARALLELISM)]!);
  }
  return balancedKeys[index]!;
}

interface KeyTotals {
  readonly count: number;
  readonly sum: number;
}

function expectedTotals(partitions: readonly (readonly FlowRecord[])[]): Map<string, KeyTotals> {
  const totals = new Map<string, KeyTotals>();
  for (const records of partitions) {
    for (const { n, key } of records) {
      const previous = totals.get(key) ?? { count: 0, sum: 0 };
      totals.set(key, { count: previous.count + 1, sum: previous.sum + n });
    }
  }
  return totals;
}

/** The keyed subtask that holds a key (the subtask index within the count vertex). */
export function keyedSubtaskOf(key: string): number {
  return partitionOf(key, FLOW_KEYED_PARALLELISM);
}

/** Whether the run had slowness or skew besides the scenario's planted cause (then another cause may win, and the diagnosis is not judged). */
function hasOtherSlowness(observations: RunObservations, allowed: readonly Fault['kind'][]): boolean {
  return observations.faults.some((fault) => (fault.kind.startsWith('slow-') || fault.kind === 'skew-keys') && !(allowed as readonly string[]).includes(fault.kind));
}

export interface FlowScenarioOptions {
  readonly name: string;
  readonly description: string;
  readonly defaultSize: ScenarioSize;
  readonly keys: FlowKeys;
  readonly faultKinds: readonly Fault['kind'][];
  readonly jobOptions: Partial<JobOptions>;
  readonly property: string;
  readonly bugs: readonly PlantedBug[];
  readonly backends?: Scenario['backends'];
  /** Fault kinds that do not change the planted cause (the diagnosis is still judged with them). */
  readonly compatibleFaults?: readonly Fault['kind'][];
  /** The diagnosis' verdict on the planted cause: violations when it misses it. */
  readonly judgeDiagnosis: (diagnosis: Diagnosis, observations: RunObservations) => Violation[];
}

/** A keyed count with a planted cause, judged for exactly-once and for the diagnosis of that cause (tests build their own placements with it). */
export function flowScenario(options: FlowScenarioOptions): Scenario {
  return {
    name: options.name,
    description: options.description,
    defaultSize: options.defaultSize,
    faultKinds: options.faultKinds,
    backends: options.backends ?? ['memory', 'fs', 'rocksdb'],
    properties: ['exactly-once', options.property],
    variablePartitions: true,
    unequalPartitions: true,
    jobOptions: options.jobOptions,
    bugs: options.bugs,
    taskCount: (size) => size.partitions + FLOW_KEYED_PARALLELISM,
    build({ env, size, sinkBufferKeys, partitionRecords, bug }) {
      const log = new SkewableLog(flowInput(size, options.keys, partitionRecords));
      const redis = new SimRedisServer(env);
      const built = pipeline(options.name)
        .source('numbers', size.partitions, ({ subtaskIndex }) => new PartitionSourceReader(log, subtaskIndex))
        .keyBy((record: FlowRecord) => record.key, FLOW_KEYED_PARALLELISM)
        .aggregate<KeyTotals>('count', (totals, record: FlowRecord) => ({ count: (totals?.count ?? 0) + 1, sum: (totals?.sum ?? 0) + record.n }))
        .sink('redis', ({ subtaskIndex }) =>
          new RedisIdempotentSink<KeyTotals>(redis.client(`redis-sink-${subtaskIndex}`), (key, totals) => ({ [`${KEY_PREFIX}:${String(key)}`]: `${totals.count}/${totals.sum}` }), sinkBufferKeys),
        )
        .build();
      return {
        pipeline: built,
        environmentHooks: { skewKeys: (percent: number) => log.skewKeys(percent) },
        judge: (observations) => {
          const violations = checkTotals(redis.stringSnapshot(), expectedTotals(log.partitions));
          // The diagnosis is judged on finished runs whose only slowness is the planted one.
          if (observations.outcome === 'finished' && !hasOtherSlowness(observations, options.compatibleFaults ?? [])) {
            violations.push(...options.judgeDiagnosis(diagnose(observations, diagnosisBugsFor(bug)), observations));
          }
          return violations;
        },
        output: () => redis.snapshot(),
      };
    },
  };
}

function checkTotals(store: Record<string, string>, expected: Map<string, KeyTotals>): Violation[] {
  const violations: Violation[] = [];
  for (const [key, totals] of expected) {
    const actual = store[`${KEY_PREFIX}:${key}`];
    const wanted = `${totals.count}/${totals.sum}`;
    if (actual !== wanted) violations.push({ property: 'exactly-once', anomaly: actual === undefined ? LOST_WRITE : 'wrong value', message: `${KEY_PREFIX}:${key} holds ${actual ?? 'nothing'}, expected count/sum ${wanted}` });
  }
  for (const key of Object.keys(store)) {
    if (!expected.has(key.slice(KEY_PREFIX.length + 1))) violations.push({ property: 'exactly-once', anomaly: 'unexpected write', message: `${key} is not a key of the model` });
  }
  return violations;
}

/** The subtask name of keyed subtask `index` (the count vertex chains the sink). */
export function keyedTaskName(index: number): string {
  return `count>redis[${index}]`;
}

/**
 * When any subtask was backpressured, the backpressure diagnosis must name `planted` (a task
 * name) as the root cause. A run whose buffers held everything the bottleneck had not yet
 * taken (a large channel capacity) has no backpressure to diagnose.
 */
export function judgeBackpressureRoot(diagnosis: Diagnosis, observations: RunObservations, planted: string, property: string): Violation[] {
  if (diagnosis.backpressure === undefined || diagnosis.backpressure.rows.every((row) => row.level === 'OK')) return [];
  const root = diagnosis.backpressure.rootCause;
  const named = root === undefined ? 'no subtask' : observations.taskNames[root];
  if (named === planted) return [];
  return [{ property, anomaly: 'wrong root cause', message: `the planted bottleneck is ${planted}, the diagnosis names ${named}: ${diagnosis.backpressure?.explanation ?? 'no metrics'}` }];
}

const SLOW_SUBTASK = keyedTaskName(1);
const SLOW_MS_PER_RECORD = 8;

export const flowSlowOperator: Scenario = flowScenario({
  name: 'flow-slow-operator',
  description: `two partitions -> keyBy -> count -> Redis SET, with ${SLOW_SUBTASK} ${SLOW_MS_PER_RECORD} ms slower per record: the backpressure diagnosis must name it the root cause`,
  defaultSize: { partitions: 2, recordsPerPartition: 80 },
  keys: { keyCount: (size) => Math.max(2, Math.floor(size.recordsPerPartition / 2)), hotKeyPercent: 0 },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'slow-operator', 'slow-calls'],
  jobOptions: { slowSubtasks: { [SLOW_SUBTASK]: SLOW_MS_PER_RECORD } },
  property: BACKPRESSURE_DIAGNOSIS,
  bugs: [
    {
      name: 'diagnosis-blames-sender',
      description: 'the backpressure diagnosis names the first backpressured subtask (a sender) as the root, without reading its downstream pool usage',
      caughtBy: [BACKPRESSURE_DIAGNOSIS],
    },
  ],
  judgeDiagnosis: (diagnosis, observations) => judgeBackpressureRoot(diagnosis, observations, SLOW_SUBTASK, BACKPRESSURE_DIAGNOSIS),
});

const HOT_KEY_PERCENT = 70;
/** Every keyed subtask spends this much on a record: the hot one cannot keep up. */
const KEYED_MS_PER_RECORD = 4;

export const flowSkewedKeys: Scenario = flowScenario({
  name: 'flow-skewed-keys',
  description: `two partitions, ${HOT_KEY_PERCENT}% of the records on one hot key -> keyBy -> count -> Redis SET, every keyed record costing ${KEYED_MS_PER_RECORD} ms: the diagnosis must find the skew and the hot subtask as the root of the backpressure`,
  defaultSize: { partitions: 2, recordsPerPartition: 80 },
  keys: { keyCount: (size) => Math.max(2, Math.floor(size.recordsPerPartition / 2)), hotKeyPercent: HOT_KEY_PERCENT },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'skew-keys'],
  compatibleFaults: ['skew-keys'],
  jobOptions: { slowSubtasks: { [keyedTaskName(0)]: KEYED_MS_PER_RECORD, [keyedTaskName(1)]: KEYED_MS_PER_RECORD } },
  property: SKEW_DIAGNOSIS,
  bugs: [],
  judgeDiagnosis: (diagnosis, observations) => {
    const hot = keyedTaskName(keyedSubtaskOf(HOT_KEY));
    const finding = diagnosis.skew.find((f) => f.vertex === 'count>redis');
    const violations: Violation[] = [];
    const named = finding?.hotSubtask === undefined ? 'no subtask' : observations.taskNames[finding.hotSubtask];
    const received = finding?.recordsReceived.reduce((a, b) => a + b, 0) ?? 0;
    // Too few records to call any distribution skewed (a run whose partitions were cut short).
    if (received >= SKEW_MIN_RECORDS && named !== hot) violations.push({ property: SKEW_DIAGNOSIS, anomaly: 'skew missed', message: `the hot key lives on ${hot}, the skew diagnosis names ${named} (records received ${finding?.recordsReceived.join(', ') ?? '?'})` });
    violations.push(...judgeBackpressureRoot(diagnosis, observations, hot, SKEW_DIAGNOSIS));
    return violations;
  },
});

const SLOW_ASYNC_SUBTASK = keyedTaskName(0);
const SLOW_ASYNC_MS = 200;

export const flowSlowCheckpoint: Scenario = flowScenario({
  name: 'flow-slow-checkpoint',
  description: `large keyed state (a key per record) -> Redis SET, ${SLOW_ASYNC_SUBTASK}'s asynchronous snapshot phase ${SLOW_ASYNC_MS} ms: the slow-checkpoint checklist must name that phase at that subtask`,
  defaultSize: { partitions: 2, recordsPerPartition: 150 },
  keys: { keyCount: (size) => size.partitions * size.recordsPerPartition, hotKeyPercent: 0 },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'drop-ack', 'slow-snapshot', 'slow-calls'],
  jobOptions: { slowAsyncPhaseMs: { [SLOW_ASYNC_SUBTASK]: SLOW_ASYNC_MS } },
  property: SLOW_CHECKPOINT_DIAGNOSIS,
  bugs: [
    {
      name: 'diagnosis-folds-async-into-sync',
      description: "the checkpoint breakdown counts the asynchronous phase as part of the synchronous one: the checklist blames the synchronous phase",
      caughtBy: [SLOW_CHECKPOINT_DIAGNOSIS],
    },
  ],
  judgeDiagnosis: (diagnosis, observations) => {
    // The checklist's asynchronous-phase item must measure the planted time at the planted subtask (in a run whose
    // alignment or source trigger was slow too, another item may still account for more of the checkpoint).
    const item = diagnosis.slowCheckpoint?.checklist.find((entry) => entry.item === 'async-phase');
    const named = item === undefined ? 'no checklist' : `${item.ms ?? 0} ms at ${item.task === undefined ? 'no subtask' : observations.taskNames[item.task]}`;
    if (item?.task !== undefined && observations.taskNames[item.task] === SLOW_ASYNC_SUBTASK && (item.ms ?? 0) >= SLOW_ASYNC_MS) return [];
    return [{ property: SLOW_CHECKPOINT_DIAGNOSIS, anomaly: 'slow phase missed', message: `the planted cause is the asynchronous phase at ${SLOW_ASYNC_SUBTASK}; the checklist's "Asynchronous phase slow?" measures ${named}` }];
  },
});

export const FLOW_SCENARIOS: readonly Scenario[] = [flowSlowOperator, flowSkewedKeys, flowSlowCheckpoint];
