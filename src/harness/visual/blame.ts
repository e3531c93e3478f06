import type { TraceEntry } from '../../sim/trace.ts';
import type { CheckpointObservation } from '../../runtime/observations.ts';
import { runCase, type CaseResult } from '../run-case.ts';
import type { Scenario, Violation } from '../scenario.ts';
import { buildTimeline, isVisibleWrite, transactionOf, type Timeline, type TimelineEvent } from './timeline.ts';

/**
 * Blame chains: for a violated invariant, the few protocol events that explain it, in order,
 * about the records, keys or transactions the violation names (source offsets, checkpoint
 * restored, transaction, restart attempt), ending with an anomaly class in words and the step
 * where the invariant first became false. Built from the replayed trace and the run's
 * observations only, so it explains any run the same way, planted bug or not.
 */
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
/** Chains per report: one per violated property is enough to start from. */
export const MAX_CHAINS = 6;

interface Context {
  readonly result: CaseResult;
  readonly timeline: Timeline;
  readonly events: readonly TimelineEvent[];
  readonly secondTrace: readonly TraceEntry[] | undefined;
}

/** One chain per violated property (the first violation of each names the subject). */
export function blameViolations(result: CaseResult, options: { readonly secondTrace?: readonly TraceEntry[] } = {}): BlameChain[] {
  if (result.violations.length === 0) return [];
  const timeline = buildTimeline(result.trace, result.observations.taskNames);
  const context: Context = { result, timeline, events: timeline.events, secondTrace: options.secondTrace };
  const chains: BlameChain[] = [];
  const seen = new Set<string>();
  for (const violation of result.violations) {
    if (seen.has(violation.property) || chains.length >= MAX_CHAINS) continue;
    seen.add(violation.property);
    chains.push(blameOne(context, violation));
  }
  return chains;
}

function blameOne(context: Context, violation: Violation): BlameChain {
  switch (violation.property) {
    case 'exactly-once':
      return blameExactlyOnce(context, violation);
    case 'barrier-alignment':
      return blameAlignment(context, violation);
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
    default:
      return finish(violation, violation.message.slice(0, 80), violation.anomaly, [...faultLinks(context)], undefined);
  }
}

// ------------------------------------------------------------------ helpers

function link(event: TimelineEvent, text: string = event.text, firstFalse = false): BlameLink {
  return { step: event.step, timeMs: event.timeMs, lane: event.lane, text, firstFalse };
}

