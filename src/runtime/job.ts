import type { SourceReader } from '../connectors/api.ts';
import type { EnabledEvents, SimWorld, StepDriver, StepOption } from '../sim/scheduler.ts';
import type { CheckpointingMode } from './barrier-handler.ts';
import { Channel, ElementKind } from './channel.ts';
import { CheckpointCoordinator, isForCoordinator, type ControlMessage } from './checkpoint-coordinator.ts';
import type { Fault, FaultPlan } from './faults.ts';
import { pipelineToJobGraph, type JobGraphSpec } from './job-graph.ts';
import type { RunObservations } from './observations.ts';
import type { PipelineSpec } from './pipeline.ts';
import type { CompletedCheckpoint, StateBackendKind } from './state.ts';
import { StreamTasks } from './stream-tasks.ts';
import { buildTasks, type FlowControlBuffers, type Task } from './task.ts';
import { describeError, RuntimeInvariantError } from './errors.ts';
import { MAX_PARALLELISM } from './job-graph.ts';
import { checkMaxParallelism, DEFAULT_MAX_PARALLELISM } from './key-groups.ts';
import { redistributeCheckpoint, rescalableVertexOf, withParallelism, type RescalableVertex } from './rescale.ts';
import { evenSplitShare, reassignSplits, rescalableSourceOf, type SourceRescalability } from './split-reassignment.ts';
import { OWNED_SPLITS_STATE, snapshotOfSplits, splitStatesOfSnapshot } from './split-owning-reader.ts';

import { ExecutionIds, jobIdOf } from './execution-ids.ts';
import { FlowMetrics, TaskActivity } from './flow-metrics.ts';
import { describeSituation, ordinalTimes, TransactionSituationTracker, type FaultSituation, type PlacementSituation } from './situations.ts';

export { FAULT_SITUATIONS, type FaultSituation } from './situations.ts';
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
  /**
   * Credit-based flow control (Flink's network buffers; a buffer is one element slot): the
   * buffers a receiver keeps for each input channel alone (absent: 2, Flink's
   * taskmanager.network.memory.buffers-per-channel).
   */
  readonly exclusiveBuffersPerChannel?: number;
  /** Buffers each input gate lends to its channels with data waiting, shared (absent: 8, Flink's floating-buffers-per-gate). */
  readonly floatingBuffersPerGate?: number;
  /** Buffers a subtask's output pool holds per output channel, for what waits for credit (absent: 1; 0: a record is written only with credit on every output). */
  readonly outputBuffersPerChannel?: number;
  /**
   * Bounded queues of this many elements per channel, the runtime before credit-based flow
   * control, as a special case of it: this many exclusive buffers, no floating buffers, no
   * output pool. Not together with the three settings above.
   */
  readonly channelCapacity?: number;
  /** Planted bug: a sender sends whether or not the receiver has a buffer for it (no credit). */
  readonly sendsWithoutCredit?: boolean;
  /**
   * Aligned mode: virtual ms an alignment may take at a task before the task switches that
   * checkpoint to unaligned (Flink's execution.checkpointing.aligned-checkpoint-timeout);
   * undefined: never switch.
   */
  readonly alignedCheckpointTimeoutMs?: number | undefined;
  /** Planted bug: the switch to unaligned forgets the records still in front of barrier n on the inputs not yet aligned (no channel state). */
  readonly alignmentTimeoutDropsChannelState?: boolean;
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
  /** Planted bug: a synchronous initializeState error is logged and the task runs anyway (no failover). */
  readonly initializeErrorSwallowed?: boolean;
  /** Planted bug: unaligned tasks hold back an input after its barrier, as aligned ones do. */
  readonly unalignedHoldsInputs: boolean;
  /** Planted bug: unaligned tasks forward barriers behind the records in flight, as aligned ones do. */
  readonly unalignedBarriersQueueBehindData: boolean;
  /** Planted bug in the observation layer: barrier-triggered snapshots report no alignment positions. */
  readonly omitAlignmentObservations: boolean;
  /** Planted bug: a notify-complete the plan drops is reported lost but delivered all the same. */
  readonly lostNotifyStillDelivered?: boolean;
  /**
   * Sources (and timestamp assigners) emit a watermark that advanced at most once per this
   * many virtual ms (Flink's pipeline.auto-watermark-interval); end of input implies MAX_WATERMARK.
   */
  readonly autoWatermarkIntervalMs: number;
  /** A source whose pollNext answered NOTHING_AVAILABLE is polled again after this many virtual ms. */
  readonly sourcePollDelayMs: number;
  /** Planted bug: a task's watermark is the maximum over its inputs instead of the minimum (data of the slower input turns late). */
  readonly watermarkAsMaxOfInputs: boolean;
  /** Planted bug: an input that turns active again after idleness pulls the task's watermark back to its own (watermarks regress). */
  readonly resumedInputPullsWatermarkBack?: boolean;
  /** Planted bug: snapshots leave out the process functions' timers, so a restore loses them (windows never fire). */
  readonly timersLeftOutOfSnapshot: boolean;
  /** Planted bug (liveness): a source with an idleness timeout never marks itself idle, so downstream watermarks stall until its input ends. */
  readonly sourceNeverIdles: boolean;
  /** Completed checkpoints kept for restore (Flink's state.checkpoints.num-retained); a rocksdb file lives while one of them refers to it. */
  readonly retainedCheckpoints: number;
  /** rocksdb backend: checkpoints upload only the files new since the last completed one (false: every checkpoint uploads all state). */
  readonly incrementalCheckpoints: boolean;
  /** rocksdb backend: a memtable holding this many keys is flushed to a sorted file. */
  readonly rocksDbMemtableFlushEntries: number;
  /** rocksdb backend: a level holding this many files is compacted into one file of the next level. */
  readonly rocksDbCompactionTriggerFiles: number;
  /** Planted bug: the shared-state registry deletes the files a discarded checkpoint uploaded although a retained checkpoint still refers to them. */
  readonly deleteSharedFileStillReferenced: boolean;
  /** Planted bug: an incremental checkpoint does not upload the files a compaction wrote. */
  readonly incrementalForgetsCompactedFiles: boolean;
  /** Virtual ms every subtask spends on every record it reads or takes (absent: 0, records are free and time is the scheduler's alone). */
  readonly recordCostMs?: number;
  /** Extra virtual ms per record at named subtasks (`'count[1]': 4`): a slow operator planted by the job's configuration. */
  readonly slowSubtasks?: Readonly<Record<string, number>>;
  /** Extra virtual ms in the asynchronous phase of every snapshot of named subtasks (`'count[0]': 150`): a slow upload planted by the job's configuration. */
  readonly slowAsyncPhaseMs?: Readonly<Record<string, number>>;
  /** Measure Flink's task metrics and checkpoint details (absent: true); false only to price them (bench/). */
  readonly flowMetrics?: boolean;
  /** Virtual ms from the end of one checkpoint to the trigger of the next (Flink's minPauseBetweenCheckpoints; absent: 0). */
  readonly minPauseBetweenCheckpointsMs?: number;
  /**
   * Key groups of every keyed exchange and keyed state (Flink's maxParallelism): keys hash to
   * this many key groups and a rescaled job may run at most this many keyed subtasks.
   */
  readonly maxParallelism?: number;
  /** Planted bug: a rescaled restore hands each subtask the keyed state of the old subtask with its index (modulo the new parallelism), key groups ignored. */
  readonly rescaleKeyedStateByOldSubtask?: boolean;
  /** Planted bug: a rescaled restore drops the last old subtask's part of every operator list state (even-split and union). */
  readonly rescaleDropsOperatorStatePart?: boolean;
  /** Planted bug: a rescaled restore of the source drops the state of its last split, which restarts from offset 0 (its records are read twice). */
  readonly rescaleDropsSplitState?: boolean;
}

