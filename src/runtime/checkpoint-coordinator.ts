/**
 * The checkpoint coordinator of one job (Flink's CheckpointCoordinator): triggers checkpoints
 * periodically, collects the tasks' acknowledgements into completed checkpoints (the store),
 * aborts on declines, expiry, subsumption and failover, notifies the tasks, triggers the final
 * checkpoint once every task ended and tells the job when every task heard of it. It talks to
 * the tasks only through control messages the runtime delivers as scheduler steps.
 */
import type { StepDriver } from '../sim/scheduler.ts';
import type { JobOptions } from './job.ts';
import type { ExecutionIds } from './execution-ids.ts';
import { RuntimeInvariantError } from './errors.ts';
import type { Mutable } from './mutable.ts';
import type { AlignmentObservation, CheckpointEvent, CheckpointObservation, RunObservations } from './observations.ts';
import { CheckpointStore, type CompletedCheckpoint, type SubtaskSnapshot } from './state.ts';

export type ControlMessage =
  | { readonly kind: 'trigger'; readonly checkpointId: number; readonly task: number }
  | {
      readonly kind: 'ack';
      readonly checkpointId: number;
      readonly task: number;
      readonly snapshot: SubtaskSnapshot;
      readonly alignment: readonly AlignmentObservation[];
      readonly cause: 'barrier' | 'trigger';
    }
  | { readonly kind: 'decline'; readonly checkpointId: number; readonly task: number; readonly reason: string }
  | { readonly kind: 'notify-complete'; readonly checkpointId: number; readonly task: number }
  | { readonly kind: 'notify-aborted'; readonly checkpointId: number; readonly task: number }
  | { readonly kind: 'input-ended'; readonly task: number }
  /** The coordinator deploys a task of a new attempt (Flink's TaskDeploymentDescriptor): it then restores its state. */
  | { readonly kind: 'deploy'; readonly task: number; readonly checkpointId: number | undefined };

export type CoordinatorMessage = Extract<ControlMessage, { kind: 'ack' | 'decline' | 'input-ended' }>;

/** Acks, declines and input-ended go to the coordinator; every other control message goes to a task. */
export function isForCoordinator(message: ControlMessage): message is CoordinatorMessage {
  return message.kind === 'ack' || message.kind === 'decline' || message.kind === 'input-ended';
}

interface PendingCheckpoint {
  readonly observation: CheckpointObservation;
  readonly snapshots: (SubtaskSnapshot | undefined)[];
  readonly alignment: AlignmentObservation[];
  ackCount: number;
  readonly cancelTimeout: () => void;
}

/** What the coordinator needs of the job around it. */
export interface CoordinatorHost {
  readonly jobName: string;
  /** Flink's ids for the messages: the JobID, each task attempt's ExecutionAttemptID, its task manager. */
  readonly ids: ExecutionIds;
  readonly taskNames: readonly string[];
  /** Source tasks start barriers; the others are triggered directly only once they ended. */
  isSource(task: number): boolean;
  isRunning(): boolean;
  /** The job's attempt: timers of an older attempt do nothing. */
  attempt(): number;
  /** The next number in the run-wide order of observed events. */
  nextSeq(): number;
  /** A control message to a task (delivered as a scheduler step). */
  send(message: ControlMessage): void;
  /** The harness hook, inside the step that completes a checkpoint. */
  onCheckpointCompleted(checkpointId: number): void;
  /** Every task heard of a checkpoint covering all input: the job finished. */
  onFinished(): void;
}

export class CheckpointCoordinator {
  readonly store: CheckpointStore;
  readonly pending = new Map<number, PendingCheckpoint>();
  private lastCheckpointId = 0;
  /** Checkpoints that expired: an acknowledgement of one after that is a late message. */
  private readonly expiredIds = new Set<number>();
  private cancelPeriodicTrigger: (() => void) | undefined;
  private endedTasks = 0;
  /** The first checkpoint that covers all input (triggered once every task ended). */
  private finalCheckpointId = 0;
  /**
   * Tasks notified of a checkpoint that covers all their input. A task finishes only then
   * (FLIP-147): if that notification is lost, later checkpoints keep coming until one arrives.
   */
  private finalNotified: boolean[] = [];
  private finalNotifiedCount = 0;
  /** Fault plan: the next notify-complete message is lost. */
  dropNextNotify = false;
  /** Virtual time the last checkpoint completed or was aborted (-1: none yet), for the minimum pause. */
  private lastEndedAtMs = -1;

