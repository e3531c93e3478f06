import type { TraceEntry } from '../../sim/trace.ts';
import type { SourcePositionObservation } from '../../runtime/observations.ts';
import { runCase, type CaseResult } from '../run-case.ts';
import type { Scenario, Violation } from '../scenario.ts';
import { faultLinks, finish, type BlameChain, type BlameContext } from './blame-context.ts';
import { blameAlignment, blameConsistentCut, blameDeterminism, blameLiveness } from './blame-checkpoints.ts';
import { blameJoin } from './blame-joins.ts';
import { blameExactlyOnce, blameSourceResume } from './blame-output.ts';
import { blameCheckpointProgress, blameFaultEffects, blameModeSemantics, blameRestoreChoice, blameStateRestore, blameUnobservedAlignment } from './blame-runtime.ts';
import { blameEarlyCommit, blameLingering, blameUncommitted } from './blame-transactions.ts';
import { blameEventTime } from './blame-event-time.ts';
import { blameDiagnosis } from './blame-diagnosis.ts';
import { buildTimeline } from './timeline.ts';
import { blameRescale } from './blame-rescale.ts';
import { blameFlowControl } from './blame-flow-control.ts';

export { MAX_LINKS_PER_CHAIN, type BlameChain, type BlameLink } from './blame-context.ts';

/**
 * Blame chains: for a violated invariant, the few protocol events that explain it, in order,
 * about the records, keys or transactions the violation names (source offsets, checkpoint
 * restored, transaction, restart attempt), ending with an anomaly class in words and the step
 * where the invariant first became false. Built from the replayed trace and the run's
 * observations only, so it explains any run the same way, planted bug or not.
 */

/** Chains per report: one per violated property is enough to start from. */
export const MAX_CHAINS = 6;

/** One chain per violated property (the first violation of each names the subject). */
export function blameViolations(
  result: CaseResult,
  options: { readonly secondTrace?: readonly TraceEntry[]; readonly referenceSourceEnds?: readonly SourcePositionObservation[] } = {},
): BlameChain[] {
  if (result.violations.length === 0) return [];
  const timeline = buildTimeline(result.trace, result.observations.taskNames);
  const context: BlameContext = {
    result,
    timeline,
    events: timeline.events,
    secondTrace: options.secondTrace,
    ...(options.referenceSourceEnds === undefined ? {} : { referenceSourceEnds: options.referenceSourceEnds }),
  };
  const chains: BlameChain[] = [];
  const seen = new Set<string>();
  for (const violation of result.violations) {
    if (seen.has(violation.property) || chains.length >= MAX_CHAINS) continue;
    seen.add(violation.property);
    chains.push(blameOne(context, violation));
  }
  return chains;
}

function blameOne(context: BlameContext, violation: Violation): BlameChain {
  switch (violation.property) {
    case 'exactly-once':
      return blameExactlyOnce(context, violation);
    case 'barrier-alignment':
      return blameUnobservedAlignment(context, violation) ?? blameAlignment(context, violation);
    case 'consistent-cut':
      return blameConsistentCut(context, violation);
    case 'liveness':
      return blameLiveness(context, violation);
    case 'determinism':
      return blameDeterminism(context, violation);
    case 'committed-implies-completed':
      return blameEarlyCommit(context, violation);
    case 'completed-implies-committed':
      return blameUncommitted(context, violation);
    case 'no-lingering-transaction':
      return blameLingering(context, violation);
    case 'source-positions':
      return blameSourceResume(context, violation) ?? finish(violation, 'source positions', violation.anomaly, faultLinks(context), undefined);
    case 'checkpoint-progress':
      return blameCheckpointProgress(context, violation);
    case 'restore-choice':
      return blameRestoreChoice(context, violation);
    case 'fault-effects':
      return blameFaultEffects(context, violation);
    case 'mode-semantics':
      return blameModeSemantics(context, violation);
    case 'flow-control':
      return blameFlowControl(context, violation);
    case 'state-restore':
      return blameStateRestore(context, violation);
    case 'rescale-state':
    case 'restore-recovers-pending':
      return blameRescale(context, violation);
    case 'join-output':
    case 'lookup-join-output':
    case 'join-state-retention':
    case 'join-late-records':
      return blameJoin(context, violation);
    default:
      return blameDiagnosis(context, violation) ?? blameEventTime(context, violation) ?? finish(violation, violation.message.slice(0, 80), violation.anomaly, [...faultLinks(context)], undefined);
  }
}

// ------------------------------------------------------------------ text

/** The chains as text lines for the report. */
export function formatBlame(chains: readonly BlameChain[]): string[] {
  const lines: string[] = [];
  for (const chain of chains) {
    lines.push(`Blame (${chain.property}, ${chain.subject}):`);
    for (const l of chain.links) lines.push(`  ${l.firstFalse ? '>>' : '  '} step ${String(l.step).padStart(5)}  ${l.lane.padEnd(16)} ${l.text}`);
    lines.push(`  => ${chain.anomalyClass}; the invariant first became false at step ${chain.firstFalseStep}`);
  }
  return lines;
}

/**
 * Blame chains for a replayed case; a determinism violation runs the case once more with
 * its trace kept, to find the step where the two runs part.
 */
export async function explainCase(scenario: Scenario, result: CaseResult): Promise<BlameChain[]> {
  const nondeterministic = result.violations.some((v) => v.property === 'determinism');
  const secondTrace = nondeterministic ? (await runCase(scenario, result.spec, { keepTrace: true })).trace : undefined;
  // A write lost without any restart: did a source stop short of where the plain run of the same input stops?
  const lostWithoutRestore = result.violations.some((v) => v.property === 'exactly-once' && v.anomaly === 'lost write') && result.observations.restores.length <= 1;
  const referenceSourceEnds = lostWithoutRestore ? (await runCase(scenario, { ...result.spec, bug: undefined, faults: [] })).observations.sourcePositions.filter((p) => p.kind === 'end') : undefined;
  return blameViolations(result, { ...(secondTrace === undefined ? {} : { secondTrace }), ...(referenceSourceEnds === undefined ? {} : { referenceSourceEnds }) });
}