/** Sorts, removes repeated events, bounds the chain and marks the first-false step. */
function finish(violation: Violation, subject: string, anomalyClass: string, links: BlameLink[], firstFalse: BlameLink | undefined): BlameChain {
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

function faultLinks(context: Context): BlameLink[] {
  return context.events.filter((e) => e.kind === 'fault' || e.kind === 'failover' || e.kind === 'notify-lost').map((e) => link(e));
}

function restoreEvents(context: Context): TimelineEvent[] {
  return context.events.filter((e) => e.kind === 'deploy' && e.attempt > 0);
}

function checkpointObservation(context: Context, checkpointId: number | undefined): CheckpointObservation | undefined {
  return checkpointId === undefined ? undefined : context.result.observations.checkpoints.find((c) => c.checkpointId === checkpointId);
}

/** Source offsets a restore rewinds to, from the restored checkpoint's operator state. */
function rewindText(context: Context, restore: TimelineEvent): string {
  const sources = sourceTasks(context);
  const checkpoint = checkpointObservation(context, restore.checkpointId);
  const offsets = sources.map((task) => {
    const stored = checkpoint?.tasks?.[task]?.operatorState['offsets']?.[0];
    return `${context.result.observations.taskNames[task]} @ ${typeof stored === 'number' ? stored : 0}`;
  });
  return `${restore.text}${checkpoint === undefined || checkpoint.outcome === 'completed' ? '' : ` (checkpoint ${checkpoint.checkpointId} ${checkpoint.outcome}, never completed)`}: sources rewind to ${offsets.join(', ') || 'their start'}`;
}

function sourceTasks(context: Context): number[] {
  const names = context.result.observations.taskNames;
  const emitting = new Set(context.events.filter((e) => e.kind === 'emit').map((e) => e.lane));
  return names.map((_, i) => i).filter((i) => emitting.has(names[i]!));
}

function lastBefore(events: readonly TimelineEvent[], step: number, predicate: (e: TimelineEvent) => boolean): TimelineEvent | undefined {
  for (let i = events.length - 1; i >= 0; i--) if (events[i]!.step <= step && predicate(events[i]!)) return events[i];
  return undefined;
}

function firstAfter(events: readonly TimelineEvent[], step: number, predicate: (e: TimelineEvent) => boolean): TimelineEvent | undefined {
  return events.find((e) => e.step > step && predicate(e));
}

/** The sink task that owns a transactional id `prefix-<subtask>-<n>`: the last task named `...[subtask]`. */
function ownerOfTransaction(context: Context, transactionalId: string): string | undefined {
  const subtask = /-(\d+)-\d+$/.exec(transactionalId)?.[1];
  if (subtask === undefined) return undefined;
  return [...context.result.observations.taskNames].reverse().find((name) => name.endsWith(`[${subtask}]`));
}

/**
 * A commit made while its sink was snapshotting (its latest control message was a trigger or
 * a barrier, not a notification or a deployment): data visible before the checkpoint completed.
 */
function commitDuringSnapshot(context: Context, commit: TimelineEvent): TimelineEvent | undefined {
  const transaction = transactionOf(commit);
  const owner = transaction === undefined ? undefined : ownerOfTransaction(context, transaction);
  if (owner === undefined) return undefined;
  const control = lastBefore(context.events, commit.step, (e) => e.lane === owner && (e.kind === 'barrier' || e.kind === 'trigger-task' || e.kind === 'notify' || e.kind === 'deploy-task'));
  return control !== undefined && (control.kind === 'barrier' || control.kind === 'trigger-task') ? control : undefined;
}

// ------------------------------------------------------------------ exactly-once

function blameExactlyOnce(context: Context, violation: Violation): BlameChain {
  const unexpected = /key (\S+) holds (.*), not a record's value/.exec(violation.message);
  if (unexpected !== null) return blameUnexpectedValue(context, violation, unexpected[1]!, unexpected[2]!);
  const acknowledged = /when checkpoint (\d+) completed, key (\S+) held/.exec(violation.message);
  if (acknowledged !== null) return blameAckBeforeFlush(context, violation, Number(acknowledged[1]), acknowledged[2]!);
  if (violation.anomaly === 'lost write') {
    const resumed = blameSourceResume(context, violation);
    if (resumed !== undefined) return resumed;
  }
  const redisKey = /^key (\S+):/.exec(violation.message)?.[1];
  const logKey = /^(\w+): /.exec(violation.message)?.[1];
  const subject = redisKey !== undefined ? `key ${redisKey}` : logKey !== undefined ? `output key ${logKey}` : 'the output';
  const touches = (e: TimelineEvent): boolean => isVisibleWrite(e) && (redisKey === undefined || e.text.includes(redisKey));
  const lost = violation.anomaly === 'lost write';
  const links: BlameLink[] = [];
  const restores = restoreEvents(context);
  const events = context.events;

  // A commit that made output visible while its checkpoint was still being taken.
  for (const commit of events.filter((e) => touches(e) && e.lane === 'kafka')) {
    const snapshotting = commitDuringSnapshot(context, commit);
    if (snapshotting === undefined) continue;
    links.push(link(snapshotting));
    const early = link(commit, `${commit.text}: committed while checkpoint ${snapshotting.checkpointId ?? '?'} was still being taken (before it completed)`);
    const restore = restores.find((r) => r.step > commit.step);
    if (restore !== undefined) {
      links.push(...faultLinks(context).filter((l) => l.step >= commit.step && l.step <= restore.step), link(restore, rewindText(context, restore)));
      const again = firstAfter(events, restore.step, touches);
      if (again !== undefined) links.push(link(again, `${again.text}: the rewound records are committed a second time`));
    }
    return finish(violation, subject, 'duplicate after restore: output committed before its checkpoint completed, then replayed', links, early);
  }

  // A transaction committed a second time after a restore: its records are published twice.
  const committedAt = new Map<string, TimelineEvent>();
  for (const commit of events.filter((e) => e.lane === 'kafka' && isVisibleWrite(e))) {
    const transaction = transactionOf(commit);
    if (transaction === undefined) continue;
    const earlier = committedAt.get(transaction);
    if (earlier === undefined) {
      committedAt.set(transaction, commit);
      continue;
    }
    const restore = lastBefore(events, commit.step, (e) => e.kind === 'deploy' && e.attempt > 0 && e.step >= earlier.step);
    links.push(link(earlier, `${earlier.text}: ${transaction} committed`), ...faultLinks(context).filter((l) => l.step >= earlier.step && l.step <= commit.step).slice(0, 4));
    if (restore !== undefined) links.push(link(restore, rewindText(context, restore)));
    return finish(violation, subject, `duplicate after restore: transaction ${transaction} committed twice (recovery commits it again)`, links, link(commit, `${commit.text}: commits ${transaction} again, publishing its records twice`, true));
  }

  for (const restore of restores) {
    const restored = checkpointObservation(context, restore.checkpointId);
    const failoverLinks = faultLinks(context).filter((l) => l.step <= restore.step && l.step >= (restores[restores.indexOf(restore) - 1]?.step ?? -1));
    // Restoring a checkpoint that never completed: its cut is not a consistent one.
    if (restored !== undefined && (restored.outcome !== 'completed' || restored.endedAtStep > restore.step)) {
      const trigger = events.find((e) => e.kind === 'trigger' && e.checkpointId === restored.checkpointId);
      const failed = events.find((e) => e.kind === 'checkpoint-failed' && e.checkpointId === restored.checkpointId);
      if (trigger !== undefined) links.push(link(trigger));
      if (failed !== undefined) links.push(link(failed));
      links.push(...failoverLinks);
      return finish(violation, subject, `${lost ? 'lost' : 'corrupted'} on restore of checkpoint ${restored.checkpointId}, which never completed`, links, link(restore, rewindText(context, restore), true));
    }
    // Unaligned checkpoint whose in-flight records were left out: they are gone after the restore.
    const inFlight = restored === undefined ? [] : context.result.observations.alignment.filter((a) => a.checkpointId === restored.checkpointId && a.recordsInChannelState > 0);
    const keptInFlight = (restored?.tasks ?? []).reduce((n, t) => n + (t.channelState ?? []).reduce((m, records) => m + records.length, 0), 0);
    if (lost && restored !== undefined && inFlight.length > 0 && keptInFlight < inFlight.reduce((n, a) => n + a.recordsInChannelState, 0)) {
      const names = context.result.observations.taskNames;
      const completed = events.find((e) => e.kind === 'completed' && e.checkpointId === restored.checkpointId);
      for (const entry of inFlight.slice(0, 2)) {
        const barrier = events.find((e) => e.kind === 'barrier' && e.checkpointId === restored.checkpointId && e.lane === names[entry.task]);
        if (barrier !== undefined) links.push(link(barrier, `${barrier.text}: unaligned snapshot with ${entry.recordsInChannelState} record(s) in flight on input ${entry.inputSlot}, left out of the checkpoint`));
      }
      if (completed !== undefined) links.push(link(completed));
      links.push(...failoverLinks);
      return finish(violation, subject, `lost in flight: checkpoint ${restored.checkpointId} left its channel state out, so the restore drops those records`, links, link(restore, rewindText(context, restore), true));
    }
    // A torn checkpoint (records behind a barrier in its snapshot) restored: they count twice.
    const torn = restored === undefined ? [] : context.result.observations.alignment.filter((a) => a.checkpointId === restored.checkpointId && a.recordsTakenAtSnapshot + a.recordsInChannelState !== a.recordsBeforeBarrier);
    if (torn.length > 0 && restored !== undefined) {
      const behind = recordBehindBarrier(context, restored.checkpointId, context.result.observations.taskNames[torn[0]!.task]!, torn[0]!.inputSlot);
      if (behind !== undefined) links.push(behind.barrier, behind.record);
      links.push(...failoverLinks);
      const again = firstAfter(events, restore.step, touches);
      if (again !== undefined) links.push(link(again, `${again.text}: records already in the restored state are counted again`));
      return finish(violation, subject, `duplicate after restore of torn checkpoint ${restored.checkpointId} (records behind its barrier were in its snapshot)`, links, link(restore, rewindText(context, restore), true));
    }
  }

  // A pre-committed transaction aborted instead of committed on restore.
  if (lost) {
    const aborted = abortedPreCommit(context);
    if (aborted !== undefined) return finish(violation, subject, `lost in an aborted transaction (${aborted.transactionalId} of completed checkpoint ${aborted.checkpointId})`, aborted.links, aborted.firstFalse);
  }

  // Output written, then a failure, then a restore that rewinds before it: written twice.
  const restore = restores.find((r) => events.some((e) => e.step < r.step && touches(e))) ?? restores.at(-1);
  if (restore === undefined) {
    const first = events.find(touches);
    return finish(violation, subject, lost ? 'lost write without a restore' : 'duplicate without a restore', [...faultLinks(context)], first === undefined ? undefined : link(first, first.text, true));
  }
  const before = lastBefore(events, restore.step, touches);
  if (before !== undefined) links.push(link(before, `${before.text}${before.kind === 'io-at-crash' ? '' : ': output written'} in attempt ${before.attempt}`));
  links.push(...faultLinks(context).filter((l) => l.step <= restore.step && (before === undefined || l.step >= before.step)));
  links.push(link(restore, rewindText(context, restore)));
  for (const later of restores.filter((r) => r.step > restore.step).slice(0, 2)) links.push(link(later, rewindText(context, later)));
  const again = firstAfter(events, restore.step, touches);
  if (lost) return finish(violation, subject, 'lost write after restore', links, link(restore, rewindText(context, restore), true));
  const firstFalse = again === undefined ? link(restore, rewindText(context, restore), true) : link(again, `${again.text}: records already written before the restore are written again`, true);
  return finish(violation, subject, `duplicate after restore (restart ${restore.attempt} replays output already written)`, links, firstFalse);
}

function abortedPreCommit(context: Context): { transactionalId: string; checkpointId: number; links: BlameLink[]; firstFalse: BlameLink } | undefined {
  for (const { transactionalId, checkpoint } of preCommitted(context)) {
    const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpoint.checkpointId);
    if (completed === undefined) continue;
    const next = firstAfter(context.events, completed.step, (e) => (e.kind === 'io' || e.kind === 'io-at-crash') && transactionOf(e) === transactionalId && !/^io kafka (send|flush) /.test(e.text));
    if (next === undefined || !/initTransactions|abort/.test(next.text)) continue;
    const restore = lastBefore(context.events, next.step, (e) => e.kind === 'deploy' && e.attempt > 0);
    const links = [link(completed, `${completed.text} holding ${transactionalId} pre-committed`), ...faultLinks(context).filter((l) => l.step >= completed.step && l.step <= next.step)];
    if (restore !== undefined) links.push(link(restore, rewindText(context, restore)));
    return { transactionalId, checkpointId: checkpoint.checkpointId, links, firstFalse: link(next, `${next.text}: aborts pre-committed ${transactionalId} instead of committing it`, true) };
  }
  return undefined;
}

