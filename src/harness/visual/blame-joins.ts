import type { Violation } from '../scenario.ts';
import { faultLinks, finish, link, restoreEvents, rewindText, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';
import type { TimelineEvent } from './timeline.ts';

/**
 * Blame for the join invariants (properties/joins.ts): the records a violation names, where
 * the join took them, and what made it lose or mis-join them: a watermark ahead of a record
 * (dropped as late), a cleanup timer before its partner came, a restart whose checkpoint did
 * not hold it, or a read of the wrong version. Read from the trace (records taken, with their
 * timestamps) and the runtime's watermark and timer observations.
 */
export function blameJoin(context: BlameContext, violation: Violation): BlameChain {
  const operator = /join '([^']+)'/.exec(violation.message)?.[1];
  if (operator === undefined) return finish(violation, violation.message.slice(0, 80), violation.anomaly, [...faultLinks(context)], undefined);
  const join: JoinTasks = { operator, lanes: joinLanes(context, operator) };
  if (violation.property === 'join-state-retention') return blameRetention(context, violation, join);
  if (violation.property === 'join-late-records') return blameLateDrop(context, violation, join);
  const first = /key\(s\) of join '[^']+': ([^\s=;]+)(?:=([^\s;]+))?/.exec(violation.message);
  if (first === null) return finish(violation, `join '${operator}'`, violation.anomaly, [...faultLinks(context)], undefined);
  const [, key, value] = first;
  return violation.anomaly === 'lost write' ? blameLostPair(context, violation, join, key!) : blameWrongValue(context, violation, join, key!, value ?? '');
}

interface JoinTasks {
  readonly operator: string;
  readonly lanes: ReadonlySet<string>;
}

function joinLanes(context: BlameContext, operator: string): Set<string> {
  const { taskNames, taskVertices } = context.result.observations;
  return new Set(taskNames.filter((_, task) => taskVertices?.[task]?.operators.includes(operator)));
}

/** The join's takes of the record with this id, in order. */
function takesOf(context: BlameContext, join: JoinTasks, id: string): TimelineEvent[] {
  const marker = `"id":${JSON.stringify(id)}`;
  return context.events.filter((e) => e.kind === 'record' && join.lanes.has(e.lane) && e.text.includes(marker));
}

function timestampOf(take: TimelineEvent): number | undefined {
  const ts = /} @(-?\d+) from /.exec(take.text)?.[1];
  return ts === undefined ? undefined : Number(ts);
}

function timeAt(context: BlameContext, step: number): number {
  let timeMs = 0;
  for (const event of context.events) {
    if (event.step > step) break;
    timeMs = event.timeMs;
  }
  return timeMs;
}

/**
 * A link for something the runtime observed (a watermark change, a timer firing) rather than
 * traced: anchored to the trace event of that step on that lane (the watermark taken that
 * fired the timer), so pictures can mark it.
 */
function observedLink(context: BlameContext, step: number, lane: string, text: string, firstFalse = false): BlameLink {
  const atStep = context.events.filter((e) => e.step === step);
  const anchor = atStep.find((e) => e.lane === lane) ?? atStep[0];
  if (anchor !== undefined) return { ...link(anchor, `${anchor.text}: ${text}`, firstFalse), lane };
  return { step, timeMs: timeAt(context, step), lane, text, firstFalse };
}

/** The task's watermark at a step (its attempt's latest observation), MIN before any. */
function watermarkAt(context: BlameContext, lane: string, attempt: number, step: number): number {
  const task = context.result.observations.taskNames.indexOf(lane);
  let watermark = Number.MIN_SAFE_INTEGER;
  for (const w of context.result.observations.watermarks ?? []) if (w.task === task && w.attempt === attempt && w.step <= step) watermark = w.watermarkMs;
  return watermark;
}

/** Where the task's watermark first reached `ts` in the attempt, no later than `step`. */
function watermarkPassing(context: BlameContext, lane: string, attempt: number, ts: number, step: number, id: string): BlameLink | undefined {
  const task = context.result.observations.taskNames.indexOf(lane);
  const passing = (context.result.observations.watermarks ?? []).find((w) => w.task === task && w.attempt === attempt && w.step <= step && w.watermarkMs >= ts);
  return passing === undefined ? undefined : observedLink(context, passing.step, lane, `${lane}'s watermark reaches ${passing.watermarkMs}, at or past ${id}'s timestamp ${ts}`);
}

