import type { TraceEntry } from '../../sim/trace.ts';
import type { CheckpointObservation, SourcePositionObservation } from '../../runtime/observations.ts';
import type { CaseResult } from '../run-case.ts';
import type { Violation } from '../scenario.ts';
import { transactionOf, type Timeline, type TimelineEvent } from './timeline.ts';

/** The types of blame chains and the helpers every kind of chain is built with. */
export interface BlameLink {
  readonly step: number;
  readonly timeMs: number;
  readonly lane: string;
  readonly text: string;
  /** The step where the invariant first became false. */
  readonly firstFalse: boolean;
}

export interface BlameChain {
  readonly property: string;
  /** What the chain follows: a key, a transaction, a checkpoint, a task. */
  readonly subject: string;
  /** The anomaly in words: duplicate after restore, lost in an aborted transaction, ... */
  readonly anomalyClass: string;
  readonly links: readonly BlameLink[];
  readonly firstFalseStep: number;
}

/** Links kept per chain: a chain is for reading, not a second timeline. */
export const MAX_LINKS_PER_CHAIN = 12;

export interface BlameContext {
  readonly result: CaseResult;
  readonly timeline: Timeline;
  readonly events: readonly TimelineEvent[];
  readonly secondTrace: readonly TraceEntry[] | undefined;
  /** Where each source ended its input in the same case run without faults and without a planted bug (lost writes without a restore). */
  readonly referenceSourceEnds?: readonly SourcePositionObservation[];
}

export function link(event: TimelineEvent, text: string = event.text, firstFalse = false): BlameLink {
  return { step: event.step, timeMs: event.timeMs, lane: event.lane, text, firstFalse };
}

/** Sorts, removes repeated events, bounds the chain and marks the first-false step. */
export function finish(violation: Violation, subject: string, anomalyClass: string, links: BlameLink[], firstFalse: BlameLink | undefined): BlameChain {
  // Only the designated link marks the first-false step; a helper may have flagged another.
  const others = links.map((l) => (l.firstFalse ? { ...l, firstFalse: false } : l));
  const all = firstFalse === undefined ? others : [...others.filter((l) => !(l.step === firstFalse.step && l.text === firstFalse.text)), { ...firstFalse, firstFalse: true }];
  const ordered = all
    .filter((l, i) => all.findIndex((other) => other.step === l.step && other.text === l.text) === i)
    .sort((a, b) => a.step - b.step || Number(a.firstFalse) - Number(b.firstFalse));
  let bounded = ordered;
  if (ordered.length > MAX_LINKS_PER_CHAIN) {
    // Keep the start of the story and the end, where the invariant breaks.
    const head = ordered.slice(0, 3);
    const tail = ordered.slice(-(MAX_LINKS_PER_CHAIN - 3)).filter((l) => !head.includes(l));
    if (firstFalse !== undefined && !tail.includes(firstFalse) && !head.includes(firstFalse)) tail.push(firstFalse);
    bounded = [...head, ...tail].sort((a, b) => a.step - b.step);
  }
  const lastStep = bounded.at(-1)?.step ?? -1;
  return { property: violation.property, subject, anomalyClass, links: bounded, firstFalseStep: firstFalse?.step ?? lastStep };
}

export function faultLinks(context: BlameContext): BlameLink[] {
  return context.events.filter((e) => e.kind === 'fault' || e.kind === 'failover' || e.kind === 'notify-lost').map((e) => link(e));
}

export function restoreEvents(context: BlameContext): TimelineEvent[] {
  return context.events.filter((e) => e.kind === 'deploy' && e.attempt > 0);
}

export function checkpointObservation(context: BlameContext, checkpointId: number | undefined): CheckpointObservation | undefined {
  return checkpointId === undefined ? undefined : context.result.observations.checkpoints.find((c) => c.checkpointId === checkpointId);
}

