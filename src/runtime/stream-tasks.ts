/**
 * The task side of the runtime (Flink's StreamTask mailbox), for every task of a job: a
 * source's polls, records, barriers, watermarks and end of input through the operator chain,
 * process functions and their timers, snapshots (aligned and unaligned), connector promises
 * that keep a task busy, and the control messages a task receives. The job around it
 * (job.ts) schedules these as steps, routes control messages and fails over.
 */
import { INJECTED_INITIALIZE_FAILURE } from './faults.ts';
import type { CheckpointListener, CheckpointedFunction, ConnectorEvent, FunctionInitializationContext, Key, SourcePosition, SourceReader } from '../connectors/api.ts';
import { END_OF_INPUT, NOTHING_AVAILABLE } from '../connectors/api.ts';
import type { StepDriver } from '../sim/scheduler.ts';
import { BarrierHandler } from './barrier-handler.ts';
import { type Channel, ElementKind, END_OF_INPUT_ELEMENT, type StreamElement } from './channel.ts';
import type { ControlMessage, CoordinatorMessage } from './checkpoint-coordinator.ts';
import { describeError, RuntimeInvariantError } from './errors.ts';
import { MAX_WATERMARK, MIN_WATERMARK } from './functions.ts';
import type { JobOptions } from './job.ts';
import { KeyedProcessOperator, isPromiseLike as isPromise, type KeyedOperatorRestore } from './keyed-operator.ts';
import type { KeyedStateEntries } from './keyed-state.ts';
import { ALIGNMENT_TIMED_OUT, type AlignmentObservation, type BarrierEvent, type RunObservations } from './observations.ts';
import type { Mutable } from './mutable.ts';
import { SplitOwningReader } from './split-owning-reader.ts';
import { SubtaskState, type SubtaskSnapshot } from './state.ts';
import { encodeKeyedState, RocksDbKeyedStateSnapshotter } from './backends/rocksdb-backend.ts';
import { partitionOf, type OutputGroup, type Task, type UnalignedSnapshot } from './task.ts';
import type { TimerSnapshot } from './timer-service.ts';
import { WatermarkGenerator } from './watermark-generator.ts';
import { WatermarkValve } from './watermark-valve.ts';
import { estimateBytes, FlowMetrics, type SubtaskCheckpointDetail } from './flow-metrics.ts';

/** What a task measured of one checkpoint so far (Flink's checkpoint details), until it acknowledges. */
interface CheckpointProgress {
  firstBarrierAtMs: number | undefined;
  barrierQueuedMs: number;
  triggerDelayMs: number;
  snapshotStartMs: number | undefined;
  syncDoneMs: number | undefined;
  bytesDuringAlignment: number;
  /** A slow-snapshot fault's extra virtual ms in the asynchronous phase of this snapshot. */
  slowAsyncMs: number;
}


export interface StreamTasksHost {
  attempt(): number;
  /** Restarts so far (a connector's attemptNumber). */
  restarts(): number;
  isRunning(): boolean;
  /** A control message to the coordinator or a task. */
  send(message: ControlMessage): void;
  /** A task failed: the whole job fails over. */
  failover(cause: string): void;
  /** A task ran its listeners' notifyCheckpointComplete. */
  onNotifyDelivered(checkpointId: number, task: number): void;
}

export class StreamTasks {
  /** Tasks waiting on a connector's promise. */
  busyCount = 0;
  /** Per task: the checkpoint whose alignment timer is armed (aligned mode with an alignment timeout). */
  private readonly alignmentTimers = new Map<number, number>();
  /** Tasks whose next initializeState throws (fault plan); survives failovers until it fires. */
  readonly failNextInitialize: boolean[] = [];
  /** rocksdb backend: each task's local store (by task index), replaced at every deployment. */
  private readonly rocksDbStores = new Map<number, RocksDbKeyedStateSnapshotter>();
  /** Deployments of rocksdb stores so far: names each store's files uniquely across attempts. */
  private rocksDbStoresCreated = 0;
  /** Tasks busy on a timer (a slow synchronous snapshot phase), not on I/O: not a hung connector while it runs. */
  timerWaits = 0;
  /** Flink's task metrics in virtual time; the job attributes time to activities, the tasks count records. */
  metrics: FlowMetrics | undefined;
  /** Per task: checkpoints it has started measuring, by id (reset at every deployment). */
  private readonly checkpointProgress = new Map<number, Map<number, CheckpointProgress>>();

  constructor(
    private readonly host: StreamTasksHost,
    private readonly options: JobOptions,
    private readonly scheduler: StepDriver,
    private readonly observations: RunObservations,
  ) {}

  // ---------------------------------------------------------------- data path

  /**
   * The subtask may write a record (Flink's RecordWriter is available): its output pool has a
   * free buffer, or every output channel has credit, so what it writes goes out at once.
   */
  outputsHaveRoom(task: Task): boolean {
    const outputs = task.outputs;
    if (outputs.length === 0 || outputs[0]!.pool.hasFreeBuffer) return true;
    for (let i = 0; i < outputs.length; i++) {
      if (!outputs[i]!.hasRoom) {
        outputs[i]!.fullEncounters++;
        return false;
      }
    }
    return true;
  }

