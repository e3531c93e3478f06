import type { TraceEntry } from '../sim/trace.ts';
import { describeFault } from '../runtime/job.ts';
import { encodeCase } from './case-token.ts';
import { describeInputDisorder } from './input-disorder.ts';
import type { Counterexample, ExploreStats } from './explore.ts';
import type { CaseResult } from './run-case.ts';
import { formatBlame, type BlameChain } from './visual/blame.ts';
import { diagnose, diagnosisBugsFor } from './diagnose.ts';
import { unreachableReason } from './coverage.ts';

/** The command that re-runs exactly this case. */
export function replayCommand(result: CaseResult): string {
  return `npx streamcheck replay ${encodeCase(result.spec)}`;
}

/** A counterexample in domain words: what broke, the shrunk fault plan, what the run did, how to replay it. */
export function formatCounterexample(counterexample: Counterexample, blame: readonly BlameChain[] = []): string {
  const { result } = counterexample;
  const lines: string[] = [];
  lines.push(...formatVerdict(result, blame));
  lines.push(
    `Found after ${counterexample.foundAfterRuns} run(s); shrunk in ${counterexample.shrinkSteps} step(s) from ${counterexample.originalFaultCount} to ${result.spec.faults.length} fault(s).`,
  );
  lines.push(`Replay: ${replayCommand(result)}`);
  lines.push(`        (add --timeline to see every step)`);
  return lines.join('\n');
}

/** Verdict, fault plan and run summary of one case. */
export function formatVerdict(result: CaseResult, blame: readonly BlameChain[] = []): string[] {
  const { spec, observations } = result;
  const lines: string[] = [];
  const header = `${spec.scenario} (mode ${result.jobOptions.mode}, backend ${spec.backend}${spec.bug === undefined ? '' : `, planted bug ${spec.bug}`}, ${spec.size.partitions}x${spec.size.recordsPerPartition} records)`;
  if (result.violations.length === 0) {
    lines.push(`PASS ${header}`);
  } else {
    const properties = [...new Set(result.violations.map((v) => v.property))];
    lines.push(`FAIL ${properties.join(', ')} violated in ${header}`);
    for (const violation of result.violations.slice(0, 8)) lines.push(`  ${violation.anomaly}: ${violation.message}`);
    if (result.violations.length > 8) lines.push(`  ... and ${result.violations.length - 8} more`);
  }
  if (spec.disorder !== undefined) lines.push(`Input disorder: ${describeInputDisorder(spec.disorder)}`);
  lines.push(`Fault plan (${spec.faults.length} fault${spec.faults.length === 1 ? '' : 's'}):`);
  if (spec.faults.length === 0) lines.push('  (none: the schedule alone is enough)');
  for (const fault of spec.faults) {
    // A fault placed by situation fires at a step of the run's own, not at its atStep.
    const injected = observations.faults.find((f) => (fault.when !== undefined || f.atStep === fault.atStep) && f.description === describeFault(fault, observations.taskNames));
    const firedAt = injected?.atStep ?? fault.atStep;
    const pendingAtFault = observations.checkpoints.filter((c) => c.triggeredAtStep <= firedAt && (c.endedAtStep < 0 || c.endedAtStep >= firedAt)).map((c) => c.checkpointId);
    const context = injected === undefined ? (fault.when === undefined ? 'not reached: the job had ended' : 'not reached: the run ended before the situation arose that often') : `${fault.when === undefined ? '' : `fired at step ${firedAt}, `}while ${injected.situation.replaceAll('-', ' ')}${pendingAtFault.length > 0 ? `, checkpoint ${pendingAtFault.join(', ')} in flight` : ''}`;
    lines.push(`  - ${describeFault(fault, observations.taskNames)} (${context})`);
  }
  const schedule = spec.schedule.kind === 'seed' ? `random, seed ${spec.schedule.seed}` : `choices [${spec.schedule.choices.join(',')}] then ${spec.schedule.tailSeed === null ? 'the plain schedule' : `random seed ${spec.schedule.tailSeed}`}`;
  lines.push(`Schedule: ${schedule}`);
  const completed = observations.checkpoints.filter((c) => c.outcome === 'completed').map((c) => c.checkpointId);
  const failed = observations.checkpoints.filter((c) => c.outcome !== 'completed' && c.outcome !== 'pending').map((c) => `${c.checkpointId} ${c.outcome}`);
  const restores = observations.restores.slice(1).map((r) => `step ${r.atStep} from ${r.checkpointId === undefined ? 'scratch' : `checkpoint ${r.checkpointId}`}`);
  lines.push(
    `Run: ${observations.outcome} after ${observations.steps} steps (${observations.virtualTimeMs} virtual ms), trace ${observations.traceHash}; ` +
      `checkpoints completed [${completed.join(', ')}]${failed.length > 0 ? `, failed [${failed.join(', ')}]` : ''}; ` +
      `restores: ${restores.length === 0 ? 'none' : restores.join('; ')}`,
  );
  lines.push(...formatCheckpointDiagnostics(result));
  lines.push(`Output: ${JSON.stringify(result.output)}`);
  lines.push(...formatBlame(blame));
  return lines;
}

