import { plainLine } from './escape.ts';
import { isBlamed, isFirstFalse, type VisualCase } from './model.ts';
import { COORDINATOR_LANE, transactionOf, type TimelineEvent } from './timeline.ts';

/**
 * The replayed run in the Chrome Trace Event format (JSON object form), which Perfetto
 * (ui.perfetto.dev) and chrome://tracing open: a process per job attempt, a thread per
 * subtask, the coordinator and each external system; every step a 1 ms slice at its
 * simulated time; checkpoints and transactions as async spans; barriers as flow arrows from
 * the upstream slice to the slice that takes them; faults as instants; records in flight
 * and source offsets as counters.
 */
export interface TraceEvent {
  readonly name: string;
  readonly ph: 'X' | 'i' | 'b' | 'e' | 's' | 'f' | 'C' | 'M';
  readonly ts: number;
  readonly pid: number;
  readonly tid: number;
  readonly dur?: number;
  readonly cat?: string;
  readonly id?: string;
  readonly s?: 'g' | 'p' | 't';
  readonly bp?: 'e';
  readonly args?: Record<string, string | number | boolean>;
}

export interface ChromeTrace {
  readonly traceEvents: TraceEvent[];
  readonly displayTimeUnit: 'ms';
  readonly metadata: Record<string, string | number>;
}

/** Events written at most: a bounded file even for a run that used its whole step budget. */
export const MAX_TRACE_EVENTS = 200_000;
const MICROSECONDS_PER_MS = 1_000;
/** Each step is drawn as a slice this long (µs), a little less than a simulated ms. */
const STEP_SLICE_US = 900;

