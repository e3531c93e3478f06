import type { Violation } from '../scenario.ts';
import { checkpointObservation, faultLinks, finish, link, rewindText, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';
import type { TimelineEvent } from './timeline.ts';

/**
 * Blame for the runtime's checkpoint invariants that judge its own events rather than the
 * output: checkpoint progress, restore choice, fault effects and mode semantics. Each of
 * their violations names the step of the event it judged (`(step N)`, `at step N`) and the
 * task or checkpoint concerned; the chain is that event, marked first-false, with the
 * protocol events of the same checkpoint around it.
 */

/** The event of `lane` (any lane when undefined) at `step` that satisfies `predicate`, preferring protocol events. */
function eventAt(context: BlameContext, step: number, lane: string | undefined, predicate: (e: TimelineEvent) => boolean = () => true): TimelineEvent | undefined {
  const candidates = context.events.filter((e) => e.step === step && (lane === undefined || e.lane === lane) && predicate(e));
  return candidates.find((e) => e.kind !== 'other' && e.kind !== 'timer') ?? candidates[0];
}

function stepIn(message: string): number | undefined {
  const step = /\(step (\d+)\)|at step (\d+)/.exec(message);
  return step === null ? undefined : Number(step[1] ?? step[2]);
}

function taskIn(message: string): string | undefined {
  return /task (\S+)/.exec(message)?.[1];
}

/** finish(), without the plain link of the event the first-false link describes (it would show twice). */
function conclude(violation: Violation, subject: string, anomalyClass: string, links: BlameLink[], firstFalse: BlameLink | undefined): BlameChain {
  const others = firstFalse === undefined ? links : links.filter((l) => !(l.step === firstFalse.step && l.lane === firstFalse.lane && firstFalse.text.startsWith(l.text)));
  return finish(violation, subject, anomalyClass, others, firstFalse);
}

/** The trigger and the end (completed, expired, aborted, ...) of one checkpoint. */
function checkpointLinks(context: BlameContext, checkpointId: number | undefined): BlameLink[] {
  if (checkpointId === undefined) return [];
  return context.events.filter((e) => e.checkpointId === checkpointId && (e.kind === 'trigger' || e.kind === 'completed' || e.kind === 'checkpoint-failed')).map((e) => link(e));
}

/** Restore choice: the deployment that restored the wrong checkpoint, after what made it wrong. */
export function blameRestoreChoice(context: BlameContext, violation: Violation): BlameChain {
  const match = /attempt (\d+) \(step (\d+)\) restored (?:nothing|checkpoint (\d+)), expected (?:a start from scratch|checkpoint (\d+)): (.*)$/.exec(violation.message);
  if (match === null) return conclude(violation, 'the restore', violation.anomaly, faultLinks(context), undefined);
  const [, attempt, step, restoredId, expectedId, why] = match;
  const deploy = eventAt(context, Number(step), 'coordinator', (e) => e.kind === 'deploy');
  const restored = restoredId === undefined ? undefined : Number(restoredId);
  const links: BlameLink[] = [...checkpointLinks(context, restored), ...checkpointLinks(context, expectedId === undefined ? undefined : Number(expectedId)), ...faultLinks(context).filter((l) => l.step <= Number(step))];
  const firstFalse = deploy === undefined ? undefined : link(deploy, `${rewindText(context, deploy)}: restores ${restored === undefined ? 'nothing' : `checkpoint ${restored}`}, but ${why}`, true);
  const subject = `attempt ${attempt}`;
  return conclude(violation, subject, `${violation.anomaly}: attempt ${attempt} restored ${restored === undefined ? 'nothing' : `checkpoint ${restored}`} (${why})`, links, firstFalse);
}

/** Checkpoint progress: the barrier a task did not count, or the checkpoint end nothing explains. */
export function blameCheckpointProgress(context: BlameContext, violation: Violation): BlameChain {
  const task = taskIn(violation.message);
  const step = stepIn(violation.message);
  const counted = /had delivered barrier (\d+)|counted checkpoint (\d+) complete/.exec(violation.message);
  if (task !== undefined && step !== undefined && counted !== null) {
    const checkpointId = Number(counted[1] ?? counted[2]);
    const event = eventAt(context, step, task, (e) => e.kind === 'barrier' || e.kind === 'end-of-input');
    const links: BlameLink[] = [...checkpointLinks(context, checkpointId)];
    for (const barrier of context.events.filter((e) => e.kind === 'barrier' && e.lane === task && e.checkpointId === checkpointId)) links.push(link(barrier));
    const ack = context.events.find((e) => e.kind === 'ack' && e.checkpointId === checkpointId && e.peer === task);
    if (ack !== undefined) links.push(link(ack, `${ack.text}: only now, ${ack.step - step} steps after its last live input delivered barrier ${checkpointId}`));
    const what = violation.anomaly === 'barrier dropped' ? `${task} held barrier ${checkpointId} on every live input but did not count checkpoint ${checkpointId} complete` : `${task} counted checkpoint ${checkpointId} complete before every live input delivered its barrier`;
    return conclude(violation, `${task}, checkpoint ${checkpointId}`, `${violation.anomaly}: ${what}`, links, event === undefined ? undefined : link(event, `${event.text}: ${what}`, true));
  }
  const ended = /checkpoint (\d+) \(triggered at step \d+\) was (\w+) at step (\d+)/.exec(violation.message);
  if (ended !== null) {
    const checkpointId = Number(ended[1]);
    const end = eventAt(context, Number(ended[3]), 'coordinator', (e) => e.checkpointId === checkpointId && e.kind === 'checkpoint-failed');
    return conclude(violation, `checkpoint ${checkpointId}`, `${violation.anomaly}: checkpoint ${checkpointId} ${ended[2]} with nothing in the run to explain it`, [...checkpointLinks(context, checkpointId), ...faultLinks(context)], end === undefined ? undefined : link(end, end.text, true));
  }
  // A stall: the stretch without a completed checkpoint ends at the last event of the run (or its next boundary).
  const until = /to .* \((\d+) ms\), more than/.exec(violation.message);
  const untilMs = until === null ? Infinity : Number(until[1]);
  const last = [...context.events].reverse().find((e) => e.timeMs <= untilMs);
  return conclude(violation, 'the job', `${violation.anomaly}`, [...faultLinks(context)], last === undefined ? undefined : link(last, `${last.text}: ${violation.message}`, true));
}

/** Fault effects: the fault that had no effect, or the checkpoint event that undid one. */
export function blameFaultEffects(context: BlameContext, violation: Violation): BlameChain {
  const endedTwice = /^checkpoint (\d+) was (\w+), and then (\w+) at step (\d+)/.exec(violation.message);
  const lostAck = /checkpoint (\d+) from task \S+ was lost \(fault plan\), yet checkpoint \d+ completed at step (\d+)/.exec(violation.message);
  if (endedTwice !== null || lostAck !== null) {
    const checkpointId = Number(endedTwice?.[1] ?? lostAck![1]);
    const step = Number(endedTwice?.[4] ?? lostAck![2]);
    const second = eventAt(context, step, 'coordinator', (e) => e.checkpointId === checkpointId && (e.kind === 'completed' || e.kind === 'checkpoint-failed'));
    const what = endedTwice !== null ? `checkpoint ${checkpointId} ends a second time (${endedTwice[3]}), after it was ${endedTwice[2]}` : `checkpoint ${checkpointId} completes although an acknowledgement of it was lost`;
    const links = [...checkpointLinks(context, checkpointId), ...faultLinks(context).filter((l) => l.step <= step)];
    return conclude(violation, `checkpoint ${checkpointId}`, `${violation.anomaly}: ${what}`, links, second === undefined ? undefined : link(second, `${second.text}: ${what}`, true));
  }
  // A notify-complete the plan dropped that reached its task all the same: the delivery is where the run went wrong.
  const lostNotify = /notify-complete of checkpoint (\d+) to task (\S+) was lost \(fault plan, step (\d+)\), yet the task received it at step (\d+)/.exec(violation.message);
  if (lostNotify !== null) {
    const [, id, task, lostAt, deliveredAt] = lostNotify;
    const delivered = eventAt(context, Number(deliveredAt), task!, (e) => e.kind === 'notify' && e.checkpointId === Number(id));
    const lost = context.events.find((e) => e.kind === 'notify-lost' && e.checkpointId === Number(id) && e.peer === task && e.step === Number(lostAt));
    const links = [...faultLinks(context).filter((l) => l.step <= Number(lostAt)), ...(lost === undefined ? [] : [link(lost)])];
    const what = `notify-complete ${id} reaches ${task} although the fault plan lost it`;
    return conclude(violation, `checkpoint ${id}`, `${violation.anomaly}: ${what}`, links, delivered === undefined ? undefined : link(delivered, `${delivered.text}: ${what}`, true));
  }
  // The fault itself had no (or only part of its) effect: the fault event is where the run went wrong.
  const faults = context.events.filter((e) => e.kind === 'fault');
  const fault = faults.find((e) => violation.message.startsWith(e.text.replace(/^fault: /, '').replace(/ \([^)]*\)$/, ''))) ?? faults[0];
  const pending = /with checkpoints? \[?([\d, ]+)\]? pending/.exec(violation.message)?.[1]?.split(',').map((id) => Number(id.trim()));
  const links = [...(pending ?? []).flatMap((id) => checkpointLinks(context, id)), ...(fault === undefined ? [] : context.events.filter((e) => e.step === fault.step && e.kind === 'failover').map((e) => link(e)))];
  return conclude(violation, fault === undefined ? 'the fault plan' : 'the fault', `${violation.anomaly}: ${violation.message}`, links, fault === undefined ? undefined : link(fault, `${fault.text}: ${violation.anomaly}`, true));
}

