/**
 * Flink's task metrics for backpressure, measured in virtual time (Flink's TaskIOMetricGroup
 * and the buffer pool gauges): per subtask the share of time it was busy, backpressured or
 * idle, how full its input and output buffers were on average, and the records it received
 * and sent. The job attributes the virtual time between two scheduler steps to what each task
 * was doing when the earlier step was chosen (one pass over tasks and channels per step).
 */
import type { Channel } from './channel.ts';

/** What a subtask is doing between two steps. */
export const enum TaskActivity {
  /** Nothing to take: its inputs are empty or held back, or its source has nothing now. */
  Idle = 0,
  /** Processing a record, waiting on a connector call, or with input it can take now. */
  Busy = 1,
  /** Input to take but an output is full: the downstream throttles it. */
  Backpressured = 2,
}

/** Flink's per-subtask numbers, over the whole run (every attempt). */
export interface SubtaskFlowMetrics {
  readonly task: number;
  /** Records the subtask took from its inputs (a source: records it read). */
  readonly recordsReceived: number;
  /** Records the subtask pushed into its output channels. */
  readonly recordsSent: number;
  readonly busyTimeMsPerSecond: number;
  readonly backPressuredTimeMsPerSecond: number;
  readonly idleTimeMsPerSecond: number;
  /** Time-averaged fill of its fullest input channel (0..1; an input that ended or carries little must not hide the one piling up); 0 for a source. */
  readonly inPoolUsage: number;
  /** Time-averaged fill of its fullest output channel (0..1; Flink pools a task's output buffers, and one slow receiver fills them); 0 for a sink. */
  readonly outPoolUsage: number;
  /** Subtasks its output channels lead to (the immediate downstream). */
  readonly downstream: readonly number[];
}

export interface FlowMetricsObservation {
  /** Virtual ms the metrics cover (the whole run). */
  readonly measuredMs: number;
  readonly subtasks: readonly SubtaskFlowMetrics[];
}

/**
 * One subtask's part of one checkpoint, as Flink's checkpoint details show it (the web UI's
 * per-subtask table), in virtual ms. A source has a trigger delay and no alignment; every
 * other subtask has the barrier's queueing and alignment and no trigger delay.
 */
export interface SubtaskCheckpointDetail {
  readonly checkpointId: number;
  readonly task: number;
  readonly attempt: number;
  /** Sources: from the coordinator's trigger to the source's snapshot (the trigger message waited on a busy task). */
  readonly triggerDelayMs: number;
  /** Non-sources: how long the first barrier n sat in its channel behind records before the task took it. */
  readonly barrierQueuedMs: number;
  /** From the first barrier n taken to the snapshot (aligned: the last barrier n; unaligned: 0). */
  readonly alignmentMs: number;
  /** The synchronous phase: the task blocked in snapshotState until its state is captured. */
  readonly syncMs: number;
  /** The asynchronous phase: from the captured state to the acknowledgement sent (the upload). */
  readonly asyncMs: number;
  /** Bytes of the records the task processed while it aligned (from inputs not yet aligned). */
  readonly bytesProcessedDuringAlignment: number;
  /** Size of the subtask's snapshot (bytes of its serialised state; rocksdb: bytes its files hold). */
  readonly stateBytes: number;
  /** From the coordinator's trigger to the acknowledgement sent. */
  readonly endToEndMs: number;
}

export class FlowMetrics {
  private lastMs = 0;
  private busyMs: Float64Array;
  private backpressuredMs: Float64Array;
  private idleMs: Float64Array;
  /** Per channel: the integral of min(size, capacity) over virtual time (elements x ms). */
  private fillMs: Float64Array;
  activity: Uint8Array;
  recordsIn: Float64Array;

  constructor(taskCount: number, channelCount: number) {
    this.busyMs = new Float64Array(taskCount);
    this.backpressuredMs = new Float64Array(taskCount);
    this.idleMs = new Float64Array(taskCount);
    this.fillMs = new Float64Array(channelCount);
    this.activity = new Uint8Array(taskCount);
    this.recordsIn = new Float64Array(taskCount);
  }

