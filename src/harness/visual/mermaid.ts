import { escapeMermaid, plainLine } from './escape.ts';
import { isBlamed, isFirstFalse, selectEvents, type VisualCase } from './model.ts';
import { COORDINATOR_LANE, externalCall, isVisibleWrite, transactionOf, type TimelineEvent } from './timeline.ts';

/** Messages and notes in one diagram: GitHub renders a few hundred comfortably. */
export const MAX_MERMAID_EVENTS = 160;

/**
 * A Mermaid sequence diagram of a replayed case: lanes for the coordinator, every task and
 * every external system; barriers, acks, notifications, commits and faults as messages and
 * notes; the events a blame chain names inside red boxes. Long runs keep the blamed events
 * and the protocol around them and say how many events were left out.
 */
export function toMermaid(visual: VisualCase, limit: number = MAX_MERMAID_EVENTS): string {
  const lanes = [COORDINATOR_LANE, ...visual.timeline.taskLanes, ...visual.timeline.externalLanes];
  const ids = new Map(lanes.map((lane, i) => [lane, i === 0 ? 'C' : `L${i}`]));
  const lines: string[] = ['sequenceDiagram'];
  for (const lane of lanes) lines.push(`  participant ${ids.get(lane)} as ${participantLabel(lane)}`);
  const lastLane = ids.get(lanes.at(-1)!)!;
  const selected = selectEvents(visual, limit, false);
  const gapNoteAt = longGaps(selected);
  let previousIndex = -1;
  let omitted = 0;
  for (const event of selected) {
    const skipped = event.index - previousIndex - 1;
    previousIndex = event.index;
    if (skipped > 0) omitted += skipped;
    const blamed = isBlamed(visual, event);
    // A blamed event is always drawn, as a note on its lane when it is no message.
    const statement = statementFor(event, ids, lastLane) ?? (blamed ? `Note over ${ids.get(event.lane) ?? 'C'}: ${escapeMermaid(`@${event.step} ${event.text}`)}` : undefined);
    if (statement === undefined) continue;
    if (gapNoteAt.has(event.index)) lines.push(`  Note over C: … ${skipped} events …`);
    if (blamed) {
      lines.push(`  rect rgba(255, 80, 80, 0.3)`);
      lines.push(`    ${statement.replace(/: /, `: ${isFirstFalse(visual, event) ? '⚠ FIRST FALSE ' : '⚠ '}`)}`);
      lines.push('  end');
    } else {
      lines.push(`  ${statement}`);
    }
  }
  const trailing = visual.timeline.events.length - previousIndex - 1;
  if (trailing > 0) omitted += trailing;
  for (const chain of visual.chains) lines.push(`  Note over C,${lastLane}: ${escapeMermaid(`${chain.property}: ${chain.anomalyClass} (first false at step ${chain.firstFalseStep})`)}`);
  if (omitted > 0) lines.push(`  Note over C,${lastLane}: ${omitted} record and bookkeeping events not drawn (see --timeline or --html)`);
  return lines.join('\n');
}

/** Events left out before a drawn event that earn a note saying so. */
const MIN_EVENTS_PER_GAP_NOTE = 20;
/**
 * Gap notes per diagram: a run that repeats one pattern (a checkpoint expiring every few
 * dozen steps until the step budget ends) has a gap between every pair of drawn events, and
 * a note for each would double the diagram past its bound. The largest gaps get one; with
 * the closing note on the events not drawn, that is at most ten notes beyond the events.
 */
export const MAX_GAP_NOTES = 9;

/** Indexes of the drawn events that follow one of the largest gaps (at least MIN_EVENTS_PER_GAP_NOTE events left out). */
function longGaps(selected: readonly TimelineEvent[]): Set<number> {
  const gaps = selected.map((event, i) => ({ index: event.index, skipped: event.index - (i === 0 ? -1 : selected[i - 1]!.index) - 1 })).filter((gap) => gap.skipped >= MIN_EVENTS_PER_GAP_NOTE);
  return new Set(gaps.sort((a, b) => b.skipped - a.skipped || a.index - b.index).slice(0, MAX_GAP_NOTES).map((gap) => gap.index));
}

/** Participant labels: Mermaid allows no entity codes there, so risky characters are replaced. */
function participantLabel(lane: string): string {
  return plainLine(lane, 60).replace(/>/g, '→').replace(/[^\p{L}\p{N} _.\-[\]()→]/gu, '_');
}

function statementFor(event: TimelineEvent, ids: ReadonlyMap<string, string>, lastLane: string): string | undefined {
  const at = `@${event.step} `;
  const lane = ids.get(event.lane) ?? 'C';
  const peer = event.peer === undefined ? undefined : ids.get(event.peer);
  const text = (words: string): string => escapeMermaid(`${at}${words}`);
  switch (event.kind) {
    case 'deploy':
      return `Note over C,${lastLane}: ${text(event.text)}`;
    case 'fault':
    case 'failover':
      return `Note over C,${lastLane}: ${text(`⚡ ${event.text}`)}`;
    case 'trigger':
    case 'completed':
    case 'checkpoint-failed':
    case 'finished':
      return `Note over C: ${text(event.text)}`;
    case 'deploy-task':
      return `C->>${lane}: ${text(`deploy${event.checkpointId === undefined ? '' : ` from checkpoint ${event.checkpointId}`}`)}`;
    case 'trigger-task':
      return `C->>${lane}: ${text(`trigger ${event.checkpointId}`)}`;
    case 'barrier':
      return peer === undefined ? undefined : `${peer}->>${lane}: ${text(`barrier ${event.checkpointId}`)}`;
    case 'ack':
      return peer === undefined ? undefined : `${peer}-->>C: ${text(`ack ${event.checkpointId}`)}`;
    case 'notify':
      return `C-->>${lane}: ${text(`notify-complete ${event.checkpointId}`)}`;
    case 'notify-aborted':
      return `C-->>${lane}: ${text(`notify-aborted ${event.checkpointId}`)}`;
    case 'notify-lost':
      return peer === undefined ? undefined : `C-x${peer}: ${text(`notify-complete ${event.checkpointId} lost`)}`;
    case 'io':
    case 'io-failed':
    case 'io-at-crash': {
      if (event.kind === 'io' && !isVisibleWrite(event) && !/^io kafka (abort|initTransactions) /.test(event.text)) return undefined;
      const transaction = transactionOf(event);
      const owner = transaction === undefined ? undefined : ownerLane(transaction, ids);
      const words = externalCall(event);
      return owner === undefined ? `Note over ${lane}: ${text(words)}` : `${owner}${event.kind === 'io-failed' ? '-x' : '->>'}${lane}: ${text(words)}`;
    }
    case 'record':
      return peer === undefined ? undefined : `${peer}->>${lane}: ${text(event.text.replace(/^.* takes /, '').replace(/ from .*$/, ''))}`;
    case 'emit':
      return `Note over ${lane}: ${text(event.text)}`;
    default:
      return undefined;
  }
}

/** The task lane that owns a transactional id `prefix-<subtask>-<n>` (the last task named `[subtask]`). */
function ownerLane(transactionalId: string, ids: ReadonlyMap<string, string>): string | undefined {
  const subtask = /-(\d+)-\d+$/.exec(transactionalId)?.[1];
  if (subtask === undefined) return undefined;
  const lane = [...ids.keys()].reverse().find((name) => name.endsWith(`[${subtask}]`));
  return lane === undefined ? undefined : ids.get(lane);
}