  emit(task: Task): void {
    const next = task.source!.pollNext();
    if (next === NOTHING_AVAILABLE) return this.onNothingAvailable(task);
    if (next === END_OF_INPUT) {
      task.sourceEnded = true;
      for (const position of sourcePositionsOf(task.source!)) this.observations.sourcePositions.push({ kind: 'end', attempt: this.host.attempt(), task: task.index, step: this.scheduler.step, checkpointId: undefined, position });
      // The end of input implies MAX_WATERMARK downstream; no watermark element precedes it.
      if (task.eventTime) this.observeWatermark(task, MAX_WATERMARK, false);
      this.endTask(task);
      return;
    }
    this.observations.recordsEmitted++;
    if (this.metrics !== undefined) this.metrics.recordsIn[task.index]!++;
    if (task.recordCostMs !== 0) this.occupy(task);
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
    this.sleepIfNotAvailable(task);
  }

  /**
   * After a record: a source whose hint says its next record is not there yet goes to sleep
   * now, without an empty poll (a step) to find out. `process` may have failed the task over
   * or left it busy on a connector; it is polled again only once it is free anyway.
   */
  private sleepIfNotAvailable(task: Task): void {
    const source = task.source;
    if (source?.availableAtMs === undefined || task.waitingForInput || task.sourceEnded || !this.host.isRunning()) return;
    const availableAtMs = source.availableAtMs();
    if (availableAtMs !== undefined && availableAtMs > this.scheduler.nowMs) this.waitForInput(task, availableAtMs);
  }

  /** No record now: poll again later; a source with an idleness timeout goes idle after it. */
  private onNothingAvailable(task: Task): void {
    const generator = task.sourceGenerator;
    if (generator !== undefined) {
      this.emitDueWatermark(task, generator);
      const idleTimeoutMs = generator.strategy.idleTimeoutMs;
      if (idleTimeoutMs !== undefined && !task.idle && !this.options.sourceNeverIdles && this.scheduler.nowMs - task.lastRecordAtMs >= idleTimeoutMs) {
        this.setSourceIdle(task, true);
      }
    }
    this.waitForInput(task, task.source!.availableAtMs?.());
  }

  /**
   * Puts a source to sleep until it is polled again. Without an availability hint: after the
   * job's poll delay. With one: when its next record is available (never sooner than the poll
   * delay, so a busy partition is still read in batches), or sooner when its idleness timeout
   * runs out or a held-back watermark would wait longer than a poll delay: sleeping saves the
   * empty polls and changes nothing else a poll would have done.
   */
  private waitForInput(task: Task, availableAtMs: number | undefined): void {
    const nowMs = this.scheduler.nowMs;
    let wakeAtMs = nowMs + this.options.sourcePollDelayMs;
    const generator = task.sourceGenerator;
    if (availableAtMs !== undefined && availableAtMs > wakeAtMs) {
      wakeAtMs = availableAtMs;
      if (generator !== undefined) {
        const idleTimeoutMs = generator.strategy.idleTimeoutMs;
        if (idleTimeoutMs !== undefined && !task.idle && !this.options.sourceNeverIdles) wakeAtMs = Math.min(wakeAtMs, Math.max(nowMs + 1, task.lastRecordAtMs + idleTimeoutMs));
        // A held-back watermark goes out within a poll delay of falling due, as with polling: woken for
        // it only when the next record is further away than that (else that record's poll emits it).
        const watermarkDueAtMs = generator.pendingDueAtMs(this.options.autoWatermarkIntervalMs);
        if (watermarkDueAtMs !== undefined && watermarkDueAtMs + this.options.sourcePollDelayMs < wakeAtMs) wakeAtMs = Math.max(nowMs + 1, watermarkDueAtMs);
      }
    }
    task.waitingForInput = true;
    const attempt = this.host.attempt();
    this.scheduler.setTimer(wakeAtMs - nowMs, `${task.name} polls again`, () => {
      if (attempt === this.host.attempt()) task.waitingForInput = false;
    });
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
    // The runtime's own assertion; the planted bug that breaks it on purpose lets the regression through, for watermark-monotonic to catch.
    if (watermarkMs < task.watermarkMs && !this.options.resumedInputPullsWatermarkBack) throw new RuntimeInvariantError(`task ${task.name}: watermark ${watermarkMs} after ${task.watermarkMs}`);
    task.watermarkMs = watermarkMs;
    task.idle = idle;
    this.observations.watermarks.push({ task: task.index, attempt: this.host.attempt(), step: this.scheduler.step, atMs: this.scheduler.nowMs, watermarkMs, idle });
  }

