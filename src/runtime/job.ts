import type { CheckpointListener, CheckpointedFunction, ConnectorEvent, FunctionInitializationContext, Key, SourceReader } from '../connectors/api.ts';
import { END_OF_INPUT, NOTHING_AVAILABLE } from '../connectors/api.ts';
import type { EnabledEvents, SimWorld, StepDriver } from '../sim/scheduler.ts';
import { BarrierHandler, type CheckpointingMode } from './barrier-handler.ts';
import { Channel, ElementKind, END_OF_INPUT_ELEMENT, type StreamElement } from './channel.ts';
import type { Fault, FaultPlan } from './faults.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from './functions.ts';
import { pipelineToJobGraph, type JobGraphSpec } from './job-graph.ts';
import { KeyedProcessOperator, type KeyedOperatorRestore } from './keyed-operator.ts';
import type { KeyedStateEntries } from './keyed-state.ts';
import type { AlignmentObservation, RunObservations } from './observations.ts';
import type { PipelineSpec } from './pipeline.ts';
import { SubtaskState, type CompletedCheckpoint, type StateBackendKind, type SubtaskSnapshot } from './state.ts';
import type { TimerSnapshot } from './timer-service.ts';
import { CheckpointCoordinator, isForCoordinator, type ControlMessage } from './checkpoint-coordinator.ts';
import { buildTasks, partitionOf, type OutputGroup, type Task } from './task.ts';
import { WatermarkGenerator } from './watermark-generator.ts';
import { WatermarkValve } from './watermark-valve.ts';

export { partitionOf } from './task.ts';

export interface JobOptions {
  readonly mode: CheckpointingMode;
  readonly backend: StateBackendKind;
  readonly checkpointIntervalMs: number;
  readonly checkpointTimeoutMs: number;
  readonly maxConcurrentCheckpoints: number;
  readonly restartDelayMs: number;
  /** A job that has failed over more often than this fails for good (Flink's fixed-delay restart strategy). */
  readonly maxRestarts: number;
  readonly channelCapacity: number;
  /**
   * Which checkpoint a restart restores. Anything but 'latest-completed' is a planted bug:
   * 'latest-triggered' also takes checkpoints that never completed.
   */
  readonly restoreFrom: 'latest-completed' | 'latest-triggered';
  /** Planted bug: the coordinator loses every acknowledgement of the last task. */
  readonly dropAcksFromLastTask: boolean;
  /** Unaligned mode keeps in-flight records as channel state; false is a planted bug (they are dropped). */
  readonly restoreChannelState: boolean;
  /**
   * Planted bug (the runtime's behaviour before issue 17): an unaligned snapshot at the first
   * barrier n marks n handled, so the task drops the other inputs' barriers n as stale and
   * acknowledges n only when one of its inputs ends.
   */
  readonly dropBarriersAfterUnalignedSnapshot: boolean;
  /** Planted bug: the memory backend's completed checkpoints survive a crash of the whole job (they lived on the coordinator's heap). */
  readonly memoryCheckpointsSurviveJobCrash: boolean;
  /** Planted bug: an expiry records the checkpoint as expired but leaves it pending, so late acknowledgements still complete it. */
  readonly expiryLeavesCheckpointPending: boolean;
  /** Planted bug: unaligned tasks hold back an input after its barrier, as aligned ones do. */
  readonly unalignedHoldsInputs: boolean;
  /** Planted bug: unaligned tasks forward barriers behind the records in flight, as aligned ones do. */
  readonly unalignedBarriersQueueBehindData: boolean;
  /** Planted bug in the observation layer: barrier-triggered snapshots report no alignment positions. */
  readonly omitAlignmentObservations: boolean;
  /**
   * Sources (and timestamp assigners) emit a watermark that advanced at most once per this
   * many virtual ms (Flink's pipeline.auto-watermark-interval); end of input implies MAX_WATERMARK.
   */
  readonly autoWatermarkIntervalMs: number;
  /** A source whose pollNext answered NOTHING_AVAILABLE is polled again after this many virtual ms. */
  readonly sourcePollDelayMs: number;
  /** Planted bug: a task's watermark is the maximum over its inputs instead of the minimum (data of the slower input turns late). */
  readonly watermarkAsMaxOfInputs: boolean;
  /** Planted bug: snapshots leave out the process functions' timers, so a restore loses them (windows never fire). */
  readonly timersLeftOutOfSnapshot: boolean;
  /** Planted bug (liveness): a source with an idleness timeout never marks itself idle, so downstream watermarks stall until its input ends. */
  readonly sourceNeverIdles: boolean;
}

export const DEFAULT_JOB_OPTIONS: JobOptions = {
  mode: 'exactly-once',
  backend: 'memory',
  checkpointIntervalMs: 100,
  checkpointTimeoutMs: 1_000,
  maxConcurrentCheckpoints: 1,
  restartDelayMs: 20,
  maxRestarts: 20,
  channelCapacity: 8,
  restoreFrom: 'latest-completed',
  dropAcksFromLastTask: false,
  restoreChannelState: true,
  dropBarriersAfterUnalignedSnapshot: false,
  memoryCheckpointsSurviveJobCrash: false,
  expiryLeavesCheckpointPending: false,
  unalignedHoldsInputs: false,
  unalignedBarriersQueueBehindData: false,
  omitAlignmentObservations: false,
  autoWatermarkIntervalMs: 10,
  sourcePollDelayMs: 5,
  watermarkAsMaxOfInputs: false,
  timersLeftOutOfSnapshot: false,
  sourceNeverIdles: false,
};

import { RuntimeInvariantError } from './errors.ts';

export { RuntimeInvariantError };

/** Hooks a scenario's simulated environment exposes to fault plans (e.g. failing commits). */
export interface EnvironmentFaultHooks {
  failNextCommits?(times: number): void;
  /** The external system times out every open transaction now. */
  expireTransactions?(): void;
  /** Every connection to the external systems is cut now. */
  cutConnections?(): void;
  failNextAborts?(times: number): void;
  /** The next `times` calls fail before reaching the external system (SimEnvironment). */
  failNextCalls?(times: number): void;
  /** The next `times` calls are applied but their replies are lost (SimEnvironment). */
  loseNextReplies?(times: number): void;
  /** The next `times` calls time out without reaching the external system (SimEnvironment). */
  timeOutNextCalls?(times: number): void;
}

const EVENT_EMIT = 1 << 16;
const EVENT_DELIVER = 2 << 16;
const EVENT_CONTROL = 3 << 16;
const EVENT_INDEX_MASK = 0xffff;

function isPromise(value: unknown): value is Promise<unknown> {
  return typeof value === 'object' && value !== null && typeof (value as { then?: unknown }).then === 'function';
}

function describeSourcePosition(source: SourceReader<unknown> | undefined): string {
  if (source === undefined) return '?';
  if (source.describePosition !== undefined) return source.describePosition();
  const position = source.currentPosition();
  return `${position.split} @ offset ${position.offset}`;
}

function describeError(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * The reference runtime for one job, driven step by step by the deterministic scheduler: it
 * lays out tasks and channels (task.ts), runs each task's mailbox (records, barriers,
 * watermarks, timers, connector promises), delivers control messages between the tasks and
 * the checkpoint coordinator (checkpoint-coordinator.ts), and fails over and redeploys.
 */
