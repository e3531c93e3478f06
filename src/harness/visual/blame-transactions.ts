import type { CheckpointObservation } from '../../runtime/observations.ts';
import type { Violation } from '../scenario.ts';
import { commitDuringSnapshot, faultLinks, finish, firstAfter, lastBefore, link, ownerOfTransaction, rewindText, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';
import { transactionOf, type TimelineEvent } from './timeline.ts';

/** Blame for two-phase commit: commits too early, transactions never committed, transactions left open. */
export function blameEarlyCommit(context: BlameContext, violation: Violation): BlameChain {
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

export function blameUncommitted(context: BlameContext, violation: Violation): BlameChain {
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

export function blameLingering(context: BlameContext, violation: Violation): BlameChain {
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

export function abortedPreCommit(context: BlameContext): { transactionalId: string; checkpointId: number; links: BlameLink[]; firstFalse: BlameLink } | undefined {
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
export function preCommitted(context: BlameContext): { transactionalId: string; checkpoint: CheckpointObservation }[] {
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
