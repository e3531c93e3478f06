/**
 * Flink's task metrics for backpressure, measured in virtual time (Flink's TaskIOMetricGroup
 * and the buffer pool gauges): per subtask the share of time it was busy, backpressured or
 * idle, how full its input and output buffers were on average (read from the credit-based
 * flow control's own buffer counts), and the records it received and sent. The job attributes
 * the virtual time between two scheduler steps to what each task was doing when the earlier
 * step was chosen (one pass over tasks and channels per step).
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
  /** Time-averaged share of its input gates' buffers (exclusive and floating) in use (0..1; the buffers of an ended channel are released and count no more); 0 for a source. */
  readonly inPoolUsage: number;
  /** Time-averaged share of its input channels' exclusive buffers in use (Flink's inputExclusiveBuffersUsage). */
  readonly inputExclusiveBuffersUsage: number;
  /** Time-averaged share of its input gates' floating buffers lent out (Flink's inputFloatingBuffersUsage; 0 without floating buffers). */
  readonly inputFloatingBuffersUsage: number;
  /**
   * Time-averaged share of its output pool holding what waits for credit (0..1, an overdrawn
   * pool counts as full); with bounded queues (no pool), the fill of its fullest output
   * channel. 0 for a sink.
   */
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
  /** Per channel: the integral of the receiver's buffers in use over virtual time (buffers x ms). */
  private usedMs: Float64Array;
  /** Per channel: the integral of the floating buffers it holds (buffers x ms). */
  private floatingMs: Float64Array;
  /** Per channel: the integral of the elements waiting at the sender for credit (output pool buffers x ms). */
  private waitingMs: Float64Array;
  /** Per channel: virtual ms it was live (not ended): an ended channel's buffers are released, as Flink releases an input channel's. */
  private liveMs: Float64Array;
  activity: Uint8Array;
  recordsIn: Float64Array;

  constructor(taskCount: number, channelCount: number) {
    this.busyMs = new Float64Array(taskCount);
    this.backpressuredMs = new Float64Array(taskCount);
    this.idleMs = new Float64Array(taskCount);
    this.usedMs = new Float64Array(channelCount);
    this.floatingMs = new Float64Array(channelCount);
    this.waitingMs = new Float64Array(channelCount);
    this.liveMs = new Float64Array(channelCount);
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
    this.usedMs = grown(this.usedMs, channelCount);
    this.floatingMs = grown(this.floatingMs, channelCount);
    this.waitingMs = grown(this.waitingMs, channelCount);
    this.liveMs = grown(this.liveMs, channelCount);
    this.activity = new Uint8Array(taskCount);
  }

  /**
   * Attributes the virtual time since the last call to each task's activity and each channel's
   * buffers (the flow control's own counts), then clears the activities (all idle). Runs once
   * per step: one pass, no builtin calls (a typed-array fill per step cost more than the
   * accounting itself); a step that took no virtual time adds nothing.
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
      for (let c = 0; c < channels.length; c++) {
        const channel = channels[c]!;
        if (!channel.ended) this.liveMs[c]! += elapsedMs;
        if (channel.size === 0) continue;
        this.usedMs[c]! += elapsedMs * channel.buffersUsed;
        if (channel.floatingHeld !== 0) this.floatingMs[c]! += elapsedMs * channel.floatingHeld;
        if (channel.atReceiver !== channel.size) this.waitingMs[c]! += elapsedMs * (channel.size - channel.atReceiver);
      }
      return;
    }
    for (let t = 0; t < activity.length; t++) activity[t] = TaskActivity.Idle;
  }

  /**
   * The metrics per subtask, over the virtual time measured so far: the rates and shares are
   * computed here, once a run, from the integrals. Plain loops and module functions, no
   * closures or collections: it runs once per run, and on a short run it cost as much as all
   * the per-step accounting (tsx names every closure it creates).
   */
  observe(tasks: ReadonlyArray<{ readonly index: number; readonly inputs: readonly Channel[]; readonly outputs: readonly Channel[] }>): FlowMetricsObservation {
    const measuredMs = this.lastMs;
    const subtasks: SubtaskFlowMetrics[] = [];
    for (let t = 0; t < tasks.length; t++) {
      const task = tasks[t]!;
      // Flink's input pool: every input gate's exclusive and floating buffers together, over the
      // time each was there (an ended channel's buffers are released: it must not dilute the rest).
      const inputs = task.inputs;
      let usedMs = 0;
      let floatingMs = 0;
      let exclusiveCapacityMs = 0;
      let floatingCapacityMs = 0;
      for (let i = 0; i < inputs.length; i++) {
        const channel = inputs[i]!;
        const liveMs = this.liveMs[channel.index]!;
        usedMs += this.usedMs[channel.index]!;
        floatingMs += this.floatingMs[channel.index]!;
        exclusiveCapacityMs += channel.exclusiveBuffers * liveMs;
        // A gate's floating buffers are there while any of its channels is: counted at its longest-lived channel.
        if (channel.gate.floatingBuffers !== 0 && this.longestLivedOfGate(channel) === channel) floatingCapacityMs += channel.gate.floatingBuffers * liveMs;
      }
      const outputs = task.outputs;
      let recordsSent = 0;
      let waitingMs = 0;
      // Bounded queues (no output pool): the fill of the fullest output channel stands in for it.
      let fullestOutput = 0;
      const downstream: number[] = [];
      for (let o = 0; o < outputs.length; o++) {
        const channel = outputs[o]!;
        recordsSent += channel.recordsPushedTotal;
        waitingMs += this.waitingMs[channel.index]!;
        fullestOutput = Math.max(fullestOutput, shareOf(this.usedMs[channel.index]!, channel.exclusiveBuffers * measuredMs));
        if (!downstream.includes(channel.toTask)) downstream.push(channel.toTask);
      }
      const poolBuffers = outputs.length === 0 ? 0 : outputs[0]!.pool.buffers;
      subtasks.push({
        task: task.index,
        recordsReceived: this.recordsIn[task.index]!,
        recordsSent,
        busyTimeMsPerSecond: perSecondOf(this.busyMs[task.index]!, measuredMs),
        backPressuredTimeMsPerSecond: perSecondOf(this.backpressuredMs[task.index]!, measuredMs),
        idleTimeMsPerSecond: perSecondOf(this.idleMs[task.index]!, measuredMs),
        inPoolUsage: round3(shareOf(usedMs, exclusiveCapacityMs + floatingCapacityMs)),
        inputExclusiveBuffersUsage: round3(shareOf(Math.max(0, usedMs - floatingMs), exclusiveCapacityMs)),
        inputFloatingBuffersUsage: round3(shareOf(floatingMs, floatingCapacityMs)),
        outPoolUsage: round3(outputs.length === 0 ? 0 : poolBuffers === 0 ? fullestOutput : shareOf(waitingMs, poolBuffers * measuredMs)),
        downstream,
      });
    }
    return { measuredMs, subtasks };
  }

  /** The channel of `channel`'s gate that was live longest (the first such). */
  private longestLivedOfGate(channel: Channel): Channel {
    const siblings = channel.gate.channels;
    let longest = siblings[0]!;
    for (let i = 1; i < siblings.length; i++) if (this.liveMs[siblings[i]!.index]! > this.liveMs[longest.index]!) longest = siblings[i]!;
    return longest;
  }
}

