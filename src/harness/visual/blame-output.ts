import type { Violation } from '../scenario.ts';
import { checkpointObservation, faultLinks, finish, firstAfter, lastBefore, link, recordBehindBarrier, restoreEvents, rewindText, sourceTasks, commitDuringSnapshot, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';
import { abortedPreCommit } from './blame-transactions.ts';
import { isVisibleWrite, transactionOf, type TimelineEvent } from './timeline.ts';

/** Blame for what reached the outside: the sink's output (exactly-once) and the sources' positions. */
export function blameExactlyOnce(context: BlameContext, violation: Violation): BlameChain {
  const unexpected = /key (\S+) holds (.*), not a record's value/.exec(violation.message);
  if (unexpected !== null) return blameUnexpectedValue(context, violation, unexpected[1]!, unexpected[2]!);
  const beyondModel = /^key (\S+): expected \(absent\), found (.*)$/.exec(violation.message);
  if (beyondModel !== null) return blameKeyBeyondModel(context, violation, beyondModel[1]!, beyondModel[2]!);
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

  if (lost) {
    const swallowed = blameSwallowedWrite(context, violation, subject, redisKey);
    if (swallowed !== undefined) return swallowed;
    const short = restores.length === 0 ? blameSourceEndedShort(context, violation, subject) : undefined;
    if (short !== undefined) return short;
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

export function writesKey(event: TimelineEvent, key: string): boolean {
  return isVisibleWrite(event) && new RegExp(`(^|[\\s:({,])${key.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}([\\s,)}]|$)`).test(event.text);
}

export function blameUnexpectedValue(context: BlameContext, violation: Violation, key: string, value: string): BlameChain {
  const writes = context.events.filter((e) => writesKey(e, key));
  const checkpointId = Number(/checkpoint (\d+)/.exec(violation.message)?.[1] ?? NaN);
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === checkpointId);
  const links = writes.slice(1, 4).map((w) => link(w));
  if (completed !== undefined) links.push(link(completed, `${completed.text}: key ${key} holds ${value}, which no record has`));
  const first = writes[0];
  const operation = first === undefined ? 'a write' : (/^io [\w-]+[. ](\w+)/.exec(first.text)?.[1]?.toUpperCase() ?? 'a write');
  const firstFalse = first === undefined ? undefined : link(first, `${first.text}: ${operation} stores a computed value instead of the record's`, true);
  return finish(violation, `key ${key}`, `unexpected write: ${operation} makes ${key} hold a value no record has (not idempotent on replay)`, links, firstFalse);
}

/**
 * A key the model never has: the first write that names it. Trace lines cut long key lists
 * (`{a, b, odd-even-su…}`), so a write whose cut-off last key starts the key's name counts too.
 */
export function blameKeyBeyondModel(context: BlameContext, violation: Violation, key: string, value: string): BlameChain {
  const mayWrite = (e: TimelineEvent): boolean => {
    if (writesKey(e, key)) return true;
    const cut = /[\s({,]([^\s({,]*)…/.exec(e.text)?.[1];
    return isVisibleWrite(e) && cut !== undefined && key.startsWith(cut);
  };
  const writes = context.events.filter(mayWrite);
  const first = writes[0];
  const links = writes.slice(1, 4).map((w) => link(w, `${w.text}: writes ${key} again`));
  const firstFalse = first === undefined ? undefined : link(first, `${first.text}: the sink writes ${key}, a key the model never has`, true);
  return finish(violation, `key ${key}`, `unexpected write: the sink writes ${key}, a key beyond the model (it ends holding ${value})`, links, firstFalse);
}

export function blameAckBeforeFlush(context: BlameContext, violation: Violation, checkpointId: number, key: string): BlameChain {
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
export function blameSourceResume(context: BlameContext, violation: Violation): BlameChain | undefined {
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
  return blameSplitResume(context, violation);
}

/** A rescaled source whose restore resumed a reassigned split elsewhere than its checkpointed offset (the runtime's record of the reassignment). */
function blameSplitResume(context: BlameContext, violation: Violation): BlameChain | undefined {
  const names = context.result.observations.taskNames;
  for (const rescale of context.result.observations.rescales ?? []) {
    const move = rescale.splits?.moves.find((m) => m.restoredOffset !== m.checkpointedOffset);
    const restore = restoreEvents(context).find((r) => r.step === rescale.atStep);
    if (move === undefined || restore === undefined) continue;
    const owner = names[rescale.firstTask + move.toSubtask] ?? `${rescale.vertexName}[${move.toSubtask}]`;
    const skipped = move.restoredOffset > move.checkpointedOffset;
    const what = skipped ? `offsets ${move.checkpointedOffset}..${move.restoredOffset - 1} are never read` : `offsets ${move.restoredOffset}..${move.checkpointedOffset - 1} are read twice`;
    const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === rescale.checkpointId);
    const links: BlameLink[] = completed === undefined ? [] : [link(completed, `${completed.text}: it holds split ${move.split} at offset ${move.checkpointedOffset} (old subtask ${move.fromSubtask})`)];
    links.push(...faultLinks(context).filter((l) => l.step <= restore.step && l.step >= (completed?.step ?? 0)));
    return finish(
      violation,
      `${owner} after restart ${restore.attempt}`,
      `${skipped ? 'lost' : 'duplicate'}: the rescaled source resumed split ${move.split} ${skipped ? 'past' : 'before'} its checkpointed offset (${what})`,
      links,
      link(restore, `${restore.text}: split ${move.split} reassigned to ${owner} at offset ${move.restoredOffset}, not the checkpointed ${move.checkpointedOffset}; ${what}`, true),
    );
  }
  return undefined;
}

/**
 * A write that failed, and no failover before the next checkpoint completed: the writer
 * swallowed the error and acknowledged the checkpoint without it (a correct writer fails
 * its task, and the failover aborts the checkpoint).
 */
function blameSwallowedWrite(context: BlameContext, violation: Violation, subject: string, key: string | undefined): BlameChain | undefined {
  const events = context.events;
  const sources = new Set(sourceTasks(context).map((i) => context.result.observations.taskNames[i]));
  for (const failed of events.filter((e) => e.kind === 'io-failed' && (key === undefined || e.text.includes(key)))) {
    const completed = firstAfter(events, failed.step, (e) => e.kind === 'completed');
    if (completed === undefined || events.some((e) => e.kind === 'failover' && e.step > failed.step && e.step <= completed.step)) continue;
    const ack = firstAfter(events, failed.step, (e) => e.kind === 'ack' && e.checkpointId === completed.checkpointId && !sources.has(e.peer!));
    if (ack === undefined) continue;
    const links = [...faultLinks(context).filter((l) => l.step <= failed.step), link(failed, `${failed.text}: the write failed`), link(completed, `${completed.text} without that write`)];
    return finish(
      violation,
      subject,
      `lost write: a failed write swallowed (checkpoint ${completed.checkpointId} acknowledged without it, no failover)`,
      links,
      link(ack, `${ack.text}: acknowledged although its write failed`, true),
    );
  }
  return undefined;
}

/** A source that ended its input at an earlier offset than the same input without faults or planted bug: the records after it were never read. */
function blameSourceEndedShort(context: BlameContext, violation: Violation, subject: string): BlameChain | undefined {
  const names = context.result.observations.taskNames;
  for (const end of context.result.observations.sourcePositions.filter((p) => p.kind === 'end')) {
    const reference = context.referenceSourceEnds?.find((p) => p.task === end.task && p.position.split === end.position.split);
    if (reference === undefined || typeof reference.position.offset !== 'number' || typeof end.position.offset !== 'number' || end.position.offset >= reference.position.offset) continue;
    const ended = firstAfter(context.events, end.step - 1, (e) => e.kind === 'input-ended' && e.peer === names[end.task]);
    if (ended === undefined) continue;
    const lastEmit = lastBefore(context.events, end.step, (e) => e.kind === 'emit' && e.lane === names[end.task]);
    return finish(
      violation,
      subject,
      `lost write: source ${names[end.task]} ended ${end.position.split} short (offset ${end.position.offset}; the plain run reads to ${reference.position.offset})`,
      lastEmit === undefined ? [] : [link(lastEmit, `${lastEmit.text}: its last record`)],
      link(ended, `${ended.text}: ${end.position.split} ended at offset ${end.position.offset}, not ${reference.position.offset}`, true),
    );
  }
  return undefined;
}