  constructor(
    private readonly host: CoordinatorHost,
    private readonly options: JobOptions,
    private readonly scheduler: StepDriver,
    private readonly observations: RunObservations,
    private taskCount: number,
  ) {
    this.store = new CheckpointStore(options.backend, options, observations);
  }

  /** The job was laid out anew between attempts (a rescale): it runs this many tasks from the next attempt on. */
  resize(taskCount: number): void {
    if (this.pending.size > 0) throw new Error(`CheckpointCoordinator: resize with ${this.pending.size} checkpoint(s) pending`);
    this.taskCount = taskCount;
  }

  /** A new attempt starts: no task has ended in it yet. */
  startAttempt(): void {
    this.endedTasks = 0;
    this.knownEnded = new Array<boolean>(this.taskCount).fill(false);
    this.finalCheckpointId = 0;
    this.finalNotified = new Array<boolean>(this.taskCount).fill(false);
    this.finalNotifiedCount = 0;
  }

  stopPeriodicTrigger(): void {
    this.cancelPeriodicTrigger?.();
  }

  /** The oldest pending checkpoint times out now (fault plan). */
  expireOldest(): void {
    const oldest = [...this.pending.keys()].sort((a, b) => a - b)[0];
    if (oldest !== undefined) this.expireCheckpoint(oldest);
  }

  /** A failover aborts every pending checkpoint. */
  abortAllPending(cause: string): void {
    for (const checkpointId of [...this.pending.keys()]) this.abortCheckpoint(checkpointId, 'aborted', `Checkpoint ${checkpointId} of job ${this.host.jobName} aborted by failover: ${cause}`, 'failover');
  }

  /** The run ended: no timeout may fire any more. */
  cancelTimeouts(): void {
    for (const pending of this.pending.values()) pending.cancelTimeout();
  }

  triggerCheckpoint(): void {
    if (!this.host.isRunning()) return;
    if (this.pending.size >= this.options.maxConcurrentCheckpoints) return;
    const checkpointId = ++this.lastCheckpointId;
    if (this.endedTasks === this.taskCount && this.finalCheckpointId === 0) this.finalCheckpointId = checkpointId;
    const observation: CheckpointObservation = {
      checkpointId,
      triggeredAtStep: this.scheduler.step,
      triggeredAtMs: this.scheduler.nowMs,
      triggeredSeq: this.observeCheckpointEvent(checkpointId, 'triggered'),
      snapshotCauses: new Array(this.taskCount).fill(undefined),
      outcome: 'pending',
      endedAtStep: -1,
      endedAtMs: -1,
      reason: '',
      tasks: undefined,
      lastAckTask: -1,
      lastAckStep: -1,
      ackedTasks: [],
    };
    this.observations.checkpoints.push(observation);
    const attempt = this.host.attempt();
    const cancelTimeout = this.scheduler.setTimer(this.options.checkpointTimeoutMs, `checkpoint ${checkpointId} timeout`, () => {
      if (attempt === this.host.attempt()) this.expireCheckpoint(checkpointId);
    });
    this.pending.set(checkpointId, { observation, snapshots: new Array(this.taskCount).fill(undefined), alignment: [], ackCount: 0, cancelTimeout });
    this.scheduler.record(`coordinator triggers checkpoint ${checkpointId}`);
    for (let task = 0; task < this.taskCount; task++) {
      // Sources start the barrier; a task known to have ended will never see one, so it is triggered directly (FLIP-147).
      if (this.host.isSource(task) || this.knownEnded[task]) this.host.send({ kind: 'trigger', checkpointId, task });
    }
  }

  /** Appends to the run-wide checkpoint event log; returns the event's place in the run's order. */
  private observeCheckpointEvent(checkpointId: number, event: CheckpointEvent['event'], cause?: CheckpointEvent['cause']): number {
    const seq = this.host.nextSeq();
    // `cause` is set, not spread in: a spread of a conditional literal takes V8's slow path, at every checkpoint event.
    const observed: Mutable<CheckpointEvent> = { seq, checkpointId, event, atStep: this.scheduler.step, atMs: this.scheduler.nowMs };
    if (cause !== undefined) observed.cause = cause;
    this.observations.checkpointEvents.push(observed);
    return seq;
  }

