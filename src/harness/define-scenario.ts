import { fileURLToPath } from 'node:url';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import { FAULT_KINDS, type Fault } from '../runtime/faults.ts';
import type { JobOptions } from '../runtime/job.ts';
import type { RunObservations } from '../runtime/observations.ts';
import type { PipelineSpec } from '../runtime/pipeline.ts';
import type { JobGraphSpec } from '../runtime/job-graph.ts';
import type { StateBackendKind } from '../runtime/state.ts';
import { SimEnvironment } from '../connectors/sim/environment.ts';
import { ListChoices } from '../sim/choice.ts';
import { Scheduler } from '../sim/scheduler.ts';
import { INPUT_BOUNDS, describeValue } from './input-bounds.ts';
import { callUserCode, UserCodeError, type BuildContext, type Scenario, type ScenarioSize, type Violation } from './scenario.ts';

/** What `defineScenario` takes: a job built from your connectors, and how to judge a finished run. */
export interface ScenarioDefinition {
  /** Names the scenario in reports and replay tokens: 1-100 letters, digits, '.', '_' or '-'. */
  readonly name: string;
  readonly description?: string;
  /** Size of generated cases; `--partitions` and `--records` override it (default 2 x 40). */
  readonly size?: Partial<ScenarioSize>;
  /** Fault kinds generated plans draw from (default: task and job crashes, expired and declined checkpoints). */
  readonly faults?: readonly Fault['kind'][];
  /** Checkpointing modes to explore (default: exactly-once and unaligned). */
  readonly modes?: readonly CheckpointingMode[];
  /** State backends to explore (default: memory and fs). */
  readonly backends?: readonly StateBackendKind[];
  /** Let generated cases run two checkpoints at once (default true). */
  readonly concurrentCheckpoints?: boolean;
  /** Buggy variants (your `build` gets `bug` set to the name) and the properties that must catch each. */
  readonly bugs?: readonly { readonly name: string; readonly description: string; readonly caughtBy: readonly string[]; readonly jobOptions?: Partial<JobOptions> }[];
  /** The names of the properties your `judge` reports (for summaries). */
  readonly properties?: readonly string[];
  /**
   * Rough steps of a fault-free run, where generated faults are placed (default: about 2.5 per
   * input record). Set it when records wait for arrival times or a join writes many records per input.
   */
  readonly typicalRunSteps?: (size: ScenarioSize) => number;
  /**
   * Your input is timed (event time): generated cases draw a disorder (records out of order
   * within the bound, records later than it, an idle partition) and your `build` gets it as
   * `context.disorder` (undefined: your own input as you designed it). `arrivalsUnder` turns
   * it into arrival times for a `TimedPartitionSourceReader`; `lateUnderBound` says which
   * records your model may not require.
   */
  readonly inputDisorder?: boolean;
  /**
   * The module that defines the scenario (`import.meta.url`), so a replay token can load it
   * again; inferred from the call site when omitted.
   */
  readonly module?: string;
  /** Builds one run: the job (`pipeline(...)...build()`), with external systems put under `env`. */
  build(context: BuildContext): {
    readonly pipeline: PipelineSpec | JobGraphSpec;
    /** Your invariants over the finished run, in addition to the runtime's own (liveness, alignment, determinism). */
    judge?(observations: RunObservations): Violation[] | Promise<Violation[]>;
    /** What to show of the external systems in a report. */
    output?(): unknown;
    onCheckpointCompleted?(checkpointId: number): void;
  };
}

export const DEFAULT_SCENARIO_SIZE: ScenarioSize = { partitions: 2, recordsPerPartition: 40 };
const DEFAULT_FAULTS: readonly Fault['kind'][] = ['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint'];
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;
/** Where a scenario module came from, for replay tokens (set by defineScenario and the suites). */
export const SCENARIO_MODULE = Symbol.for('streamcheck.scenarioModule');