/** Virtual ms per second of measured time. */
function perSecondOf(ms: number, measuredMs: number): number {
  return measuredMs === 0 ? 0 : Math.round((ms / measuredMs) * 1000);
}

/** Buffers x ms in use over buffers x ms there were (0..1; an overdrawn pool counts as full). */
function shareOf(bufferMs: number, capacityMs: number): number {
  return capacityMs === 0 ? 0 : Math.min(1, bufferMs / capacityMs);
}

function round3(value: number): number {
  return Math.round(value * 1000) / 1000;
}

/**
 * Bytes a record's value takes serialised (numbers as 8-byte doubles, strings and objects as
 * JSON): for alignment and state sizes. An object's size is exactly `JSON.stringify(value).length`,
 * counted by walking plain objects and arrays instead of building the string: it runs for
 * every snapshot of every subtask and every record taken while a task aligns, and the string
 * it used to build was garbage at once.
 */
export function estimateBytes(value: unknown): number {
  if (typeof value === 'number') return 8;
  if (typeof value === 'string') return value.length + 2;
  if (typeof value === 'boolean') return 1;
  const length = jsonLength(value, 0);
  if (length === OMITTED) return 0; // JSON.stringify gives undefined: nothing to write
  if (length !== NOT_PLAIN) return length;
  // Not plain data all the way down (toJSON, class instances, deep or cyclic): JSON itself decides (and throws as it did).
  const json = JSON.stringify(value);
  return json === undefined ? 0 : json.length;
}