/** Mode semantics: the barrier after which a task held back the wrong inputs, or the barrier forwarded on the wrong side of the data. */
export function blameModeSemantics(context: BlameContext, violation: Violation): BlameChain {
  // The mode the job ran in (a planted bug may set it), as the invariant judged it.
  const mode = context.result.observations.settings.mode;
  const task = taskIn(violation.message);
  const step = stepIn(violation.message);
  const forwarded = /forwarded barrier (\d+) \(step \d+\) with (\d+) of (\d+) records/.exec(violation.message);
  const held = /holds back inputs \[([^\]]*)\]; \S+ mode holds back \[([^\]]*)\]/.exec(violation.message);
  const barrierOf = /barrier (\d+)|checkpoint (\d+)/.exec(violation.message);
  const checkpointId = forwarded !== null ? Number(forwarded[1]) : barrierOf === null ? undefined : Number(barrierOf[1] ?? barrierOf[2]);
  if (task === undefined || step === undefined) return conclude(violation, 'the barriers', violation.anomaly, faultLinks(context), undefined);
  const links: BlameLink[] = checkpointLinks(context, checkpointId).filter((l) => l.step <= step);
  if (forwarded !== null) {
    const event = eventAt(context, step, task, (e) => e.kind === 'trigger-task' || e.kind === 'barrier');
    // Where the barrier lands downstream: behind (or ahead of) the records in flight.
    for (const downstream of context.events.filter((e) => e.kind === 'barrier' && e.peer === task && e.checkpointId === checkpointId && e.step > step).slice(0, 3)) links.push(link(downstream));
    const what = `${task} forwards barrier ${checkpointId} with ${forwarded[2]} of ${forwarded[3]} records in flight in front of it (${mode} mode puts ${mode === 'unaligned' ? 'none' : 'all'} in front)`;
    return conclude(violation, `${task}, checkpoint ${checkpointId}`, `${violation.anomaly}: ${what}`, links, event === undefined ? undefined : link(event, `${event.text}: ${what}`, true));
  }
  const event = eventAt(context, step, task, (e) => e.kind === 'barrier' || e.kind === 'end-of-input') ?? eventAt(context, step, undefined);
  const what = held === null ? violation.message : `${task} holds back inputs [${held[1]}] where ${mode} mode holds back [${held[2]}]`;
  for (const barrier of context.events.filter((e) => e.kind === 'barrier' && e.lane === task && e.checkpointId === checkpointId && e.step > step).slice(0, 3)) links.push(link(barrier));
  return conclude(violation, `${task}, checkpoint ${checkpointId ?? '?'}`, `${violation.anomaly}: ${what}`, links, event === undefined ? undefined : link(event, `${event.text}: ${what}`, true));
}