export const DEFAULT_JOB_OPTIONS: JobOptions = {
  mode: 'exactly-once',
  backend: 'memory',
  checkpointIntervalMs: 100,
  checkpointTimeoutMs: 1_000,
  maxConcurrentCheckpoints: 1,
  restartDelayMs: 20,
  maxRestarts: 20,
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
  retainedCheckpoints: 1,
  incrementalCheckpoints: true,
  rocksDbMemtableFlushEntries: 64,
  rocksDbCompactionTriggerFiles: 4,
  deleteSharedFileStillReferenced: false,
  incrementalForgetsCompactedFiles: false,
};

export { RuntimeInvariantError };

/** Hooks a scenario's simulated environment exposes to fault plans (e.g. failing commits). */
export interface EnvironmentFaultHooks {
  failNextCommits?(times: number): void;
  /** The external system times out every open transaction now. */
  expireTransactions?(): void;
  /** A newer producer takes over every open transactional id now: the open transactions are fenced and aborted. */
  fenceTransactions?(): void;
  /** Every connection to the external systems is cut now. */
  cutConnections?(): void;
  failNextAborts?(times: number): void;
  /** The next `times` calls fail before reaching the external system (SimEnvironment). */
  failNextCalls?(times: number): void;
  /** The next `times` calls are applied but their replies are lost (SimEnvironment). */
  loseNextReplies?(times: number): void;
  /** The next `times` calls time out without reaching the external system (SimEnvironment). */
  timeOutNextCalls?(times: number): void;
  /** Every call from now on takes `extraLatencyMs` more virtual time (SimEnvironment: a slow external system). */
  slowCalls?(extraLatencyMs: number): void;
  /** The input not yet read sends `hotKeyPercent` % of its records to one hot key (a scenario whose source can skew). */
  skewKeys?(hotKeyPercent: number): void;
}

const EVENT_EMIT = 1 << 16;
const EVENT_DELIVER = 2 << 16;
const EVENT_CONTROL = 3 << 16;
const EVENT_INDEX_MASK = 0xffff;

function describeSourcePosition(source: SourceReader<unknown> | undefined): string {
  if (source === undefined) return '?';
  if (source.describePosition !== undefined) return source.describePosition();
  const position = source.currentPosition();
  return `${position.split} @ offset ${position.offset}`;
}


/**
 * The reference runtime for one job, driven step by step by the deterministic scheduler: a
 * composition of the task layout (task.ts), the tasks' mailboxes (stream-tasks.ts: records,
 * barriers, watermarks, timers, snapshots, connector promises) and the checkpoint coordinator
 * (checkpoint-coordinator.ts). It offers their work to the scheduler as steps, carries
 * control messages between them, injects the fault plan, fails over and redeploys.
 */
export class JobRuntime implements SimWorld {
  /** The tasks and channels of the current layout (a rescale fault lays them out anew). */
  tasks: Task[];
  channels: Channel[];
  readonly observations: RunObservations;
  private readonly coordinator: CheckpointCoordinator;
  private readonly streamTasks: StreamTasks;
  private readonly control: ControlMessage[] = [];
  private status: 'running' | 'restarting' | 'finished' | 'failed' = 'restarting';
  private attempt = -1;
  private restarts = 0;
  private cancelRestart: (() => void) | undefined;
  /** Orders every observed event of the run (see `CheckpointEvent.seq`). */
  private nextSeq = 0;
  private faultIndex = 0;
  /** Faults placed by situation, each with the entries into its situation seen since it was armed. */
  private readonly situationFaults: { readonly fault: Fault; entries: number; inside: boolean; fired: boolean }[];
  /** The sink's transactions, read from its reported events, for faults placed at a transaction situation. */
  private readonly transactionSituations = new TransactionSituationTracker();
  private dropNextAck = false;
  private readonly faults: readonly Fault[];
  /** Called inside the step that completes a checkpoint (a harness hook: e.g. read back what a reader sees now). */
  onCheckpointCompleted: ((checkpointId: number) => void) | undefined;