export class JobRuntime implements SimWorld {
  readonly tasks: Task[];
  readonly channels: Channel[];
  readonly observations: RunObservations;
  private readonly coordinator: CheckpointCoordinator;
  private readonly control: ControlMessage[] = [];
  private status: 'running' | 'restarting' | 'finished' | 'failed' = 'restarting';
  private attempt = -1;
  private restarts = 0;
  private cancelRestart: (() => void) | undefined;
  /** Orders every observed event of the run (see `CheckpointEvent.seq`). */
  private nextSeq = 0;
  private busyCount = 0;
  private faultIndex = 0;
  private dropNextAck = false;
  private readonly faults: readonly Fault[];
  /** Called inside the step that completes a checkpoint (a harness hook: e.g. read back what a reader sees now). */
  onCheckpointCompleted: ((checkpointId: number) => void) | undefined;

  /** The job as a graph (a linear pipeline is converted). */
  readonly spec: JobGraphSpec;

  constructor(
    job: PipelineSpec | JobGraphSpec,
    readonly options: JobOptions,
    private readonly scheduler: StepDriver,
    faultPlan: FaultPlan,
    private readonly environmentHooks: EnvironmentFaultHooks = {},
  ) {
    if (!(options.checkpointIntervalMs > 0)) throw new Error(`JobRuntime: checkpointIntervalMs must be > 0`);
    if (!(options.checkpointTimeoutMs > 0)) throw new Error(`JobRuntime: checkpointTimeoutMs must be > 0`);
    if (!Number.isSafeInteger(options.maxConcurrentCheckpoints) || options.maxConcurrentCheckpoints < 1) {
      throw new Error(`JobRuntime: maxConcurrentCheckpoints must be a positive integer`);
    }
    if (!(Number.isSafeInteger(options.autoWatermarkIntervalMs) && options.autoWatermarkIntervalMs >= 0)) throw new Error(`JobRuntime: autoWatermarkIntervalMs must be a non-negative integer`);
    if (!(options.sourcePollDelayMs > 0)) throw new Error(`JobRuntime: sourcePollDelayMs must be > 0`);
    this.spec = 'stages' in job ? pipelineToJobGraph(job) : job;
    const spec = this.spec;
    this.faults = [...faultPlan].sort((a, b) => a.atStep - b.atStep);
    ({ tasks: this.tasks, channels: this.channels } = buildTasks(this.spec, options.channelCapacity));
    this.observations = {
      jobName: spec.name,
      taskNames: this.tasks.map((task) => task.name),
      taskInputCounts: this.tasks.map((task) => task.inputs.length),
      settings: {
        mode: options.mode,
        backend: options.backend,
        checkpointIntervalMs: options.checkpointIntervalMs,
        checkpointTimeoutMs: options.checkpointTimeoutMs,
        maxConcurrentCheckpoints: options.maxConcurrentCheckpoints,
        maxRestarts: options.maxRestarts,
      },
      checkpointEvents: [],
      failovers: [],
      lostMessages: [],
      barrierEvents: [],
      forwardedBarriers: [],
      checkpoints: [],
      alignment: [],
      faults: [],
      faultsNotReached: [],
      restores: [],
      recordsEmitted: 0,
      backpressureEncounters: 0,
      outcome: 'stuck',
      failureReason: '',
      steps: 0,
      virtualTimeMs: 0,
      traceHash: '',
      lastFaultStep: -1,
      sourcePositions: [],
      connectorEvents: [],
      taskVertices: this.tasks.map((task) => ({ vertex: spec.vertices[task.vertex]!.name, operators: spec.vertices[task.vertex]!.operators.map((op) => op.name) })),
      watermarks: [],
      timerFirings: [],
      sideOutputRecords: {},
    };
    for (const fault of this.faults) {
      if ('task' in fault && (fault.task < 0 || fault.task >= this.tasks.length)) {
        throw new Error(`JobRuntime: fault ${describeFault(fault, this.tasks.map((t) => t.name))} names no task of ${spec.name}`);
      }
    }
    const taskNames = this.observations.taskNames;
    this.coordinator = new CheckpointCoordinator(
      {
        jobName: spec.name,
        taskNames,
        isSource: (task) => this.tasks[task]!.sourceSpec !== undefined,
        isRunning: () => this.status === 'running',
        attempt: () => this.attempt,
        nextSeq: () => this.nextSeq++,
        send: (message) => this.control.push(message),
        onCheckpointCompleted: (checkpointId) => this.onCheckpointCompleted?.(checkpointId),
        onFinished: () => {
          this.status = 'finished';
        },
      },
      options,
      scheduler,
      this.observations,
      this.tasks.length,
    );
    scheduler.attach(this);
    scheduler.beforeStep = (step) => this.injectDueFaults(step);
  }

  /** Runs the job to the end under the scheduler and returns what was observed. */
  async run(): Promise<RunObservations> {
    this.deploy(undefined);
    const stop = await this.scheduler.run();
    const observations = this.observations;
    if (this.status === 'finished') observations.outcome = 'finished';
    else if (this.status === 'failed') observations.outcome = this.hungConnector ? 'stuck' : 'failed';
    else if (stop === 'budget-exhausted') {
      observations.outcome = 'budget-exhausted';
      observations.failureReason = `no end after ${this.scheduler.step} steps (${this.scheduler.nowMs} virtual ms): ${this.describeProgress()}`;
    } else if (observations.outcome !== 'stuck' || observations.failureReason === '') {
      observations.outcome = 'stuck';
      observations.failureReason ||= `nothing left to run but the job did not finish: ${this.describeProgress()}`;
    }
    for (let i = this.faultIndex; i < this.faults.length; i++) {
      observations.faultsNotReached.push(describeFault(this.faults[i]!, observations.taskNames));
    }
    this.coordinator.cancelTimeouts();
    observations.steps = this.scheduler.step;
    observations.virtualTimeMs = this.scheduler.nowMs;
    observations.traceHash = this.scheduler.trace.hashHex;
    for (const channel of this.channels) observations.backpressureEncounters += channel.fullEncounters;
    return observations;
  }

  // ---------------------------------------------------------------- graph

  // ---------------------------------------------------------------- SimWorld

  collectEnabled(out: EnabledEvents): void {
    if (this.status !== 'running') return;
    if (this.busyCount > 0 && this.scheduler.simulated && this.scheduler.pendingIoCount === 0) {
      // Busy with no I/O in flight: its promise can only settle through microtasks. Drain once,
      // and if it is still busy after that, nothing will ever settle it.
      if (!this.drainedForBusyCheck) {
        this.drainedForBusyCheck = true;
        this.scheduler.requestDrain();
        return;
      }
      this.reportHungConnector();
      return;
    }
    this.drainedForBusyCheck = false;
    const control = this.control;
    for (let i = 0; i < control.length; i++) {
      const message = control[i]!;
      if (isForCoordinator(message)) {
        out.add(EVENT_CONTROL | i);
        continue;
      }
      const task = this.tasks[message.task]!;
      if (task.busyWith !== undefined) continue;
      if (message.kind !== 'deploy' && !task.deployed) continue;
      if (message.kind === 'trigger' && !task.sourceEnded && !this.outputsHaveRoom(task)) continue;
      out.add(EVENT_CONTROL | i);
    }
    const tasks = this.tasks;
    for (let t = 0; t < tasks.length; t++) {
      const task = tasks[t]!;
      if (task.source === undefined || task.sourceEnded || task.busyWith !== undefined || !task.deployed || task.waitingForInput) continue;
      if (this.outputsHaveRoom(task)) out.add(EVENT_EMIT | t);
    }
    const channels = this.channels;
    for (let c = 0; c < channels.length; c++) {
      const channel = channels[c]!;
      if (channel.size === 0) continue;
      const task = tasks[channel.toTask]!;
      if (task.busyWith !== undefined || !task.deployed) continue;
      if (task.barriers!.isBlocked(channel.consumerSlot)) continue;
      if (!this.outputsHaveRoom(task)) continue;
      out.add(EVENT_DELIVER | c);
    }
  }