  onAck(checkpointId: number, taskIndex: number, snapshot: SubtaskSnapshot, alignment: readonly AlignmentObservation[], cause: 'barrier' | 'trigger'): void {
    const pending = this.pending.get(checkpointId);
    if (pending === undefined) {
      // A late ack of an aborted or expired checkpoint: Flink logs the expired ones.
      if (this.expiredIds.has(checkpointId)) {
        const ids = this.host.ids;
        this.scheduler.record(`Received late message for now expired checkpoint attempt ${checkpointId} from task ${ids.executionAttemptId(taskIndex, this.host.attempt())} of job ${ids.jobId} at ${ids.taskManager(taskIndex)}.`);
      }
      return;
    }
    if (this.options.dropAcksFromLastTask && taskIndex === this.taskCount - 1) return;
    if (pending.snapshots[taskIndex] !== undefined) throw new RuntimeInvariantError(`task ${taskIndex} acked checkpoint ${checkpointId} twice`);
    pending.snapshots[taskIndex] = snapshot;
    pending.observation.snapshotCauses[taskIndex] = cause;
    pending.alignment.push(...alignment);
    pending.observation.ackedTasks.push(taskIndex);
    pending.observation.lastAckTask = taskIndex;
    pending.observation.lastAckStep = this.scheduler.step;
    pending.ackCount++;
    if (pending.ackCount === this.taskCount) this.completeCheckpoint(checkpointId, pending);
  }

  private completeCheckpoint(checkpointId: number, pending: PendingCheckpoint): void {
    pending.cancelTimeout();
    this.pending.delete(checkpointId);
    const tasks = pending.snapshots as SubtaskSnapshot[];
    const completed: CompletedCheckpoint = {
      checkpointId,
      triggeredAtStep: pending.observation.triggeredAtStep,
      completedAtStep: this.scheduler.step,
      tasks,
    };
    this.store.add(completed);
    // Completing n subsumes every older pending checkpoint: it can never be a restore point now.
    for (const older of [...this.pending.keys()].filter((id) => id < checkpointId)) {
      this.abortCheckpoint(older, 'aborted', `Checkpoint ${older} of job ${this.host.jobName} subsumed by checkpoint ${checkpointId}`, 'subsumed');
    }
    pending.observation.outcome = 'completed';
    this.lastEndedAtMs = this.scheduler.nowMs;
    this.observeCheckpointEvent(checkpointId, 'completed');
    pending.observation.endedAtStep = this.scheduler.step;
    pending.observation.endedAtMs = this.scheduler.nowMs;
    pending.observation.tasks = tasks;
    this.observations.alignment.push(...pending.alignment);
    this.scheduler.record(`checkpoint ${checkpointId} completed`);
    this.host.onCheckpointCompleted(checkpointId);
    for (let task = 0; task < this.taskCount; task++) {
      if (this.dropNextNotify) {
        this.dropNextNotify = false;
        this.observations.lostMessages.push({ seq: this.host.nextSeq(), kind: 'notify-complete', checkpointId, task, atStep: this.scheduler.step });
        this.scheduler.record(`notify-complete ${checkpointId} to ${this.host.taskNames[task]} lost (fault plan)`);
        if (!this.options.lostNotifyStillDelivered) continue;
      }
      this.host.send({ kind: 'notify-complete', checkpointId, task });
    }
    this.triggerFinalIfDue();
  }

  expireCheckpoint(checkpointId: number): void {
    if (!this.pending.has(checkpointId)) return;
    this.expiredIds.add(checkpointId);
    this.abortCheckpoint(checkpointId, 'expired', `Checkpoint ${checkpointId} of job ${this.host.ids.jobId} expired before completing.`);
  }

  /** A task declined a checkpoint (Flink's CheckpointCoordinator.receiveDeclineMessage, in its words). */
  onDecline(checkpointId: number, task: number, reason: string): void {
    const ids = this.host.ids;
    const attemptId = ids.executionAttemptId(task, this.host.attempt());
    this.abortCheckpoint(checkpointId, 'declined', `Decline checkpoint ${checkpointId} by task ${attemptId} of job ${ids.jobId} at ${ids.taskManager(task)}. Reason: ${reason}`);
  }