/** Every (transaction, first completed checkpoint holding it pending), from the sinks' checkpointed state. */
function preCommitted(context: Context): { transactionalId: string; checkpoint: CheckpointObservation }[] {
  const found = new Map<string, CheckpointObservation>();
  for (const checkpoint of context.result.observations.checkpoints) {
    if (checkpoint.outcome !== 'completed' || checkpoint.tasks === undefined) continue;
    for (const task of checkpoint.tasks) {
      for (const state of (task.operatorState['two-phase-commit'] ?? []) as { pending?: [number, { transactionalId?: string }][] }[]) {
        for (const [, transaction] of state.pending ?? []) {
          if (typeof transaction?.transactionalId === 'string' && !found.has(transaction.transactionalId)) found.set(transaction.transactionalId, checkpoint);
        }
      }
    }
  }
  return [...found].map(([transactionalId, checkpoint]) => ({ transactionalId, checkpoint }));
}

// ------------------------------------------------------------------ checkpoints

/** The barrier a task took on one input and the first record it then took from that input before its snapshot. */
function recordBehindBarrier(context: Context, checkpointId: number, task: string, inputSlot: number): { barrier: BlameLink; record: BlameLink } | undefined {
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

function blameAlignment(context: Context, violation: Violation): BlameChain {
  const match = /task (.+) took snapshot (\d+) after \d+ records from input (\d+)/.exec(violation.message);
  if (match === null) return finish(violation, 'barriers', violation.anomaly, faultLinks(context), undefined);
  const [, task, checkpoint, slot] = match;
  const checkpointId = Number(checkpoint);
  const links: BlameLink[] = [];
  const trigger = context.events.find((e) => e.kind === 'trigger' && e.checkpointId === checkpointId);
  if (trigger !== undefined) links.push(link(trigger));
  const behind = recordBehindBarrier(context, checkpointId, task!, Number(slot));
  if (behind !== undefined) links.push(behind.barrier);
  const ack = context.events.find((e) => e.kind === 'ack' && e.checkpointId === checkpointId && e.peer === task);
  if (ack !== undefined) links.push(link(ack, `${ack.text}: the snapshot holds the record behind the barrier`));
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpointId);
  if (completed !== undefined) links.push(link(completed));
  return finish(violation, `${task} input ${slot}, checkpoint ${checkpointId}`, `torn checkpoint: a record behind barrier ${checkpointId} in the snapshot`, links, behind?.record);
}

