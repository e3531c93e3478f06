import type { SinkWriter, SubtaskInfo } from '../../connectors/api.ts';
import type { TwoPhaseCommitSink } from '../../connectors/two-phase-commit-sink.ts';
import { pipeline, type PipelineSpec } from '../../runtime/pipeline.ts';
import type { RunObservations } from '../../runtime/observations.ts';
import { callerModule, withModule } from '../define-scenario.ts';
import { callUserCode, isUserCodeError, UserCodeError, type BuildContext, type BuiltScenario, type Scenario, type ScenarioSize, type Violation } from '../scenario.ts';
import {
  AT_LEAST_ONCE,
  COMMITTED_IMPLIES_COMPLETED,
  COMPLETED_IMPLIES_COMMITTED,
  EXACTLY_ONCE,
  NO_OPEN_TRANSACTION,
  checkOverwriteReadsAtCheckpoints,
  checkTwoPhaseCommitEvents,
  compareWithGolden,
  readBackEntries,
  type ReadBack,
} from './oracles.ts';
import {
  DEFAULT_SUITE_FAULTS,
  checkSuiteOptions,
  perSize,
  plantedBugs,
  runFaultFree,
  suiteData,
  suiteSize,
  testDataSource,
  type ExternalContext,
  type RealExternalContext,
  type SuiteOptions,
} from './suite-core.ts';
import type { TestRecord } from './test-data.ts';

/** What the user's `external` function returns for a sink: how to make the sink, how to read the system back. */
export interface SinkExternal {
  /** The sink subtask under test; it receives the suite's `TestRecord`s, keyed by `record.key`. */
  createWriter(info: SubtaskInfo): SinkWriter<TestRecord>;
  /**
   * What the external system holds, per key: the value (overwrite) or an array of the values
   * (append). Read the simulated system's state directly (e.g. `service.state`), not through a
   * client: it is called between steps, including when a checkpoint completes.
   */
  readBack(): ReadBack | Promise<ReadBack>;
}

export interface SinkSuiteOptions extends SuiteOptions {
  /** What the sink promises. exactly-once: nothing lost, nothing twice; at-least-once: nothing lost (duplicates counted). */
  readonly semantic: 'exactly-once' | 'at-least-once';
  /**
   * How the system keeps the writes. 'overwrite': one value per key, the last write wins
   * (store `record.value`; it is read at every completed checkpoint too); 'append': every
   * write is kept (a list, a log, a table of rows).
   */
  readonly writes: 'overwrite' | 'append';
  /** append: the system keeps each key's writes in order, so order is compared too (default true). */
  readonly ordered?: boolean;
  /** Builds the simulated external system for one run and says how to create and read it. */
  readonly external: (context: ExternalContext) => SinkExternal;
  /** Optional: the same connector against real services, for `streamcheck e2e <module>` and `runSuiteOnServices`. */
  readonly real?: (context: RealExternalContext) => SinkExternal | Promise<SinkExternal>;
}

export interface TwoPhaseCommitSinkExternal {
  /** The sink subtask under test: a `TwoPhaseCommitSink` subclass, whose steps the suite judges. */
  createWriter(info: SubtaskInfo): TwoPhaseCommitSink<TestRecord, unknown>;
  /** What a reader of committed data sees, per key: an array of the values (see `SinkExternal.readBack`). */
  readBack(): ReadBack | Promise<ReadBack>;
}

export interface TwoPhaseCommitSinkSuiteOptions extends SuiteOptions {
  /** append (default): every committed write is kept; overwrite: one value per key. */
  readonly writes?: 'overwrite' | 'append';
  readonly ordered?: boolean;
  readonly external: (context: ExternalContext) => TwoPhaseCommitSinkExternal;
  readonly real?: (context: RealExternalContext) => TwoPhaseCommitSinkExternal | Promise<TwoPhaseCommitSinkExternal>;
}

const SINK_NAME = 'sink-under-test';

/** The suite's job around one instance of the user's external system, and its judges (shared by both worlds). */
export interface SinkRun {
  readonly pipeline: PipelineSpec;
  readonly data: readonly (readonly TestRecord[])[];
  readBack(): Promise<Map<string, unknown>>;
  readonly onCheckpointCompleted?: (checkpointId: number) => void;
  judgeWithDuplicates(observations: RunObservations): Promise<{ readonly violations: Violation[]; readonly duplicates: number; readonly keysHeld: number }>;
}

export interface SinkSuiteInternals {
  readonly real: ((context: RealExternalContext) => SinkExternal | TwoPhaseCommitSinkExternal | Promise<SinkExternal | TwoPhaseCommitSinkExternal>) | undefined;
  sinkRun(system: SinkExternal | TwoPhaseCommitSinkExternal, size: ScenarioSize, bug: string | undefined): SinkRun;
}

