import { describeFault } from '../../runtime/job.ts';
import { replayCommand } from '../report.ts';
import type { CaseResult } from '../run-case.ts';
import type { Violation } from '../scenario.ts';
import type { BlameChain } from './blame.ts';
import { buildTimeline, COORDINATOR_LANE, isProtocolEvent, type Timeline, type TimelineEvent } from './timeline.ts';

/** What every picture of one replayed case shows: verdict, fault plan, replay command, lanes, blame. */
export interface VisualCase {
  readonly title: string;
  readonly passed: boolean;
  readonly violations: readonly Violation[];
  readonly faultPlan: readonly string[];
  readonly replay: string;
  readonly timeline: Timeline;
  readonly chains: readonly BlameChain[];
  /** Steps named by a blame chain, and the steps where an invariant first became false. */
  readonly blamedSteps: ReadonlySet<number>;
  readonly firstFalseSteps: ReadonlySet<number>;
  readonly steps: number;
  readonly virtualTimeMs: number;
  readonly traceHash: string;
}

export function visualCase(result: CaseResult, chains: readonly BlameChain[]): VisualCase {
  const { spec, observations } = result;
  const properties = [...new Set(result.violations.map((v) => v.property))];
  const header = `${spec.scenario} (mode ${result.jobOptions.mode}, backend ${spec.backend}${spec.bug === undefined ? '' : `, planted bug ${spec.bug}`}, ${spec.size.partitions}x${spec.size.recordsPerPartition} records)`;
  return {
    title: result.violations.length === 0 ? `PASS ${header}` : `FAIL ${properties.join(', ')} violated in ${header}`,
    passed: result.violations.length === 0,
    violations: result.violations,
    faultPlan: spec.faults.map((fault) => describeFault(fault, observations.taskNames)),
    replay: replayCommand(result),
    timeline: buildTimeline(result.trace, observations.taskNames),
    chains,
    blamedSteps: new Set(chains.flatMap((chain) => chain.links.map((l) => l.step))),
    firstFalseSteps: new Set(chains.map((chain) => chain.firstFalseStep)),
    steps: observations.steps,
    virtualTimeMs: observations.virtualTimeMs,
    traceHash: observations.traceHash,
  };
}

/** Is this event one a blame chain names (same step, same lane or same words)? */
export function isBlamed(visual: VisualCase, event: TimelineEvent): boolean {
  if (!visual.blamedSteps.has(event.step)) return false;
  return visual.chains.some((chain) => chain.links.some((l) => l.step === event.step && (l.text.startsWith(event.text) || (l.lane === event.lane && l.lane !== COORDINATOR_LANE))));
}

export function isFirstFalse(visual: VisualCase, event: TimelineEvent): boolean {
  return visual.chains.some((chain) => chain.links.some((l) => l.firstFalse && l.step === event.step && l.text.startsWith(event.text)));
}

/**
 * At most `limit` events for a bounded picture: blamed events first, then faults, restores
 * and checkpoint outcomes, then the rest of the protocol, then record traffic near blamed
 * steps. Returned in trace order.
 */
export function selectEvents(visual: VisualCase, limit: number, includeRecords: boolean): TimelineEvent[] {
  const events = visual.timeline.events;
  const rank = (event: TimelineEvent): number => {
    if (isBlamed(visual, event)) return 0;
    if (event.kind === 'fault' || event.kind === 'failover' || event.kind === 'deploy' || event.kind === 'notify-lost' || event.kind === 'io-failed' || event.kind === 'io-at-crash') return 1;
    if (event.kind === 'completed' || event.kind === 'checkpoint-failed' || event.kind === 'trigger' || event.kind === 'finished') return 2;
    if (isProtocolEvent(event)) return 3;
    return includeRecords ? 4 : 9;
  };
  const candidates = events.filter((event) => rank(event) < 9);
  if (candidates.length <= limit) return candidates;
  const blamed = [...visual.blamedSteps];
  const distance = (event: TimelineEvent): number => (blamed.length === 0 ? 0 : Math.min(...blamed.map((step) => Math.abs(step - event.step))));
  const chosen = [...candidates].sort((a, b) => rank(a) - rank(b) || distance(a) - distance(b) || a.index - b.index).slice(0, limit);
  return chosen.sort((a, b) => a.index - b.index);
}