/** A record the join took when its watermark had already passed it: dropped as late. */
function lateDrop(context: BlameContext, take: TimelineEvent, id: string): { readonly cause: BlameLink; readonly watermark: number; readonly ts: number } | undefined {
  const ts = timestampOf(take);
  if (ts === undefined) return undefined;
  const watermark = watermarkAt(context, take.lane, take.attempt, take.step);
  if (ts > watermark) return undefined;
  const cause = watermarkPassing(context, take.lane, take.attempt, ts, take.step, id);
  return cause === undefined ? undefined : { cause, watermark, ts };
}

/** A timer of the join task, between two steps, whose key is a field of the record: the record's state cleaned. */
function cleanupTimer(context: BlameContext, take: TimelineEvent, untilStep: number): BlameLink | undefined {
  const task = context.result.observations.taskNames.indexOf(take.lane);
  const firing = (context.result.observations.timerFirings ?? []).find(
    // Any attempt: a restore brings the record's state and timers back on the task that owns its key.
    (t) => t.task === task && t.step >= take.step && t.step <= untilStep && take.text.includes(`:${JSON.stringify(t.key)}`),
  );
  return firing === undefined ? undefined : observedLink(context, firing.step, take.lane, `${take.lane} fires the ${firing.domain} timer ${firing.timestampMs} of key ${firing.key}: its join state is cleaned`);
}

