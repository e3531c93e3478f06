import {
  EVENT_TIME_WINDOW_SETTINGS,
  eventTimeWindowInput,
  eventTimeWindowModel,
  idlePartitionOf,
  type EventTimeWindowModel,
  type SensorReading,
  type TimedReading,
} from '../model/event-time-windows.ts';
import { checkEventTimeOutput, checkIdleProgress, checkWatermarksMonotonic, checkWindowsFireOnce, lateReadingKey, windowCountKey } from '../properties/event-time.ts';
import type { Key, SubtaskInfo } from '../src/connectors/api.ts';
import type { InputDisorder } from '../src/harness/input-disorder.ts';
import type { RedisClient } from '../src/connectors/redis-api.ts';
import { RedisIdempotentSink } from '../src/connectors/redis-sink.ts';
import { SimRedisServer, type RedisSnapshot } from '../src/connectors/sim/redis.ts';
import { TimedPartitionSourceReader, timedPartitionLog } from '../src/connectors/timed-partition-source.ts';
import type { Scenario, ScenarioSize, Violation } from '../src/harness/scenario.ts';
import { outputTag, WatermarkStrategy } from '../src/runtime/functions.ts';
import { jobGraph, type JobGraphSpec } from '../src/runtime/job-graph.ts';
import type { RunObservations } from '../src/runtime/observations.ts';
import type { Keyed } from '../src/runtime/pipeline.ts';
import { tumblingEventTimeWindows, tumblingProcessingTimeWindows, windowed, type WindowAssigner } from '../src/runtime/windows.ts';

export const WINDOW_OPERATOR = 'window-counts';
export const SOURCE_NAME = 'readings';
const EVENT_TIME_PREFIX = 'etw';
const LATE_READINGS = outputTag<SensorReading>('late-readings');
/**
 * As a Flink job configures them: watermarks at most every 50 virtual ms (Flink's default
 * auto-watermark interval is 200 ms), and a source with nothing to read polls again after
 * 20 ms. Each costs steps (a watermark is taken by every downstream task, a poll is a timer
 * and a read), and a step costs a virtual ms: with the runtime's defaults (10 ms and 5 ms)
 * the job needs twice the steps for the same readings.
 */
const EVENT_TIME_JOB_OPTIONS = { autoWatermarkIntervalMs: 50, sourcePollDelayMs: 50 } as const;
/** The keyed window operator's parallelism (sensors are hashed over it). */
const WINDOW_PARALLELISM = 1;

const COUNT = {
  createAccumulator: () => 0,
  add: (_reading: SensorReading, count: number) => count + 1,
  getResult: (count: number) => count,
};

/**
 * The window job: timestamped sensor readings from a timed partitioned log -> keyBy sensor
 * -> tumbling window count -> Redis SET of `<prefix>:count:<sensor>:<windowStart>`; late
 * readings (event time only) -> side output -> Redis SET of `<prefix>:late:<readingId>`.
 * Both sinks are idempotent: deterministic keys, values from the input only.
 */