  describe(code: number): string {
    const index = code & EVENT_INDEX_MASK;
    switch (code & ~EVENT_INDEX_MASK) {
      case EVENT_EMIT:
        return `${this.tasks[index]!.name} emits (${describeSourcePosition(this.tasks[index]!.source)})`;
      case EVENT_DELIVER: {
        const channel = this.channels[index]!;
        const element = channel.peek();
        const what =
          element.kind === ElementKind.Record
            ? `record ${JSON.stringify(element.value)}${element.timestampMs === undefined ? '' : ` @${element.timestampMs}`}`
            : element.kind === ElementKind.Barrier
              ? `barrier ${element.checkpointId}`
              : element.kind === ElementKind.Watermark
                ? `watermark ${element.timestampMs}`
                : element.kind === ElementKind.WatermarkStatus
                  ? `status ${element.idle ? 'idle' : 'active'}`
                  : 'end of input';
        return `${this.tasks[channel.toTask]!.name} takes ${what} from ${this.tasks[channel.fromTask]!.name}`;
      }
      case EVENT_CONTROL: {
        const message = this.control[index]!;
        const toCoordinator = isForCoordinator(message);
        const target = toCoordinator ? 'coordinator' : this.tasks[message.task]!.name;
        const id = 'checkpointId' in message ? ` ${message.checkpointId}` : '';
        const from = toCoordinator ? ` from ${this.tasks[message.task]!.name}` : '';
        return `${target} receives ${message.kind}${id}${from}`;
      }
      default:
        return `event ${code}`;
    }
  }

  execute(code: number): void {
    const index = code & EVENT_INDEX_MASK;
    const kind = code & ~EVENT_INDEX_MASK;
    let task: Task | undefined;
    try {
      if (kind === EVENT_EMIT) {
        task = this.tasks[index]!;
        this.emit(task);
      } else if (kind === EVENT_DELIVER) {
        const channel = this.channels[index]!;
        task = this.tasks[channel.toTask]!;
        this.deliver(task, channel);
      } else if (kind === EVENT_CONTROL) {
        const message = this.control.splice(index, 1)[0]!;
        if (!isForCoordinator(message)) task = this.tasks[message.task];
        this.deliverControl(message);
      } else {
        throw new RuntimeInvariantError(`unknown event code ${code}`);
      }
    } catch (error) {
      if (error instanceof RuntimeInvariantError || task === undefined) throw error;
      this.failover(`task ${task.name} failed: ${describeError(error)}`);
    }
  }

  // ---------------------------------------------------------------- data path

  private outputsHaveRoom(task: Task): boolean {
    const outputs = task.outputs;
    for (let i = 0; i < outputs.length; i++) {
      if (!outputs[i]!.hasRoom) {
        outputs[i]!.fullEncounters++;
        return false;
      }
    }
    return true;
  }

  private emit(task: Task): void {
    const next = task.source!.pollNext();
    if (next === NOTHING_AVAILABLE) return this.onNothingAvailable(task);
    if (next === END_OF_INPUT) {
      task.sourceEnded = true;
      this.observations.sourcePositions.push({ kind: 'end', attempt: this.attempt, task: task.index, step: this.scheduler.step, checkpointId: undefined, position: task.source!.currentPosition() });
      // The end of input implies MAX_WATERMARK downstream; no watermark element precedes it.
      if (task.eventTime) this.observeWatermark(task, MAX_WATERMARK, false);
      this.endTask(task);
      return;
    }
    this.observations.recordsEmitted++;
    const generator = task.sourceGenerator;
    if (generator === undefined) {
      this.process(task, 1, undefined, next, undefined, 0);
      return;
    }
    const nowMs = this.scheduler.nowMs;
    task.lastRecordAtMs = nowMs;
    if (task.idle) this.setSourceIdle(task, false);
    this.process(task, 1, undefined, next, generator.stamp(next, nowMs), 0);
    this.emitDueWatermark(task, generator);
  }

  /** No record now: poll again after a delay; a source with an idleness timeout goes idle after it. */
  private onNothingAvailable(task: Task): void {
    task.waitingForInput = true;
    const attempt = this.attempt;
    this.scheduler.setTimer(this.options.sourcePollDelayMs, `${task.name} polls again`, () => {
      if (attempt === this.attempt) task.waitingForInput = false;
    });
    const generator = task.sourceGenerator;
    if (generator === undefined) return;
    this.emitDueWatermark(task, generator);
    const idleTimeoutMs = generator.strategy.idleTimeoutMs;
    if (idleTimeoutMs !== undefined && !task.idle && !this.options.sourceNeverIdles && this.scheduler.nowMs - task.lastRecordAtMs >= idleTimeoutMs) {
      this.setSourceIdle(task, true);
    }
  }

  private setSourceIdle(task: Task, idle: boolean): void {
    this.pushToOutputs(task, { kind: ElementKind.WatermarkStatus, idle });
    this.observeWatermark(task, task.watermarkMs, idle);
  }

  /** A source's or assigner's generator: forward its watermark if it advanced and the interval passed. */
  private emitDueWatermark(task: Task, generator: WatermarkGenerator): void {
    const watermarkMs = generator.due(this.scheduler.nowMs, this.options.autoWatermarkIntervalMs);
    if (watermarkMs === undefined) return;
    this.pushToOutputs(task, { kind: ElementKind.Watermark, timestampMs: watermarkMs });
    if (task.sourceGenerator === generator) this.observeWatermark(task, watermarkMs, task.idle);
  }

  private observeWatermark(task: Task, watermarkMs: number, idle: boolean): void {
    if (watermarkMs < task.watermarkMs) throw new RuntimeInvariantError(`task ${task.name}: watermark ${watermarkMs} after ${task.watermarkMs}`);
    task.watermarkMs = watermarkMs;
    task.idle = idle;
    this.observations.watermarks.push({ task: task.index, attempt: this.attempt, step: this.scheduler.step, atMs: this.scheduler.nowMs, watermarkMs, idle });
  }