const SUITE_INTERNALS = Symbol.for('streamcheck.sinkSuiteInternals');

function withSuiteInternals(scenario: Scenario, internals: SinkSuiteInternals): Scenario {
  Object.defineProperty(scenario, SUITE_INTERNALS, { value: internals, enumerable: false });
  return scenario;
}

/** The sink-suite machinery behind a scenario, or undefined for any other scenario. */
export function sinkSuiteInternals(scenario: Scenario): SinkSuiteInternals | undefined {
  return (scenario as unknown as Record<symbol, SinkSuiteInternals | undefined>)[SUITE_INTERNALS];
}

/**
 * A connector suite for a sink (after Flink's `SinkTestSuiteBase`, with generated, shrunk
 * and replayable fault plans instead of luck): the suite writes keyed test data through a
 * standard job (a source of `partitions` splits -> keyBy -> the sink at parallelism 2), and
 * judges what the external system holds against a fault-free run of the same job.
 *
 * ```ts
 * export const suite = sinkSuite({
 *   name: 'redis-hash-sink', semantic: 'exactly-once', writes: 'overwrite',
 *   external: ({ env }) => {
 *     const redis = env.service('redis', new Map<string, string>());
 *     return {
 *       createWriter: ({ subtaskIndex }) => new MyHashSink(redis.connect(`sink-${subtaskIndex}`)),
 *       readBack: () => redis.state,
 *     };
 *   },
 * });
 * ```
 */
export function sinkSuite(options: SinkSuiteOptions): Scenario {
  checkSuiteOptions('sinkSuite', options);
  if (options.semantic !== 'exactly-once' && options.semantic !== 'at-least-once') {
    throw new TypeError(`sinkSuite(${options.name}): semantic must be 'exactly-once' or 'at-least-once', got ${JSON.stringify(options.semantic)}`);
  }
  checkWrites('sinkSuite', options.name, options.writes);
  if (typeof options.external !== 'function') throw new TypeError(`sinkSuite(${options.name}): external must be a function ({ env, bug, size }) => ({ createWriter, readBack })`);
  return withModule(buildSinkScenario(options, options.semantic, options.writes, options.external, false), options.module ?? callerModule());
}

/**
 * The sink suite for a `TwoPhaseCommitSink` subclass: exactly-once output against a
 * fault-free run, plus committed => completed, completed => eventually committed and no
 * transaction left open, judged from the steps the base class reports, whatever the system.
 */
export function twoPhaseCommitSinkSuite(options: TwoPhaseCommitSinkSuiteOptions): Scenario {
  checkSuiteOptions('twoPhaseCommitSinkSuite', options);
  const writes = options.writes ?? 'append';
  checkWrites('twoPhaseCommitSinkSuite', options.name, writes);
  if (typeof options.external !== 'function') throw new TypeError(`twoPhaseCommitSinkSuite(${options.name}): external must be a function ({ env, bug, size }) => ({ createWriter, readBack })`);
  return withModule(buildSinkScenario(options, 'exactly-once', writes, options.external, true), options.module ?? callerModule());
}

function checkWrites(call: string, name: string, writes: unknown): void {
  if (writes !== 'overwrite' && writes !== 'append') throw new TypeError(`${call}(${name}): writes must be 'overwrite' or 'append', got ${JSON.stringify(writes)}`);
}

