import type { TraceEntry } from '../../sim/trace.ts';

/**
 * The replayed trace read back as protocol events in lanes (coordinator, each task, each
 * external system), the common input of blame chains and every picture. The trace lines are
 * the runtime's own words; this is the one place that parses them.
 */
export type EventKind =
  | 'deploy' // coordinator deploys attempt n (from a checkpoint or from scratch)
  | 'deploy-task' // a task receives its deployment
  | 'trigger' // coordinator triggers checkpoint n
  | 'trigger-task' // a task receives the trigger of checkpoint n
  | 'ack' // coordinator receives the ack of checkpoint n from a task
  | 'barrier' // a task takes barrier n from an upstream task
  | 'completed' // checkpoint n completed
  | 'checkpoint-failed' // checkpoint n aborted, expired or declined
  | 'notify' // a task receives notify-complete n
  | 'notify-aborted' // a task receives notify-aborted n
  | 'notify-lost' // notify-complete n to a task lost (fault plan)
  | 'input-ended' // coordinator learns a task ended its input
  | 'fault' // an injected fault
  | 'failover' // the job fails over
  | 'emit' // a source emits the record at a partition offset
  | 'record' // a task takes a record from an upstream task
  | 'end-of-input' // a task takes end of input
  | 'io' // an external call completed (write, commit, abort, read)
  | 'io-failed' // an external call failed
  | 'io-at-crash' // an external call that landed while its requester crashed
  | 'timer'
  | 'finished'
  | 'other';

export const COORDINATOR_LANE = 'coordinator';

export interface TimelineEvent {
  readonly index: number;
  readonly step: number;
  readonly timeMs: number;
  /** Deployment attempt the event belongs to (0 for the first). */
  readonly attempt: number;
  readonly kind: EventKind;
  /** Where it happens: 'coordinator', a task name, or an external system ('redis', 'kafka'). */
  readonly lane: string;
  /** The other end of a message (sender of a barrier or ack, receiver of a trigger), if any. */
  readonly peer: string | undefined;
  readonly checkpointId: number | undefined;
  /** The trace line as the runtime wrote it. */
  readonly text: string;
}

export interface Timeline {
  readonly events: readonly TimelineEvent[];
  readonly taskLanes: readonly string[];
  readonly externalLanes: readonly string[];
  readonly attempts: number;
}

const PATTERNS: readonly { readonly kind: EventKind; readonly pattern: RegExp; readonly lane: (m: RegExpExecArray) => string; readonly peer?: (m: RegExpExecArray) => string; readonly checkpoint?: (m: RegExpExecArray) => string | undefined }[] = [
  { kind: 'deploy', pattern: /^deploy attempt (\d+) from (?:scratch|checkpoint (\d+))/s, lane: () => COORDINATOR_LANE, checkpoint: (m) => m[2] },
  { kind: 'deploy-task', pattern: /^(.+) receives deploy (\S+)$/s, lane: (m) => m[1]!, peer: () => COORDINATOR_LANE, checkpoint: (m) => m[2] },
  { kind: 'trigger', pattern: /^coordinator triggers checkpoint (\d+)/s, lane: () => COORDINATOR_LANE, checkpoint: (m) => m[1] },
  { kind: 'trigger-task', pattern: /^(.+) receives trigger (\d+)$/s, lane: (m) => m[1]!, peer: () => COORDINATOR_LANE, checkpoint: (m) => m[2] },
  { kind: 'ack', pattern: /^coordinator receives ack (\d+) from (.+)$/s, lane: () => COORDINATOR_LANE, peer: (m) => m[2]!, checkpoint: (m) => m[1] },
  { kind: 'input-ended', pattern: /^coordinator receives input-ended from (.+)$/s, lane: () => COORDINATOR_LANE, peer: (m) => m[1]! },
  { kind: 'barrier', pattern: /^(.+) takes barrier (\d+) from (.+)$/s, lane: (m) => m[1]!, peer: (m) => m[3]!, checkpoint: (m) => m[2] },
  { kind: 'completed', pattern: /^checkpoint (\d+) completed$/s, lane: () => COORDINATOR_LANE, checkpoint: (m) => m[1] },
  { kind: 'checkpoint-failed', pattern: /^Checkpoint (\d+) of job /s, lane: () => COORDINATOR_LANE, checkpoint: (m) => m[1] },
  { kind: 'notify', pattern: /^(.+) receives notify-complete (\d+)$/s, lane: (m) => m[1]!, peer: () => COORDINATOR_LANE, checkpoint: (m) => m[2] },
  { kind: 'notify-aborted', pattern: /^(.+) receives notify-aborted (\d+)$/s, lane: (m) => m[1]!, peer: () => COORDINATOR_LANE, checkpoint: (m) => m[2] },
  { kind: 'notify-lost', pattern: /^notify-complete (\d+) to (.+) lost/s, lane: () => COORDINATOR_LANE, peer: (m) => m[2]!, checkpoint: (m) => m[1] },
  { kind: 'fault', pattern: /^fault: /s, lane: () => COORDINATOR_LANE },
  { kind: 'failover', pattern: /^failover: /s, lane: () => COORDINATOR_LANE },
  { kind: 'emit', pattern: /^(.+) emits \((.*)\)$/s, lane: (m) => m[1]! },
  { kind: 'record', pattern: /^(.+) takes record (.*) from (.+)$/s, lane: (m) => m[1]!, peer: (m) => m[3]! },
  { kind: 'end-of-input', pattern: /^(.+) takes end of input from (.+)$/s, lane: (m) => m[1]!, peer: (m) => m[2]! },
  // `io kafka commit ...` and `io redis.mset(...)`: the external system's name comes first.
  { kind: 'io-at-crash', pattern: /^io ([\w-]+)[. ].* applied as its requester crashed$/s, lane: (m) => m[1]! },
  { kind: 'io-failed', pattern: /^io ([\w-]+)[. ].* failed: /s, lane: (m) => m[1]! },
  { kind: 'io', pattern: /^io ([\w-]+)[. ].* done$/s, lane: (m) => m[1]! },
  { kind: 'timer', pattern: /^timer /s, lane: () => COORDINATOR_LANE },
  { kind: 'finished', pattern: /^job .* finished$/s, lane: () => COORDINATOR_LANE },
];