/** The `"field":value` pairs two taken records share (their join key among them), ids and timestamps aside. */
function sharedFields(a: string, b: string): string[] {
  const fields = (text: string): string[] => text.match(/"(?!id"|ts")[\w-]+":("[^"]*"|-?[\d.]+)/g) ?? [];
  const other = new Set(fields(b));
  return fields(a).filter((f) => other.has(f));
}

/** Does the checkpoint a restart restored hold the record in the join's keyed state? */
function restoredStateHolds(context: BlameContext, restore: TimelineEvent, join: JoinTasks, id: string): boolean {
  const checkpoint = context.result.observations.checkpoints.find((c) => c.checkpointId === restore.checkpointId);
  const marker = `"id":${JSON.stringify(id)}`;
  return (checkpoint?.tasks ?? []).some((task) =>
    Object.entries(task.keyedState).some(([name, entries]) => name.startsWith(`${join.operator}/`) && JSON.stringify(entries).includes(marker)),
  );
}

function blameLostPair(context: BlameContext, violation: Violation, join: JoinTasks, key: string): BlameChain {
  const ids = key.split(':').slice(1);
  const subject = `key ${key}`;
  const takes = ids.map((id) => ({ id, takes: takesOf(context, join, id) })).filter((t) => t.takes.length > 0);
  if (takes.length === 0) return finish(violation, subject, `lost write: join '${join.operator}' never took ${ids.join(' or ')}`, [...faultLinks(context)], undefined);
  // The record whose last take came last met (or should have met) the other in the join's state.
  takes.sort((a, b) => a.takes.at(-1)!.step - b.takes.at(-1)!.step);
  const later = takes.at(-1)!;
  const secondTake = later.takes.at(-1)!;
  const earlier = takes.length > 1 ? takes[0]! : undefined;
  const firstTake = earlier?.takes.filter((t) => t.step <= secondTake.step).at(-1);
  const links: BlameLink[] = [];
  if (firstTake !== undefined) links.push(link(firstTake, `${firstTake.text}: ${earlier!.id} enters join '${join.operator}'`));

  for (const [take, id] of [[secondTake, later.id], [firstTake, earlier?.id]] as const) {
    if (take === undefined || id === undefined) continue;
    const late = lateDrop(context, take, id);
    if (late === undefined) continue;
    links.push(late.cause);
    const firstFalse = link(take, `${take.text}: dropped as late, the join's watermark ${late.watermark} is at or past its timestamp ${late.ts}`, true);
    return finish(violation, subject, `lost write: ${id} dropped as late (join '${join.operator}''s watermark ${late.watermark} had passed its timestamp ${late.ts})`, links, firstFalse);
  }
  if (firstTake !== undefined && earlier !== undefined) {
    const cleaned = cleanupTimer(context, firstTake, secondTake.step);
    if (cleaned !== undefined) {
      links.push(cleaned);
      return finish(
        violation,
        subject,
        `lost write: ${earlier.id} cleaned from join '${join.operator}''s state before its partner ${later.id} arrived`,
        links,
        link(secondTake, `${secondTake.text}: ${later.id} finds no ${earlier.id} in the join state`, true),
      );
    }
    const restore = restoreEvents(context).find((r) => r.step > firstTake.step && r.step < secondTake.step && !restoredStateHolds(context, r, join, earlier.id));
    if (restore !== undefined) {
      links.push(...faultLinks(context).filter((l) => l.step >= firstTake.step && l.step <= restore.step));
      const firstFalse = link(restore, `${rewindText(context, restore)}; the join state it restores does not hold ${earlier.id}`, true);
      links.push(link(secondTake, `${secondTake.text}: ${later.id} finds no ${earlier.id} in the join state`));
      return finish(violation, subject, `lost write: ${earlier.id}'s join state lost in restart ${restore.attempt} (checkpoint ${restore.checkpointId ?? 'none'} does not hold it)`, links, firstFalse);
    }
    // The last record of the earlier one's side and key before: when that side of the key was last written.
    const shared = sharedFields(firstTake.text, secondTake.text);
    const side = firstTake.peer?.replace(/\[\d+\]$/, '');
    const lastWrite =
      shared.length === 0
        ? undefined
        : [...context.events]
            .reverse()
            .find((e) => e.step < secondTake.step && e.kind === 'record' && e.lane === firstTake.lane && e.peer?.replace(/\[\d+\]$/, '') === side && shared.every((f) => e.text.includes(f)));
    const gapMs = secondTake.timeMs - (lastWrite ?? firstTake).timeMs;
    if (lastWrite !== undefined && lastWrite !== firstTake) links.push(link(lastWrite, `${lastWrite.text}: the last ${side} record for ${shared.join(', ')} before ${later.id}, ${gapMs} ms before it`));
    return finish(
      violation,
      subject,
      `lost write: ${earlier.id} (taken ${secondTake.timeMs - firstTake.timeMs} ms earlier) was not in join '${join.operator}''s state when ${later.id} arrived` +
        (lastWrite === undefined ? '' : ` (that side of the key last written ${gapMs} ms before)`),
      links,
      link(secondTake, `${secondTake.text}: ${later.id} finds no ${earlier.id} in the join state`, true),
    );
  }
  // One record (an event-time temporal join): its timer fired before what it joins with had arrived.
  const ts = timestampOf(secondTake);
  const task = context.result.observations.taskNames.indexOf(secondTake.lane);
  const firing = (context.result.observations.timerFirings ?? []).find((t) => t.task === task && t.attempt === secondTake.attempt && t.step >= secondTake.step && t.timestampMs === ts);
  if (ts !== undefined && firing !== undefined) {
    const passing = watermarkPassing(context, secondTake.lane, secondTake.attempt, ts, firing.step, later.id);
    if (passing !== undefined) links.push(passing);
    const firstFalse = observedLink(context, firing.step, secondTake.lane, `${secondTake.lane} fires the timer ${ts} of key ${firing.key}: ${later.id} finds nothing valid at ${ts} to join with (not arrived yet?)`, true);
    links.push(link(secondTake, `${secondTake.text}: ${later.id} waits for the watermark`));
    return finish(violation, subject, `lost write: ${later.id}'s timer fired with nothing to join (join '${join.operator}''s watermark reached ${ts} before its partner arrived)`, links, firstFalse);
  }
  return finish(violation, subject, `lost write: join '${join.operator}' took ${later.id} but wrote nothing for it`, links, link(secondTake, `${secondTake.text}: no output follows`, true));
}

function blameWrongValue(context: BlameContext, violation: Violation, join: JoinTasks, key: string, value: string): BlameChain {
  const id = key.split(':')[1] ?? key;
  const take = takesOf(context, join, id).at(-1);
  const subject = `key ${key}`;
  if (take === undefined) return finish(violation, subject, `wrong value: ${key}=${value}`, [...faultLinks(context)], undefined);
  const links: BlameLink[] = [link(take, `${take.text}: ${id} enters join '${join.operator}'`)];
  const ts = timestampOf(take);
  const task = context.result.observations.taskNames.indexOf(take.lane);
  // An event-time join emits at its timer; a lookup join right after its read of the store.
  const firing = (context.result.observations.timerFirings ?? []).find((t) => t.task === task && t.attempt === take.attempt && t.step >= take.step && t.timestampMs === ts);
  if (firing !== undefined) {
    const firstFalse = observedLink(context, firing.step, take.lane, `${take.lane} fires the timer ${firing.timestampMs} of key ${firing.key}: ${id} is joined into ${value}, not the version valid at ${ts}`, true);
    return finish(violation, subject, `${violation.anomaly}: ${id} joined with a version not valid at its time ${ts} (${value})`, links, firstFalse);
  }
  const read = context.events.find((e) => e.step > take.step && e.kind === 'io' && /^io [\w-]+[. ](get|mget|hget|hgetall)\b/i.test(e.text));
  if (read !== undefined) {
    return finish(violation, subject, `${violation.anomaly}: the lookup for ${id} read ${value}, not a version of its key`, links, link(read, `${read.text}: the lookup of ${id}, joined into ${value}`, true));
  }
  return finish(violation, subject, `${violation.anomaly}: ${key}=${value}`, links, undefined);
}

function blameRetention(context: BlameContext, violation: Violation, join: JoinTasks): BlameChain {
  const match = /^checkpoint (\d+) \(join watermark at most ([^)]+)\): .*?: (\S+) \(ts (-?\d+), kept until the watermark reaches (-?\d+)\)/.exec(violation.message);
  if (match === null) return finish(violation, `join '${join.operator}'`, violation.anomaly, [...faultLinks(context)], undefined);
  const [, checkpointId, bound, id, , keptUntil] = match;
  const completed = context.events.find((e) => e.kind === 'completed' && e.checkpointId === Number(checkpointId));
  const take = takesOf(context, join, id!).filter((t) => completed === undefined || t.step <= completed.step).at(-1);
  const links: BlameLink[] = [];
  const firstFalse = completed === undefined ? undefined : link(completed, `${completed.text} without ${id} in join '${join.operator}''s state (the watermark was at most ${bound}, short of ${keptUntil})`, true);
  const subject = `${id} at checkpoint ${checkpointId}`;
  if (take === undefined) return finish(violation, subject, `state cleaned early: ${id} missing from join '${join.operator}''s checkpoint ${checkpointId}`, links, firstFalse);
  links.push(link(take, `${take.text}: ${id} enters join '${join.operator}'`));
  const late = lateDrop(context, take, id!);
  if (late !== undefined) {
    links.push(late.cause);
    return finish(violation, subject, `state cleaned early: ${id} dropped as late (join watermark ${late.watermark} past its timestamp ${late.ts}) though it can still find partners`, links, firstFalse);
  }
  const cleaned = cleanupTimer(context, take, completed?.step ?? Number.POSITIVE_INFINITY);
  if (cleaned !== undefined) links.push(cleaned);
  return finish(violation, subject, `state cleaned early: ${id} removed from join '${join.operator}''s state before the watermark reached ${keptUntil}`, links, firstFalse);
}

function blameLateDrop(context: BlameContext, violation: Violation, join: JoinTasks): BlameChain {
  const id = /as late by join '[^']+': ([^\s;,]+)/.exec(violation.message)?.[1];
  const take = id === undefined ? undefined : takesOf(context, join, id).find((t) => lateDrop(context, t, id) !== undefined);
  if (id === undefined || take === undefined) return finish(violation, `join '${join.operator}'`, violation.anomaly, [...faultLinks(context)], undefined);
  const late = lateDrop(context, take, id)!;
  return finish(
    violation,
    `record ${id}`,
    `lost write: on-time record ${id} dropped as late (join '${join.operator}''s watermark ${late.watermark} ran ahead of its inputs past ${late.ts})`,
    [late.cause],
    link(take, `${take.text}: dropped as late though within its partition's bound`, true),
  );
}