  deliver(task: Task, channel: Channel): void {
    // takeNext, not take: no element object per record (the channel hands over key and value).
    const kind = channel.takeNext();
    const slot = channel.consumerSlot;
    if (kind === ElementKind.Record) {
      const key = channel.takenKey;
      const value = channel.takenValue;
      const timestampMs = channel.takenTimestamp;
      if (this.metrics !== undefined) {
        this.metrics.recordsIn[task.index]!++;
        const aligning = task.barriers!.aligningCheckpointId;
        if (aligning !== 0) this.progressOf(task, aligning).bytesDuringAlignment += estimateBytes(value);
      }
      if (task.recordCostMs !== 0) this.occupy(task);
      if (task.replayHeld !== 0 && task.replayLeft![slot]! > 0) {
        task.replayLeft![slot]!--;
        task.replayHeld--;
      }
      const unaligned = task.unaligned;
      // Taken after the snapshot, before barrier n on this input: channel state, persisted as the
      // task takes it (Flink spills such buffers on arrival). The records barrier n overtook were
      // copied when the task took the barrier, so they are not added twice.
      if (unaligned !== undefined && !unaligned.barrierTaken[slot]!) {
        const position = channel.barrierPositions.get(unaligned.checkpointId);
        if (position === undefined || channel.recordsTaken - 1 < position) unaligned.channelState[slot]!.push(timestampMs === undefined ? { key, value } : { key, value, timestampMs });
      }
      this.process(task, channel.input, key, value, timestampMs, 0);
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
    if (barrierId !== 0 && this.metrics !== undefined && barrierId > task.lastSnapshotId) {
      const progress = this.progressOf(task, barrierId);
      if (progress.firstBarrierAtMs === undefined) {
        const nowMs = this.scheduler.nowMs;
        progress.firstBarrierAtMs = nowMs;
        progress.barrierQueuedMs = nowMs - (channel.barrierPushedAtMs.get(barrierId) ?? nowMs);
      }
    }
    const decision = kind === ElementKind.Barrier ? barriers.onBarrier(slot, barrierId) : barriers.onEndOfInput(slot);
    // Unaligned: the records this barrier overtook are still in the channel behind it (the task takes them later).
    const recordsOvertaken = kind === ElementKind.Barrier ? (channel.barrierPositions.get(barrierId) ?? channel.recordsTaken) - channel.recordsTaken : 0;
    this.observeBarrier(task, slot, barrierId, decision.completedId, recordsOvertaken);
    if (decision.abortedId !== 0) {
      if (task.unaligned?.checkpointId === decision.abortedId) task.unaligned = undefined;
      this.sendDecline(task, decision.abortedId, `checkpoint ${decision.abortedId} was overtaken by a newer barrier during alignment`);
    }
    if (decision.snapshotId !== 0) this.snapshot(task, decision.snapshotId, 'barrier', this.options.mode === 'unaligned');
    if (kind === ElementKind.Barrier && task.unaligned?.checkpointId === barrierId) this.copyOvertakenRecords(task.unaligned, slot, channel, recordsOvertaken);
    if (decision.completedId !== 0 && task.unaligned?.checkpointId === decision.completedId) task.unaligned.barriersComplete = true;
    if (kind === ElementKind.Barrier && decision.completedId === 0 && barriers.aligningCheckpointId === barrierId && barriers.pendingIsUnaligned === false) this.startAlignmentTimer(task, barrierId);
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
    const passesOn = forward && !generatesWatermarks(task);
    if (passesOn && idleChanged) this.pushToOutputs(task, { kind: ElementKind.WatermarkStatus, idle: valve.idle });
    if (!advanced) return;
    const watermarkMs = valve.watermarkMs;
    const keyed = task.operators[0]?.process;
    if (keyed === undefined) {
      if (passesOn) this.pushToOutputs(task, { kind: ElementKind.Watermark, timestampMs: watermarkMs });
      return;
    }
    const result = keyed.advanceWatermark(watermarkMs);
    // The common case (timers fired synchronously, task free) builds no closure: tsx names every
    // closure with Object.defineProperty, and this runs at every watermark a keyed task takes.
    if (result === undefined && task.busyWith === undefined) {
      if (passesOn) this.pushToOutputs(task, { kind: ElementKind.Watermark, timestampMs: watermarkMs });
      return;
    }
    const forwardWatermark = (): void => {
      if (passesOn) this.pushToOutputs(task, { kind: ElementKind.Watermark, timestampMs: watermarkMs });
    };
    if (result !== undefined) this.awaitOrQueue(task, result, `${keyed.name}.onTimer`, forwardWatermark);
    else task.continuations.push(forwardWatermark); // behind the records the timers emitted into a busy sink
  }

  /** Processing time reached a timer of the task's process function: fire what is due (a step of its own). */
  private onProcessingTimer(task: Task): void {
    const keyed = task.operators[0]?.process;
    if (keyed === undefined || task.finished || task.sourceEnded || task.barriers?.allInputsEnded === true) return;
    const result = keyed.advanceProcessingTime(this.scheduler.nowMs);
    if (result !== undefined) this.awaitOrQueue(task, result, `${keyed.name}.onTimer`, undefined);
  }

  /**
   * Aligned mode with an alignment timeout: once the task has aligned checkpoint n for the
   * timeout (from its first barrier n), it switches n to unaligned. Armed at every barrier of
   * an alignment still open; only the first one's timer can find it still aligning.
   */
  private startAlignmentTimer(task: Task, checkpointId: number): void {
    const timeoutMs = this.options.alignedCheckpointTimeoutMs;
    const barriers = task.barriers!;
    if (timeoutMs === undefined || this.options.mode !== 'exactly-once' || this.alignmentTimers.get(task.index) === checkpointId) return;
    this.alignmentTimers.set(task.index, checkpointId);
    // Flink: a timeout of 0 starts every checkpoint unaligned (here: at its first barrier).
    if (timeoutMs === 0) return this.whenIdle(task, () => this.switchToUnaligned(task, barriers, checkpointId));
    const attempt = this.host.attempt();
    this.scheduler.setTimer(timeoutMs, `${task.name} alignment of checkpoint ${checkpointId} times out`, () => {
      if (attempt !== this.host.attempt()) return;
      this.whenIdle(task, () => this.switchToUnaligned(task, barriers, checkpointId));
    });
  }

  /**
   * The alignment timed out (Flink's AlternatingWaitingForFirstBarrier -> the unaligned state):
   * snapshot now, stop holding inputs back, and keep the records still in front of barrier n
   * on the inputs not yet aligned as channel state, as an unaligned checkpoint does. The
   * inputs already aligned have nothing in front of their barrier left (the task took it all).
   */
  private switchToUnaligned(task: Task, barriers: BarrierHandler, checkpointId: number): void {
    if (task.barriers !== barriers || !this.host.isRunning()) return; // a failover replaced the task's barrier handling
    const decision = barriers.switchToUnaligned(checkpointId);
    if (decision.snapshotId === 0) return; // aligned in time, or given up meanwhile
    this.observeBarrier(task, ALIGNMENT_TIMED_OUT, checkpointId);
    this.snapshot(task, checkpointId, 'barrier', true);
    const unaligned = task.unaligned;
    if (unaligned?.checkpointId !== checkpointId) return; // declined (fault plan)
    for (let slot = 0; slot < task.inputs.length; slot++) {
      if (barriers.hasDelivered(slot) || this.options.alignmentTimeoutDropsChannelState === true) unaligned.barrierTaken[slot] = true;
    }
  }

  /**
   * Unaligned: the records barrier n overtook on this input are still queued in front of where
   * it stood; copy them into the channel state of n now, without taking them (Flink's
   * ChannelStateWriter.addInputData when the barrier overtakes the input buffers). The task
   * processes them afterwards as usual, and need not wait for them before acknowledging n.
   */
  private copyOvertakenRecords(unaligned: UnalignedSnapshot, slot: number, channel: Channel, recordsOvertaken: number): void {
    unaligned.barrierTaken[slot] = true;
    if (recordsOvertaken === 0) return;
    const state = unaligned.channelState[slot]!;
    for (const record of channel.copyQueuedRecords(recordsOvertaken)) {
      state.push(record.timestampMs === undefined ? { key: record.key, value: record.value } : { key: record.key, value: record.value, timestampMs: record.timestampMs });
    }
  }

  private observeBarrier(task: Task, slot: number, checkpointId: number, completedId = 0, recordsOvertaken = 0): void {
    const blockedSlots: number[] = [];
    for (let s = 0; s < task.inputs.length; s++) if (task.barriers!.isBlocked(s)) blockedSlots.push(s);
    // The optional fields are set, not spread in (a spread of a conditional literal takes V8's slow path at every barrier).
    const event: Mutable<BarrierEvent> = { task: task.index, attempt: this.host.attempt(), inputSlot: slot, checkpointId, atStep: this.scheduler.step, atMs: this.scheduler.nowMs, blockedSlots };
    if (completedId !== 0) event.completedId = completedId;
    if (recordsOvertaken !== 0) event.recordsOvertaken = recordsOvertaken;
    this.observations.barrierEvents.push(event);
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
        group.channels[partitionOf(key, group.channels.length, this.options.maxParallelism)]!.pushRecord(key, value, timestampMs);
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
      this.host.send({ kind: 'input-ended', task: task.index });
    };
    if (finishes.length === 0) complete();
    else this.awaitConnector(task, Promise.all(finishes), 'finish', complete);
  }

