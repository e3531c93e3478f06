import type { SourcePosition, TransactionEvent } from '../connectors/api.ts';
import type { SubtaskSnapshot } from './state.ts';

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
}

export interface FaultObservation {
  readonly atStep: number;
  readonly kind: string;
  readonly description: string;
  /** The fault-injection point: the situation the job was in when the fault fired. */
  readonly situation: string;
}

export interface RestoreObservation {
  readonly atStep: number;
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

export interface RunObservations {
  readonly jobName: string;
  readonly taskNames: readonly string[];
  readonly checkpoints: CheckpointObservation[];
  readonly alignment: AlignmentObservation[];
  readonly faults: FaultObservation[];
  /** Faults of the plan whose step the run never reached. */
  readonly faultsNotReached: string[];
  readonly restores: RestoreObservation[];
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
}
