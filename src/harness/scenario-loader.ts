import { statSync } from 'node:fs';
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { MAX_SCENARIO_MODULE_BYTES, checkInteger, describeValue, quoteUserText } from './input-bounds.ts';
import { importUserModule } from '../cli/load-module.ts';
import { isScenario, withModule } from './define-scenario.ts';
import type { CaseSpec } from './run-case.ts';
import type { Scenario } from './scenario.ts';

/** A bad scenario module, name or token: bad input (exit 2), never an internal error. */
export class ScenarioLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ScenarioLookupError';
  }
}

/** Every scenario a module exports (default export, named exports, arrays of scenarios), in export order. */
export async function loadScenarioModule(path: string, cwd: string): Promise<Scenario[]> {
  const absolute = isAbsolute(path) ? path : resolve(cwd, path);
  const where = `scenario module ${quoteUserText(path)}`;
  // Only the file named: what it imports in turn is the user's code, like any other import.
  const bytes = fileSize(absolute);
  if (bytes !== undefined && bytes > MAX_SCENARIO_MODULE_BYTES) {
    throw new ScenarioLookupError(`${where} is ${bytes} bytes, more than the ${MAX_SCENARIO_MODULE_BYTES} a scenario file may have (generate large inputs in build(), do not inline them)`);
  }
  let exported: Record<string, unknown>;
  try {
    exported = await importUserModule(path, cwd);
  } catch (error) {
    throw new ScenarioLookupError(error instanceof Error ? error.message : String(error));
  }
  const found: Scenario[] = [];
  const visit = (value: unknown): void => {
    if (isScenario(value)) {
      // The module the CLI loaded is how a replay finds the scenario again, wherever it was defined.
      if (!found.includes(value)) found.push(withModule(value, absolute));
    } else if (Array.isArray(value)) value.forEach(visit);
  };
  for (const value of Object.values(exported)) visit(value);
  if (found.length === 0) {
    throw new ScenarioLookupError(`scenario module ${path} exports no scenario (export the result of defineScenario, sinkSuite, sourceSuite or twoPhaseCommitSinkSuite)`);
  }
  const names = new Set<string>();
  for (const scenario of found) {
    if (names.has(scenario.name)) throw new ScenarioLookupError(`scenario module ${path} exports two scenarios named '${scenario.name}'`);
    names.add(scenario.name);
    checkDeclaredSize(scenario, where);
  }
  return found;
}

/**
 * A scenario's declared size under the bounds of --partitions and --records, whoever made the
 * object (defineScenario and the suites check too; a hand-written Scenario object does not).
 */
function checkDeclaredSize(scenario: Scenario, where: string): void {
  const size: unknown = scenario.defaultSize;
  const field = `${where}: scenario '${scenario.name}' defaultSize`;
  if (typeof size !== 'object' || size === null) throw new ScenarioLookupError(`${field} must be {partitions, recordsPerPartition}, got ${describeValue(size)}`);
  try {
    checkInteger('partitions', (size as Record<string, unknown>)['partitions'], `${field}.partitions`);
    checkInteger('recordsPerPartition', (size as Record<string, unknown>)['recordsPerPartition'], `${field}.recordsPerPartition`);
  } catch (error) {
    throw new ScenarioLookupError((error as Error).message);
  }
}

function fileSize(path: string): number | undefined {
  try {
    return statSync(path).size;
  } catch {
    return undefined; // importUserModule says what is missing
  }
}

/** A module path relative to the project root, with posix separators: what a token records. */
export function projectRelative(path: string, cwd: string): string {
  const relativePath = relative(cwd, path);
  return (relativePath.startsWith('..') || isAbsolute(relativePath) ? path : relativePath).split(sep).join('/');
}

/** The scenario a decoded case names: from its module when it has one, else among the built-ins. */
export async function scenarioForCase(
  reference: { readonly scenario: string; readonly module: string | undefined },
  builtIns: readonly Scenario[],
  cwd: string,
): Promise<Scenario> {
  if (reference.module === undefined) {
    const scenario = builtIns.find((candidate) => candidate.name === reference.scenario);
    if (scenario === undefined) throw new ScenarioLookupError(`unknown scenario '${reference.scenario}'; built-in: ${builtIns.map((s) => s.name).join(', ')} (a user scenario's token names its module)`);
    return scenario;
  }
  const scenarios = await loadScenarioModule(reference.module, cwd);
  const scenario = scenarios.find((candidate) => candidate.name === reference.scenario);
  if (scenario === undefined) {
    throw new ScenarioLookupError(`scenario module ${reference.module} no longer exports a scenario named '${reference.scenario}' (it exports ${scenarios.map((s) => s.name).join(', ')})`);
  }
  return scenario;
}

/** Refuses to replay a case on a job that is not the one it was made on. */
export function checkFingerprint(spec: CaseSpec, scenario: Scenario): void {
  if (spec.tasks === undefined) return;
  const tasks = scenario.taskCount(spec.size);
  if (tasks !== spec.tasks) {
    throw new ScenarioLookupError(
      `replay: scenario '${scenario.name}' now builds a job of ${tasks} tasks for ${spec.size.partitions}x${spec.size.recordsPerPartition} records, but the token was made on one of ${spec.tasks}: the module changed, so this token no longer names the same case`,
    );
  }
}
