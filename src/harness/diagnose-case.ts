/**
 * `streamcheck diagnose <token>`: re-runs the case a token names (as `replay` does) and
 * diagnoses what it measured. The CLI only prints what this returns.
 */
import { decodeCase, peekCase } from './case-token.ts';
import { diagnose, diagnosisBugsFor, formatDiagnosis, type Diagnosis } from './diagnose.ts';
import { runCase, type CaseResult } from './run-case.ts';
import type { Scenario } from './scenario.ts';
import { checkFingerprint, scenarioForCase } from './scenario-loader.ts';
import { InputError, quoteUserText } from './input-bounds.ts';
import { formatVerdict } from './report.ts';

export interface DiagnosedCase {
  readonly result: CaseResult;
  readonly diagnosis: Diagnosis;
  /** The verdict's first line, then the diagnosis as a user reads it (`logs`: with the log views). */
  lines(logs: boolean): string[];
}

export async function diagnoseToken(token: string, scenarios: readonly Scenario[], cwd: string): Promise<DiagnosedCase> {
  const scenario = await scenarioForCase(peekCase(token), scenarios, cwd);
  const spec = decodeCase(token, (_, size) => scenario.taskCount(size));
  checkFingerprint(spec, scenario);
  if (spec.bug !== undefined && !scenario.bugs.some((bug) => bug.name === spec.bug)) {
    throw new InputError(`diagnose: scenario ${scenario.name} has no planted bug ${quoteUserText(spec.bug)}; known: ${scenario.bugs.map((b) => b.name).join(', ')}`);
  }
  const result = await runCase(scenario, spec);
  const diagnosis = diagnose(result.observations, diagnosisBugsFor(spec.bug));
  return {
    result,
    diagnosis,
    lines: (logs) => [formatVerdict(result)[0]!, `Run: ${result.observations.outcome} after ${result.observations.steps} steps (${result.observations.virtualTimeMs} virtual ms)`, ...formatDiagnosis(result.observations, diagnosis, { logs })],
  };
}

/** The diagnosis as one JSON object (`--json`). */
export function diagnosisJson(diagnosed: DiagnosedCase): unknown {
  const { result, diagnosis } = diagnosed;
  const names = result.observations.taskNames;
  return {
    scenario: result.spec.scenario,
    outcome: result.observations.outcome,
    passed: result.violations.length === 0,
    backpressure: diagnosis.backpressure === undefined ? null : {
      rootCause: diagnosis.backpressure.rootCause === undefined ? null : names[diagnosis.backpressure.rootCause],
      firstBackpressured: diagnosis.backpressure.firstBackpressured === undefined ? null : names[diagnosis.backpressure.firstBackpressured],
      explanation: diagnosis.backpressure.explanation,
      subtasks: diagnosis.backpressure.rows.map((row) => ({ name: row.name, level: row.level, reading: row.reading, ...row.metrics })),
    },
    skew: diagnosis.skew.map((finding) => ({ ...finding, hotSubtask: finding.hotSubtask === undefined ? null : names[finding.hotSubtask] })),
    slowCheckpoint: diagnosis.slowCheckpoint ?? null,
    jobManagerLog: diagnosis.jobManagerLog,
    taskManagerLogs: Object.fromEntries(diagnosis.taskManagerLogs),
  };
}