function blameConsistentCut(context: Context, violation: Violation): BlameChain {
  const checkpointId = Number(/checkpoint (\d+)/.exec(violation.message)?.[1] ?? NaN);
  const names = context.result.observations.taskNames;
  const links: BlameLink[] = [];
  const trigger = context.events.find((e) => e.kind === 'trigger' && e.checkpointId === checkpointId);
  if (trigger !== undefined) links.push(link(trigger));
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpointId);
  if (completed !== undefined) links.push(link(completed, `${completed.text}: its state and its source offsets disagree`));
  const entries = context.result.observations.alignment.filter((a) => a.checkpointId === checkpointId);
  const torn = entries.find((a) => a.recordsTakenAtSnapshot + a.recordsInChannelState !== a.recordsBeforeBarrier);
  if (torn !== undefined) {
    const behind = recordBehindBarrier(context, checkpointId, names[torn.task]!, torn.inputSlot);
    if (behind !== undefined) links.push(behind.barrier);
    return finish(violation, `checkpoint ${checkpointId}`, `torn checkpoint ${checkpointId}: records behind its barrier are in its state`, links, behind?.record);
  }
  const checkpoint = checkpointObservation(context, checkpointId);
  const dropped = entries.find((a) => a.recordsInChannelState > 0 && (checkpoint?.tasks?.[a.task]?.channelState?.[a.inputSlot]?.length ?? 0) < a.recordsInChannelState);
  if (dropped !== undefined) {
    const barrier = context.events.find((e) => e.kind === 'barrier' && e.checkpointId === checkpointId && e.lane === names[dropped.task]);
    const firstFalse = barrier === undefined ? undefined : link(barrier, `${barrier.text}: unaligned snapshot of ${names[dropped.task]} with ${dropped.recordsInChannelState} record(s) in flight on input ${dropped.inputSlot}, left out of its channel state`, true);
    return finish(violation, `checkpoint ${checkpointId}`, `torn checkpoint ${checkpointId}: in-flight records missing from its channel state`, links, firstFalse);
  }
  const resumed = blameSourceResume(context, violation);
  if (resumed !== undefined) return resumed;
  return finish(violation, `checkpoint ${checkpointId}`, `torn checkpoint ${checkpointId}`, links, completed === undefined ? undefined : link(completed, completed.text, true));
}

