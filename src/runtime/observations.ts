import type { RescaleObservation } from './rescale.ts';
import type { StateBackendObservations } from './backends/rocksdb-backend.ts';
import type { ExecutionAttemptEntry } from './execution-ids.ts';
import type { FlowMetricsObservation, SubtaskCheckpointDetail } from './flow-metrics.ts';
import type { SourcePosition, TransactionEvent } from '../connectors/api.ts';
import type { CheckpointingMode } from './barrier-handler.ts';
import type { StateBackendKind, SubtaskSnapshot } from './state.ts';

/**
 * What a finished run is judged by. Properties read only this (never runtime internals),
 * so the same checks can judge an end-to-end run from its real outputs.
 */
export interface AlignmentObservation {
  readonly checkpointId: number;
  readonly task: number;
  readonly inputSlot: number;
  /** Records the upstream pushed into this channel before barrier n. */
  readonly recordsBeforeBarrier: number;
  /** Records the task had taken from this channel when it took snapshot n. */
  readonly recordsTakenAtSnapshot: number;
  /** Records in front of barrier n taken after the snapshot and kept as channel state (unaligned). */
  readonly recordsInChannelState: number;
}

export interface CheckpointObservation {
  readonly checkpointId: number;
  readonly triggeredAtStep: number;
  readonly triggeredAtMs: number;
  /** Place of the trigger in the run's event order (see `RunObservations.checkpointEvents`). */
  readonly triggeredSeq: number;
  outcome: 'pending' | 'completed' | 'declined' | 'expired' | 'aborted';
  endedAtStep: number;
  /** Virtual time of completion or abort (external systems log in time, not steps). */
  endedAtMs: number;
  reason: string;
  /** Snapshots of every task, when completed. */
  tasks: readonly SubtaskSnapshot[] | undefined;
  /** The task whose acknowledgement came last, and when: the one a slow checkpoint waited on. */
  lastAckTask: number;
  lastAckStep: number;
  /** Tasks whose acknowledgement the coordinator counted, in order (blame: an ack that arrived but was not counted). */
  readonly ackedTasks: number[];
  /** Per task: whether its acknowledged snapshot was taken at barriers or on a direct trigger (all inputs ended). */
  readonly snapshotCauses: ('barrier' | 'trigger' | undefined)[];
}

/**
 * Every observed event carries `seq`, its place in one run-wide order: steps alone do not
 * order a fault against what happened in the same step.
 */
export interface CheckpointEvent {
  readonly seq: number;
  readonly checkpointId: number;
  readonly event: 'triggered' | 'completed' | 'declined' | 'expired' | 'aborted';
  readonly atStep: number;
  readonly atMs: number;
  /** For 'aborted': what ended it. */
  readonly cause?: 'failover' | 'subsumed';
}

/** A control message a fault of the plan lost on its way. */
export interface LostMessageObservation {
  readonly seq: number;
  readonly kind: 'ack' | 'notify-complete';
  readonly checkpointId: number;
  readonly task: number;
  readonly atStep: number;
}

/** A notify-complete a task's connectors received (its notifyCheckpointComplete ran). */
export interface NotifyDeliveryObservation {
  readonly seq: number;
  readonly checkpointId: number;
  readonly task: number;
  readonly atStep: number;
}

export interface FailoverObservation {
  readonly seq: number;
  readonly atStep: number;
  readonly atMs: number;
  readonly cause: string;
}

/**
 * A barrier a task took from one input (`inputSlot`, `checkpointId`), an end of input
 * (checkpointId 0), a notify-aborted of `checkpointId` (inputSlot -1), or, aligned mode with
 * an alignment timeout, the switch of `checkpointId` to unaligned at this task (inputSlot
 * ALIGNMENT_TIMED_OUT: the checkpoint ends unaligned here), and the inputs the task holds
 * back afterwards.
 */