/** Source offsets a restore rewinds to, from the restored checkpoint's operator state. */
export function rewindText(context: BlameContext, restore: TimelineEvent): string {
  const sources = sourceTasks(context);
  const checkpoint = checkpointObservation(context, restore.checkpointId);
  const offsets = sources.map((task) => {
    const stored = checkpoint?.tasks?.[task]?.operatorState['offsets']?.[0];
    return `${context.result.observations.taskNames[task]} @ ${typeof stored === 'number' ? stored : 0}`;
  });
  return `${restore.text}${checkpoint === undefined || checkpoint.outcome === 'completed' ? '' : ` (checkpoint ${checkpoint.checkpointId} ${checkpoint.outcome}, never completed)`}: sources rewind to ${offsets.join(', ') || 'their start'}`;
}

export function sourceTasks(context: BlameContext): number[] {
  const names = context.result.observations.taskNames;
  const emitting = new Set(context.events.filter((e) => e.kind === 'emit').map((e) => e.lane));
  return names.map((_, i) => i).filter((i) => emitting.has(names[i]!));
}

export function lastBefore(events: readonly TimelineEvent[], step: number, predicate: (e: TimelineEvent) => boolean): TimelineEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.step <= step && predicate(events[i]!)) return events[i];
  return undefined;
}

export function firstAfter(events: readonly TimelineEvent[], step: number, predicate: (e: TimelineEvent) => boolean): TimelineEvent | undefined {
  return events.find((e) => e.step > step && predicate(e));
}

/** The sink task that owns a transactional id `prefix-<subtask>-<n>`: the last task named `...[subtask]`. */
export function ownerOfTransaction(context: BlameContext, transactionalId: string): string | undefined {
  const subtask = /-(\d+)-\d+$/.exec(transactionalId)?.[1];
  if (subtask === undefined) return undefined;
  return [...context.result.observations.taskNames].reverse().find((name) => name.endsWith(`[${subtask}]`));
}

/**
 * A commit made while its sink was snapshotting (its latest control message was a trigger or
 * a barrier, not a notification or a deployment): data visible before the checkpoint completed.
 */
export function commitDuringSnapshot(context: BlameContext, commit: TimelineEvent): TimelineEvent | undefined {
  const transaction = transactionOf(commit);
  const owner = transaction === undefined ? undefined : ownerOfTransaction(context, transaction);
  if (owner === undefined) return undefined;
  const control = lastBefore(context.events, commit.step, (e) => e.lane === owner && (e.kind === 'barrier' || e.kind === 'trigger-task' || e.kind === 'notify' || e.kind === 'deploy-task'));
  return control !== undefined && (control.kind === 'barrier' || control.kind === 'trigger-task') ? control : undefined;
}

/** The barrier a task took on one input and the first record it then took from that input before its snapshot. */
export function recordBehindBarrier(context: BlameContext, checkpointId: number, task: string, inputSlot: number): { barrier: BlameLink; record: BlameLink } | undefined {
  const names = context.result.observations.taskNames;
  const barriers = context.events.filter((e) => e.kind === 'barrier' && e.checkpointId === checkpointId && e.lane === task);
  const upstreams = [...new Set(context.events.filter((e) => (e.kind === 'barrier' || e.kind === 'record') && e.lane === task).map((e) => e.peer!))].sort((a, b) => names.indexOf(a) - names.indexOf(b));
  const upstream = upstreams[inputSlot];
  const barrier = barriers.find((b) => b.peer === upstream) ?? barriers[0];
  if (barrier === undefined) return undefined;
  const record = firstAfter(context.events, barrier.step, (e) => e.kind === 'record' && e.lane === task && e.peer === barrier.peer && e.attempt === barrier.attempt);
  if (record === undefined) return undefined;
  return {
    barrier: link(barrier),
    record: link(record, `${record.text}: behind barrier ${checkpointId}, yet it enters ${task}'s snapshot ${checkpointId}`, true),
  };
}