  // ---------------------------------------------------------------- snapshots

  /** `unaligned`: a snapshot at barriers that does not wait for alignment (unaligned mode, or an alignment that timed out). */
  private snapshot(task: Task, checkpointId: number, trigger: 'barrier' | 'trigger', unalignedAtBarrier = false): void {
    if (checkpointId <= task.lastSnapshotId) throw new RuntimeInvariantError(`task ${task.name} asked to snapshot ${checkpointId} after ${task.lastSnapshotId}`);
    task.lastSnapshotId = checkpointId;
    // A snapshot on a direct trigger ends the task's wait for barrier n. One at a barrier does
    // not: aligned modes snapshot once every barrier n arrived, and an unaligned snapshot at
    // the first barrier still waits for barrier n on every other live input (Flink's
    // unaligned handler acknowledges only then).
    if (trigger === 'trigger' || this.options.dropBarriersAfterUnalignedSnapshot) task.barriers?.markHandled(checkpointId);
    const slow = task.slowSnapshot;
    task.slowSnapshot = undefined;
    const progress = this.progressOf(task, checkpointId);
    const nowMs = this.scheduler.nowMs;
    progress.snapshotStartMs = nowMs;
    if (trigger === 'trigger' && this.metrics !== undefined) progress.triggerDelayMs = nowMs - this.triggeredAtMs(checkpointId, nowMs);
    progress.slowAsyncMs = this.options.slowAsyncPhaseMs?.[task.name] ?? 0;
    if (task.declineNext) {
      task.declineNext = false;
      this.sendDecline(task, checkpointId, 'the task declined the checkpoint (fault plan)');
      if (!task.finished && !task.sourceEnded) this.forwardBarrier(task, checkpointId);
      return;
    }
    const alignment: AlignmentObservation[] = [];
    const unaligned = trigger === 'barrier' && unalignedAtBarrier;
    if (trigger === 'barrier' && !unaligned && !this.options.omitAlignmentObservations) {
      for (let inputSlot = 0; inputSlot < task.inputs.length; inputSlot++) {
        const channel = task.inputs[inputSlot]!;
        const recordsBeforeBarrier = channel.barrierPositions.get(checkpointId);
        if (recordsBeforeBarrier === undefined) continue; // the input ended before barrier n
        alignment.push({ checkpointId, task: task.index, inputSlot, recordsBeforeBarrier, recordsTakenAtSnapshot: channel.recordsTaken, recordsInChannelState: 0 });
      }
    }
    if (unaligned) {
      task.unaligned = {
        checkpointId,
        snapshot: undefined,
        channelState: task.inputs.map(() => []),
        takenAtSnapshot: task.inputs.map((channel) => channel.recordsTaken),
        barrierTaken: task.inputs.map(() => false),
        barriersComplete: false,
      };
    }
    const context = { checkpointId };
    const pendingSnapshots: Promise<unknown>[] = [];
    for (const fn of this.checkpointedFunctions(task)) {
      const result = fn.snapshotState(context);
      if (isPromise(result)) pendingSnapshots.push(result);
    }
    // A slow synchronous phase holds the task (Flink's task thread in snapshotState); a slow asynchronous one only delays the acknowledgement.
    if (slow?.phase === 'sync') pendingSnapshots.push(this.timerPromise(task, slow.extraMs, `${task.name} synchronous snapshot phase of checkpoint ${checkpointId}`));
    if (slow?.phase === 'async') progress.slowAsyncMs += slow.extraMs;
    // A method, not a `const complete = () => ...`: tsx (esbuild keepNames) names such a
    // closure with Object.defineProperty, about 0.6 µs at every snapshot.
    if (pendingSnapshots.length === 0) this.completeSnapshot(task, checkpointId, trigger, unaligned, alignment, progress);
    else this.awaitConnector(task, Promise.all(pendingSnapshots), `snapshotState(${checkpointId})`, () => this.completeSnapshot(task, checkpointId, trigger, unaligned, alignment, progress));
  }

