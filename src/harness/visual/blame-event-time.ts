import type { Violation } from '../scenario.ts';
import { faultLinks, finish, lastBefore, link, restoreEvents, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';
import type { TimelineEvent } from './timeline.ts';

/**
 * Blame for the event-time invariants (properties/event-time.ts): the record a window task
 * judged late though it was on time, the restore after which a window never fired, the
 * timer firing that repeated a window, the moment an idle partition's source came back
 * without ever having said it was idle. Each chain ends at that event, with the watermarks
 * the window task had taken just before it.
 */

/** Watermarks a task took in the steps before `step` (what it judged the record or timer against). */
function watermarksBefore(context: BlameContext, lane: string, step: number, count: number): BlameLink[] {
  // Watermark lines are not protocol events of the timeline (they sit on the coordinator's lane): match their text.
  const taken = context.events.filter((e) => e.step <= step && e.text.startsWith(`${lane} takes watermark `));
  return taken.slice(-count).map((e) => link(e));
}

function recordOf(event: TimelineEvent, readingId: string): boolean {
  return event.kind === 'record' && event.text.includes(`"id":"${readingId}"`);
}

/** event-time-output: an on-time reading dropped as late, or an exact window lost or miscounted. */
function blameOutput(context: BlameContext, violation: Violation): BlameChain {
  const reading = /reading (\S+) is within the watermark bound/.exec(violation.message)?.[1];
  if (reading !== undefined) {
    // The window task took it and sent it to the late output: the record's last take before it reached the late-data task.
    const takes = context.events.filter((e) => recordOf(e, reading));
    const lateTake = takes.find((e) => /^late/.test(e.lane));
    const judged = lastBefore(takes, lateTake?.step ?? Number.MAX_SAFE_INTEGER, (e) => e !== lateTake && !/^late/.test(e.lane));
    const links = [...faultLinks(context), ...(judged === undefined ? [] : watermarksBefore(context, judged.lane, judged.step, 2)), ...(lateTake === undefined ? [] : [link(lateTake)])];
    const firstFalse = judged === undefined ? undefined : link(judged, `${judged.text}: judged late, its window already fired, though no watermark of its own partition can have passed it`, true);
    return finish(violation, `reading ${reading}`, `${violation.anomaly}: the window task's watermark ran ahead of the reading's own partition`, links, firstFalse);
  }
  const window = /window (\S+) \[(\d+), (\d+)\)/.exec(violation.message);
  if (window !== null && violation.anomaly === 'lost write') {
    // A window that a restore should have brought back: the last restore before the end.
    const restore = restoreEvents(context).at(-1);
    const firstFalse = restore === undefined ? undefined : link(restore, `${restore.text}: the restored window ${window[1]} never fires afterwards (its timer did not come back with it)`, true);
    return finish(violation, `window ${window[1]}`, `${violation.anomaly}: window ${window[1]} lost across a restore`, faultLinks(context), firstFalse);
  }
  return finish(violation, violation.message.slice(0, 80), violation.anomaly, faultLinks(context), undefined);
}

/** window-fires-once: the repeated firing, at the step the violation names. */
function blameFiresOnce(context: BlameContext, violation: Violation): BlameChain {
  const again = /again at step (\d+)/.exec(violation.message);
  const window = /window (\S+)/.exec(violation.message)?.[1] ?? 'a window';
  if (again === null) return finish(violation, window, violation.anomaly, faultLinks(context), undefined);
  const step = Number(again[1]);
  const candidates = context.events.filter((e) => e.step === step);
  const event = candidates.find((e) => / takes watermark /.test(e.text)) ?? candidates[0];
  const task = event === undefined ? undefined : /^(.+) takes watermark /.exec(event.text)?.[1];
  const links = [...faultLinks(context).filter((l) => l.step <= step), ...restoreEvents(context).filter((e) => e.step <= step).map((e) => link(e)), ...(task === undefined ? [] : watermarksBefore(context, task, step - 1, 2))];
  const firstFalse = event === undefined ? undefined : link(event, `${event.text}: window ${window} fires again`, true);
  return finish(violation, `window ${window}`, `${violation.anomaly}: window ${window} fired twice`, links, firstFalse);
}

/** event-time-progress: the idle partition's source took data again, never having marked itself idle (or with windows still held back). */
function blameProgress(context: BlameContext, violation: Violation): BlameChain {
  const resumed = /\(step (\d+)\)|at step (\d+)\)/.exec(violation.message);
  const partition = /partition (\d+)/.exec(violation.message)?.[1] ?? '?';
  if (resumed === null) return finish(violation, `partition ${partition}`, violation.anomaly, faultLinks(context), undefined);
  const step = Number(resumed[1] ?? resumed[2]);
  const event = context.events.find((e) => e.step === step && e.kind === 'emit') ?? context.events.find((e) => e.step === step);
  const fromSource = event === undefined ? undefined : new RegExp(`^(.+) takes watermark -?\\d+ from ${event.lane.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);
  const windowLanes = [...new Set(context.events.map((e) => fromSource?.exec(e.text)?.[1]).filter((lane) => lane !== undefined))];
  const links = [...faultLinks(context).filter((l) => l.step <= step), ...windowLanes.flatMap((lane) => watermarksBefore(context, lane, step, 2))];
  const firstFalse = event === undefined ? undefined : link(event, `${event.text}: partition ${partition} has data again; until now it held back the watermark downstream`, true);
  return finish(violation, `partition ${partition}`, `${violation.anomaly}: event time stood still while partition ${partition} had no data`, links, firstFalse);
}

/** watermark-monotonic: the element the task took when its watermark went back, after the watermarks it had passed on. */
function blameRegression(context: BlameContext, violation: Violation): BlameChain {
  const match = /task (\S+) \(attempt \d+\): watermark (-?\d+) at step (\d+) after (-?\d+) at step (\d+)/.exec(violation.message);
  if (match === null) return finish(violation, 'watermarks', violation.anomaly, faultLinks(context), undefined);
  const [, lane, lowerMs, step, higherMs] = match;
  // Watermark and status elements sit on the coordinator's lane in the timeline: match the task by the text too.
  const taken = context.events.filter((e) => e.step === Number(step) && (e.lane === lane || e.text.startsWith(`${lane} `)));
  const cause = taken.at(-1);
  const links = [...faultLinks(context), ...watermarksBefore(context, lane!, Number(step) - 1, 2)];
  const firstFalse = cause === undefined ? undefined : link(cause, `${cause.text}: ${lane}'s watermark goes back from ${higherMs} to ${lowerMs} (an input that was idle rejoined behind it)`, true);
  return finish(violation, `task ${lane}`, `${violation.anomaly}: ${lane} passed on watermark ${higherMs}, then ${lowerMs}`, links, firstFalse);
}

export function blameEventTime(context: BlameContext, violation: Violation): BlameChain | undefined {
  switch (violation.property) {
    case 'watermark-monotonic':
      return blameRegression(context, violation);
    case 'event-time-output':
      return blameOutput(context, violation);
    case 'window-fires-once':
      return blameFiresOnce(context, violation);
    case 'event-time-progress':
      return blameProgress(context, violation);
    default:
      return undefined;
  }
}