  private deliver(task: Task, channel: Channel): void {
    // takeNext, not take: no element object per record (the channel hands over key and value).
    const kind = channel.takeNext();
    const slot = channel.consumerSlot;
    if (kind === ElementKind.Record) {
      const key = channel.takenKey;
      const value = channel.takenValue;
      const timestampMs = channel.takenTimestamp;
      const unaligned = task.unaligned;
      if (unaligned !== undefined) {
        const position = channel.barrierPositions.get(unaligned.checkpointId);
        // In front of the barrier but taken after the snapshot: channel state.
        if (position === undefined || channel.recordsTaken - 1 < position) unaligned.channelState[slot]!.push(timestampMs === undefined ? { key, value } : { key, value, timestampMs });
        // The last record in front of barrier n taken: from here on only barriers can hold the acknowledgement back.
        if (position !== undefined && channel.recordsTaken === position) this.observeBarrier(task, slot, unaligned.checkpointId, 'drained');
      }
      this.process(task, channel.input, key, value, timestampMs, 0);
      if (unaligned !== undefined) this.whenIdle(task, () => this.completeUnalignedIfReady(task));
      return;
    }
    if (kind === ElementKind.Watermark || kind === ElementKind.WatermarkStatus) {
      const valve = task.valve!;
      const changed = kind === ElementKind.Watermark ? valve.onWatermark(slot, channel.takenValue as number) : valve.onStatus(slot, channel.takenValue as boolean);
      if (changed) this.onValveChanged(task, true);
      return;
    }
    const barriers = task.barriers!;
    const barrierId = kind === ElementKind.Barrier ? (channel.takenValue as number) : 0;
    const decision = kind === ElementKind.Barrier ? barriers.onBarrier(slot, barrierId) : barriers.onEndOfInput(slot);
    this.observeBarrier(task, slot, barrierId, undefined, decision.completedId);
    if (decision.abortedId !== 0) {
      if (task.unaligned?.checkpointId === decision.abortedId) task.unaligned = undefined;
      this.sendDecline(task, decision.abortedId, `checkpoint ${decision.abortedId} was overtaken by a newer barrier during alignment`);
    }
    if (decision.snapshotId !== 0) this.snapshot(task, decision.snapshotId, 'barrier');
    if (this.options.mode === 'unaligned' && decision.completedId !== 0 && task.unaligned?.checkpointId === decision.completedId) {
      task.unaligned.barriersComplete = true;
    }
    if (task.unaligned !== undefined) this.whenIdle(task, () => this.completeUnalignedIfReady(task));
    if (kind === ElementKind.EndOfInput) {
      // An ended input counts as MAX_WATERMARK; once all ended, the end of input carries it on (nothing to forward).
      if (task.eventTime && task.valve!.onEndOfInput(slot)) this.whenIdle(task, () => this.onValveChanged(task, !barriers.allInputsEnded));
      if (barriers.allInputsEnded) this.whenIdle(task, () => this.endTask(task));
    }
  }

  /**
   * The task's watermark or idleness over its inputs changed: fire the keyed operators' due
   * event-time timers, then forward the watermark (or the status) to every output, unless an
   * assigner in the chain generates the watermarks from here on.
   */
  private onValveChanged(task: Task, forward: boolean): void {
    const valve = task.valve!;
    const advanced = valve.watermarkMs > task.watermarkMs;
    const idleChanged = valve.idle !== task.idle;
    this.observeWatermark(task, valve.watermarkMs, valve.idle);
    const generates = task.operators.some((operator) => operator.generator !== undefined);
    if (forward && idleChanged && !generates) this.pushToOutputs(task, { kind: ElementKind.WatermarkStatus, idle: valve.idle });
    if (!advanced) return;
    const watermarkMs = valve.watermarkMs;
    const forwardWatermark = (): void => {
      if (forward && !generates) this.pushToOutputs(task, { kind: ElementKind.Watermark, timestampMs: watermarkMs });
    };
    const keyed = task.operators[0]?.process;
    if (keyed === undefined) return forwardWatermark();
    const result = keyed.advanceWatermark(watermarkMs);
    if (result !== undefined) this.awaitOrQueue(task, result, `${keyed.name}.onTimer`, forwardWatermark);
    else if (task.busyWith !== undefined) task.continuations.push(forwardWatermark); // behind the records the timers emitted into a busy sink
    else forwardWatermark();
  }

  /** Processing time reached a timer of the task's process function: fire what is due (a step of its own). */
  private onProcessingTimer(task: Task): void {
    const keyed = task.operators[0]?.process;
    if (keyed === undefined || task.finished || task.sourceEnded || task.barriers?.allInputsEnded === true) return;
    const result = keyed.advanceProcessingTime(this.scheduler.nowMs);
    if (result !== undefined) this.awaitOrQueue(task, result, `${keyed.name}.onTimer`, undefined);
  }

  private observeBarrier(task: Task, slot: number, checkpointId: number, kind?: 'drained', completedId = 0): void {
    const blockedSlots: number[] = [];
    for (let s = 0; s < task.inputs.length; s++) if (task.barriers!.isBlocked(s)) blockedSlots.push(s);
    this.observations.barrierEvents.push({
      task: task.index,
      attempt: this.attempt,
      inputSlot: slot,
      checkpointId,
      atStep: this.scheduler.step,
      atMs: this.scheduler.nowMs,
      blockedSlots,
      ...(kind === undefined ? {} : { kind }),
      ...(completedId === 0 ? {} : { completedId }),
    });
  }

  /**
   * Runs a record through the task's operator chain from operator `from`, then out on the
   * main output. A process function's output continues through the rest of the chain from
   * its collector (`emitFrom`).
   */
  private process(task: Task, input: 1 | 2, key: Key | undefined, record: unknown, timestampMs: number | undefined, from: number): void {
    let value = record;
    let timestamp = timestampMs;
    let generator: WatermarkGenerator | undefined;
    const operators = task.operators;
    for (let i = from; i < operators.length; i++) {
      const operator = operators[i]!;
      const spec = operator.spec;
      if (spec.kind === 'map') {
        value = spec.fn(value);
      } else if (spec.kind === 'aggregate') {
        if (key === undefined) throw new RuntimeInvariantError(`aggregate ${spec.name} got a record without a key`);
        const accumulator = spec.fn(operator.keyed!.get(key), value, key);
        operator.keyed!.set(key, accumulator);
        value = { key, value: accumulator };
      } else if (spec.kind === 'filter') {
        if (!spec.fn(value)) return;
      } else if (spec.kind === 'process' || spec.kind === 'co-process') {
        if (key === undefined) throw new RuntimeInvariantError(`process function ${spec.name} got a record without a key`);
        const result = operator.process!.processElement(input, key, value, timestamp);
        if (result !== undefined) this.awaitOrQueue(task, result, `${spec.name}.processElement`, undefined);
        return;
      } else if (spec.kind === 'timestamps') {
        generator = operator.generator!;
        timestamp = generator.stamp(value, this.scheduler.nowMs);
      } else {
        if (task.busyWith !== undefined) {
          // A function emitted several records (or timers fired several) while the sink still writes an earlier one: this one waits its turn, in order.
          const queued = value;
          const queuedTimestamp = timestamp;
          task.continuations.push(() => this.process(task, input, key, queued, queuedTimestamp, i));
          return;
        }
        const result = operator.writer!.write(value);
        if (isPromise(result)) this.awaitConnector(task, result, `${spec.name}.write`, undefined);
        return;
      }
    }
    this.route(task.mainOutputs, value, timestamp);
    if (generator !== undefined) this.emitDueWatermark(task, generator);
  }

