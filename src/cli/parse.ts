/**
 * A declarative option table and a pure parser (after vitest's cac.ts / cli-config.ts), so
 * tests can call `parseCli` without spawning a process.
 */
import { INPUT_BOUNDS, InputError, parseIntegerText, quoteUserText, type BoundName } from '../harness/input-bounds.ts';

export type CommandName = 'run' | 'replay' | 'selftest' | 'e2e' | 'merge' | 'envelope' | 'prove' | 'diagnose' | 'help';

type OptionType =
  | { readonly kind: 'boolean' }
  | { readonly kind: 'string' }
  | { readonly kind: 'integer'; readonly bound: BoundName }
  | { readonly kind: 'enum'; readonly values: readonly string[] };

interface OptionSpec {
  readonly type: OptionType;
  readonly commands: readonly CommandName[];
  readonly description: string;
}

export const OPTIONS = {
  scenario: { type: { kind: 'string' }, commands: ['run', 'e2e', 'envelope', 'prove'], description: 'scenario to run (see --help for the list)' },
  cycles: { type: { kind: 'integer', bound: 'cycles' }, commands: ['e2e'], description: 'crash/restart cycles against real Kafka and Redis' },
  suite: { type: { kind: 'boolean' }, commands: ['run'], description: 'run every scenario and the regression corpus (the main job)' },
  seed: { type: { kind: 'integer', bound: 'seed' }, commands: ['run', 'selftest', 'e2e', 'envelope'], description: 'fast-check seed; the same seed generates the same cases' },
  runs: { type: { kind: 'integer', bound: 'runs' }, commands: ['run', 'selftest', 'envelope'], description: 'generated fault plans per scenario (selftest: at most this many per planted bug; envelope: per grid point)' },
  'prepared-transactions': { type: { kind: 'boolean' }, commands: ['envelope'], description: "the sink uses Kafka's prepared transactions (KIP-939): the broker's timeout never aborts them" },
  mode: { type: { kind: 'enum', values: ['exactly-once', 'unaligned', 'at-least-once'] }, commands: ['run', 'prove'], description: 'checkpointing mode: exactly-once (aligned barriers), unaligned, or at-least-once (the negative control)' },
  backend: { type: { kind: 'enum', values: ['memory', 'fs', 'rocksdb'] }, commands: ['run'], description: 'state backend: memory (lost with the coordinator), fs (durable) or rocksdb (durable, incremental checkpoints)' },
  partitions: { type: { kind: 'integer', bound: 'partitions' }, commands: ['run', 'prove'], description: 'source partitions' },
  records: { type: { kind: 'integer', bound: 'recordsPerPartition' }, commands: ['run', 'e2e', 'prove'], description: 'records per partition' },
  bug: { type: { kind: 'string' }, commands: ['run', 'e2e', 'prove'], description: "build the scenario with one of its planted bugs (see 'selftest')" },
  'max-faults': { type: { kind: 'integer', bound: 'maxFaults' }, commands: ['run'], description: 'most faults in one generated plan' },
  faults: { type: { kind: 'integer', bound: 'maxFaults' }, commands: ['prove'], description: 'prove: every placement of up to this many faults' },
  deviations: { type: { kind: 'integer', bound: 'proveDeviations' }, commands: ['prove'], description: 'prove: every schedule with up to this many choices other than the plain one' },
  'max-schedules': { type: { kind: 'integer', bound: 'runs' }, commands: ['prove'], description: 'prove: stop after this many runs (the bound is then not exhausted: exit 2)' },
  'no-reduce': { type: { kind: 'boolean' }, commands: ['prove'], description: 'prove: the full search, without partial-order reduction and the state cache (to compare)' },
  workers: { type: { kind: 'integer', bound: 'workers' }, commands: ['run'], description: 'worker threads running generated cases (default: the number of cores); the result is the same for any count' },
  shard: { type: { kind: 'string' }, commands: ['run'], description: "run shard i of n (i/n) of the generated cases, for CI matrices; combine the shards' --json files with 'merge'" },
  determinism: { type: { kind: 'enum', values: ['all', 'sampled', 'failing'] }, commands: ['run'], description: 'rerun to compare traces: every case (all, default), every 10th (sampled), or only the counterexample (failing)' },
  'case-timeout-ms': { type: { kind: 'integer', bound: 'caseTimeoutMs' }, commands: ['run'], description: 'wall-clock bound on one case in a worker thread; a case past it is reported as hung' },
  timeline: { type: { kind: 'boolean' }, commands: ['replay'], description: 'print every step of the replayed run' },
  mermaid: { type: { kind: 'boolean' }, commands: ['run', 'replay'], description: 'print the counterexample as a Mermaid sequence diagram (blamed events in red)' },
  trace: { type: { kind: 'string' }, commands: ['run', 'replay'], description: 'write the counterexample as Chrome Trace Event JSON to FILE (open in ui.perfetto.dev)' },
  html: { type: { kind: 'string' }, commands: ['run', 'replay'], description: 'write a self-contained HTML report of the counterexample to FILE' },
  junit: { type: { kind: 'string' }, commands: ['run', 'replay'], description: 'write JUnit XML to FILE: one test case per invariant and configuration' },
  logs: { type: { kind: 'boolean' }, commands: ['diagnose'], description: 'also print the jobmanager.log-like and taskmanager.log-like views (execution attempt id -> task -> task manager)' },
  json: { type: { kind: 'boolean' }, commands: ['run', 'replay', 'selftest', 'e2e', 'merge', 'envelope', 'prove', 'diagnose'], description: 'print one JSON object instead of text' },
  help: { type: { kind: 'boolean' }, commands: ['run', 'replay', 'selftest', 'e2e', 'merge', 'envelope', 'prove', 'diagnose', 'help'], description: 'show help' },
} as const satisfies Record<string, OptionSpec>;