export function buildTimeline(entries: readonly TraceEntry[], taskNames: readonly string[]): Timeline {
  const events: TimelineEvent[] = [];
  const externalLanes: string[] = [];
  let attempt = 0;
  let deploys = 0;
  for (const entry of entries) {
    let kind: EventKind = 'other';
    let lane = COORDINATOR_LANE;
    let peer: string | undefined;
    let checkpointId: number | undefined;
    for (const candidate of PATTERNS) {
      const match = candidate.pattern.exec(entry.event);
      if (match === null) continue;
      kind = candidate.kind;
      lane = candidate.lane(match);
      peer = candidate.peer?.(match);
      const id = candidate.checkpoint?.(match);
      checkpointId = id === undefined || !/^\d+$/.test(id) ? undefined : Number(id);
      break;
    }
    if (kind === 'deploy') attempt = deploys++;
    if ((kind === 'io' || kind === 'io-failed' || kind === 'io-at-crash') && !externalLanes.includes(lane)) externalLanes.push(lane);
    // A line naming an unknown task is still shown, on the coordinator's lane.
    if (lane !== COORDINATOR_LANE && !taskNames.includes(lane) && !externalLanes.includes(lane)) lane = COORDINATOR_LANE;
    events.push({ index: events.length, step: entry.step, timeMs: entry.timeMs, attempt, kind, lane, peer, checkpointId, text: entry.event });
  }
  return { events, taskLanes: taskNames, externalLanes, attempts: Math.max(1, deploys) };
}

/** Protocol events (everything but record traffic): what diagrams show by default. */
export function isProtocolEvent(event: TimelineEvent): boolean {
  return event.kind !== 'emit' && event.kind !== 'record' && event.kind !== 'timer' && event.kind !== 'other';
}

/** The transactional id an external call names (Kafka), if any. */
export function transactionOf(event: TimelineEvent): string | undefined {
  return /^io kafka (?:initTransactions|commit|abort|flush) (\S+)/.exec(event.text)?.[1] ?? /^io kafka send .* in (\S+)/.exec(event.text)?.[1];
}

/** Is the external call a write that makes data visible (a Redis write, a Kafka commit)? */
export function isVisibleWrite(event: TimelineEvent): boolean {
  if (event.kind !== 'io' && event.kind !== 'io-at-crash') return false;
  if (event.lane === 'redis') return /^io redis[. ](set|mset|incrby|incr|del|hset)\b/i.test(event.text);
  return /^io kafka commit /.test(event.text);
}

/** The call of an external event without its system: `commit t1 (...)`, `incrby(k, 3)`. */
export function externalCall(event: TimelineEvent): string {
  return event.text.replace(/^io [\w-]+[. ]/, '');
}