  /** Records to one output's edges: hashed by key, or forward. */
  private route(groups: readonly OutputGroup[], value: unknown, timestampMs: number | undefined): void {
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g]!;
      const selector = group.keySelector;
      if (selector === undefined) {
        group.channels[0]!.pushRecord(undefined, value, timestampMs);
      } else {
        const key = selector(value);
        group.channels[partitionOf(key, group.channels.length)]!.pushRecord(key, value, timestampMs);
      }
    }
  }

  private pushToOutputs(task: Task, element: StreamElement): void {
    for (const output of task.outputs) output.push(element);
  }

  /** All input consumed: flush the sinks, pass end-of-input on, tell the coordinator. */
  private endTask(task: Task): void {
    if (task.finished) throw new RuntimeInvariantError(`task ${task.name} ended twice`);
    const finishes: Promise<unknown>[] = [];
    for (const operator of task.operators) {
      const result = operator.writer?.finish?.();
      if (isPromise(result)) finishes.push(result);
    }
    const complete = (): void => {
      task.finished = true;
      this.pushToOutputs(task, END_OF_INPUT_ELEMENT);
      this.control.push({ kind: 'input-ended', task: task.index });
    };
    if (finishes.length === 0) complete();
    else this.awaitConnector(task, Promise.all(finishes), 'finish', complete);
  }

  // ---------------------------------------------------------------- snapshots

  private snapshot(task: Task, checkpointId: number, trigger: 'barrier' | 'trigger'): void {
    if (checkpointId <= task.lastSnapshotId) throw new RuntimeInvariantError(`task ${task.name} asked to snapshot ${checkpointId} after ${task.lastSnapshotId}`);
    task.lastSnapshotId = checkpointId;
    // A snapshot on a direct trigger ends the task's wait for barrier n. One at a barrier does
    // not: aligned modes snapshot once every barrier n arrived, and an unaligned snapshot at
    // the first barrier still waits for barrier n on every other live input (Flink's
    // unaligned handler acknowledges only then).
    if (trigger === 'trigger' || this.options.dropBarriersAfterUnalignedSnapshot) task.barriers?.markHandled(checkpointId);
    if (task.declineNext) {
      task.declineNext = false;
      this.sendDecline(task, checkpointId, 'the task declined the checkpoint (fault plan)');
      if (!task.finished && !task.sourceEnded) this.forwardBarrier(task, checkpointId);
      return;
    }
    const alignment: AlignmentObservation[] = [];
    const unaligned = trigger === 'barrier' && this.options.mode === 'unaligned';
    if (trigger === 'barrier' && !unaligned && !this.options.omitAlignmentObservations) {
      task.inputs.forEach((channel, inputSlot) => {
        const recordsBeforeBarrier = channel.barrierPositions.get(checkpointId);
        if (recordsBeforeBarrier === undefined) return; // the input ended before barrier n
        alignment.push({ checkpointId, task: task.index, inputSlot, recordsBeforeBarrier, recordsTakenAtSnapshot: channel.recordsTaken, recordsInChannelState: 0 });
      });
    }
    if (unaligned) {
      task.unaligned = {
        checkpointId,
        snapshot: undefined,
        channelState: task.inputs.map(() => []),
        takenAtSnapshot: task.inputs.map((channel) => channel.recordsTaken),
        barriersComplete: false,
      };
    }
    const context = { checkpointId };
    const pendingSnapshots: Promise<unknown>[] = [];
    for (const fn of this.checkpointedFunctions(task)) {
      const result = fn.snapshotState(context);
      if (isPromise(result)) pendingSnapshots.push(result);
    }
    const complete = (): void => {
      const snapshot = this.subtaskSnapshot(task);
      if (!task.finished && !task.sourceEnded) this.forwardBarrier(task, checkpointId);
      if (unaligned) {
        if (task.unaligned?.checkpointId !== checkpointId) return; // aborted meanwhile
        task.unaligned.snapshot = snapshot;
        this.completeUnalignedIfReady(task);
        return;
      }
      this.control.push({ kind: 'ack', checkpointId, task: task.index, snapshot, alignment, cause: trigger });
    };
    if (pendingSnapshots.length === 0) complete();
    else this.awaitConnector(task, Promise.all(pendingSnapshots), `snapshotState(${checkpointId})`, complete);
  }

  /** Operator and keyed state, the process functions' keyed state and timers, and a source's position. */
  private subtaskSnapshot(task: Task): SubtaskSnapshot {
    let snapshot: SubtaskSnapshot = task.state.snapshot();
    const keyed = task.operators[0]?.process;
    if (keyed !== undefined) {
      const keyedState: KeyedStateEntries = { ...snapshot.keyedState } as KeyedStateEntries;
      const timers: TimerSnapshot[] | undefined = this.options.timersLeftOutOfSnapshot ? undefined : [];
      keyed.snapshotInto(keyedState, timers);
      snapshot = { ...snapshot, keyedState, ...(timers === undefined || timers.length === 0 ? {} : { timers }) };
    }
    if (task.source !== undefined) snapshot = { ...snapshot, sourcePosition: task.source.currentPosition() };
    return snapshot;
  }

  /** Aligned modes queue the barrier behind the data; unaligned lets it overtake what is in flight. */
  private forwardBarrier(task: Task, checkpointId: number): void {
    const barrier = { kind: ElementKind.Barrier, checkpointId } as const;
    if (this.options.mode === 'unaligned' && !this.options.unalignedBarriersQueueBehindData) for (const output of task.outputs) output.pushFront(barrier);
    else this.pushToOutputs(task, barrier);
    for (const output of task.outputs) {
      const around = output.recordsAheadOf(checkpointId);
      if (around === undefined) throw new RuntimeInvariantError(`task ${task.name}: barrier ${checkpointId} not in channel ${output.index} right after it was forwarded`);
      this.observations.forwardedBarriers.push({ task: task.index, channel: output.index, checkpointId, atStep: this.scheduler.step, recordsAhead: around.ahead, recordsQueued: around.queued });
    }
  }

  /** Unaligned: acknowledge once every input delivered the barrier and everything in front of it was taken. */
  private completeUnalignedIfReady(task: Task): void {
    const unaligned = task.unaligned;
    if (unaligned === undefined || unaligned.snapshot === undefined || !unaligned.barriersComplete) return;
    const alignment: AlignmentObservation[] = [];
    for (let slot = 0; slot < task.inputs.length; slot++) {
      const channel = task.inputs[slot]!;
      const position = channel.barrierPositions.get(unaligned.checkpointId);
      if (position === undefined) {
        if (!channel.ended) throw new RuntimeInvariantError(`task ${task.name}: barrier ${unaligned.checkpointId} complete but input ${slot} never delivered it`);
        continue;
      }
      if (channel.recordsTaken < position) return; // overtaken records still in the channel
      if (!this.options.omitAlignmentObservations) alignment.push({
        checkpointId: unaligned.checkpointId,
        task: task.index,
        inputSlot: slot,
        recordsBeforeBarrier: position,
        recordsTakenAtSnapshot: unaligned.takenAtSnapshot[slot]!,
        recordsInChannelState: unaligned.channelState[slot]!.length,
      });
    }
    task.unaligned = undefined;
    const snapshot: SubtaskSnapshot = { ...unaligned.snapshot, channelState: this.options.restoreChannelState ? unaligned.channelState : [] };
    this.control.push({ kind: 'ack', checkpointId: unaligned.checkpointId, task: task.index, snapshot, alignment, cause: 'barrier' });
  }

  private checkpointedFunctions(task: Task): CheckpointedFunction[] {
    const functions: CheckpointedFunction[] = [];
    if (task.source !== undefined) functions.push(task.source);
    for (const operator of task.operators) {
      const writer = operator.writer;
      if (writer?.snapshotState !== undefined && writer.initializeState !== undefined) functions.push(writer as CheckpointedFunction);
    }
    return functions;
  }

  private listeners(task: Task): Partial<CheckpointListener>[] {
    const listeners: Partial<CheckpointListener>[] = [];
    if (task.source !== undefined) listeners.push(task.source);
    for (const operator of task.operators) if (operator.writer !== undefined) listeners.push(operator.writer);
    return listeners;
  }

  private sendDecline(task: Task, checkpointId: number, reason: string): void {
    this.control.push({ kind: 'decline', checkpointId, task: task.index, reason });
  }

  // ---------------------------------------------------------------- connector promises

  private awaitConnector(task: Task, promise: Promise<unknown>, label: string, then: (() => void) | undefined): void {
    if (task.busyWith !== undefined) throw new RuntimeInvariantError(`task ${task.name} is already waiting on ${task.busyWith}`);
    task.busyWith = label;
    this.busyCount++;
    const attempt = this.attempt;
    promise.then(
      () => {
        if (attempt !== this.attempt || this.status !== 'running') return;
        this.clearBusy(task);
        try {
          then?.();
          while (task.busyWith === undefined && task.continuations.length > 0 && attempt === this.attempt) task.continuations.shift()!();
        } catch (error) {
          if (error instanceof RuntimeInvariantError) throw error;
          this.failover(`task ${task.name} failed: ${describeError(error)}`);
        }
      },
      (error: unknown) => {
        if (attempt !== this.attempt || this.status !== 'running') return;
        this.clearBusy(task);
        this.failover(`task ${task.name} failed in ${label}: ${describeError(error)}`);
      },
    );
  }

  /**
   * A user function's promise: the task is busy until it settles. If the task is already busy
   * (the function emitted into a sink that is still writing), it waits on the promise after that.
   */
  private awaitOrQueue(task: Task, promise: Promise<void>, label: string, then: (() => void) | undefined): void {
    if (task.busyWith === undefined) return this.awaitConnector(task, promise, label, then);
    promise.catch(() => {}); // judged when its turn comes; not an unhandled rejection meanwhile
    task.continuations.push(() => this.awaitConnector(task, promise, label, then));
  }

  private clearBusy(task: Task): void {
    task.busyWith = undefined;
    this.busyCount--;
  }

  /** Runs `then` now, or once the task's current connector call settles. */
  private whenIdle(task: Task, then: () => void): void {
    if (task.busyWith === undefined) then();
    else task.continuations.push(then);
  }

  private reportHungConnector(): void {
    const hung = this.tasks.filter((task) => task.busyWith !== undefined);
    this.observations.outcome = 'stuck';
    this.observations.failureReason = hung
      .map((task) => `connector hung: task ${task.name} waits on ${task.busyWith}, a promise no simulated I/O will settle (a real client, a real timer, or a promise that never resolves?)`)
      .join('; ');
    this.status = 'failed';
    this.hungConnector = true;
    this.scheduler.stop();
  }

  private hungConnector = false;
  /** A drain was already spent on the check for connectors busy without I/O. */
  private drainedForBusyCheck = false;

  // ---------------------------------------------------------------- control messages

  private deliverControl(message: ControlMessage): void {
    switch (message.kind) {
      case 'trigger': {
        const task = this.tasks[message.task]!;
        if (message.checkpointId <= task.lastSnapshotId) return; // already snapshotted through its barriers
        if (task.source !== undefined || task.barriers?.allInputsEnded === true) this.snapshot(task, message.checkpointId, 'trigger');
        return;
      }
      case 'ack':
        if (this.dropNextAck) {
          this.dropNextAck = false;
          this.observations.lostMessages.push({ seq: this.nextSeq++, kind: 'ack', checkpointId: message.checkpointId, task: message.task, atStep: this.scheduler.step });
          this.scheduler.record(`ack ${message.checkpointId} from ${this.tasks[message.task]!.name} lost (fault plan)`);
          return;
        }
        return this.coordinator.onAck(message.checkpointId, message.task, message.snapshot, message.alignment, message.cause);
      case 'decline':
        return this.coordinator.abortCheckpoint(
          message.checkpointId,
          'declined',
          `Checkpoint ${message.checkpointId} of job ${this.spec.name} declined by task ${this.tasks[message.task]!.name}: ${message.reason}`,
        );
      case 'input-ended':
        return this.coordinator.onInputEnded(message.task);
      case 'deploy': {
        const task = this.tasks[message.task]!;
        task.deployed = true;
        return this.initializeTask(task, message.checkpointId);
      }
      case 'notify-complete': {
        const task = this.tasks[message.task]!;
        const calls: Promise<unknown>[] = [];
        for (const listener of this.listeners(task)) {
          const result = listener.notifyCheckpointComplete?.(message.checkpointId);
          if (isPromise(result)) calls.push(result);
        }
        const done = (): void => this.coordinator.onNotifyDelivered(message.checkpointId, task.index);
        if (calls.length === 0) done();
        else this.awaitConnector(task, Promise.all(calls), `notifyCheckpointComplete(${message.checkpointId})`, done);
        return;
      }
      case 'notify-aborted': {
        const task = this.tasks[message.task]!;
        if (task.barriers !== undefined) {
          task.barriers.onCheckpointAborted(message.checkpointId);
          this.observeBarrier(task, -1, message.checkpointId);
        }
        if (task.unaligned?.checkpointId === message.checkpointId) task.unaligned = undefined;
        const calls: Promise<unknown>[] = [];
        for (const listener of this.listeners(task)) {
          const result = listener.notifyCheckpointAborted?.(message.checkpointId);
          if (isPromise(result)) calls.push(result);
        }
        if (calls.length > 0) this.awaitConnector(task, Promise.all(calls), `notifyCheckpointAborted(${message.checkpointId})`, undefined);
        return;
      }
    }
  }

  // ---------------------------------------------------------------- failover and restore

  private deploy(checkpoint: CompletedCheckpoint | undefined): void {
    this.attempt++;
    this.status = 'running';
    this.coordinator.startAttempt();
    this.observations.restores.push({ seq: this.nextSeq++, atStep: this.scheduler.step, atMs: this.scheduler.nowMs, attempt: this.attempt, checkpointId: checkpoint?.checkpointId });
    this.scheduler.record(
      checkpoint === undefined ? `deploy attempt ${this.attempt} from scratch` : `deploy attempt ${this.attempt} from checkpoint ${checkpoint.checkpointId}`,
    );
    for (const channel of this.channels) channel.reset();
    for (const task of this.tasks) {
      task.state = new SubtaskState();
      const snapshot = checkpoint?.tasks[task.index];
      if (snapshot !== undefined) task.state.restore(snapshot);
      task.restored = snapshot;
      task.barriers = task.inputs.length > 0 ? new BarrierHandler(this.options.mode, task.inputs.length, { holdInputsWhenUnaligned: this.options.unalignedHoldsInputs }) : undefined;
      // Watermarks are not part of a snapshot: every attempt starts at MIN_WATERMARK.
      task.valve = task.inputs.length > 0 ? new WatermarkValve(task.inputs.length, this.options.watermarkAsMaxOfInputs) : undefined;
      task.watermarkMs = MIN_WATERMARK;
      task.idle = false;
      task.waitingForInput = false;
      task.lastRecordAtMs = this.scheduler.nowMs;
      const strategy = task.sourceSpec?.watermarks;
      task.sourceGenerator = strategy === undefined ? undefined : new WatermarkGenerator(strategy);
      task.busyWith = undefined;
      task.sourceEnded = false;
      task.finished = false;
      task.declineNext = false;
      task.lastSnapshotId = 0;
      task.continuations.length = 0;
      task.unaligned = undefined;
      snapshot?.channelState?.forEach((records, slot) => {
        task.inputs[slot]!.replayInFlight(records.map((record) => ({ kind: ElementKind.Record, key: record.key, value: record.value, timestampMs: record.timestampMs })));
      });
      const info = { subtaskIndex: task.subtaskIndex, parallelism: task.parallelism };
      try {
        const sourceSpec = task.sourceSpec;
        task.source = sourceSpec === undefined ? undefined : this.createConnector(sourceSpec.name, () => sourceSpec.create(info));
        for (const operator of task.operators) {
          const spec = operator.spec;
          operator.writer = spec.kind === 'sink' ? this.createConnector(spec.name, () => spec.create(info)) : undefined;
          operator.keyed = spec.kind === 'aggregate' ? task.state.keyedState(spec.name) : undefined;
          operator.generator = spec.kind === 'timestamps' ? new WatermarkGenerator(spec.strategy) : undefined;
          operator.process = undefined; // created (and opened) when the deploy message reaches the task
        }
      } catch (error) {
        if (error instanceof RuntimeInvariantError) throw error;
        // A connector factory that throws is a task failure like any other: fail over (and fail the job once the budget is spent).
        this.failover(`task ${task.name} failed: ${describeError(error)}`);
        return;
      }
    }
    this.busyCount = 0;
    // Tasks are deployed one message at a time, so a fault can hit a half-deployed job.
    for (const task of this.tasks) {
      task.deployed = false;
      this.control.push({ kind: 'deploy', task: task.index, checkpointId: checkpoint?.checkpointId });
    }
    this.coordinator.schedulePeriodicTrigger();
  }

  /** Calls a connector factory; a factory that returns nothing usable is named in the error. */
  private createConnector<C>(name: string, create: () => C): C {
    let connector: C;
    try {
      connector = create();
    } catch (error) {
      throw new Error(`creating connector '${name}' threw: ${describeError(error)}`);
    }
    if (connector === null || typeof connector !== 'object') throw new Error(`creating connector '${name}' returned ${connector === null ? 'null' : typeof connector}, not a connector object`);
    return connector;
  }

  private initializeTask(task: Task, restoredCheckpointId: number | undefined): void {
    const attempt = this.attempt;
    const context: FunctionInitializationContext = {
      isRestored: () => restoredCheckpointId !== undefined,
      restoredCheckpointId,
      getOperatorStateStore: () => task.state,
      subtaskIndex: task.subtaskIndex,
      parallelism: task.parallelism,
      attemptNumber: this.restarts,
      report: (event: ConnectorEvent) => {
        this.observations.connectorEvents.push({ ...event, step: this.scheduler.step, attempt, task: task.index });
      },
    };
    const calls: Promise<unknown>[] = [];
    try {
      this.openProcessFunctions(task);
      if (this.failNextInitialize[task.index] === true) {
        this.failNextInitialize[task.index] = false;
        throw new Error('initializeState threw synchronously (fault plan)');
      }
      for (const fn of this.checkpointedFunctions(task)) {
        const result = fn.initializeState(context);
        if (isPromise(result)) calls.push(result);
      }
    } catch (error) {
      if (error instanceof RuntimeInvariantError) throw error;
      this.failover(`task ${task.name} failed in initializeState: ${describeError(error)}`);
      return;
    }
    const recordStart = (): void => {
      if (task.source === undefined) return;
      this.observations.sourcePositions.push({ kind: 'start', attempt, task: task.index, step: this.scheduler.step, checkpointId: restoredCheckpointId, position: task.source.currentPosition() });
    };
    if (calls.length > 0) this.awaitConnector(task, Promise.all(calls), 'initializeState', recordStart);
    else recordStart();
  }

  /** Creates and opens the task's process functions (fresh or restored), as Flink's operators open at deployment. */
  private openProcessFunctions(task: Task): void {
    const info = { subtaskIndex: task.subtaskIndex, parallelism: task.parallelism };
    const attempt = this.attempt;
    const restored: KeyedOperatorRestore | undefined = task.restored === undefined ? undefined : { keyedState: task.restored.keyedState, timers: task.restored.timers ?? [] };
    for (let i = 0; i < task.operators.length; i++) {
      const operator = task.operators[i]!;
      const spec = operator.spec;
      if (spec.kind !== 'process' && spec.kind !== 'co-process') continue;
      if (i !== 0) throw new RuntimeInvariantError(`process function ${spec.name} is not first in its chain`);
      operator.process = new KeyedProcessOperator(
        spec,
        info,
        {
          currentProcessingTime: () => this.scheduler.nowMs,
          emit: (value, timestampMs) => this.process(task, 1, undefined, value, timestampMs, i + 1),
          emitSide: (tagId, value, timestampMs) => {
            this.observations.sideOutputRecords[tagId] = (this.observations.sideOutputRecords[tagId] ?? 0) + 1;
            const groups = task.sideOutputs.get(tagId);
            if (groups !== undefined) this.route(groups, value, timestampMs);
          },
          onProcessingTimerAdded: (timestampMs) => {
            this.scheduler.setTimer(Math.max(0, timestampMs - this.scheduler.nowMs), `${task.name} processing-time timer ${timestampMs}`, () => {
              if (attempt !== this.attempt || this.status !== 'running') return;
              this.whenIdle(task, () => {
                try {
                  this.onProcessingTimer(task);
                } catch (error) {
                  if (error instanceof RuntimeInvariantError) throw error;
                  this.failover(`task ${task.name} failed: ${describeError(error)}`);
                }
              });
            });
          },
          onTimerFired: (key, timestampMs, domain) => {
            this.observations.timerFirings.push({ task: task.index, attempt, operator: spec.name, key, timestampMs, domain, step: this.scheduler.step, atMs: this.scheduler.nowMs });
          },
        },
        restored,
      );
    }
  }

  /** A task failed: cancel everything, and restart every task from the chosen checkpoint after a delay. */
  private failover(cause: string): void {
    if (this.status === 'finished' || this.status === 'failed') return;
    this.observations.failovers.push({ seq: this.nextSeq++, atStep: this.scheduler.step, atMs: this.scheduler.nowMs, cause });
    this.scheduler.record(`failover: ${cause}`);
    this.attempt++; // invalidates every continuation and timer of the failed attempt
    this.status = 'restarting';
    this.coordinator.stopPeriodicTrigger();
    this.cancelRestart?.();
    this.coordinator.abortAllPending(cause);
    this.control.length = 0;
    // Requests already sent reach their servers; their answers reach nobody.
    this.scheduler.settleAllIo('apply');
    for (const task of this.tasks) {
      task.busyWith = undefined;
      task.continuations.length = 0;
    }
    this.busyCount = 0;
    this.restarts++;
    if (this.restarts > this.options.maxRestarts) {
      this.status = 'failed';
      this.observations.failureReason = `job failed after ${this.options.maxRestarts} restarts; last failure: ${cause}`;
      this.scheduler.stop();
      return;
    }
    this.cancelRestart = this.scheduler.setTimer(this.options.restartDelayMs, 'restart', () => {
      this.cancelRestart = undefined;
      this.deploy(this.coordinator.checkpointToRestore());
    });
  }

  /** Tasks whose next initializeState throws (fault plan); survives failovers until it fires. */
  private readonly failNextInitialize: boolean[] = [];

  // ---------------------------------------------------------------- faults

  private injectDueFaults(step: number): void {
    while (this.faultIndex < this.faults.length && this.faults[this.faultIndex]!.atStep <= step) {
      const fault = this.faults[this.faultIndex++]!;
      if (this.status === 'finished' || this.status === 'failed') {
        this.observations.faultsNotReached.push(describeFault(fault, this.observations.taskNames));
        continue;
      }
      this.inject(fault, step);
    }
  }

  private inject(fault: Fault, step: number): void {
    const description = describeFault(fault, this.observations.taskNames);
    const situation = this.situation();
    this.observations.faults.push({
      seq: this.nextSeq++,
      atStep: step,
      atMs: this.scheduler.nowMs,
      pendingCheckpoints: [...this.coordinator.pending.keys()].sort((a, b) => a - b),
      jobRunning: this.status === 'running',
      kind: fault.kind,
      description,
      situation,
    });
    this.observations.lastFaultStep = step;
    this.scheduler.record(`fault: ${description} (${situation})`);
    switch (fault.kind) {
      case 'crash-task':
        return this.failover(`task ${this.tasks[fault.task]!.name} crashed (fault plan)`);
      case 'crash-job':
        if (!this.options.memoryCheckpointsSurviveJobCrash) this.coordinator.store.onCoordinatorCrash();
        return this.failover('the job crashed, coordinator included (fault plan)');
      case 'expire-checkpoint':
        return this.coordinator.expireOldest();
      case 'decline-checkpoint':
        this.tasks[fault.task]!.declineNext = true;
        return;
      case 'drop-ack':
        this.dropNextAck = true;
        return;
      case 'fail-initialize':
        this.failNextInitialize[fault.task] = true;
        return;
      case 'drop-notify': {
        const index = this.control.findIndex((message) => message.kind === 'notify-complete');
        if (index >= 0) {
          const lost = this.control.splice(index, 1)[0] as Extract<ControlMessage, { kind: 'notify-complete' }>;
          this.observations.lostMessages.push({ seq: this.nextSeq++, kind: 'notify-complete', checkpointId: lost.checkpointId, task: lost.task, atStep: step });
        } else this.coordinator.dropNextNotify = true;
        return;
      }
      case 'fail-commit':
        return this.environmentHook('failNextCommits', description)(fault.times);
      case 'fail-abort':
        return this.environmentHook('failNextAborts', description)(fault.times);
      case 'expire-transactions':
        return this.environmentHook('expireTransactions', description)();
      case 'cut-connections':
        return this.environmentHook('cutConnections', description)();
      case 'fail-call':
        return this.environmentHook('failNextCalls', description)(fault.times);
      case 'lose-reply':
        return this.environmentHook('loseNextReplies', description)(fault.times);
      case 'timeout-call':
        return this.environmentHook('timeOutNextCalls', description)(fault.times);
    }
  }

  /** The scenario's hook for an external-system fault; a plan naming a fault the scenario cannot inject is bad input. */
  private environmentHook<K extends keyof EnvironmentFaultHooks>(name: K, description: string): NonNullable<EnvironmentFaultHooks[K]> {
    const hook = this.environmentHooks[name];
    if (hook === undefined) throw new Error(`fault plan: '${description}' cannot be injected into ${this.spec.name}: its environment has no ${name}`);
    return hook.bind(this.environmentHooks) as NonNullable<EnvironmentFaultHooks[K]>;
  }

  /** The fault-injection point: what the job was doing when a fault fired. */
  private situation(): FaultSituation {
    if (this.status === 'restarting') return 'during-recovery';
    if (this.tasks.some((task) => !task.deployed)) return 'during-recovery';
    if (this.tasks.some((task) => task.busyWith === 'initializeState')) return 'during-recovery';
    if (this.control.some((message) => message.kind === 'notify-complete')) return 'completed-before-notify';
    if (this.coordinator.pending.size > 0) {
      if (this.tasks.some((task) => (task.barriers?.aligningCheckpointId ?? 0) !== 0)) return 'during-alignment';
      if ([...this.coordinator.pending.values()].some((pending) => pending.ackCount > 0)) return 'checkpoint-partially-acked';
      return 'checkpoint-triggered';
    }
    if (this.tasks.some((task) => task.sourceEnded)) return 'after-end-of-input';
    return 'between-checkpoints';
  }

  private describeProgress(): string {
    const ended = this.tasks.filter((task) => task.finished).length;
    const inFlight = this.channels.reduce((sum, channel) => sum + channel.size, 0);
    const completed = this.observations.checkpoints.filter((c) => c.outcome === 'completed').length;
    return `status ${this.status}, ${ended}/${this.tasks.length} tasks ended, ${inFlight} elements in flight, ${completed} checkpoints completed, ${this.coordinator.pending.size} pending`;
  }
}