  /**
   * A rescale laid the job out anew (between attempts): keep what was measured for the tasks and
   * channels whose indexes remain, and measure the added ones from now on.
   */
  resize(taskCount: number, channelCount: number): void {
    const grown = (from: Float64Array, length: number): Float64Array => {
      const to = new Float64Array(length);
      to.set(from.subarray(0, Math.min(from.length, length)));
      return to;
    };
    this.busyMs = grown(this.busyMs, taskCount);
    this.backpressuredMs = grown(this.backpressuredMs, taskCount);
    this.idleMs = grown(this.idleMs, taskCount);
    this.recordsIn = grown(this.recordsIn, taskCount);
    this.fillMs = grown(this.fillMs, channelCount);
    this.activity = new Uint8Array(taskCount);
  }

  /**
   * Attributes the virtual time since the last call to each task's activity and each channel's
   * fill, then clears the activities (all idle). Runs once per step: one pass, no builtin calls
   * (a typed-array fill per step cost more than the accounting itself).
   */
  advance(nowMs: number, channels: readonly Channel[]): void {
    const elapsedMs = nowMs - this.lastMs;
    const activity = this.activity;
    if (elapsedMs > 0) {
      this.lastMs = nowMs;
      for (let t = 0; t < activity.length; t++) {
        const state = activity[t];
        if (state === TaskActivity.Busy) this.busyMs[t]! += elapsedMs;
        else if (state === TaskActivity.Backpressured) this.backpressuredMs[t]! += elapsedMs;
        else this.idleMs[t]! += elapsedMs;
        activity[t] = TaskActivity.Idle;
      }
      const fill = this.fillMs;
      for (let c = 0; c < channels.length; c++) {
        const channel = channels[c]!;
        const size = channel.size;
        // Elements x ms, capped at the capacity; divided by the capacity once, when observed.
        if (size !== 0) fill[c]! += elapsedMs * (size < channel.capacity ? size : channel.capacity);
      }
      return;
    }
    for (let t = 0; t < activity.length; t++) activity[t] = TaskActivity.Idle;
  }

  /** The metrics per subtask, over the virtual time measured so far. */
  observe(tasks: ReadonlyArray<{ readonly index: number; readonly inputs: readonly Channel[]; readonly outputs: readonly Channel[] }>): FlowMetricsObservation {
    const measuredMs = this.lastMs;
    const perSecond = (ms: number): number => (measuredMs === 0 ? 0 : Math.round((ms / measuredMs) * 1000));
    const usage = (channel: Channel): number => (measuredMs === 0 ? 0 : this.fillMs[channel.index]! / channel.capacity / measuredMs);
    const subtasks = tasks.map((task): SubtaskFlowMetrics => {
      const inputs = task.inputs;
      const outputs = task.outputs;
      let inFill = 0;
      for (const channel of inputs) inFill = Math.max(inFill, usage(channel));
      let outFill = 0;
      let recordsSent = 0;
      for (const channel of outputs) {
        outFill = Math.max(outFill, usage(channel));
        recordsSent += channel.recordsPushedTotal;
      }
      return {
        task: task.index,
        recordsReceived: this.recordsIn[task.index]!,
        recordsSent,
        busyTimeMsPerSecond: perSecond(this.busyMs[task.index]!),
        backPressuredTimeMsPerSecond: perSecond(this.backpressuredMs[task.index]!),
        idleTimeMsPerSecond: perSecond(this.idleMs[task.index]!),
        inPoolUsage: round3(inFill),
        outPoolUsage: round3(outFill),
        downstream: [...new Set(outputs.map((channel) => channel.toTask))],
      };
    });
    return { measuredMs, subtasks };
  }
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/** Bytes a record's value takes serialised (numbers as 8-byte doubles, strings and objects as JSON): for alignment and state sizes. */
export function estimateBytes(value: unknown): number {
  if (typeof value === 'number') return 8;
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'boolean') return 1;
  const json = JSON.stringify(value);
  return json === undefined ? 0 : json.length;
}
