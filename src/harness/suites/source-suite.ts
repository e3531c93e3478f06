import type { SourcePosition, SourceReader, SubtaskInfo } from '../../connectors/api.ts';
import { RedisIdempotentSink } from '../../connectors/redis-sink.ts';
import { SimEnvironment } from '../../connectors/sim/environment.ts';
import { SimRedisServer } from '../../connectors/sim/redis.ts';
import { pipeline } from '../../runtime/pipeline.ts';
import { callerModule, withModule } from '../define-scenario.ts';
import { callUserCode, UserCodeError, type BuildContext, type BuiltScenario, type Scenario, type ScenarioSize, type Violation } from '../scenario.ts';
import { CONSISTENT_CUT, EXACTLY_ONCE, SOURCE_POSITIONS, checkKeyedCutsPerKey, checkSourcePositions, compareWithGolden } from './oracles.ts';
import { DEFAULT_SUITE_FAULTS, checkSuiteOptions, perSize, plantedBugs, runFaultFree, suiteData, suiteSize, type ExternalContext, type SuiteOptions } from './suite-core.ts';
import type { TestRecord } from './test-data.ts';

/** What the user's `external` function returns for a source: how to fill the system, how to make a reader. */
export interface SourceExternal {
  /**
   * Writes the test data into the simulated system before the job starts: split i holds
   * `splits[i]` in order. Write the model directly (not through a client).
   */
  writeTestData(splits: readonly (readonly TestRecord[])[]): void;
  /** The reader for one subtask; subtask i of `parallelism` (= number of splits) reads split i. */
  createReader(info: SubtaskInfo): SourceReader<TestRecord>;
}

export interface SourceSuiteOptions extends SuiteOptions {
  /** Records of one split arrive in the order they were written (default true). */
  readonly ordered?: boolean;
  readonly external: (context: ExternalContext) => SourceExternal;
}

const COLLECT_OPERATOR = 'collect';

/**
 * A connector suite for a source (after Flink's `SourceTestSuiteBase`): the suite writes
 * keyed test data into the user's system, reads it through the user's readers in a standard
 * job (source -> keyBy -> a keyed collector -> an idempotent store), and judges that every
 * record arrived exactly once and in order per key, that restores rewind exactly to the
 * checkpointed position, that no split is read twice, and that every split is read to its
 * end (compared with a fault-free run).
 */
export function sourceSuite(options: SourceSuiteOptions): Scenario {
  checkSuiteOptions('sourceSuite', options);
  if (typeof options.external !== 'function') throw new TypeError(`sourceSuite(${options.name}): external must be a function ({ env, bug, size }) => ({ writeTestData, createReader })`);
  const ordered = options.ordered ?? true;
  const parallelism = options.parallelism ?? 2;

  const build = (context: BuildContext): BuiltScenario & { collected(): Map<string, unknown> } => {
    const data = suiteData(options, context.size);
    const system = callUserCode(`sourceSuite(${options.name}): external()`, () => options.external({ env: context.env, bug: context.bug, size: context.size }));
    if (system === null || typeof system !== 'object' || typeof system.writeTestData !== 'function' || typeof system.createReader !== 'function') {
      throw new UserCodeError(`sourceSuite(${options.name}): external() must return { writeTestData(splits), createReader(info) }`);
    }
    callUserCode(`sourceSuite(${options.name}): writeTestData()`, () => system.writeTestData(data));
    // The suite's own idempotent store: per key, the sequence numbers the job has seen, in order.
    // Its calls are scheduler steps, but in an environment of its own: faults meant for the source under test never hit the judge's instrument.
    const store = new SimRedisServer(new SimEnvironment(context.scheduler));
    const spec = pipeline(options.name)
      .source('source-under-test', context.size.partitions, (info) => system.createReader(info))
      .keyBy((record: TestRecord) => record.key, parallelism)
      .aggregate<readonly number[]>(COLLECT_OPERATOR, (seen, record) => [...(seen ?? []), record.seq])
      .sink('collected', ({ subtaskIndex }) => new RedisIdempotentSink<readonly number[]>(store.client(`collected-${subtaskIndex}`), (key, seqs) => ({ [String(key)]: seqs.join(',') })))
      .build();
    const collected = (): Map<string, unknown> => new Map(Object.entries(store.stringSnapshot()).map(([key, seqs]) => [key, seqs === '' ? [] : seqs.split(',').map(Number)]));
    return {
      pipeline: spec,
      collected,
      judge: async (observations) => {
        const violations: Violation[] = [];
        const expected = new Map<string, number[]>();
        for (const split of data) for (const record of split) expected.set(record.key, [...(expected.get(record.key) ?? []), record.seq]);
        violations.push(...compareWithGolden(collected(), expected, { writes: 'append', ordered, semantic: 'exactly-once' }).violations);
        violations.push(...checkSourcePositions(observations, await finalPositions(context.size, context.bug)));
        violations.push(...checkKeyedCutsPerKey(observations, COLLECT_OPERATOR, Array.from({ length: parallelism }, (_, i) => context.size.partitions + i)));
        return violations;
      },
      output: () => Object.fromEntries(collected()),
    };
  };

  // Where a fault-free run ends each split (offsets are the source's own units).
  const finalPositionsByBug = new Map<string, (size: ScenarioSize) => Promise<Map<string, SourcePosition>>>();
  const finalPositions = (size: ScenarioSize, bug: string | undefined): Promise<Map<string, SourcePosition>> => {
    let compute = finalPositionsByBug.get(bug ?? '');
    if (compute === undefined) {
      compute = perSize(async (sized) => {
        const { observations } = await runFaultFree(build, sized, bug, `sourceSuite(${options.name})`);
        return new Map(observations.sourcePositions.filter((p) => p.kind === 'end').map((p) => [p.position.split, p.position]));
      });
      finalPositionsByBug.set(bug ?? '', compute);
    }
    return compute(size);
  };

  return withModule({
    name: options.name,
    description: options.description ?? 'sourceSuite: every record once, in order per split; restores rewind to the checkpointed position',
    defaultSize: suiteSize(options),
    faultKinds: options.faults ?? DEFAULT_SUITE_FAULTS,
    backends: options.backends ?? ['memory', 'fs'],
    modes: options.modes ?? ['exactly-once', 'unaligned'],
    concurrentCheckpoints: true,
    bugs: plantedBugs(options, [EXACTLY_ONCE, SOURCE_POSITIONS]),
    properties: [EXACTLY_ONCE, SOURCE_POSITIONS, CONSISTENT_CUT],
    taskCount: (size) => size.partitions + parallelism,
    build,
  }, options.module ?? callerModule());
}