/** `jsonLength` gives up: the value needs JSON.stringify itself. */
const NOT_PLAIN = -1;
/** Nesting past this depth is left to JSON.stringify (a cycle then fails there with its own error). */
const MAX_PLAIN_DEPTH = 32;
/** `jsonLength` of something JSON.stringify leaves out of an object (undefined, a function, a symbol). */
const OMITTED = -2;

/**
 * `JSON.stringify(value).length` for numbers, strings, booleans, null and plain objects and
 * arrays of them, without building the string; NOT_PLAIN for anything else (a toJSON, a class
 * instance, a bigint, a boxed primitive, nesting deeper than MAX_PLAIN_DEPTH); OMITTED where
 * JSON.stringify gives undefined.
 */
function jsonLength(value: unknown, depth: number): number {
  switch (typeof value) {
    case 'number':
      return numberJsonLength(value);
    case 'string':
      return stringJsonLength(value);
    case 'boolean':
      return value ? 4 : 5;
    case 'undefined':
    case 'function':
    case 'symbol':
      return OMITTED;
    case 'bigint':
      return NOT_PLAIN;
  }
  if (value === null) return 4;
  if (depth >= MAX_PLAIN_DEPTH) return NOT_PLAIN;
  const object = value as Record<string, unknown>;
  if (typeof object.toJSON === 'function') return NOT_PLAIN;
  if (Array.isArray(object)) {
    if (Object.getPrototypeOf(object) !== Array.prototype) return NOT_PLAIN;
    const items = object as unknown[];
    let length = items.length === 0 ? 2 : items.length + 1; // brackets and commas
    for (let i = 0; i < items.length; i++) {
      const item = jsonLength(items[i], depth + 1);
      if (item === NOT_PLAIN) return NOT_PLAIN;
      length += item === OMITTED ? 4 : item; // an array writes null in its place
    }
    return length;
  }
  const prototype = Object.getPrototypeOf(object);
  if (prototype !== Object.prototype && prototype !== null) return NOT_PLAIN;
  let length = 2;
  let members = 0;
  for (const key in object) {
    if (!Object.prototype.hasOwnProperty.call(object, key)) continue;
    const member = jsonLength(object[key], depth + 1);
    if (member === NOT_PLAIN) return NOT_PLAIN;
    if (member === OMITTED) continue;
    length += stringJsonLength(key) + 1 + member + (members === 0 ? 0 : 1); // "key":value, with a comma before all but the first
    members++;
  }
  return length;
}

/** Characters of a number as JSON writes it (non-finite numbers as null). */
function numberJsonLength(value: number): number {
  if (!Number.isFinite(value)) return 4;
  if (Number.isSafeInteger(value)) {
    let digits = value < 0 ? 2 : 1;
    for (let rest = Math.abs(value); rest >= 10; rest = Math.floor(rest / 10)) digits++;
    return digits;
  }
  return String(value).length;
}

/** Characters of a string as JSON writes it: quotes, escapes, lone surrogates as \uXXXX. */
function stringJsonLength(value: string): number {
  let length = value.length + 2;
  for (let i = 0; i < value.length; i++) {
    const code = value.charCodeAt(i);
    if (code >= 0x20 && code !== 0x22 && code !== 0x5c && (code < 0xd800 || code > 0xdfff)) continue;
    if (code === 0x22 || code === 0x5c || code === 0x08 || code === 0x09 || code === 0x0a || code === 0x0c || code === 0x0d) length += 1;
    else if (code < 0x20) length += 5;
    else if (code <= 0xdbff && i + 1 < value.length && value.charCodeAt(i + 1) >= 0xdc00 && value.charCodeAt(i + 1) <= 0xdfff) i++; // a surrogate pair stays as it is
    else length += 5; // a lone surrogate
  }
  return length;
}