  /** The job as a graph (a linear pipeline is converted). */
  readonly spec: JobGraphSpec;
  /** The part of the job a rescale fault rescales (its last vertex, when keyed), as laid out now. */
  private rescalable: RescalableVertex | undefined;
  /** A rescale fault fired: the next restart lays out the rescalable vertex with this parallelism. */
  private pendingParallelism: number | undefined;
  /** Per global task index, its subtask index (grows when a rescale adds subtasks). */
  private readonly subtaskIndexes: number[];
  /** The job's source as a source rescale sees it, or why it cannot rescale. */
  private readonly source: SourceRescalability;
  /** Source subtasks that own splits now (a source rescale changes it; the others own none and end at once). */
  private sourceParallelism: number;
  /** A source rescale fired: the next restart runs the source with this many split-owning subtasks. */
  private pendingSourceParallelism: number | undefined;
  /** The restore being deployed moved source splits between subtasks (tasks downstream replay their channel state before new input). */
  private sourceSplitsMoved = false;

  constructor(
    job: PipelineSpec | JobGraphSpec,
    readonly options: JobOptions,
    private readonly scheduler: StepDriver,
    faultPlan: FaultPlan,
    private readonly environmentHooks: EnvironmentFaultHooks = {},
  ) {
    if (!(options.checkpointIntervalMs > 0)) throw new Error(`JobRuntime: checkpointIntervalMs must be > 0`);
    if (!(options.checkpointTimeoutMs > 0)) throw new Error(`JobRuntime: checkpointTimeoutMs must be > 0`);
    if (options.alignedCheckpointTimeoutMs !== undefined && !(Number.isFinite(options.alignedCheckpointTimeoutMs) && options.alignedCheckpointTimeoutMs >= 0)) {
      throw new Error(`JobRuntime: alignedCheckpointTimeoutMs must be a number >= 0 (virtual ms), got ${options.alignedCheckpointTimeoutMs}`);
    }
    if (!Number.isSafeInteger(options.maxConcurrentCheckpoints) || options.maxConcurrentCheckpoints < 1) {
      throw new Error(`JobRuntime: maxConcurrentCheckpoints must be a positive integer`);
    }
    if (!(Number.isSafeInteger(options.autoWatermarkIntervalMs) && options.autoWatermarkIntervalMs >= 0)) throw new Error(`JobRuntime: autoWatermarkIntervalMs must be a non-negative integer`);
    if (!(options.sourcePollDelayMs > 0)) throw new Error(`JobRuntime: sourcePollDelayMs must be > 0`);
    if (options.recordCostMs !== undefined && !(Number.isFinite(options.recordCostMs) && options.recordCostMs >= 0)) throw new Error(`JobRuntime: recordCostMs must be a number >= 0 (virtual ms), got ${options.recordCostMs}`);
    if (options.minPauseBetweenCheckpointsMs !== undefined && !(Number.isFinite(options.minPauseBetweenCheckpointsMs) && options.minPauseBetweenCheckpointsMs >= 0)) {
      throw new Error(`JobRuntime: minPauseBetweenCheckpointsMs must be a number >= 0 (virtual ms), got ${options.minPauseBetweenCheckpointsMs}`);
    }
    this.spec = 'stages' in job ? pipelineToJobGraph(job) : job;
    const spec = this.spec;
    // Faults placed by step fire in step order; those placed by situation wait for it (injectSituationFaults).
    this.faults = faultPlan.filter((fault) => fault.when === undefined).sort((a, b) => a.atStep - b.atStep);
    this.situationFaults = faultPlan.filter((fault) => fault.when !== undefined).sort((a, b) => a.atStep - b.atStep).map((fault) => ({ fault, entries: 0, inside: false, fired: false }));
    if (options.maxParallelism !== undefined) checkMaxParallelism(options.maxParallelism, 'JobRuntime');
    this.flowBuffers = flowControlBuffersOf(options);
    ({ tasks: this.tasks, channels: this.channels } = this.buildTasks(this.spec));
    this.rescalable = rescalableVertexOf(this.spec);
    this.source = rescalableSourceOf(this.spec);
    this.sourceParallelism = 'excluded' in this.source ? 0 : this.source.parallelism;
    this.subtaskIndexes = this.tasks.map((task) => task.subtaskIndex);
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
        maxParallelism: this.maxParallelism,
        ...(options.alignedCheckpointTimeoutMs === undefined ? {} : { alignedCheckpointTimeoutMs: options.alignedCheckpointTimeoutMs }),
        ...(options.slowAsyncPhaseMs === undefined ? {} : { slowAsyncPhaseMs: { ...options.slowAsyncPhaseMs } }),
      },
      checkpointEvents: [],
      failovers: [],
      lostMessages: [],
      notifiesDelivered: [],
      barrierEvents: [],
      forwardedBarriers: [],
      checkpoints: [],
      alignment: [],
      jobId: jobIdOf(spec.name),
      executionAttempts: [],
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
    for (const fault of faultPlan) {
      if ('task' in fault && (fault.task < 0 || fault.task >= this.tasks.length)) {
        throw new Error(`JobRuntime: fault ${describeFault(fault, this.tasks.map((t) => t.name))} names no task of ${spec.name}`);
      }
    }
    const taskNames = this.observations.taskNames;
    this.coordinator = new CheckpointCoordinator(
      {
        jobName: spec.name,
        taskNames,
        ids: new ExecutionIds(this.observations.executionAttempts, spec.name, taskNames, this.subtaskIndexes),
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
    this.streamTasks = new StreamTasks(
      {
        attempt: () => this.attempt,
        restarts: () => this.restarts,
        isRunning: () => this.status === 'running',
        send: (message) => this.control.push(message),
        failover: (cause) => this.failover(cause),
        onNotifyDelivered: (checkpointId, task) => this.coordinator.onNotifyDelivered(checkpointId, task),
      },
      options,
      scheduler,
      this.observations,
    );
    if (options.flowMetrics !== false) this.streamTasks.metrics = this.metrics = new FlowMetrics(this.tasks.length, this.channels.length);
    const slowSubtasks = options.slowSubtasks ?? {};
    for (const name of Object.keys(slowSubtasks)) {
      if (!this.observations.taskNames.includes(name)) throw new Error(`JobRuntime: slowSubtasks names ${name}, no subtask of ${spec.name} (subtasks: ${this.observations.taskNames.join(', ')})`);
      if (!(Number.isFinite(slowSubtasks[name]) && slowSubtasks[name]! > 0)) throw new Error(`JobRuntime: slowSubtasks['${name}'] must be a number > 0 (virtual ms per record), got ${slowSubtasks[name]}`);
    }
    for (const [name, ms] of Object.entries(options.slowAsyncPhaseMs ?? {})) {
      if (!this.observations.taskNames.includes(name)) throw new Error(`JobRuntime: slowAsyncPhaseMs names ${name}, no subtask of ${spec.name} (subtasks: ${this.observations.taskNames.join(', ')})`);
      if (!(Number.isFinite(ms) && ms > 0)) throw new Error(`JobRuntime: slowAsyncPhaseMs['${name}'] must be a number > 0 (virtual ms), got ${ms}`);
    }
    for (const task of this.tasks) task.recordCostMs = (options.recordCostMs ?? 0) + (slowSubtasks[task.name] ?? 0);
    scheduler.attach(this);
    scheduler.beforeStep = (step) => this.injectDueFaults(step);
  }

  /** Flink's task metrics (undefined when the job's options turn them off). */
  private metrics: FlowMetrics | undefined;
  /** The network buffers every layout of the job gets. */
  private readonly flowBuffers: FlowControlBuffers;

  private buildTasks(spec: JobGraphSpec): { tasks: Task[]; channels: Channel[] } {
    const built = buildTasks(spec, this.flowBuffers);
    for (const channel of built.channels) {
      channel.onOverdrawn = this.observeOverdraft;
      if (this.options.sendsWithoutCredit === true) channel.sendsWithoutCredit = true;
    }
    return built;
  }

  /** A receiver holds more than its buffers for a channel (a class field: one function for every channel, made once). */
  private readonly observeOverdraft = (channel: Channel): void => {
    (this.observations.bufferOverdrafts ??= []).push({
      channel: channel.index,
      fromTask: channel.fromTask,
      toTask: channel.toTask,
      atStep: this.scheduler.step,
      attempt: this.attempt,
      elementsOverBuffers: channel.peakBuffersOverdrawn,
      buffers: channel.credit,
    });
  };

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
    for (const waiting of this.situationFaults) if (!waiting.fired) observations.faultsNotReached.push(describeFault(waiting.fault, observations.taskNames));
    this.coordinator.cancelTimeouts();
    observations.steps = this.scheduler.step;
    observations.virtualTimeMs = this.scheduler.nowMs;
    observations.traceHash = this.scheduler.trace.hashHex;
    for (const channel of this.channels) observations.backpressureEncounters += channel.fullEncounters;
    if (this.metrics !== undefined) {
      this.metrics.advance(this.scheduler.nowMs, this.channels);
      observations.flowMetrics = this.metrics.observe(this.tasks);
    }
    return observations;
  }