export function windowCountJob(
  name: string,
  input: readonly (readonly TimedReading[])[],
  clockMs: () => number,
  assigner: WindowAssigner,
  sinkClient: (sink: string, subtaskIndex: number) => RedisClient,
  prefix: string,
  sinkBufferKeys: number | undefined,
  options: {
    /** 'ingestion': records are stamped with the source's clock when read, not with their own time. */
    readonly timestamps?: 'event' | 'ingestion';
    readonly plantedBugKeepFiredWindows?: boolean;
  } = {},
): JobGraphSpec {
  const log = timedPartitionLog(input);
  const job = jobGraph(name);
  const settings = EVENT_TIME_WINDOW_SETTINGS;
  const plantedBugKeepFiredWindows = options.plantedBugKeepFiredWindows === true;
  const watermarks =
    options.timestamps === 'ingestion'
      ? WatermarkStrategy.forIngestionTime<SensorReading>().withIdleness(settings.idleTimeoutMs)
      : WatermarkStrategy.forBoundedOutOfOrderness<SensorReading>(settings.maxOutOfOrdernessMs)
          .withTimestampAssigner((reading) => reading.timestampMs)
          .withIdleness(settings.idleTimeoutMs);
  const eventTime = assigner.timeDomain === 'event-time';
  const counts = job
    .source(SOURCE_NAME, input.length, ({ subtaskIndex }) => new TimedPartitionSourceReader(log, subtaskIndex, clockMs), { watermarks })
    .keyBy((reading) => reading.sensor, WINDOW_PARALLELISM)
    .process(
      WINDOW_OPERATOR,
      windowed<SensorReading, number, number, Keyed<number>>({
        assigner,
        aggregate: COUNT,
        ...(eventTime ? { lateDataTag: LATE_READINGS } : {}),
        emit: (sensor, window, count) => ({ key: `${String(sensor)}:${window.startMs}`, value: count }),
        ...(plantedBugKeepFiredWindows ? { plantedBugKeepFiredWindows } : {}),
      }),
    );
  const idempotentSink = (sink: string, { subtaskIndex }: SubtaskInfo, entriesOf: (key: Key, value: number) => Record<string, string>) =>
    new RedisIdempotentSink<number>(sinkClient(sink, subtaskIndex), entriesOf, sinkBufferKeys);
  if (eventTime) {
    counts
      .getSideOutput(LATE_READINGS)
      .map('late-entry', (reading): Keyed<number> => ({ key: reading.id, value: reading.timestampMs }))
      .sink('late-readings', (info) => idempotentSink('late-readings', info, (id, timestampMs) => redisEntry(lateReadingKey(prefix, String(id)), String(timestampMs))));
  }
  counts.sink('redis-counts', (info) => idempotentSink('redis-counts', info, (cellId, count) => redisEntry(windowCountKey(prefix, String(cellId)), String(count))));
  return job.build();
}

/**
 * One Redis entry, for the sinks' flushes (every window count and late reading passes here).
 * Assigned to an empty object rather than written `{ [key]: value }`: V8 builds a computed key
 * in a literal through a runtime call, about twice as slow.
 */
function redisEntry(key: string, value: string): Record<string, string> {
  const entries: Record<string, string> = {};
  entries[key] = value;
  return entries;
}

/** The largest watermark the idle partition's readings before its gap can produce. */
function watermarkBeforeGapMs(input: readonly (readonly TimedReading[])[], model: EventTimeWindowModel): number {
  const idle = model.idleProgress;
  if (idle === undefined) return Number.NEGATIVE_INFINITY;
  const before = input[idle.partition]!.filter((reading) => reading.arrivalMs < idle.resumesAtMs);
  return Math.max(...before.map((reading) => reading.value.timestampMs)) - EVENT_TIME_WINDOW_SETTINGS.maxOutOfOrdernessMs - 1;
}

/** Tasks of a source vertex: the tasks whose vertex is the source's, in subtask order. */
function sourceTasks(observations: RunObservations): number[] {
  const tasks: number[] = [];
  observations.taskVertices.forEach((vertex, task) => {
    if (vertex.vertex === SOURCE_NAME) tasks.push(task);
  });
  return tasks;
}

/** The event-time properties over one finished (or failed) run. */
export function judgeEventTimeWindows(
  observations: RunObservations,
  store: Readonly<Record<string, string>>,
  input: readonly (readonly TimedReading[])[],
  model: EventTimeWindowModel,
): Violation[] {
  const restored = observations.restores.some((restore) => restore.attempt > 0);
  const output = checkEventTimeOutput(store, model, EVENT_TIME_PREFIX, restored);
  // A run that did not finish may not have written everything: judge only what it wrote.
  const judgedOutput = observations.outcome === 'finished' ? output : output.filter((violation) => violation.anomaly !== 'lost write');
  const idlePartition = model.idleProgress?.partition;
  const sources = sourceTasks(observations);
  const idleSource = idlePartition === undefined ? undefined : sources[idlePartition];
  return [
    ...judgedOutput,
    ...checkWatermarksMonotonic(observations.watermarks, observations.taskNames),
    ...checkWindowsFireOnce(observations.timerFirings, observations.restores, observations.checkpoints, model, WINDOW_OPERATOR),
    ...(idleSource === undefined
      ? []
      : checkIdleProgress(
          observations.watermarks.filter((change) => sources.includes(change.task)),
          idleSource,
          observations.timerFirings,
          model,
          WINDOW_OPERATOR,
          watermarkBeforeGapMs(input, model),
        )),
  ];
}