/** Barrier alignment that was never observed: the acknowledgement the check had nothing to compare with. */
export function blameUnobservedAlignment(context: BlameContext, violation: Violation): BlameChain | undefined {
  const match = /task (\S+) acknowledged checkpoint (\d+) from its barriers but reported no barrier position/.exec(violation.message);
  if (match === null) return undefined;
  const [, task, checkpoint] = match;
  const checkpointId = Number(checkpoint);
  const links: BlameLink[] = [...checkpointLinks(context, checkpointId)];
  for (const barrier of context.events.filter((e) => e.kind === 'barrier' && e.lane === task && e.checkpointId === checkpointId)) links.push(link(barrier));
  const ack = context.events.find((e) => e.kind === 'ack' && e.peer === task && e.checkpointId === checkpointId);
  const stored = checkpointObservation(context, checkpointId) === undefined ? '' : ` of completed checkpoint ${checkpointId}`;
  return conclude(
    violation,
    `${task}, checkpoint ${checkpointId}`,
    `alignment not observed: ${task} acknowledged checkpoint ${checkpointId} from its barriers without reporting where they stood (the check would pass vacuously)`,
    links,
    ack === undefined ? undefined : link(ack, `${ack.text}: an acknowledgement${stored} with no barrier position reported`, true),
  );
}
