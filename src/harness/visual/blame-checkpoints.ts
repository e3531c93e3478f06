import type { Violation } from '../scenario.ts';
import { checkpointObservation, faultLinks, finish, firstAfter, link, recordBehindBarrier, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';
import { blameSourceResume } from './blame-output.ts';

/** Blame for the checkpoint protocol: barriers, consistent cuts, progress, and runs that part. */
export function blameAlignment(context: BlameContext, violation: Violation): BlameChain {
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

export function blameConsistentCut(context: BlameContext, violation: Violation): BlameChain {
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
export function blameLiveness(context: BlameContext, violation: Violation): BlameChain {
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

export function blameDeterminism(context: BlameContext, violation: Violation): BlameChain {
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