export function toChromeTrace(visual: VisualCase, limit: number = MAX_TRACE_EVENTS): ChromeTrace {
  const { timeline } = visual;
  const lanes = [COORDINATOR_LANE, ...timeline.taskLanes, ...timeline.externalLanes];
  const tidOf = (lane: string): number => Math.max(0, lanes.indexOf(lane)) + 1;
  const out: TraceEvent[] = [];
  // Processes are job attempts (pid 1 = first deployment); every attempt lists every lane.
  for (let attempt = 0; attempt < timeline.attempts; attempt++) {
    const pid = attempt + 1;
    out.push({ name: 'process_name', ph: 'M', ts: 0, pid, tid: 0, args: { name: attempt === 0 ? 'attempt 1 (first deployment)' : `attempt ${attempt + 1} (restart ${attempt})` } });
    out.push({ name: 'process_sort_index', ph: 'M', ts: 0, pid, tid: 0, args: { sort_index: pid } });
    lanes.forEach((lane, i) => {
      out.push({ name: 'thread_name', ph: 'M', ts: 0, pid, tid: i + 1, args: { name: plainLine(lane, 80) } });
      out.push({ name: 'thread_sort_index', ph: 'M', ts: 0, pid, tid: i + 1, args: { sort_index: i + 1 } });
    });
  }
  const openCheckpoints = new Map<number, { pid: number }>();
  const openTransactions = new Map<string, { pid: number; tid: number }>();
  /** The latest slice of a lane that sent barrier n: where its flow arrow starts. */
  const barrierSource = new Map<string, TimelineEvent>();
  const inFlight = new Map<number, number>();
  let flowId = 0;
  for (const event of timeline.events) {
    if (out.length >= limit) break;
    const pid = event.attempt + 1;
    const tid = tidOf(event.lane);
    const ts = event.timeMs * MICROSECONDS_PER_MS;
    const blamed = isBlamed(visual, event);
    const args: Record<string, string | number | boolean> = { step: event.step, text: plainLine(event.text) };
    if (blamed) args['blamed'] = true;
    if (blamed && isFirstFalse(visual, event)) args['firstFalse'] = true;
    const name = plainLine(blamed ? `BLAMED ${sliceName(event)}` : sliceName(event), 120);
    out.push({ name, ph: 'X', ts, dur: STEP_SLICE_US, pid, tid, cat: blamed ? `${event.kind},blamed` : event.kind, args });
    switch (event.kind) {
      case 'fault':
      case 'failover':
      case 'notify-lost':
      case 'io-failed':
        out.push({ name: plainLine(event.text, 120), ph: 'i', s: 'p', ts, pid, tid, cat: 'fault', args: { step: event.step } });
        break;
      case 'trigger':
        if (event.checkpointId !== undefined) {
          openCheckpoints.set(event.checkpointId, { pid });
          out.push({ name: `checkpoint ${event.checkpointId}`, ph: 'b', ts, pid, tid: tidOf(COORDINATOR_LANE), cat: 'checkpoint', id: `checkpoint-${event.checkpointId}` });
        }
        break;
      case 'completed':
      case 'checkpoint-failed':
        if (event.checkpointId !== undefined && openCheckpoints.has(event.checkpointId)) {
          const open = openCheckpoints.get(event.checkpointId)!;
          openCheckpoints.delete(event.checkpointId);
          out.push({ name: `checkpoint ${event.checkpointId}`, ph: 'e', ts, pid: open.pid, tid: tidOf(COORDINATOR_LANE), cat: 'checkpoint', id: `checkpoint-${event.checkpointId}`, args: { outcome: event.kind === 'completed' ? 'completed' : plainLine(event.text, 120) } });
        }
        break;
      case 'trigger-task':
        barrierSource.set(`${event.lane}#${event.checkpointId}`, event);
        break;
      case 'barrier': {
        const source = event.peer === undefined ? undefined : barrierSource.get(`${event.peer}#${event.checkpointId}`);
        if (source !== undefined) {
          const id = `barrier-${flowId++}`;
          out.push({ name: `barrier ${event.checkpointId}`, ph: 's', ts: source.timeMs * MICROSECONDS_PER_MS, pid: source.attempt + 1, tid: tidOf(source.lane), cat: 'barrier', id });
          out.push({ name: `barrier ${event.checkpointId}`, ph: 'f', bp: 'e', ts, pid, tid, cat: 'barrier', id });
        }
        // A task forwards barrier n once it took it: later downstream takes start here.
        barrierSource.set(`${event.lane}#${event.checkpointId}`, event);
        break;
      }
      case 'io':
      case 'io-at-crash': {
        const transaction = transactionOf(event);
        if (transaction === undefined) break;
        if (!openTransactions.has(transaction) && /^io kafka (send|initTransactions) /.test(event.text)) {
          openTransactions.set(transaction, { pid, tid });
          out.push({ name: `transaction ${plainLine(transaction, 80)}`, ph: 'b', ts, pid, tid, cat: 'transaction', id: `txn-${plainLine(transaction, 80)}` });
        } else if (openTransactions.has(transaction) && /^io kafka (commit|abort) /.test(event.text)) {
          const open = openTransactions.get(transaction)!;
          openTransactions.delete(transaction);
          out.push({ name: `transaction ${plainLine(transaction, 80)}`, ph: 'e', ts, pid: open.pid, tid: open.tid, cat: 'transaction', id: `txn-${plainLine(transaction, 80)}`, args: { outcome: /commit/.test(event.text) ? 'committed' : 'aborted' } });
        }
        break;
      }
      case 'emit': {
        const offset = /@ offset (\d+)/.exec(event.text)?.[1];
        if (offset !== undefined) out.push({ name: 'source offset', ph: 'C', ts, pid, tid, args: { [plainLine(event.lane, 80)]: Number(offset) + 1 } });
        inFlight.set(pid, (inFlight.get(pid) ?? 0) + 1);
        out.push({ name: 'records in flight', ph: 'C', ts, pid, tid: 0, args: { records: inFlight.get(pid)! } });
        break;
      }
      case 'record':
        inFlight.set(pid, Math.max(0, (inFlight.get(pid) ?? 0) - 1));
        out.push({ name: 'records in flight', ph: 'C', ts, pid, tid: 0, args: { records: inFlight.get(pid)! } });
        break;
      default:
        break;
    }
  }
  // Spans still open at the end (pending checkpoints, lingering transactions) end with the run.
  const endTs = (timeline.events.at(-1)?.timeMs ?? 0) * MICROSECONDS_PER_MS + STEP_SLICE_US;
  for (const [checkpointId, open] of openCheckpoints) out.push({ name: `checkpoint ${checkpointId}`, ph: 'e', ts: endTs, pid: open.pid, tid: tidOf(COORDINATOR_LANE), cat: 'checkpoint', id: `checkpoint-${checkpointId}`, args: { outcome: 'still pending at the end' } });
  for (const [transaction, open] of openTransactions) out.push({ name: `transaction ${plainLine(transaction, 80)}`, ph: 'e', ts: endTs, pid: open.pid, tid: open.tid, cat: 'transaction', id: `txn-${plainLine(transaction, 80)}`, args: { outcome: 'still open at the end' } });
  return {
    traceEvents: out,
    displayTimeUnit: 'ms',
    metadata: {
      title: plainLine(visual.title),
      replay: plainLine(visual.replay, 4_000),
      traceHash: visual.traceHash,
      steps: visual.steps,
      eventsOmitted: Math.max(0, timeline.events.length - out.filter((e) => e.ph === 'X').length),
      blame: plainLine(visual.chains.map((c) => `${c.property}: ${c.anomalyClass} (first false at step ${c.firstFalseStep})`).join(' | '), 2_000),
    },
  };
}

function sliceName(event: TimelineEvent): string {
  switch (event.kind) {
    case 'record':
      return 'record';
    case 'emit':
      return 'emit';
    case 'barrier':
      return `barrier ${event.checkpointId}`;
    case 'ack':
      return `ack ${event.checkpointId} from ${event.peer}`;
    default:
      return event.text;
  }
}