/**
 * Defines a scenario from your own job and connectors. Everything the harness needs to know
 * is computed from the built job (how many tasks it has) or declared here; a wrong
 * declaration is an error that names the field.
 *
 * ```ts
 * export default defineScenario({
 *   name: 'my-pipeline',
 *   build: ({ env }) => {
 *     const store = env.service('store', new Map<string, string>());
 *     return {
 *       pipeline: pipeline('my-pipeline').source('in', 2, mySource).keyBy((r) => r.key, 2).sink('out', mySink(store)).build(),
 *       judge: () => (store.state.size === 8 ? [] : [{ property: 'exactly-once', anomaly: 'lost write', message: '...' }]),
 *     };
 *   },
 * });
 * ```
 */
export function defineScenario(definition: ScenarioDefinition): Scenario {
  const call = 'defineScenario';
  if (definition === null || typeof definition !== 'object') throw new TypeError(`${call}: expected a definition object`);
  if (typeof definition.name !== 'string' || !NAME_PATTERN.test(definition.name)) {
    throw new TypeError(`${call}: name must be 1-100 letters, digits, '.', '_' or '-', got ${JSON.stringify(definition.name)}`);
  }
  const where = `${call}(${definition.name})`;
  if (typeof definition.build !== 'function') throw new TypeError(`${where}: build must be a function ({ env, size, bug }) => ({ pipeline, judge })`);
  const size = { ...DEFAULT_SCENARIO_SIZE, ...definition.size };
  // The bounds of --partitions and --records (input-bounds.ts): a scenario file may not declare more than the command line may ask.
  for (const field of ['partitions', 'recordsPerPartition'] as const) {
    const { min, max } = INPUT_BOUNDS[field];
    const value = size[field];
    if (!Number.isSafeInteger(value) || value < min || value > max) throw new TypeError(`${where}: size.${field} must be an integer in [${min}, ${max}], got ${describeValue(value)}`);
  }
  for (const kind of definition.faults ?? []) {
    if (!(FAULT_KINDS as readonly string[]).includes(kind)) throw new TypeError(`${where}: faults: unknown fault kind ${JSON.stringify(kind)}; known: ${FAULT_KINDS.join(', ')}`);
  }
  for (const mode of definition.modes ?? []) {
    if (mode !== 'exactly-once' && mode !== 'unaligned' && mode !== 'at-least-once') throw new TypeError(`${where}: modes must be exactly-once, unaligned or at-least-once, got ${JSON.stringify(mode)}`);
  }
  for (const backend of definition.backends ?? []) {
    if (backend !== 'memory' && backend !== 'fs' && backend !== 'rocksdb') throw new TypeError(`${where}: backends must be memory, fs or rocksdb, got ${JSON.stringify(backend)}`);
  }
  const bugNames = new Set<string>();
  for (const bug of definition.bugs ?? []) {
    if (typeof bug?.name !== 'string' || !NAME_PATTERN.test(bug.name)) throw new TypeError(`${where}: every bug needs a name of letters, digits, '.', '_' or '-'`);
    if (bugNames.has(bug.name)) throw new TypeError(`${where}: bug '${bug.name}' is listed twice`);
    if (!Array.isArray(bug.caughtBy) || bug.caughtBy.length === 0) throw new TypeError(`${where}: bug '${bug.name}' must name the properties that catch it (caughtBy)`);
    bugNames.add(bug.name);
  }

  const build = (context: BuildContext): ReturnType<Scenario['build']> => {
    const built = callUserCode(`${where}: build()`, () => definition.build(context));
    if (built === null || typeof built !== 'object' || built.pipeline === undefined || typeof built.pipeline !== 'object' || !(Array.isArray((built.pipeline as PipelineSpec).stages) || Array.isArray((built.pipeline as JobGraphSpec).vertices))) {
      throw new UserCodeError(`${where}: build() must return { pipeline: pipeline(...)...build() or jobGraph(...)...build(), judge? }`);
    }
    return {
      pipeline: built.pipeline,
      judge: async (observations) => {
        try {
          return (await built.judge?.(observations)) ?? [];
        } catch (error) {
          throw new UserCodeError(`${where}: judge() threw: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
      output: () => built.output?.(),
      ...(built.onCheckpointCompleted === undefined ? {} : { onCheckpointCompleted: (id: number) => built.onCheckpointCompleted!(id) }),
    };
  };

  const taskCounts = new Map<string, number>();
  const scenario: Scenario = {
    name: definition.name,
    description: definition.description ?? '',
    defaultSize: size,
    faultKinds: definition.faults ?? DEFAULT_FAULTS,
    backends: definition.backends ?? ['memory', 'fs'],
    modes: definition.modes ?? ['exactly-once', 'unaligned'],
    concurrentCheckpoints: definition.concurrentCheckpoints ?? true,
    bugs: (definition.bugs ?? []).map((bug) => ({ ...bug })),
    ...(definition.properties === undefined ? {} : { properties: definition.properties }),
    ...(definition.inputDisorder === true ? { inputDisorder: true } : {}),
    ...(definition.typicalRunSteps === undefined
      ? {}
      : {
          typicalRunSteps: (sized: ScenarioSize) => {
            const steps = callUserCode(`${where}: typicalRunSteps()`, () => definition.typicalRunSteps!(sized));
            if (!Number.isSafeInteger(steps) || steps < 1) throw new UserCodeError(`${where}: typicalRunSteps() must return a positive integer (steps), got ${JSON.stringify(steps)}`);
            return steps;
          },
        }),
    // Computed from the job the scenario builds, never declared: fault plans name its tasks.
    taskCount: (sized) => {
      const key = `${sized.partitions}x${sized.recordsPerPartition}`;
      let count = taskCounts.get(key);
      if (count === undefined) {
        count = taskCountOf(build, sized);
        taskCounts.set(key, count);
      }
      return count;
    },
    build,
  };
  return withModule(scenario, definition.module ?? callerModule());
}

/** Tasks of the job a scenario builds for `size`: one per subtask of every stage. */
export function taskCountOf(build: Scenario['build'], size: ScenarioSize): number {
  const scheduler = new Scheduler({ choices: new ListChoices([]), msPerStep: 1, maxSteps: 1, keepTrace: false });
  const built = build({ scheduler, env: new SimEnvironment(scheduler), size, bug: undefined });
  const job = built.pipeline;
  return 'stages' in job ? job.stages.reduce((total, stage) => total + stage.parallelism, 0) : job.vertices.reduce((total, vertex) => total + vertex.parallelism, 0);
}

/** Records the defining module on a scenario (a file path), so tokens can name it. */
export function withModule<S extends Scenario>(scenario: S, module: string | undefined): S {
  if (module === undefined) return scenario;
  const path = module.startsWith('file:') ? fileURLToPath(module) : module;
  Object.defineProperty(scenario, SCENARIO_MODULE, { value: path, enumerable: false, configurable: true, writable: true });
  return scenario;
}

export function scenarioModule(scenario: Scenario): string | undefined {
  return (scenario as unknown as Record<symbol, string | undefined>)[SCENARIO_MODULE];
}

const OWN_FILES = /[\\/](?:streamcheck[\\/](?:dist[\\/])?src|src)[\\/]harness[\\/](?:define-scenario|suites[\\/][a-z-]+)\.(?:ts|js)/;

/** The file that called defineScenario or a suite: the first stack frame outside streamcheck's own definition files. */
export function callerModule(): string | undefined {
  const stack = new Error().stack?.split('\n').slice(1) ?? [];
  for (const frame of stack) {
    // Loaders may add a query to the file URL (tsx: ?tsx-namespace=...).
    const match = /\(?((?:file:\/\/)?\/[^():?]+\.(?:[cm]?[jt]s|tsx))(?:\?[^():]*)?(?::\d+){1,2}\)?\s*$/.exec(frame.trim());
    if (match === null) continue;
    const file = match[1]!;
    if (OWN_FILES.test(file) || file.includes('node_modules/vitest') || file.includes('node:')) continue;
    return file;
  }
  return undefined;
}

/** True for a value `run <module>` should treat as a scenario (defineScenario, a suite or a built-in). */
export function isScenario(value: unknown): value is Scenario {
  if (value === null || typeof value !== 'object') return false;
  const candidate = value as Partial<Scenario>;
  return typeof candidate.name === 'string' && typeof candidate.build === 'function' && typeof candidate.taskCount === 'function' && Array.isArray(candidate.bugs) && Array.isArray(candidate.faultKinds);
}