  /** The snapshot's connector calls are done: take the subtask's state, forward the barrier, acknowledge. */
  private completeSnapshot(task: Task, checkpointId: number, trigger: 'barrier' | 'trigger', unaligned: boolean, alignment: AlignmentObservation[], progress: CheckpointProgress): void {
    progress.syncDoneMs = this.scheduler.nowMs;
    const snapshot = this.subtaskSnapshot(task, checkpointId);
    if (!task.finished && !task.sourceEnded) this.forwardBarrier(task, checkpointId);
    if (unaligned) {
      if (task.unaligned?.checkpointId !== checkpointId) return; // aborted meanwhile
      task.unaligned.snapshot = snapshot;
      this.completeUnalignedIfReady(task);
      return;
    }
    this.sendAck(task, { kind: 'ack', checkpointId, task: task.index, snapshot, alignment, cause: trigger });
  }

  /** Operator and keyed state, the process functions' keyed state and timers, and a source's position. */
  private subtaskSnapshot(task: Task, checkpointId: number): SubtaskSnapshot {
    let snapshot: SubtaskSnapshot = task.state.snapshot();
    const keyed = task.operators[0]?.process;
    if (keyed !== undefined) {
      const keyedState: KeyedStateEntries = { ...snapshot.keyedState } as KeyedStateEntries;
      const timers: TimerSnapshot[] | undefined = this.options.timersLeftOutOfSnapshot ? undefined : [];
      keyed.snapshotInto(keyedState, timers);
      snapshot = { ...snapshot, keyedState, ...(timers === undefined || timers.length === 0 ? {} : { timers }) };
    }
    // The snapshot is a fresh object made here: the source's position is added to it in place
    // (an object spread at every source snapshot was most of this method's cost).
    if (task.source instanceof SplitOwningReader) (snapshot as Mutable<SubtaskSnapshot>).splitPositions = task.source.positions();
    else if (task.source !== undefined) (snapshot as Mutable<SubtaskSnapshot>).sourcePosition = task.source.currentPosition();
    const rocksDb = this.rocksDbStores.get(task.index);
    if (rocksDb !== undefined && Object.keys(snapshot.keyedState).length > 0) {
      snapshot = { ...snapshot, keyedState: {}, keyedStateHandle: rocksDb.snapshot(checkpointId, snapshot.keyedState) };
    }
    return snapshot;
  }