/** BarrierEvent.inputSlot of a notify-aborted. */
export const CHECKPOINT_ABORTED = -1;
/** BarrierEvent.inputSlot of an alignment that timed out and switched its checkpoint to unaligned. */
export const ALIGNMENT_TIMED_OUT = -2;

export interface BarrierEvent {
  readonly task: number;
  /** Attempt of the job (a restore starts every task's barrier handling afresh). */
  readonly attempt: number;
  readonly inputSlot: number;
  readonly checkpointId: number;
  readonly atStep: number;
  readonly atMs: number;
  /** Input slots the task does not take records from after this event (as the scheduler sees them). */
  readonly blockedSlots: readonly number[];
  /** The checkpoint the task counted complete at this event (every live input delivered its barrier), if any. */
  readonly completedId?: number;
  /** Unaligned: records the barrier overtook, still queued when the task took it; copied into the channel state at once and processed afterwards. */
  readonly recordsOvertaken?: number;
}

/** A barrier a task forwarded into one output channel, and the records in flight around it. */
export interface ForwardedBarrier {
  readonly task: number;
  readonly channel: number;
  readonly checkpointId: number;
  readonly atStep: number;
  /** Records queued in the channel in front of the barrier right after it was forwarded. */
  readonly recordsAhead: number;
  /** Records queued in the channel in all. */
  readonly recordsQueued: number;
}

/** The job's settings the invariants judge against. */
export interface RunSettings {
  readonly mode: CheckpointingMode;
  readonly backend: StateBackendKind;
  readonly checkpointIntervalMs: number;
  readonly checkpointTimeoutMs: number;
  readonly maxConcurrentCheckpoints: number;
  readonly maxRestarts: number;
  /** Key groups of the job's keyed exchanges and state (absent in observations made before key groups: the default). */
  readonly maxParallelism?: number;
  /** Aligned mode: the alignment timeout after which a task switches a checkpoint to unaligned (absent: never). */
  readonly alignedCheckpointTimeoutMs?: number;
  /** Subtasks whose asynchronous snapshot phase the job was configured to slow (JobOptions.slowAsyncPhaseMs), by task name, in virtual ms. */
  readonly slowAsyncPhaseMs?: Readonly<Record<string, number>>;
}

export interface FaultObservation {
  readonly seq: number;
  readonly atStep: number;
  readonly atMs: number;
  /** Checkpoints pending when the fault fired. */
  readonly pendingCheckpoints: readonly number[];
  /** Whether the job was running (not restarting) when the fault fired. */
  readonly jobRunning: boolean;
  readonly kind: string;
  readonly description: string;
  /** The fault-injection point: the situation the job was in when the fault fired. */
  readonly situation: string;
}

export interface RestoreObservation {
  readonly seq: number;
  readonly atStep: number;
  readonly atMs: number;
  readonly attempt: number;
  /** The checkpoint restored from; undefined for a start from scratch. */
  readonly checkpointId: number | undefined;
}

/** Where a source subtask stood when it started (fresh or restored) and when its input ended. */
export interface SourcePositionObservation {
  readonly kind: 'start' | 'end';
  readonly attempt: number;
  readonly task: number;
  readonly step: number;
  /** start: the checkpoint restored from (undefined: from scratch). */
  readonly checkpointId: number | undefined;
  readonly position: SourcePosition;
}

/** A connector's report of what it did to an external system (see `FunctionInitializationContext.report`). */
export type ConnectorEventObservation = { readonly type: 'transaction' } & TransactionEvent & {
  readonly step: number;
  readonly attempt: number;
  readonly task: number;
};

/** A task's watermark or idleness changed (sources: what they emitted; other tasks: the minimum over their inputs). */
export interface WatermarkObservation {
  readonly task: number;
  readonly attempt: number;
  readonly step: number;
  /** Virtual time of the change. */
  readonly atMs: number;
  readonly watermarkMs: number;
  readonly idle: boolean;
}