/**
 * Input and model are pure functions of the size and the case's disorder: computed once for
 * each, not once per run. The cache is bounded (generated cases draw many disorders): the
 * oldest entry goes first.
 */
const inputsAndModels = new Map<string, { readonly input: TimedReading[][]; readonly model: EventTimeWindowModel }>();
const MAX_CACHED_INPUTS = 64;
function inputAndModel(size: ScenarioSize, disorder: InputDisorder | undefined): { readonly input: TimedReading[][]; readonly model: EventTimeWindowModel } {
  const id = `${size.partitions}x${size.recordsPerPartition}${disorder === undefined ? '' : `/${JSON.stringify(disorder)}`}`;
  let entry = inputsAndModels.get(id);
  if (entry === undefined) {
    const input = eventTimeWindowInput(size.partitions, size.recordsPerPartition, EVENT_TIME_WINDOW_SETTINGS, disorder);
    entry = { input, model: eventTimeWindowModel(input) };
    if (inputsAndModels.size >= MAX_CACHED_INPUTS) inputsAndModels.delete(inputsAndModels.keys().next().value!);
    inputsAndModels.set(id, entry);
  }
  return entry;
}

/**
 * Issue 10's window scenario: two partitions of sensor readings with bounded disorder,
 * readings later than the bound (offline sensors) and an idle period on one partition;
 * tumbling event-time window counts per sensor; late readings to a side output. Under every
 * interleaving and fault plan the counts equal the batch model (model/event-time-windows.ts).
 */
export const eventTimeWindow: Scenario = {
  name: 'event-time-window',
  description:
    'timed partitions of sensor readings (bounded disorder, late uploads, an idle partition) -> keyBy sensor -> tumbling event-time window count -> idempotent Redis SET; late readings -> side output -> Redis',
  defaultSize: { partitions: 2, recordsPerPartition: 40 },
  faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint', 'drop-ack', 'fail-initialize'],
  backends: ['memory', 'fs'],
  inputDisorder: true,
  properties: ['event-time-output', 'watermark-monotonic', 'window-fires-once', 'event-time-progress'],
  jobOptions: EVENT_TIME_JOB_OPTIONS,
  bugs: [
    {
      name: 'watermark-max-of-inputs',
      description: "a task's watermark is the maximum of its inputs' instead of the minimum: the faster partition fires windows the slower one still fills",
      caughtBy: ['event-time-output'],
      jobOptions: { watermarkAsMaxOfInputs: true },
    },
    {
      name: 'timers-left-out-of-snapshot',
      description: 'checkpoints keep the windows (keyed state) but not their timers: after a restore a pending window never fires',
      caughtBy: ['event-time-output'],
      jobOptions: { timersLeftOutOfSnapshot: true },
    },
    {
      name: 'source-never-idles',
      description: 'a source with no data never marks itself idle, so it holds back the watermark (and every window) downstream until its data resumes',
      caughtBy: ['event-time-progress'],
      jobOptions: { sourceNeverIdles: true },
    },
    {
      name: 'resumed-input-pulls-watermark-back',
      description:
        "when the idle partition's data resumes, its input rejoins the window task's minimum at once and pulls the task's watermark back behind windows already fired",
      caughtBy: ['watermark-monotonic'],
      jobOptions: { resumedInputPullsWatermarkBack: true },
    },
    {
      name: 'fired-windows-kept',
      description:
        'the window function keeps a window after firing it instead of purging it, and registers the timers of all its windows with every record: a fired window fires again at the next watermark (the idempotent sink hides it in the store; the firings do not)',
      caughtBy: ['window-fires-once'],
    },
  ],
  taskCount: (size) => size.partitions + 2 * WINDOW_PARALLELISM,
  build({ scheduler, env, size, bug, sinkBufferKeys, disorder }) {
    const { input, model } = inputAndModel(size, disorder);
    const redis = new SimRedisServer(env);
    const assigner = tumblingEventTimeWindows(EVENT_TIME_WINDOW_SETTINGS.windowSizeMs);
    const job = windowCountJob(
      'event-time-window',
      input,
      () => scheduler.nowMs,
      assigner,
      (sink, subtaskIndex) => redis.client(`${sink}-${subtaskIndex}`),
      EVENT_TIME_PREFIX,
      sinkBufferKeys,
      { plantedBugKeepFiredWindows: bug === 'fired-windows-kept' },
    );
    // The judge and the output both read the store once the run is over: one sorted snapshot for both.
    let storeAfterRun: RedisSnapshot | undefined;
    const finalStore = (): RedisSnapshot => (storeAfterRun ??= redis.snapshot());
    return {
      pipeline: job,
      judge: (observations) => judgeEventTimeWindows(observations, redis.stringSnapshot(finalStore()), input, model),
      output: finalStore,
    };
  },
};