/** Writes of one key: the store names keys with a prefix (`suite:p0-k0`), violations without. */
function writesKey(event: TimelineEvent, key: string): boolean {
  return isVisibleWrite(event) && new RegExp(`(^|[\\s:])${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(\\s|$)`).test(event.text);
}

function blameUnexpectedValue(context: Context, violation: Violation, key: string, value: string): BlameChain {
  const writes = context.events.filter((e) => writesKey(e, key));
  const checkpointId = Number(/checkpoint (\d+)/.exec(violation.message)?.[1] ?? NaN);
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpointId);
  const links = writes.slice(1, 4).map((w) => link(w));
  if (completed !== undefined) links.push(link(completed, `${completed.text}: key ${key} holds ${value}, which no record has`));
  const first = writes[0];
  const operation = first === undefined ? 'a write' : (/^io \S+ (\S+)/.exec(first.text)?.[1] ?? 'a write');
  const firstFalse = first === undefined ? undefined : link(first, `${first.text}: ${operation} stores a computed value instead of the record's`, true);
  return finish(violation, `key ${key}`, `unexpected write: ${operation} makes ${key} hold a value no record has (not idempotent on replay)`, links, firstFalse);
}

function blameAckBeforeFlush(context: Context, violation: Violation, checkpointId: number, key: string): BlameChain {
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpointId);
  const written = context.events.find((e) => writesKey(e, key));
  const sources = new Set(sourceTasks(context).map((i) => context.result.observations.taskNames[i]));
  // Acks of the tasks that write (not the sources) that reached the coordinator before the key did.
  const acks = context.events.filter((e) => e.kind === 'ack' && e.checkpointId === checkpointId && !sources.has(e.peer!) && (written === undefined || e.step < written.step));
  const links = acks.map((ack) => link(ack, `${ack.text}: acknowledged with its writes still buffered`));
  if (written !== undefined) links.push(link(written, `${written.text}: only now does ${key} reach the store`));
  const firstFalse = completed === undefined ? undefined : link(completed, `${completed.text} while ${key} is not in the store`, true);
  return finish(violation, `key ${key}`, `lost write: acknowledged before it was flushed (checkpoint ${checkpointId} covers a write the store does not hold)`, links, firstFalse);
}