/** A keyed timer fired in a process function. */
export interface TimerFiringObservation {
  readonly task: number;
  readonly attempt: number;
  readonly operator: string;
  readonly key: string | number;
  readonly timestampMs: number;
  readonly domain: 'event-time' | 'processing-time';
  readonly step: number;
  /** Virtual time of the firing. */
  readonly atMs: number;
}

export interface RunObservations {
  readonly jobName: string;
  readonly taskNames: readonly string[];
  /** Input channels per task (0 for a source task). */
  readonly taskInputCounts: readonly number[];
  readonly settings: RunSettings;
  readonly checkpointEvents: CheckpointEvent[];
  readonly failovers: FailoverObservation[];
  readonly lostMessages: LostMessageObservation[];
  readonly notifiesDelivered: NotifyDeliveryObservation[];
  readonly barrierEvents: BarrierEvent[];
  readonly forwardedBarriers: ForwardedBarrier[];
  readonly checkpoints: CheckpointObservation[];
  readonly alignment: AlignmentObservation[];
  /** Flink's JobID of the run (32 hex digits, from the job name) and the execution attempts its messages named. */
  readonly jobId: string;
  readonly executionAttempts: ExecutionAttemptEntry[];
  readonly faults: FaultObservation[];
  /** Faults of the plan whose step the run never reached. */
  readonly faultsNotReached: string[];
  readonly restores: RestoreObservation[];
  /** Restores that redistributed a checkpoint to another parallelism (rescale faults), in order; absent: none. */
  rescales?: RescaleObservation[];
  /** Source records emitted, over all attempts. */
  recordsEmitted: number;
  /** Times a producer found an output channel full. */
  backpressureEncounters: number;
  outcome: 'finished' | 'failed' | 'budget-exhausted' | 'stuck';
  /** Why the job failed or got stuck, in words. */
  failureReason: string;
  steps: number;
  virtualTimeMs: number;
  traceHash: string;
  /** Step of the last injected fault, -1 without faults. */
  lastFaultStep: number;
  /** Source positions at every start and end of input, for rewind and split-ownership checks. */
  readonly sourcePositions: SourcePositionObservation[];
  readonly connectorEvents: ConnectorEventObservation[];
  /** Per task: its vertex (the chain's name without the subtask index) and the operators chained in it. */
  readonly taskVertices: ReadonlyArray<{ readonly vertex: string; readonly operators: readonly string[] }>;
  /** Every change of a task's watermark or idleness (watermarks start over at MIN_WATERMARK in every attempt). */
  readonly watermarks: WatermarkObservation[];
  readonly timerFirings: TimerFiringObservation[];
  /** Records emitted to each side output, by tag id, over all attempts. */
  readonly sideOutputRecords: Record<string, number>;
  /** rocksdb backend only: what each completed checkpoint cost and what each restore got back. */
  stateBackend?: StateBackendObservations;
  /** Flink's task metrics per subtask in virtual time (backpressure, busy and idle time, pool usage, records in and out). */
  flowMetrics?: FlowMetricsObservation;
  /** Per acknowledged snapshot: the subtask's part of its checkpoint (Flink's checkpoint details). */
  checkpointDetails?: SubtaskCheckpointDetail[];
  /** Each time a channel's receiver held more elements than the buffers it had for it, beyond the most so far (absent: never). */
  bufferOverdrafts?: BufferOverdraftObservation[];
}

/** A receiver held more elements sent with credit than its buffers for the channel (exclusive plus floating lent): credit-based flow control broken. */
export interface BufferOverdraftObservation {
  readonly channel: number;
  readonly fromTask: number;
  readonly toTask: number;
  readonly atStep: number;
  readonly attempt: number;
  /** Elements the receiver held beyond its buffers for the channel. */
  readonly elementsOverBuffers: number;
  /** Its buffers for the channel then: exclusive plus floating lent. */
  readonly buffers: number;
}