/** The situations a fault can fire in: the fault-injection points, as reports count them. */
export const FAULT_SITUATIONS = [
  'between-checkpoints',
  'checkpoint-triggered',
  'during-alignment',
  'checkpoint-partially-acked',
  'completed-before-notify',
  'during-recovery',
  'after-end-of-input',
] as const;
export type FaultSituation = (typeof FAULT_SITUATIONS)[number];

export function describeFault(fault: Fault, taskNames: readonly string[]): string {
  switch (fault.kind) {
    case 'crash-task':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} crashes at step ${fault.atStep}`;
    case 'crash-job':
      return `the whole job (coordinator included) crashes at step ${fault.atStep}`;
    case 'expire-checkpoint':
      return `the oldest pending checkpoint times out at step ${fault.atStep}`;
    case 'decline-checkpoint':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} declines its next checkpoint (armed at step ${fault.atStep})`;
    case 'drop-notify':
      return `the next notify-complete message is lost (at step ${fault.atStep})`;
    case 'fail-commit':
      return `the next ${fault.times} transaction commit${fault.times === 1 ? '' : 's'} fail (armed at step ${fault.atStep})`;
    case 'expire-transactions':
      return `the broker times out every open transaction at step ${fault.atStep}`;
    case 'fail-abort':
      return `the next ${fault.times} transaction abort${fault.times === 1 ? '' : 's'} fail (armed at step ${fault.atStep})`;
    case 'cut-connections':
      return `every connection to the external systems is cut at step ${fault.atStep}`;
    case 'drop-ack':
      return `the next acknowledgement to the coordinator is lost (at step ${fault.atStep})`;
    case 'fail-initialize':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} throws from initializeState on its next deployment (armed at step ${fault.atStep})`;
    case 'fail-call':
      return `the next ${fault.times} call${fault.times === 1 ? '' : 's'} to an external system fail before reaching it (armed at step ${fault.atStep})`;
    case 'lose-reply':
      return `the next ${fault.times} call${fault.times === 1 ? '' : 's'} to an external system ${fault.times === 1 ? 'is' : 'are'} applied but the reply is lost (armed at step ${fault.atStep})`;
    case 'timeout-call':
      return `the next ${fault.times} call${fault.times === 1 ? '' : 's'} to an external system time out unapplied (armed at step ${fault.atStep})`;
  }
}