  /** Aligned modes queue the barrier behind the data; unaligned lets it overtake what is in flight. */
  private forwardBarrier(task: Task, checkpointId: number): void {
    const barrier = { kind: ElementKind.Barrier, checkpointId } as const;
    if (this.options.mode === 'unaligned' && !this.options.unalignedBarriersQueueBehindData) for (const output of task.outputs) output.pushFront(barrier);
    else this.pushToOutputs(task, barrier);
    for (const output of task.outputs) {
      output.barrierPushedAtMs.set(checkpointId, this.scheduler.nowMs);
      const around = output.recordsAheadOf(checkpointId);
      if (around === undefined) throw new RuntimeInvariantError(`task ${task.name}: barrier ${checkpointId} not in channel ${output.index} right after it was forwarded`);
      this.observations.forwardedBarriers.push({ task: task.index, channel: output.index, checkpointId, atStep: this.scheduler.step, recordsAhead: around.ahead, recordsQueued: around.queued });
    }
  }

  /**
   * Unaligned: acknowledge once the snapshot is taken and every live input delivered barrier n;
   * the records in front of the barriers are in the channel state by then (copied when each
   * barrier was taken), so the acknowledgement never waits for the data to drain.
   */
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
    this.sendAck(task, { kind: 'ack', checkpointId: unaligned.checkpointId, task: task.index, snapshot, alignment, cause: 'barrier' });
  }

  // ---------------------------------------------------------------- virtual processing time and checkpoint details

  /** A slow-operator fault: the subtask spends `extraMsPerRecord` more on every record from now on (in every later attempt too). */
  slowDown(task: Task, extraMsPerRecord: number): void {
    if (!(Number.isFinite(extraMsPerRecord) && extraMsPerRecord > 0)) throw new RuntimeInvariantError(`slow-operator: extraMsPerRecord must be > 0, got ${extraMsPerRecord}`);
    task.recordCostMs += extraMsPerRecord;
  }

  /** The task spends its record cost on the record it just took: nothing else runs on it until then (a timer wakes the scheduler). */
  private occupy(task: Task): void {
    const costMs = task.recordCostMs;
    task.busyUntilMs = this.scheduler.nowMs + costMs;
    this.scheduler.setTimer(costMs, `${task.name} processed a record`, NO_WORK);
  }

  /** A promise a timer settles after `delayMs`: a task busy on it is busy on virtual time, not on I/O. */
  private timerPromise(task: Task, delayMs: number, label: string): Promise<void> {
    this.timerWaits++;
    const attempt = this.host.attempt();
    return new Promise<void>((resolve) => {
      this.scheduler.setTimer(delayMs, label, () => {
        this.timerWaits--;
        if (attempt !== this.host.attempt()) return; // the failover already released the task
        this.scheduler.requestDrain();
        resolve();
      });
    });
  }

  private progressOf(task: Task, checkpointId: number): CheckpointProgress {
    let byId = this.checkpointProgress.get(task.index);
    if (byId === undefined) this.checkpointProgress.set(task.index, (byId = new Map()));
    let progress = byId.get(checkpointId);
    if (progress === undefined) {
      progress = { firstBarrierAtMs: undefined, barrierQueuedMs: 0, triggerDelayMs: 0, snapshotStartMs: undefined, syncDoneMs: undefined, bytesDuringAlignment: 0, slowAsyncMs: 0 };
      byId.set(checkpointId, progress);
    }
    return progress;
  }

  private triggeredAtMs(checkpointId: number, fallbackMs: number): number {
    const checkpoints = this.observations.checkpoints;
    for (let i = checkpoints.length - 1; i >= 0; i--) if (checkpoints[i]!.checkpointId === checkpointId) return checkpoints[i]!.triggeredAtMs;
    return fallbackMs;
  }

  /** The acknowledgement of a snapshot, after its asynchronous phase; records the subtask's checkpoint details as it leaves. */
  private sendAck(task: Task, message: Extract<ControlMessage, { kind: 'ack' }>): void {
    const progress = this.checkpointProgress.get(task.index)?.get(message.checkpointId);
    // No closure for the usual acknowledgement (tsx names each with Object.defineProperty, at every snapshot of every task).
    if (progress === undefined || progress.slowAsyncMs === 0) return this.sendAckNow(task, message, progress);
    const attempt = this.host.attempt();
    this.scheduler.setTimer(progress.slowAsyncMs, `${task.name} asynchronous snapshot phase of checkpoint ${message.checkpointId}`, () => {
      if (attempt === this.host.attempt() && this.host.isRunning()) this.sendAckNow(task, message, progress);
    });
  }

  private sendAckNow(task: Task, message: Extract<ControlMessage, { kind: 'ack' }>, progress: CheckpointProgress | undefined): void {
    if (progress !== undefined) {
      this.checkpointProgress.get(task.index)?.delete(message.checkpointId);
      if (this.metrics !== undefined) this.recordCheckpointDetail(task, message, progress);
    }
    this.host.send(message);
  }

  private recordCheckpointDetail(task: Task, message: Extract<ControlMessage, { kind: 'ack' }>, progress: CheckpointProgress): void {
    const nowMs = this.scheduler.nowMs;
    const snapshotStartMs = progress.snapshotStartMs ?? nowMs;
    const syncDoneMs = progress.syncDoneMs ?? snapshotStartMs;
    const detail: SubtaskCheckpointDetail = {
      checkpointId: message.checkpointId,
      task: task.index,
      attempt: this.host.attempt(),
      triggerDelayMs: progress.triggerDelayMs,
      barrierQueuedMs: progress.barrierQueuedMs,
      alignmentMs: progress.firstBarrierAtMs === undefined ? 0 : Math.max(0, snapshotStartMs - progress.firstBarrierAtMs),
      syncMs: syncDoneMs - snapshotStartMs,
      asyncMs: nowMs - syncDoneMs,
      bytesProcessedDuringAlignment: progress.bytesDuringAlignment,
      stateBytes: snapshotBytes(message.snapshot),
      endToEndMs: nowMs - this.triggeredAtMs(message.checkpointId, nowMs),
    };
    (this.observations.checkpointDetails ??= []).push(detail);
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
    this.checkpointProgress.get(task.index)?.delete(checkpointId);
    this.host.send({ kind: 'decline', checkpointId, task: task.index, reason });
  }

  // ---------------------------------------------------------------- connector promises

  private awaitConnector(task: Task, promise: Promise<unknown>, label: string, then: (() => void) | undefined): void {
    if (task.busyWith !== undefined) throw new RuntimeInvariantError(`task ${task.name} is already waiting on ${task.busyWith}`);
    task.busyWith = label;
    this.busyCount++;
    const attempt = this.host.attempt();
    promise.then(
      () => {
        if (attempt !== this.host.attempt() || !this.host.isRunning()) return;
        this.clearBusy(task);
        try {
          then?.();
          while (task.busyWith === undefined && task.continuations.length > 0 && attempt === this.host.attempt()) task.continuations.shift()!();
        } catch (error) {
          if (error instanceof RuntimeInvariantError) throw error;
          this.host.failover(`task ${task.name} failed: ${describeError(error)}`);
        }
      },
      (error: unknown) => {
        if (attempt !== this.host.attempt() || !this.host.isRunning()) return;
        this.clearBusy(task);
        this.host.failover(`task ${task.name} failed in ${label}: ${describeError(error)}`);
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

  /** A control message to a task: a direct trigger, its deployment, or a checkpoint's notification. */
  deliverControl(task: Task, message: Exclude<ControlMessage, CoordinatorMessage>): void {
    switch (message.kind) {
      case 'trigger': {
        if (message.checkpointId <= task.lastSnapshotId) return; // already snapshotted through its barriers
        if (task.source !== undefined || task.barriers?.allInputsEnded === true) this.snapshot(task, message.checkpointId, 'trigger');
        return;
      }
      case 'deploy': {
        task.deployed = true;
        return this.initializeTask(task, message.checkpointId);
      }
      case 'notify-complete': {
        this.rocksDbStores.get(task.index)?.onCheckpointComplete(message.checkpointId);
        const calls: Promise<unknown>[] = [];
        for (const listener of this.listeners(task)) {
          const result = listener.notifyCheckpointComplete?.(message.checkpointId);
          if (isPromise(result)) calls.push(result);
        }
        // No `const done = () => ...`: tsx would name the closure (Object.defineProperty) at every notification.
        if (calls.length === 0) this.host.onNotifyDelivered(message.checkpointId, task.index);
        else this.awaitConnector(task, Promise.all(calls), `notifyCheckpointComplete(${message.checkpointId})`, () => this.host.onNotifyDelivered(message.checkpointId, task.index));
        return;
      }
      case 'notify-aborted': {
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

  /** A new local store for the task: empty, or started from the files downloaded for the restored checkpoint. */
  private deployRocksDbStore(task: Task, snapshot: SubtaskSnapshot | undefined): void {
    const owner = `task-${task.index}/store-${++this.rocksDbStoresCreated}`;
    const options = {
      incremental: this.options.incrementalCheckpoints,
      thresholds: { memtableFlushEntries: this.options.rocksDbMemtableFlushEntries, compactionTriggerFiles: this.options.rocksDbCompactionTriggerFiles },
      incrementalForgetsCompactedFiles: this.options.incrementalForgetsCompactedFiles,
    };
    const files = snapshot?.downloadedFiles;
    const restored = files === undefined ? undefined : { files, entries: encodeKeyedState(snapshot!.keyedState) };
    this.rocksDbStores.set(task.index, new RocksDbKeyedStateSnapshotter(owner, options, restored));
  }

  /** Resets a task for a new attempt from its snapshot (or from scratch) and creates its connectors; false if one threw (the job failed over). */
  redeploy(task: Task, snapshot: SubtaskSnapshot | undefined): boolean {
    task.state = new SubtaskState();
    if (snapshot !== undefined) task.state.restore(snapshot);
    task.restored = snapshot;
    task.replayLeft = undefined;
    task.replayHeld = 0;
    if (this.options.backend === 'rocksdb') this.deployRocksDbStore(task, snapshot);
    task.barriers = task.inputs.length > 0 ? new BarrierHandler(this.options.mode, task.inputs.length, { holdInputsWhenUnaligned: this.options.unalignedHoldsInputs }) : undefined;
    // Watermarks are not part of a snapshot: every attempt starts at MIN_WATERMARK.
    task.valve = task.inputs.length > 0 ? new WatermarkValve(task.inputs.length, this.options.watermarkAsMaxOfInputs, this.options.resumedInputPullsWatermarkBack) : undefined;
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
    task.busyUntilMs = 0;
    this.checkpointProgress.delete(task.index);
    snapshot?.channelState?.forEach((records, slot) => {
      task.inputs[slot]!.replayInFlight(records.map((record) => ({ kind: ElementKind.Record, key: record.key, value: record.value, timestampMs: record.timestampMs })));
    });
    const info = { subtaskIndex: task.subtaskIndex, parallelism: task.parallelism };
    try {
      const sourceSpec = task.sourceSpec;
      const owned = task.ownedSplits;
      task.source =
        sourceSpec === undefined
          ? undefined
          : owned === undefined
            ? this.createConnector(sourceSpec.name, () => sourceSpec.create(info))
            : new SplitOwningReader((splitInfo) => this.createConnector(sourceSpec.name, () => sourceSpec.create(splitInfo)), owned, task.parallelism);
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
      this.host.failover(`task ${task.name} failed: ${describeError(error)}`);
      return false;
    }
    return true;
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
    const attempt = this.host.attempt();
    const context: FunctionInitializationContext = {
      isRestored: () => restoredCheckpointId !== undefined,
      restoredCheckpointId,
      getOperatorStateStore: () => task.state,
      subtaskIndex: task.subtaskIndex,
      parallelism: task.parallelism,
      attemptNumber: this.host.restarts(),
      report: (event: ConnectorEvent) => {
        this.observations.connectorEvents.push({ ...event, step: this.scheduler.step, attempt, task: task.index });
      },
    };
    const calls: Promise<unknown>[] = [];
    try {
      this.openProcessFunctions(task);
      if (this.failNextInitialize[task.index] === true) {
        this.failNextInitialize[task.index] = false;
        // Planted bug: a runtime that logs a synchronous initializeState error and runs the task anyway.
        if (this.options.initializeErrorSwallowed === true) this.scheduler.record(`task ${task.name}: ${INJECTED_INITIALIZE_FAILURE}; logged and ignored`);
        else throw new Error(INJECTED_INITIALIZE_FAILURE);
      }
      for (const fn of this.checkpointedFunctions(task)) {
        const result = fn.initializeState(context);
        if (isPromise(result)) calls.push(result);
      }
    } catch (error) {
      if (error instanceof RuntimeInvariantError) throw error;
      this.host.failover(`task ${task.name} failed in initializeState: ${describeError(error)}`);
      return;
    }
    const recordStart = (): void => {
      if (task.source === undefined) return;
      for (const position of sourcePositionsOf(task.source)) this.observations.sourcePositions.push({ kind: 'start', attempt, task: task.index, step: this.scheduler.step, checkpointId: restoredCheckpointId, position });
    };
    if (calls.length > 0) this.awaitConnector(task, Promise.all(calls), 'initializeState', recordStart);
    else recordStart();
  }

  /** Creates and opens the task's process functions (fresh or restored), as Flink's operators open at deployment. */
  private openProcessFunctions(task: Task): void {
    const info = { subtaskIndex: task.subtaskIndex, parallelism: task.parallelism };
    const attempt = this.host.attempt();
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
              if (attempt !== this.host.attempt() || !this.host.isRunning()) return;
              this.whenIdle(task, () => {
                try {
                  this.onProcessingTimer(task);
                } catch (error) {
                  if (error instanceof RuntimeInvariantError) throw error;
                  this.host.failover(`task ${task.name} failed: ${describeError(error)}`);
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
}

/** Does nothing: a timer that only wakes the scheduler when a task's record cost has passed. */
const NO_WORK = (): void => {};

/** Bytes of a subtask's snapshot: its serialised keyed and operator state (rocksdb: the bytes its files hold). */
function snapshotBytes(snapshot: SubtaskSnapshot): number {
  const handle = snapshot.keyedStateHandle;
  const keyedBytes = handle !== undefined ? handle.bytesReferenced : estimateBytes(snapshot.keyedState);
  return keyedBytes + estimateBytes(snapshot.operatorState) + (snapshot.channelState === undefined ? 0 : estimateBytes(snapshot.channelState));
}

/** Every split's position a source subtask declares: one per owned split of a split-owning subtask (none when it owns none). */
function sourcePositionsOf(source: SourceReader<unknown>): SourcePosition[] {
  return source instanceof SplitOwningReader ? source.positions() : [source.currentPosition()];
}

/** An assigner in the task's chain generates the watermarks from there on: the task's own are not passed on. */
function generatesWatermarks(task: Task): boolean {
  const operators = task.operators;
  for (let i = 0; i < operators.length; i++) if (operators[i]!.generator !== undefined) return true;
  return false;
}