export type OptionName = keyof typeof OPTIONS;
export type ParsedOptions = Partial<Record<OptionName, string | number | boolean>>;

export interface ParsedCli {
  readonly command: CommandName;
  readonly positionals: readonly string[];
  readonly options: ParsedOptions;
}

/**
 * Positional arguments each command takes: the token for replay; for run, the path of a user
 * scenario module. Anything beyond is refused rather than ignored.
 */
export const POSITIONALS: Record<CommandName, { readonly max: number; readonly what: string }> = {
  run: { max: 1, what: 'a scenario file' },
  replay: { max: 1, what: 'the token' },
  selftest: { max: 0, what: 'nothing' },
  e2e: { max: 1, what: 'a scenario module' },
  merge: { max: 10_000, what: 'the JSON result files of the shards' },
  envelope: { max: 0, what: 'nothing' },
  prove: { max: 0, what: 'nothing' },
  diagnose: { max: 1, what: 'the token' },
  help: { max: 0, what: 'nothing' },
};

/** Bad command-line input: exit code 2. */
export class UsageError extends InputError {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

const COMMANDS: readonly CommandName[] = ['run', 'replay', 'selftest', 'e2e', 'merge', 'envelope', 'prove', 'diagnose', 'help'];

export function parseCli(argv: readonly string[]): ParsedCli {
  const [first, ...rest] = argv;
  if (first === undefined || first === '--help' || first === '-h') return { command: 'help', positionals: [], options: {} };
  if (!(COMMANDS as readonly string[]).includes(first)) {
    throw new UsageError(`unknown command ${quoteUserText(first)}; commands: ${COMMANDS.join(', ')}`);
  }
  const command = first as CommandName;
  const options: ParsedOptions = {};
  const positionals: string[] = [];
  for (let i = 0; i < rest.length; i++) {
    const argument = rest[i]!;
    if (!argument.startsWith('--')) {
      const allowed = POSITIONALS[command];
      if (positionals.length >= allowed.max) {
        throw new UsageError(`${command}: unexpected argument ${quoteUserText(argument)} (${command} takes ${allowed.max === 0 ? 'no arguments besides options' : `${allowed.what} and options`})`);
      }
      positionals.push(argument);
      continue;
    }
    const equals = argument.indexOf('=');
    const name = argument.slice(2, equals < 0 ? undefined : equals);
    const spec = Object.hasOwn(OPTIONS, name) ? (OPTIONS as Record<string, OptionSpec>)[name] : undefined;
    if (spec === undefined) throw new UsageError(`${command}: unknown option ${quoteUserText(`--${name}`)}`);
    if (Object.hasOwn(options, name)) throw new UsageError(`${command}: option --${name} given more than once`);
    if (!spec.commands.includes(command)) throw new UsageError(`${command}: option --${name} does not apply (it is for ${spec.commands.join(', ')})`);
    if (spec.type.kind === 'boolean') {
      if (equals >= 0) throw new UsageError(`${command}: --${name} takes no value`);
      options[name as OptionName] = true;
      continue;
    }
    let raw: string | undefined;
    if (equals >= 0) raw = argument.slice(equals + 1);
    else {
      raw = rest[i + 1];
      i++;
    }
    if (raw === undefined || raw.startsWith('--')) throw new UsageError(`${command}: --${name} needs a value`);
    options[name as OptionName] = parseValue(command, name, spec.type, raw);
  }
  return { command, positionals, options };
}

function parseValue(command: string, name: string, type: OptionType, raw: string): string | number {
  switch (type.kind) {
    case 'string':
      if (raw.length === 0) throw new UsageError(`${command}: --${name} needs a non-empty value`);
      return raw;
    case 'integer':
      try {
        return parseIntegerText(type.bound, raw, `${command}: --${name}`);
      } catch (error) {
        throw new UsageError((error as Error).message);
      }
    case 'enum':
      if (!type.values.includes(raw)) throw new UsageError(`${command}: --${name} must be one of ${type.values.join(', ')}, got ${quoteUserText(raw)}`);
      return raw;
    case 'boolean':
      throw new UsageError(`${command}: --${name} takes no value`);
  }
}

export function helpText(scenarioNames: readonly string[]): string {
  const lines = [
    'streamcheck: prove exactly-once stream processing under deterministic simulation, or get the minimal counterexample',
    '',
    'Commands:',
    '  run --suite | --scenario NAME   run generated fault plans; exit 0 when every invariant held, 1 with the shrunk counterexample, 2 on bad input',
    '  run ./my.scenario.ts            run the scenarios a module exports (defineScenario, sinkSuite, sourceSuite, twoPhaseCommitSinkSuite)',
    '  replay <token>                  re-run exactly the case a failure printed',
    '  selftest                        check that every planted bug is caught and shrunk',
    '  e2e --scenario NAME --cycles N  crash/restart cycles against real Kafka and Redis (see README: end-to-end)',
    '  merge <json files>              combine the --json results of run --shard i/n into one summary and exit code',
    '  envelope --scenario kafka-2pc   search the transaction timeout against checkpoint interval and restart delay; print where data is lost (exit 1 when anywhere)',
    '  diagnose <token>                re-run a case and diagnose it: backpressure root cause, skew, slow checkpoints (--logs: execution ids to task managers)',
    '  prove --scenario NAME           every schedule (up to --deviations) and fault placement (up to --faults) of a small instance; exit 1 on a counterexample, 2 when --max-schedules cut the bound',
    '',
    'Options:',
    ...Object.entries(OPTIONS).map(([name, spec]) => {
      const range = spec.type.kind === 'integer' ? ` (${INPUT_BOUNDS[spec.type.bound].min}..${INPUT_BOUNDS[spec.type.bound].max})` : '';
      return `  --${name.padEnd(12)} ${spec.description}${range} [${spec.commands.join(', ')}]`;
    }),
    '',
    `Scenarios: ${scenarioNames.join(', ')}`,
  ];
  return lines.join('\n');
}