  // ---------------------------------------------------------------- graph

  // ---------------------------------------------------------------- SimWorld

  collectEnabled(out: EnabledEvents): void {
    const metrics = this.metrics;
    const nowMs = this.scheduler.nowMs;
    // The time since the last step goes to what each task was doing; the activities are measured again below.
    if (metrics !== undefined) metrics.advance(nowMs, this.channels);
    if (this.status !== 'running') return;
    if (this.streamTasks.busyCount > this.streamTasks.timerWaits && this.scheduler.simulated && this.scheduler.pendingIoCount === 0) {
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
      if (task.busyWith !== undefined || task.busyUntilMs > nowMs) continue;
      if (message.kind !== 'deploy' && !task.deployed) continue;
      if (message.kind === 'trigger' && !task.sourceEnded && !this.streamTasks.outputsHaveRoom(task)) continue;
      out.add(EVENT_CONTROL | i);
    }
    const tasks = this.tasks;
    const activity = metrics?.activity;
    let free = this.freeNow;
    if (free.length !== tasks.length) this.freeNow = free = new Uint8Array(tasks.length);
    for (let t = 0; t < tasks.length; t++) {
      const task = tasks[t]!;
      if (task.busyWith !== undefined || task.busyUntilMs > nowMs) {
        free[t] = 0;
        if (activity !== undefined) activity[t] = TaskActivity.Busy;
        continue;
      }
      free[t] = task.deployed ? 1 : 0;
      if (task.source === undefined || task.sourceEnded || !task.deployed || task.waitingForInput) continue;
      if (this.streamTasks.outputsHaveRoom(task)) {
        out.add(EVENT_EMIT | t);
        if (activity !== undefined) activity[t] = TaskActivity.Busy;
      } else if (activity !== undefined) activity[t] = TaskActivity.Backpressured;
    }
    const channels = this.channels;
    for (let c = 0; c < channels.length; c++) {
      const channel = channels[c]!;
      if (channel.size === 0) continue;
      if (free[channel.toTask] === 0) continue;
      const task = tasks[channel.toTask]!;
      if (task.barriers!.isBlocked(channel.consumerSlot)) continue;
      if (task.replayHeld !== 0 && task.replayLeft![channel.consumerSlot] === 0) continue;
      if (!this.streamTasks.outputsHaveRoom(task)) {
        if (activity !== undefined && activity[channel.toTask] === TaskActivity.Idle) activity[channel.toTask] = TaskActivity.Backpressured;
        continue;
      }
      out.add(EVENT_DELIVER | c);
      if (activity !== undefined) activity[channel.toTask] = TaskActivity.Busy;
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

  /**
   * What an enabled event touches, for prove's partial-order reduction (SimWorld.footprint).
   * Conservative: only records and watermarks taken by a task without event time (whose work
   * does not read the clock) are local to that task, the channel they come from and the task's
   * output channels, each with its input gate when floating buffers may move (a push into a
   * channel without a free buffer, a take from one that holds floating buffers or has data
   * waiting), plus the I/O queue when the task writes to a sink. A source's poll may end
   * its input (an input-ended message) or find nothing (a re-poll timer): it also touches the
   * control and timer queues, whose order is state. Barriers, ends of input and control
   * messages start checkpoint and failover work across the job: they touch everything.
   */
  footprint(code: number): StepOption {
    const index = code & EVENT_INDEX_MASK;
    const kind = code & ~EVENT_INDEX_MASK;
    if (kind === EVENT_EMIT) {
      const task = this.tasks[index]!;
      return { id: `emit ${task.name}`, touches: task.eventTime ? undefined : [`task ${index}`, ...this.outputsTouched(task), 'control queue', 'timer queue', ...this.ioQueueOf(task)] };
    }
    if (kind === EVENT_DELIVER) {
      const channel = this.channels[index]!;
      const task = this.tasks[channel.toTask]!;
      const element = channel.peek().kind;
      const local = !task.eventTime && (element === ElementKind.Record || element === ElementKind.Watermark);
      return {
        id: `deliver ${index}`,
        touches: local ? [`task ${task.index}`, `channel ${index}`, ...(channel.floatingHeld > 0 || channel.waitingForCredit ? [gateResource(channel)] : []), ...this.outputsTouched(task), ...this.ioQueueOf(task)] : undefined,
      };
    }
    const message = this.control[index];
    return { id: message === undefined ? `event ${code}` : `control ${message.kind} ${'checkpointId' in message ? message.checkpointId : ''} ${message.task}`, touches: undefined };
  }

  /**
   * What writing to a task's outputs touches: each output channel, and the input gate behind it
   * when the channel has no free buffer (the push would borrow a floating buffer that the gate's
   * other channels might have had). A take touches its channel's gate when it may give floating
   * buffers back or borrow one for what waits (see `footprint`).
   */
  private outputsTouched(task: Task): string[] {
    const touched: string[] = [];
    for (const output of task.outputs) {
      touched.push(`channel ${output.index}`);
      if (output.buffersUsed >= output.credit) touched.push(gateResource(output));
    }
    return touched;
  }

  /** A task with a sink or a process function may start connector I/O: the pending-I/O queue's order is state. */
  private ioQueueOf(task: Task): string[] {
    return task.operators.some((operator) => operator.writer !== undefined || operator.process !== undefined) ? ['io queue'] : [];
  }

  execute(code: number): void {
    const index = code & EVENT_INDEX_MASK;
    const kind = code & ~EVENT_INDEX_MASK;
    let task: Task | undefined;
    try {
      if (kind === EVENT_EMIT) {
        task = this.tasks[index]!;
        this.streamTasks.emit(task);
      } else if (kind === EVENT_DELIVER) {
        const channel = this.channels[index]!;
        task = this.tasks[channel.toTask]!;
        this.streamTasks.deliver(task, channel);
      } else if (kind === EVENT_CONTROL) {
        const message = takeAt(this.control, index);
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
  /**
   * Per task, as `collectEnabled` found it this step: 1 when deployed and not busy (on a
   * connector call or a record's cost), so free to take input. Filled by its pass over the
   * tasks and read by its pass over the channels (most tasks have several inputs); one array
   * reused at every step, replaced only when a rescale changes the number of tasks.
   */
  private freeNow = new Uint8Array(0);
  /** A drain was already spent on the check for connectors busy without I/O. */
  private drainedForBusyCheck = false;

  // ---------------------------------------------------------------- control messages

  private deliverControl(message: ControlMessage): void {
    switch (message.kind) {
      case 'ack':
        if (this.dropNextAck) {
          this.dropNextAck = false;
          this.observations.lostMessages.push({ seq: this.nextSeq++, kind: 'ack', checkpointId: message.checkpointId, task: message.task, atStep: this.scheduler.step });
          this.scheduler.record(`ack ${message.checkpointId} from ${this.tasks[message.task]!.name} lost (fault plan)`);
          return;
        }
        return this.coordinator.onAck(message.checkpointId, message.task, message.snapshot, message.alignment, message.cause);
      case 'decline':
        return this.coordinator.onDecline(message.checkpointId, message.task, message.reason);
      case 'input-ended':
        return this.coordinator.onInputEnded(message.task);
      default:
        if (message.kind === 'notify-complete') {
          this.observations.notifiesDelivered.push({ seq: this.nextSeq++, checkpointId: message.checkpointId, task: message.task, atStep: this.scheduler.step });
        }
        return this.streamTasks.deliverControl(this.tasks[message.task]!, message);
    }
  }

  // ---------------------------------------------------------------- failover and restore

  private deploy(checkpoint: CompletedCheckpoint | undefined): void {
    this.attempt++;
    this.status = 'running';
    this.scheduler.acceptIo();
    checkpoint = this.fitSourceSplits(this.fitToLayout(checkpoint));
    this.coordinator.startAttempt();
    this.observations.restores.push({ seq: this.nextSeq++, atStep: this.scheduler.step, atMs: this.scheduler.nowMs, attempt: this.attempt, checkpointId: checkpoint?.checkpointId });
    this.scheduler.record(
      checkpoint === undefined ? `deploy attempt ${this.attempt} from scratch` : `deploy attempt ${this.attempt} from checkpoint ${checkpoint.checkpointId}`,
    );
    for (const channel of this.channels) channel.reset();
    for (const task of this.tasks) {
      if (!this.streamTasks.redeploy(task, checkpoint?.tasks[task.index])) return;
    }
    if (this.sourceSplitsMoved) {
      for (const task of this.tasks) {
        const channelState = task.restored?.channelState;
        if (channelState === undefined) continue;
        task.replayLeft = channelState.map((records) => records.length);
        task.replayHeld = task.replayLeft.reduce((sum, count) => sum + count, 0);
      }
    }
    this.streamTasks.busyCount = 0;
    // Tasks are deployed one message at a time, so a fault can hit a half-deployed job.
    for (const task of this.tasks) {
      task.deployed = false;
      this.control.push({ kind: 'deploy', task: task.index, checkpointId: checkpoint?.checkpointId });
    }
    this.coordinator.schedulePeriodicTrigger();
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
    this.streamTasks.busyCount = 0;
    this.restarts++;
    if (this.restarts > this.options.maxRestarts) {
      this.status = 'failed';
      this.observations.failureReason = `job failed after ${this.options.maxRestarts} restarts; last failure: ${cause}`;
      this.scheduler.stop();
      return;
    }
    this.cancelRestart = this.scheduler.setTimer(this.options.restartDelayMs, 'restart', () => {
      this.cancelRestart = undefined;
      if (this.pendingParallelism !== undefined) this.layOut(this.pendingParallelism);
      this.pendingParallelism = undefined;
      if (this.pendingSourceParallelism !== undefined) this.sourceParallelism = this.pendingSourceParallelism;
      this.pendingSourceParallelism = undefined;
      this.deploy(this.coordinator.checkpointToRestore());
    });
  }

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
    if (this.situationFaults.length > 0) this.injectSituationFaults(step);
  }

  /**
   * Faults placed by situation: each armed one (its atStep reached) counts the entries into its
   * situation and fires at the occurrence-th. The situation is read afresh for each, since a
   * fault that fires changes it.
   */
  private injectSituationFaults(step: number): void {
    if (this.status === 'finished' || this.status === 'failed') return;
    for (const waiting of this.situationFaults) {
      const placement = waiting.fault.when!;
      if (waiting.fired || waiting.fault.atStep > step) continue;
      const inside = this.placementSituationHolds(placement.situation, step);
      if (inside && !waiting.inside) waiting.entries++;
      waiting.inside = inside;
      if (inside && waiting.entries === placement.occurrence) {
        waiting.fired = true;
        this.inject(waiting.fault, step);
      }
    }
  }

  private placementSituationHolds(situation: PlacementSituation, step: number): boolean {
    if (!situation.startsWith('transaction ')) return this.situation() === situation;
    this.transactionSituations.advanceTo(this.observations.connectorEvents, step);
    return `transaction ${this.transactionSituations.situation}` === situation;
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
        return this.failover(`task ${this.tasks[this.taskOf(fault)]!.name} crashed (fault plan)`);
      case 'crash-job':
        if (!this.options.memoryCheckpointsSurviveJobCrash) this.coordinator.store.onCoordinatorCrash();
        return this.failover('the job crashed, coordinator included (fault plan)');
      case 'expire-checkpoint':
        return this.coordinator.expireOldest();
      case 'decline-checkpoint':
        this.tasks[this.taskOf(fault)]!.declineNext = true;
        return;
      case 'drop-ack':
        this.dropNextAck = true;
        return;
      case 'fail-initialize':
        this.streamTasks.failNextInitialize[this.taskOf(fault)] = true;
        return;
      case 'drop-notify': {
        const index = this.control.findIndex((message) => message.kind === 'notify-complete');
        if (index >= 0) {
          const lost = (this.options.lostNotifyStillDelivered ? this.control[index] : this.control.splice(index, 1)[0]) as Extract<ControlMessage, { kind: 'notify-complete' }>;
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
      case 'fence-transactions':
        return this.environmentHook('fenceTransactions', description)();
      case 'cut-connections':
        return this.environmentHook('cutConnections', description)();
      case 'fail-call':
        return this.environmentHook('failNextCalls', description)(fault.times);
      case 'lose-reply':
        return this.environmentHook('loseNextReplies', description)(fault.times);
      case 'timeout-call':
        return this.environmentHook('timeOutNextCalls', description)(fault.times);
      case 'slow-operator':
        return this.streamTasks.slowDown(this.tasks[this.taskOf(fault)]!, fault.extraMsPerRecord);
      case 'slow-snapshot':
        this.tasks[this.taskOf(fault)]!.slowSnapshot = { phase: fault.phase, extraMs: fault.extraMs };
        return;
      case 'slow-calls':
        return this.environmentHook('slowCalls', description)(fault.extraLatencyMs);
      case 'skew-keys':
        return this.environmentHook('skewKeys', description)(fault.hotKeyPercent);
      case 'rescale': {
        if (fault.vertex === 'source') return this.rescaleSource(fault.by, description);
        const rescalable = this.rescalable;
        if (rescalable === undefined) throw new Error(`fault plan: '${description}' cannot be injected into ${this.spec.name}: its last vertex is not keyed (only a keyed last vertex rescales)`);
        const from = this.pendingParallelism ?? rescalable.parallelism;
        const to = Math.min(Math.max(from + fault.by, 1), this.maxParallelism, MAX_PARALLELISM);
        this.pendingParallelism = to;
        return this.failover(`the job is rescaled: ${this.spec.vertices[rescalable.vertex]!.name} restarts with ${to} subtask${to === 1 ? '' : 's'} instead of ${from} (fault plan)`);
      }
    }
  }

  /** A source rescale fault: the job restarts with `by` split-owning source subtasks more or fewer, within 1 and its splits. */
  private rescaleSource(by: number, description: string): void {
    const source = this.source;
    if ('excluded' in source) throw new Error(`fault plan: '${description}' cannot be injected into ${this.spec.name}: ${source.excluded}`);
    const from = this.pendingSourceParallelism ?? this.sourceParallelism;
    const to = Math.min(Math.max(from + by, 1), source.splits);
    this.pendingSourceParallelism = to;
    return this.failover(`the job is rescaled: the ${source.splits} splits of ${this.spec.vertices[source.vertex]!.name} are read by ${to} subtask${to === 1 ? '' : 's'} instead of ${from} after the restart (fault plan)`);
  }

  /**
   * Which splits each source subtask owns in the attempt about to deploy, and the checkpoint
   * with the source's split states reassigned to them. The source keeps its task slots (task
   * indices stay put); the first `sourceParallelism` own the splits by even-split, the others
   * none (they end at once). A job whose source never rescaled keeps one split per subtask.
   */
  private fitSourceSplits(checkpoint: CompletedCheckpoint | undefined): CompletedCheckpoint | undefined {
    const source = this.source;
    if ('excluded' in source) return checkpoint;
    const sourceTasks = this.tasks.slice(source.firstTask, source.firstTask + source.splits);
    const old = checkpoint?.tasks.slice(source.firstTask, source.firstTask + source.splits);
    const asBuilt = old === undefined || old.every((snapshot) => snapshot.operatorState[OWNED_SPLITS_STATE] === undefined);
    this.sourceSplitsMoved = false;
    if (this.sourceParallelism === source.splits && asBuilt) {
      for (const task of sourceTasks) task.ownedSplits = undefined;
      return checkpoint;
    }
    if (checkpoint === undefined || old === undefined) {
      let next = 0;
      sourceTasks.forEach((task, subtask) => {
        const share = subtask < this.sourceParallelism ? evenSplitShare(source.splits, this.sourceParallelism, subtask) : 0;
        task.ownedSplits = Array.from({ length: share }, (_, i) => next + i);
        next += share;
      });
      return checkpoint;
    }
    const splitStates = old.map((snapshot, subtask) => splitStatesOfSnapshot(snapshot, subtask));
    const fromParallelism = splitStates.filter((states) => states.length > 0).length;
    const rescaled = fromParallelism !== this.sourceParallelism;
    this.sourceSplitsMoved = rescaled;
    const { subtasks, reassignment } = reassignSplits(splitStates, this.sourceParallelism, { dropsSplitState: rescaled && this.options.rescaleDropsSplitState === true });
    sourceTasks.forEach((task, subtask) => {
      task.ownedSplits = (subtasks[subtask] ?? []).map((state) => state.index);
    });
    if (rescaled) {
      const vertexName = this.spec.vertices[source.vertex]!.name;
      (this.observations.rescales ??= []).push({
        seq: this.nextSeq++,
        atStep: this.scheduler.step,
        attempt: this.attempt,
        checkpointId: checkpoint.checkpointId,
        vertexName,
        firstTask: source.firstTask,
        fromParallelism,
        toParallelism: this.sourceParallelism,
        maxParallelism: this.maxParallelism,
        keysBefore: {},
        listStatesBefore: {},
        subtasks: [],
        splits: reassignment,
      });
      this.scheduler.record(`restore checkpoint ${checkpoint.checkpointId}: ${source.splits} splits of ${vertexName} reassigned from ${fromParallelism} subtasks to ${this.sourceParallelism} (${reassignment.moves.map((move) => `${move.split} ${move.fromSubtask}->${move.toSubtask} @${move.restoredOffset}`).join(', ')})`);
    }
    const tasks = checkpoint.tasks.slice();
    sourceTasks.forEach((_, subtask) => {
      tasks[source.firstTask + subtask] = snapshotOfSplits(subtasks[subtask] ?? []);
    });
    return { ...checkpoint, tasks };
  }

  /** Key groups of the job's keyed exchanges and state. */
  get maxParallelism(): number {
    return this.options.maxParallelism ?? DEFAULT_MAX_PARALLELISM;
  }

  /** Lays the job out anew with its rescalable vertex at `parallelism` (between attempts: nothing runs). */
  private layOut(parallelism: number): void {
    const rescalable = this.rescalable!;
    if (parallelism === rescalable.parallelism) return;
    const spec = withParallelism(this.spec, rescalable.vertex, parallelism);
    ({ tasks: this.tasks, channels: this.channels } = this.buildTasks(spec));
    this.rescalable = { ...rescalable, parallelism };
    // Task i of the rescaled vertex keeps its global index and name in every layout: the names only grow.
    const observations = this.observations as unknown as { taskNames: string[]; taskInputCounts: number[]; taskVertices: RunObservations['taskVertices'][number][] };
    for (const task of this.tasks.slice(observations.taskNames.length)) {
      observations.taskNames.push(task.name);
      observations.taskInputCounts.push(task.inputs.length);
      observations.taskVertices.push({ vertex: spec.vertices[task.vertex]!.name, operators: spec.vertices[task.vertex]!.operators.map((op) => op.name) });
      this.subtaskIndexes.push(task.subtaskIndex);
    }
    this.coordinator.resize(this.tasks.length);
    this.metrics?.resize(this.tasks.length, this.channels.length);
    this.scheduler.record(`rescale: ${spec.vertices[rescalable.vertex]!.name} laid out with ${parallelism} subtasks`);
  }

  /** A checkpoint taken at another parallelism of the rescalable vertex, redistributed to the current layout. */
  private fitToLayout(checkpoint: CompletedCheckpoint | undefined): CompletedCheckpoint | undefined {
    const rescalable = this.rescalable;
    if (checkpoint === undefined || rescalable === undefined || checkpoint.tasks.length === this.tasks.length) return checkpoint;
    const { checkpoint: fitted, moved } = redistributeCheckpoint(checkpoint, rescalable, rescalable.parallelism, {
      maxParallelism: this.maxParallelism,
      keyedStateByOldSubtask: this.options.rescaleKeyedStateByOldSubtask === true,
      dropsOperatorStatePart: this.options.rescaleDropsOperatorStatePart === true,
    });
    (this.observations.rescales ??= []).push({ ...moved, seq: this.nextSeq++, atStep: this.scheduler.step, attempt: this.attempt, vertexName: this.spec.vertices[rescalable.vertex]!.name });
    this.scheduler.record(`restore checkpoint ${checkpoint.checkpointId} taken with ${moved.fromParallelism} subtasks onto ${moved.toParallelism}`);
    return fitted;
  }

  /** The task a fault names, folded into the current layout (a rescale down leaves fewer tasks than the plan was made for). */
  private taskOf(fault: { readonly task: number }): number {
    return fault.task % this.tasks.length;
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

/** Removes and returns `list[index]`, keeping order; unlike `splice` it allocates no array (a control message is taken at many steps). */
function takeAt<T>(list: T[], index: number): T {
  const taken = list[index]!;
  for (let i = index; i < list.length - 1; i++) list[i] = list[i + 1]!;
  list.length--;
  return taken;
}

/** An input gate as a resource of prove's footprints: its floating buffers and the order it lends them in. */
function gateResource(channel: Channel): string {
  return `gate ${channel.gate.channels[0]!.index}`;
}

/** Flink's network buffer defaults: 2 exclusive buffers per channel, 8 floating per gate; one output buffer per channel. */
export const DEFAULT_FLOW_CONTROL_BUFFERS: FlowControlBuffers = { exclusiveBuffersPerChannel: 2, floatingBuffersPerGate: 8, outputBuffersPerChannel: 1 };

/** The job's network buffers, validated: credit-based flow control, or bounded queues of `channelCapacity` elements. */
export function flowControlBuffersOf(options: Pick<JobOptions, 'exclusiveBuffersPerChannel' | 'floatingBuffersPerGate' | 'outputBuffersPerChannel' | 'channelCapacity'>): FlowControlBuffers {
  const check = (name: string, value: number | undefined, min: number): void => {
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= min)) throw new Error(`JobRuntime: ${name} must be an integer >= ${min} (buffers of one element each), got ${value}`);
  };
  check('channelCapacity', options.channelCapacity, 1);
  check('exclusiveBuffersPerChannel', options.exclusiveBuffersPerChannel, 1);
  check('floatingBuffersPerGate', options.floatingBuffersPerGate, 0);
  check('outputBuffersPerChannel', options.outputBuffersPerChannel, 0);
  if (options.channelCapacity !== undefined) {
    const credit = (['exclusiveBuffersPerChannel', 'floatingBuffersPerGate', 'outputBuffersPerChannel'] as const).filter((name) => options[name] !== undefined);
    if (credit.length > 0) throw new Error(`JobRuntime: channelCapacity (bounded queues) and ${credit.join(', ')} (credit-based flow control) exclude each other: give one`);
    return { exclusiveBuffersPerChannel: options.channelCapacity, floatingBuffersPerGate: 0, outputBuffersPerChannel: 0 };
  }
  return {
    exclusiveBuffersPerChannel: options.exclusiveBuffersPerChannel ?? DEFAULT_FLOW_CONTROL_BUFFERS.exclusiveBuffersPerChannel,
    floatingBuffersPerGate: options.floatingBuffersPerGate ?? DEFAULT_FLOW_CONTROL_BUFFERS.floatingBuffersPerGate,
    outputBuffersPerChannel: options.outputBuffersPerChannel ?? DEFAULT_FLOW_CONTROL_BUFFERS.outputBuffersPerChannel,
  };
}

export function describeFault(fault: Fault, taskNames: readonly string[]): string {
  const { at, armed, atParenthesised, from } = firingWords(fault);
  switch (fault.kind) {
    case 'crash-task':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} crashes ${at}`;
    case 'crash-job':
      return `the whole job (coordinator included) crashes ${at}`;
    case 'expire-checkpoint':
      return `the oldest pending checkpoint times out ${at}`;
    case 'decline-checkpoint':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} declines its next checkpoint ${armed}`;
    case 'drop-notify':
      return `the next notify-complete message is lost ${atParenthesised}`;
    case 'fail-commit':
      return `the next ${fault.times} transaction commit${fault.times === 1 ? '' : 's'} fail ${armed}`;
    case 'expire-transactions':
      return `the broker times out every open transaction ${at}`;
    case 'fence-transactions':
      return `a newer producer fences every open transaction of the sink ${at}`;
    case 'fail-abort':
      return `the next ${fault.times} transaction abort${fault.times === 1 ? '' : 's'} fail ${armed}`;
    case 'cut-connections':
      return `every connection to the external systems is cut ${at}`;
    case 'drop-ack':
      return `the next acknowledgement to the coordinator is lost ${atParenthesised}`;
    case 'fail-initialize':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} throws from initializeState on its next deployment ${armed}`;
    case 'fail-call':
      return `the next ${fault.times} call${fault.times === 1 ? '' : 's'} to an external system fail before reaching it ${armed}`;
    case 'lose-reply':
      return `the next ${fault.times} call${fault.times === 1 ? '' : 's'} to an external system ${fault.times === 1 ? 'is' : 'are'} applied but the reply is lost ${armed}`;
    case 'timeout-call':
      return `the next ${fault.times} call${fault.times === 1 ? '' : 's'} to an external system time out unapplied ${armed}`;
    case 'slow-operator':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} spends ${fault.extraMsPerRecord} ms more on every record ${from} (a slow operator)`;
    case 'slow-snapshot':
      return `task ${taskNames[fault.task] ?? `#${fault.task}`} spends ${fault.extraMs} ms more in the ${fault.phase === 'sync' ? 'synchronous' : 'asynchronous'} phase of its next snapshot ${armed}`;
    case 'slow-calls':
      return `every call to an external system takes ${fault.extraLatencyMs} ms longer ${from} (a slow external system)`;
    case 'skew-keys':
      return `${fault.hotKeyPercent}% of the input not yet read goes to one hot key ${from} (a skewed key distribution)`;
    case 'rescale':
      if (fault.vertex === 'source') return `the job restarts with its source rescaled ${fault.by > 0 ? 'up' : 'down'} by ${Math.abs(fault.by)} subtask${Math.abs(fault.by) === 1 ? '' : 's'} (its splits reassigned) ${at}`;
      return `the job restarts with its keyed part rescaled ${fault.by > 0 ? 'up' : 'down'} by ${Math.abs(fault.by)} subtask${Math.abs(fault.by) === 1 ? '' : 's'} ${at}`;
  }
}

/**
 * When a fault fires, in the words each description uses: `at step 12`, `(armed at step 12)`,
 * `from step 12 on`; for a fault placed by situation `while a checkpoint is partially
 * acknowledged (the 3rd time from step 12)`.
 */
function firingWords(fault: Fault): { at: string; armed: string; atParenthesised: string; from: string } {
  const placement = fault.when;
  if (placement === undefined) return { at: `at step ${fault.atStep}`, armed: `(armed at step ${fault.atStep})`, atParenthesised: `(at step ${fault.atStep})`, from: `from step ${fault.atStep} on` };
  const at = `${describeSituation(placement.situation)} (${ordinalTimes(placement.occurrence)}${fault.atStep === 0 ? '' : ` from step ${fault.atStep}`})`;
  return { at, armed: `(armed ${at})`, atParenthesised: `(${at})`, from: `starting ${at}` };
}