/**
 * A source that resumes from another offset than the one its restored checkpoint holds:
 * past it, records are never read (lost); before it, read twice.
 */
function blameSourceResume(context: Context, violation: Violation): BlameChain | undefined {
  const names = context.result.observations.taskNames;
  for (const restore of restoreEvents(context)) {
    const checkpoint = checkpointObservation(context, restore.checkpointId);
    // Only a completed checkpoint's offsets are known (a restored partial one is blamed as such).
    if (restore.checkpointId !== undefined && checkpoint?.tasks === undefined) continue;
    for (const task of sourceTasks(context)) {
      const stored = checkpoint?.tasks?.[task]?.operatorState['offsets']?.[0];
      const expected = typeof stored === 'number' ? stored : 0;
      const emit = firstAfter(context.events, restore.step, (e) => e.kind === 'emit' && e.lane === names[task]);
      const resumedAt = Number(/@ offset (\d+)/.exec(emit?.text ?? '')?.[1] ?? NaN);
      if (emit === undefined || Number.isNaN(resumedAt) || resumedAt === expected) continue;
      const links: BlameLink[] = [];
      const completed = checkpoint === undefined ? undefined : context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpoint.checkpointId);
      if (completed !== undefined) links.push(link(completed, `${completed.text}: ${names[task]} stands at offset ${expected}`));
      links.push(...faultLinks(context).filter((l) => l.step <= restore.step && l.step >= (completed?.step ?? 0)), link(restore, rewindText(context, restore)));
      const deployed = firstAfter(context.events, restore.step, (e) => e.kind === 'deploy-task' && e.lane === names[task]);
      if (deployed !== undefined) links.push(link(deployed));
      const skipped = resumedAt > expected;
      const what = skipped ? `offsets ${expected}..${resumedAt - 1} are never read` : `offsets ${resumedAt}..${expected - 1} are read twice`;
      return finish(
        violation,
        `${names[task]} after restart ${restore.attempt}`,
        `${skipped ? 'lost' : 'duplicate'}: the source resumed ${skipped ? 'past' : 'before'} its checkpointed offset (${what})`,
        links,
        link(emit, `${emit.text}: resumes at offset ${resumedAt}, not the checkpointed ${expected}; ${what}`, true),
      );
    }
  }
  return undefined;
}

