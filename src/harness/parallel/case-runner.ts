import { SCENARIOS } from '../../../scenarios/index.ts';
import { scenarioModule } from '../define-scenario.ts';
import { runJudged } from '../explore.ts';
import type { CaseSpec } from '../run-case.ts';
import { loadScenarioModule } from '../scenario-loader.ts';
import type { Scenario } from '../scenario.ts';
import { digestOf, type CaseDigest } from './case-digest.ts';

/** How another thread finds the same scenario: a built-in by name, or a user's module by its absolute path. */
export interface ScenarioRef {
  readonly name: string;
  readonly module: string | undefined;
}

export function scenarioRefOf(scenario: Scenario): ScenarioRef {
  if (SCENARIOS.includes(scenario)) return { name: scenario.name, module: undefined };
  const module = scenarioModule(scenario);
  if (module === undefined) {
    throw new Error(`parallel explore: scenario '${scenario.name}' is neither built in nor defined in a module, so a worker thread cannot load it; run it with workers: 1`);
  }
  return { name: scenario.name, module };
}

/** One case to run: which scenario, the case, and how to judge it. */
export interface CaseTask {
  readonly index: number;
  readonly scenario: ScenarioRef;
  readonly spec: CaseSpec;
  readonly checkDeterminism: boolean;
  readonly properties: readonly string[] | undefined;
}

export type CaseOutcome =
  | { readonly index: number; readonly kind: 'ran'; readonly digest: CaseDigest }
  /** The run threw: like a failing case, the parent shrinks it (and the error surfaces there, as in one thread). */
  | { readonly index: number; readonly kind: 'threw'; readonly message: string };

/** Loads scenarios once per thread and runs tasks on them. */
export class CaseRunner {
  private readonly loaded = new Map<string, Promise<Scenario>>();

  constructor(private readonly cwd: string) {}

  async run(task: CaseTask): Promise<CaseOutcome> {
    const scenario = await this.scenario(task.scenario);
    try {
      const result = await runJudged(scenario, task.spec, { checkDeterminism: task.checkDeterminism, ...(task.properties === undefined ? {} : { properties: task.properties }) });
      return { index: task.index, kind: 'ran', digest: digestOf(result) };
    } catch (error) {
      return { index: task.index, kind: 'threw', message: error instanceof Error ? error.message : String(error) };
    }
  }

  private scenario(ref: ScenarioRef): Promise<Scenario> {
    const key = `${ref.module ?? ''}\u0000${ref.name}`;
    let found = this.loaded.get(key);
    if (found === undefined) {
      found = this.load(ref);
      this.loaded.set(key, found);
    }
    return found;
  }

  private async load(ref: ScenarioRef): Promise<Scenario> {
    const candidates = ref.module === undefined ? SCENARIOS : await loadScenarioModule(ref.module, this.cwd);
    const scenario = candidates.find((candidate) => candidate.name === ref.name);
    if (scenario === undefined) throw new Error(`parallel explore: worker found no scenario '${ref.name}' in ${ref.module ?? 'the built-in scenarios'}`);
    return scenario;
  }
}