/**
 * The negative controls: the same job with its windows on the clock instead of the data.
 *
 * - processing time: a reading's window is the window task's clock when the reading arrives;
 * - ingestion time: a reading is stamped with its source's clock when read (event-time
 *   windows over those stamps; a restore stamps the replayed readings anew, later).
 *
 * Either way the counts depend on the interleaving and on faults: different runs
 * legitimately write different counts. That is expected, not a bug - it is why event time
 * exists. Only what holds whatever the clock is checked: without a restore no reading is
 * counted twice, so the counts add up to at most the input (at most: a reading taken at a
 * processing-time window's last millisecond, after its timer fired, opens the window again
 * and its count overwrites the earlier one).
 */
function clockTimeWindowControl(notion: 'processing' | 'ingestion'): Scenario {
  const name = `${notion}-time-window`;
  const eventTimeWindows = notion === 'ingestion';
  return {
    name,
    description: `NEGATIVE CONTROL: the event-time-window job on ${notion} time; its counts differ between interleavings and faults, as expected (the clock decides the windows, not the data)`,
    defaultSize: { partitions: 2, recordsPerPartition: 40 },
    faultKinds: ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint'],
    backends: ['memory'],
    inputDisorder: true,
    properties: ['clock-time-count-bound'],
    jobOptions: EVENT_TIME_JOB_OPTIONS,
    bugs: [],
    negativeControl: `its window counts differ between interleavings and faults - expected, not a bug: ${notion} time is a clock, so the schedule decides which window a reading falls in; event-time-window over the same readings writes the same count for every window whose readings are surely on time`,
    taskCount: (size) => size.partitions + (eventTimeWindows ? 2 : 1) * WINDOW_PARALLELISM,
    build({ scheduler, env, size, sinkBufferKeys, disorder }) {
      const { input } = inputAndModel(size, disorder);
      const redis = new SimRedisServer(env);
      const windowSizeMs = EVENT_TIME_WINDOW_SETTINGS.windowSizeMs;
      const job = windowCountJob(
        name,
        input,
        () => scheduler.nowMs,
        eventTimeWindows ? tumblingEventTimeWindows(windowSizeMs) : tumblingProcessingTimeWindows(windowSizeMs),
        (sink, subtaskIndex) => redis.client(`${sink}-${subtaskIndex}`),
        notion === 'processing' ? 'ptw' : 'itw',
        sinkBufferKeys,
        { timestamps: notion === 'ingestion' ? 'ingestion' : 'event' },
      );
      const readings = input.reduce((total, partition) => total + partition.length, 0);
      return {
        pipeline: job,
        judge: (observations) => {
          const restored = observations.restores.some((restore) => restore.attempt > 0);
          if (observations.outcome !== 'finished' || restored) return [];
          const counted = Object.values(redis.stringSnapshot()).reduce((total, count) => total + Number(count), 0);
          return counted <= readings
            ? []
            : [{ property: 'clock-time-count-bound', anomaly: 'duplicate', message: `windows count ${counted} readings in all, more than the ${readings} of the input, in a run without a restore` }];
        },
        output: () => redis.snapshot(),
      };
    },
  };
}

export const processingTimeWindow = clockTimeWindowControl('processing');
export const ingestionTimeWindow = clockTimeWindowControl('ingestion');