/** Why checkpoints failed, which one was slowest and whom it waited on, and backpressure. */
export function formatCheckpointDiagnostics(result: CaseResult): string[] {
  const { observations } = result;
  const lines: string[] = [];
  for (const checkpoint of observations.checkpoints) {
    if (checkpoint.outcome === 'declined' || checkpoint.outcome === 'expired') lines.push(`  ${checkpoint.reason}`);
  }
  if (observations.executionAttempts.length > 0) {
    // The ids in Flink's messages above, back to the tasks (ids derive from job name, attempt and task).
    lines.push(`  job ${observations.jobId} = ${observations.jobName}; execution attempts:`);
    for (const entry of observations.executionAttempts) lines.push(`    ${entry.executionAttemptId}  ${entry.taskName}, attempt ${entry.attempt}, ${entry.taskManager}`);
  }
  const completed = observations.checkpoints.filter((c) => c.outcome === 'completed');
  if (completed.length > 0) {
    const slowest = completed.reduce((a, b) => (b.endedAtStep - b.triggeredAtStep > a.endedAtStep - a.triggeredAtStep ? b : a));
    const waitedOn = observations.taskNames[slowest.lastAckTask] ?? '?';
    lines.push(
      `Checkpoints: slowest was ${slowest.checkpointId}, ${slowest.endedAtStep - slowest.triggeredAtStep} steps from trigger to completion, waiting last on ${waitedOn}; ` +
        `backpressure: producers found a full channel ${observations.backpressureEncounters} times`,
    );
  }
  const diagnosisLine = formatDiagnosisSummary(result);
  if (diagnosisLine !== undefined) lines.push(diagnosisLine);
  return lines;
}

/** One line of the diagnosis (src/harness/diagnose.ts): backpressure root, skew, the slowest checkpoint's cause; `streamcheck diagnose` prints the tables. */
export function formatDiagnosisSummary(result: CaseResult): string | undefined {
  const { observations } = result;
  if (observations.flowMetrics === undefined) return undefined;
  const diagnosis = diagnose(observations, diagnosisBugsFor(result.spec.bug));
  const names = observations.taskNames;
  const parts: string[] = [];
  const bp = diagnosis.backpressure;
  parts.push(bp?.rootCause === undefined ? 'no backpressure' : `backpressure rooted at ${names[bp.rootCause]} (first backpressured: ${names[bp.firstBackpressured!]})`);
  const skewed = diagnosis.skew.filter((finding) => finding.hotSubtask !== undefined);
  parts.push(skewed.length === 0 ? 'no skew' : skewed.map((finding) => `skew: ${names[finding.hotSubtask!]} receives ${finding.ratio}x the mean of ${finding.vertex}`).join(', '));
  const slow = diagnosis.slowCheckpoint;
  if (slow !== undefined) parts.push(`slowest checkpoint ${slow.checkpointId} (${slow.durationMs} ms): ${slow.cause === undefined ? 'nothing stands out' : `${slow.cause.item} at ${names[slow.cause.task!]} (${slow.cause.ms} ms)`}`);
  return `Diagnosis: ${parts.join('; ')}. Tables and logs: npx streamcheck diagnose <token> --logs`;
}

/** The trace as a timeline: one line per step, faults and checkpoint decisions stand out. */
export function formatTimeline(entries: readonly TraceEntry[], limit = 2_000): string {
  const lines: string[] = [];
  const shown = entries.length > limit ? entries.slice(0, limit) : entries;
  for (const entry of shown) {
    const marker = /fault|failover|expired|declined|Decline checkpoint|aborted/.test(entry.event) ? '!!' : /checkpoint \d+ completed|triggers checkpoint|deploy|finished/.test(entry.event) ? '**' : '  ';
    lines.push(`${marker} step ${String(entry.step).padStart(5)}  t=${String(entry.timeMs).padStart(6)}ms  ${entry.event}`);
  }
  if (entries.length > limit) lines.push(`   ... ${entries.length - limit} more steps`);
  return lines.join('\n');
}

/** Fault points (`kind @ situation`) no run reached: those unreachable by construction with their reason, the rest as never reached. */
function neverReachedLines(points: readonly string[]): string[] {
  const unreachable = points.flatMap((point) => {
    const reason = unreachableReason(`fault ${point}`);
    return reason === undefined ? [] : [`  ${point}: unreachable: ${reason}`];
  });
  const never = points.filter((point) => unreachableReason(`fault ${point}`) === undefined);
  return [...(never.length > 0 ? [`  never reached (a fault there tests nothing yet): ${never.join(', ')}`] : []), ...unreachable];
}

export function formatStats(stats: ExploreStats): string {
  const points = Object.entries(stats.faultPointsReached)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([point, count]) => `    ${point}: ${count}`);
  return [
    `  runs: ${stats.runs}, steps: ${stats.steps}, checkpoints completed: ${stats.checkpointsCompleted}, crashes injected: ${stats.crashesInjected}, restores: ${stats.restores}`,
    `  fault-injection points reached (${stats.faultsInjected} faults; ${stats.faultsNotReached} planned after the job had ended):`,
    ...(points.length > 0 ? points : ['    (none)']),
    ...neverReachedLines(stats.faultPointsNeverReached),
  ].join('\n');
}