function buildSinkScenario(
  options: SuiteOptions & { readonly ordered?: boolean; readonly real?: SinkSuiteInternals['real'] },
  semantic: 'exactly-once' | 'at-least-once',
  writes: 'overwrite' | 'append',
  external: (context: ExternalContext) => SinkExternal | TwoPhaseCommitSinkExternal,
  twoPhaseCommit: boolean,
): Scenario {
  const call = twoPhaseCommit ? 'twoPhaseCommitSinkSuite' : 'sinkSuite';
  const outputProperty = semantic === 'exactly-once' ? EXACTLY_ONCE : AT_LEAST_ONCE;
  const parallelism = options.parallelism ?? 2;
  const ordered = options.ordered ?? true;
  const defaultSize = suiteSize(options);

  /**
   * One run of the suite's job around the user's external system, whichever world drives it
   * (the simulation, or real services in `runSuiteOnServices`): the job, the reads at
   * checkpoints, and the judges.
   */
  const sinkRun = (system: SinkExternal | TwoPhaseCommitSinkExternal, size: ScenarioSize, bug: string | undefined): SinkRun => {
    if (system === null || typeof system !== 'object' || typeof system.createWriter !== 'function' || typeof system.readBack !== 'function') {
      throw new UserCodeError(`${call}(${options.name}): external() must return { createWriter(info), readBack() }`);
    }
    const data = suiteData(options, size);
    const readBack = async (): Promise<Map<string, unknown>> => {
      const where = `${call}(${options.name}): readBack()`;
      try {
        return readBackEntries(await system.readBack(), where);
      } catch (error) {
        throw isUserCodeError(error) ? error : new UserCodeError(`${where} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    };
    const reads: [number, Promise<Map<string, unknown>>][] = [];
    const spec = pipeline(options.name)
      .source('test-data', size.partitions, testDataSource(data))
      .keyBy((record: TestRecord) => record.key, parallelism)
      .sink(SINK_NAME, (info) => system.createWriter(info) as SinkWriter<TestRecord>)
      .build();
    const sourceTasks = Array.from({ length: size.partitions }, (_, i) => i);
    // The sink subtasks follow the sources; a rescale adds some (task names only grow), so they are counted when judged.
    const sinkTasksOf = (observations: RunObservations): number[] => Array.from({ length: Math.max(parallelism, observations.taskNames.length - size.partitions) }, (_, i) => size.partitions + i);
    return {
      pipeline: spec,
      data,
      readBack,
      // Overwriting sinks are read when each checkpoint completes: a write lost and later overwritten shows there.
      ...(writes === 'overwrite' ? { onCheckpointCompleted: (checkpointId: number) => void reads.push([checkpointId, readBack()]) } : {}),
      judgeWithDuplicates: async (observations) => {
        const violations: Violation[] = [];
        const golden = await goldenOutput(size, bug);
        const actual = await readBack();
        const comparison = compareWithGolden(actual, golden, { writes, ordered, semantic });
        violations.push(...comparison.violations);
        if (writes === 'overwrite') {
          const settled: [number, Map<string, unknown>][] = [];
          for (const [checkpointId, read] of reads) settled.push([checkpointId, await read]);
          violations.push(...checkOverwriteReadsAtCheckpoints(settled, observations, data, sourceTasks, outputProperty));
        }
        if (twoPhaseCommit) violations.push(...checkTwoPhaseCommitEvents(observations, sinkTasksOf(observations)));
        return { violations, duplicates: comparison.duplicates, keysHeld: actual.size };
      },
    };
  };

  const build = (context: BuildContext): BuiltScenario & { readBack(): Promise<Map<string, unknown>> } => {
    const system = callUserCode(`${call}(${options.name}): external()`, () => external({ env: context.env, bug: context.bug, size: context.size }));
    const run = sinkRun(system, context.size, context.bug);
    return {
      pipeline: run.pipeline,
      readBack: run.readBack,
      ...(run.onCheckpointCompleted === undefined ? {} : { onCheckpointCompleted: run.onCheckpointCompleted }),
      judge: async (observations) => (await run.judgeWithDuplicates(observations)).violations,
      output: () => ({ note: 'see the read-back in the violations' }),
    };
  };

  // A planted bug's fault-free run is its own golden run: the same job with the same connector.
  const goldenByBug = new Map<string, (size: ScenarioSize) => Promise<Map<string, unknown>>>();
  const goldenOutput = (size: ScenarioSize, bug: string | undefined): Promise<Map<string, unknown>> => {
    let compute = goldenByBug.get(bug ?? '');
    if (compute === undefined) {
      compute = perSize(async (sized) => {
        const { built } = await runFaultFree(build, sized, bug, `${call}(${options.name}${bug === undefined ? '' : `, bug ${bug}`})`);
        return (built as ReturnType<typeof build>).readBack();
      });
      goldenByBug.set(bug ?? '', compute);
    }
    return compute(size);
  };

  const properties = twoPhaseCommit ? [outputProperty, COMMITTED_IMPLIES_COMPLETED, COMPLETED_IMPLIES_COMMITTED, NO_OPEN_TRANSACTION] : [outputProperty];
  const internals: SinkSuiteInternals = {
    real: options.real,
    sinkRun: (system, size, bug) => sinkRun(system, size, bug),
  };
  return withSuiteInternals({
    name: options.name,
    description: options.description ?? `${call}: ${semantic} sink, ${writes} writes`,
    defaultSize,
    faultKinds: options.faults ?? DEFAULT_SUITE_FAULTS,
    backends: options.backends ?? ['memory', 'fs'],
    modes: options.modes ?? ['exactly-once', 'unaligned'],
    concurrentCheckpoints: true,
    bugs: plantedBugs(options, [outputProperty]),
    properties,
    taskCount: (size) => size.partitions + parallelism,
    build,
  }, internals);
}