  abortCheckpoint(checkpointId: number, outcome: 'declined' | 'expired' | 'aborted', reason: string, cause?: CheckpointEvent['cause']): void {
    const pending = this.pending.get(checkpointId);
    if (pending === undefined) return;
    this.observeCheckpointEvent(checkpointId, outcome, cause);
    if (outcome === 'expired' && this.options.expiryLeavesCheckpointPending) {
      pending.observation.outcome = outcome;
      this.scheduler.record(`${reason} (planted bug: it stays pending)`);
      return;
    }
    pending.cancelTimeout();
    this.pending.delete(checkpointId);
    this.lastEndedAtMs = this.scheduler.nowMs;
    pending.observation.outcome = outcome;
    pending.observation.endedAtStep = this.scheduler.step;
    pending.observation.endedAtMs = this.scheduler.nowMs;
    pending.observation.reason = reason;
    if (this.options.restoreFrom === 'latest-triggered' && pending.ackCount > 0) this.partialSnapshots.set(checkpointId, pending.snapshots);
    this.scheduler.record(reason);
    if (this.host.isRunning()) {
      for (let task = 0; task < this.taskCount; task++) this.host.send({ kind: 'notify-aborted', checkpointId, task });
    }
    this.triggerFinalIfDue();
  }

  onInputEnded(taskIndex: number): void {
    if (this.knownEnded[taskIndex]) throw new RuntimeInvariantError(`task ${taskIndex} reported its end twice`);
    this.knownEnded[taskIndex] = true;
    this.endedTasks++;
    // A pending checkpoint may wait on a task that ended without seeing its barrier: trigger it directly
    // (the task ignores the trigger if its barriers got there first).
    if (!this.host.isSource(taskIndex)) {
      for (const [checkpointId, pending] of this.pending) {
        if (pending.snapshots[taskIndex] === undefined) this.host.send({ kind: 'trigger', checkpointId, task: taskIndex });
      }
    }
    this.triggerFinalIfDue();
  }

  /** Tasks whose input-ended message reached the coordinator in this attempt. */
  private knownEnded: boolean[] = [];
  private readonly partialSnapshots = new Map<number, readonly (SubtaskSnapshot | undefined)[]>();

  /** Once every task ended, the final checkpoint is triggered at once instead of on the next period. */
  private triggerFinalIfDue(): void {
    if (this.host.isRunning() && this.endedTasks === this.taskCount && this.finalCheckpointId === 0 && this.pending.size === 0) {
      this.triggerCheckpoint();
    }
  }

  onNotifyDelivered(checkpointId: number, taskIndex: number): void {
    if (this.finalCheckpointId !== 0 && checkpointId >= this.finalCheckpointId && !this.finalNotified[taskIndex]) {
      this.finalNotified[taskIndex] = true;
      this.finalNotifiedCount++;
      if (this.finalNotifiedCount === this.taskCount) {
        this.host.onFinished();
        this.cancelPeriodicTrigger?.();
        this.scheduler.record(`job ${this.host.jobName} finished`);
        this.scheduler.stop();
      }
    }
  }

  schedulePeriodicTrigger(): void {
    this.cancelPeriodicTrigger?.();
    const attempt = this.host.attempt();
    const tick = (): void => {
      if (attempt !== this.host.attempt() || !this.host.isRunning()) return;
      // Flink's minPauseBetweenCheckpoints: a trigger due too soon after the last checkpoint ended waits for the pause to pass.
      const pauseLeftMs = this.lastEndedAtMs + (this.options.minPauseBetweenCheckpointsMs ?? 0) - this.scheduler.nowMs;
      if (pauseLeftMs > 0 && this.lastEndedAtMs >= 0) {
        this.cancelPeriodicTrigger = this.scheduler.setTimer(pauseLeftMs, 'checkpoint trigger (after the minimum pause)', tick);
        return;
      }
      this.triggerCheckpoint();
      this.cancelPeriodicTrigger = this.scheduler.setTimer(this.options.checkpointIntervalMs, 'checkpoint trigger', tick);
    };
    this.cancelPeriodicTrigger = this.scheduler.setTimer(this.options.checkpointIntervalMs, 'checkpoint trigger', tick);
  }

  checkpointToRestore(): CompletedCheckpoint | undefined {
    const completed = this.store.latest();
    if (this.options.restoreFrom === 'latest-completed') return completed;
    // Planted bug: take the newest triggered checkpoint, complete or not, filling the
    // snapshots it never received from the latest completed one.
    const newest = [...this.observations.checkpoints].reverse().find((c) => c.outcome !== 'completed' && this.partialSnapshots.has(c.checkpointId));
    if (newest === undefined || (completed !== undefined && completed.checkpointId > newest.checkpointId)) return completed;
    const partial = this.partialSnapshots.get(newest.checkpointId)!;
    const tasks = partial.map((snapshot, index) => snapshot ?? completed?.tasks[index] ?? { operatorState: {}, keyedState: {} });
    return { checkpointId: newest.checkpointId, triggeredAtStep: newest.triggeredAtStep, completedAtStep: -1, tasks };
  }
}