function blameLiveness(context: Context, violation: Violation): BlameChain {
  const names = context.result.observations.taskNames;
  const links: BlameLink[] = [];
  const end = context.events.at(-1);
  const ending = end === undefined ? undefined : { step: end.step, timeMs: end.timeMs, lane: 'coordinator', text: `the job ends as ${violation.anomaly}: ${violation.message}`, firstFalse: false };
  for (const checkpoint of context.result.observations.checkpoints) {
    if (checkpoint.outcome === 'completed') continue;
    const acks = context.events.filter((e) => e.kind === 'ack' && e.checkpointId === checkpoint.checkpointId);
    const uncounted = acks.find((ack) => !checkpoint.ackedTasks.includes(names.indexOf(ack.peer!)));
    if (uncounted === undefined) continue;
    const trigger = context.events.find((e) => e.kind === 'trigger' && e.checkpointId === checkpoint.checkpointId);
    if (trigger !== undefined) links.push(link(trigger));
    for (const ack of acks.filter((a) => a !== uncounted).slice(0, 3)) links.push(link(ack));
    const failed = context.events.find((e) => e.kind === 'checkpoint-failed' && e.checkpointId === checkpoint.checkpointId);
    if (failed !== undefined) links.push(link(failed));
    if (ending !== undefined) links.push(ending);
    const count = context.result.observations.checkpoints.filter((c) => c.outcome !== 'completed').length;
    return finish(violation, `checkpoint ${checkpoint.checkpointId}`, `no progress: the acknowledgement of ${uncounted.peer} arrived but was never counted, so no checkpoint completes (${count} failed)`, links, link(uncounted, `${uncounted.text}: arrives, but the coordinator does not count it`, true));
  }
  const waiting = context.result.observations.checkpoints.find((c) => c.outcome !== 'completed');
  if (waiting !== undefined) {
    const missing = names.filter((_, i) => !waiting.ackedTasks.includes(i));
    const trigger = context.events.find((e) => e.kind === 'trigger' && e.checkpointId === waiting.checkpointId);
    if (ending !== undefined) links.push(ending);
    return finish(violation, `checkpoint ${waiting.checkpointId}`, `no progress: checkpoint ${waiting.checkpointId} waits on ${missing.join(', ') || 'nobody'}`, [...faultLinks(context), ...links], trigger === undefined ? undefined : link(trigger, trigger.text, true));
  }
  return finish(violation, 'the job', `no progress: ${violation.anomaly}`, [...faultLinks(context)], ending === undefined ? undefined : { ...ending, firstFalse: true });
}

function blameDeterminism(context: Context, violation: Violation): BlameChain {
  const first = context.result.trace;
  const second = context.secondTrace;
  if (second === undefined) return finish(violation, 'the schedule', 'nondeterministic run: something outside the scheduler decides (replay to see where the runs part)', [], undefined);
  let index = 0;
  while (index < first.length && index < second.length && first[index]!.event === second[index]!.event && first[index]!.step === second[index]!.step) index++;
  const a = first[index];
  const b = second[index];
  const links: BlameLink[] = [];
  if (index > 0) {
    const agreed = first[index - 1]!;
    links.push({ step: agreed.step, timeMs: agreed.timeMs, lane: context.events[index - 1]?.lane ?? 'coordinator', text: `${agreed.event} (both runs agree up to here)`, firstFalse: false });
  }
  const other: BlameLink | undefined = b === undefined ? undefined : { step: b.step, timeMs: b.timeMs, lane: 'coordinator', text: `second run instead: ${b.event}`, firstFalse: false };
  if (other !== undefined) links.push(other);
  const firstFalse: BlameLink | undefined = a === undefined ? undefined : { step: a.step, timeMs: a.timeMs, lane: context.events[index]?.lane ?? 'coordinator', text: `${a.event} (first run; the runs part here)`, firstFalse: true };
  return finish(violation, 'the schedule', 'nondeterministic run: something outside the scheduler decides', links, firstFalse);
}

// ------------------------------------------------------------------ two-phase commit

function blameEarlyCommit(context: Context, violation: Violation): BlameChain {
  // Two phrasings: the broker log's (`transaction T committed ... at N ms`) and the sink suite's (`committed transaction {...} at step N`).
  const match = /transaction (\S+) committed (?:\d+ record\(s\) )?at (\d+) ms/.exec(violation.message);
  const transactionalId = match?.[1] ?? /"transactionalId":"([^"]+)"/.exec(violation.message)?.[1] ?? '?';
  const atMs = Number(match?.[2] ?? NaN);
  const atStep = Number(/ at step (\d+)/.exec(violation.message)?.[1] ?? NaN);
  const checkpointId = Number(/checkpoint (\d+)/.exec(violation.message)?.[1] ?? NaN);
  const isCommit = (e: TimelineEvent): boolean => (e.kind === 'io' || e.kind === 'io-at-crash') && transactionOf(e) === transactionalId && /commit/.test(e.text);
  const commit = context.events.find((e) => isCommit(e) && (e.timeMs === atMs || e.step === atStep)) ?? context.events.find(isCommit);
  const links: BlameLink[] = [];
  const snapshotting = commit === undefined ? undefined : commitDuringSnapshot(context, commit);
  if (snapshotting !== undefined) links.push(link(snapshotting, `${snapshotting.text}: ${snapshotting.lane} starts its snapshot`));
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpointId);
  if (completed !== undefined) links.push(link(completed, `${completed.text}: only now may ${transactionalId} be committed`));
  const firstFalse = commit === undefined ? undefined : link(commit, `${commit.text}: visible to read_committed readers before checkpoint ${Number.isNaN(checkpointId) ? '(none)' : checkpointId} completed`, true);
  return finish(violation, `transaction ${transactionalId}`, `read of an uncommitted write: ${transactionalId} committed before its checkpoint completed`, links, firstFalse);
}

function blameUncommitted(context: Context, violation: Violation): BlameChain {
  const match = /transaction (\S+), pre-committed in completed checkpoint (\d+)/.exec(violation.message);
  const transactionalId = match?.[1] ?? '?';
  const checkpointId = Number(match?.[2] ?? NaN);
  const aborted = abortedPreCommit(context);
  if (aborted !== undefined && aborted.transactionalId === transactionalId) {
    return finish(violation, `transaction ${transactionalId}`, `lost in an aborted transaction: ${transactionalId} of completed checkpoint ${checkpointId} aborted on restore`, aborted.links, aborted.firstFalse);
  }
  const links: BlameLink[] = [];
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpointId);
  if (completed !== undefined) links.push(link(completed, `${completed.text} holding ${transactionalId} pre-committed`));
  const sent = context.events.find((e) => e.kind === 'io' && transactionOf(e) === transactionalId && /^io kafka send /.test(e.text));
  if (sent !== undefined) links.push(link(sent));
  const owner = ownerOfTransaction(context, transactionalId);
  const notify = completed === undefined ? undefined : firstAfter(context.events, completed.step, (e) => e.kind === 'notify' && e.lane === owner && (e.checkpointId ?? 0) >= checkpointId);
  for (const lost of context.events.filter((e) => e.kind === 'notify-lost' || e.kind === 'notify-aborted').filter((e) => e.lane === owner || e.peer === owner).slice(0, 2)) links.push(link(lost));
  const firstFalse = notify === undefined ? undefined : link(notify, `${notify.text}: commits only its own transaction and leaves ${transactionalId} open`, true);
  links.push(...faultLinks(context));
  return finish(violation, `transaction ${transactionalId}`, `pre-committed transaction ${transactionalId} stranded: never committed although checkpoint ${checkpointId} completed`, links, firstFalse);
}

function blameLingering(context: Context, violation: Violation): BlameChain {
  const transactionalId = /transaction (\S+)/.exec(violation.message)?.[1] ?? '?';
  const links: BlameLink[] = [];
  const opened = context.events.find((e) => (e.kind === 'io' || e.kind === 'io-at-crash') && transactionOf(e) === transactionalId && /^io kafka send /.test(e.text));
  if (opened !== undefined) links.push(link(opened, `${opened.text}: opens ${transactionalId}`));
  const after = opened?.step ?? -1;
  links.push(...faultLinks(context).filter((l) => l.step >= after).slice(0, 3));
  const restore = firstAfter(context.events, after, (e) => e.kind === 'deploy' && e.attempt > 0);
  const owner = ownerOfTransaction(context, transactionalId);
  const deployed = restore === undefined ? undefined : firstAfter(context.events, restore.step, (e) => e.kind === 'deploy-task' && e.lane === owner);
  if (restore !== undefined) links.push(link(restore, rewindText(context, restore)));
  const finished = context.events.find((e) => e.kind === 'finished');
  if (finished !== undefined) links.push(link(finished, `${finished.text} with ${transactionalId} still open`));
  const blamed = deployed ?? restore;
  const firstFalse = blamed === undefined ? undefined : link(blamed, `${blamed.text}: ${owner ?? 'the sink'} restarts without aborting ${transactionalId} or probing for it`, true);
  return finish(violation, `transaction ${transactionalId}`, `lingering transaction: ${transactionalId} neither committed nor aborted after the restore`, links, firstFalse);
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
  return blameViolations(result, secondTrace === undefined ? {} : { secondTrace });
}
