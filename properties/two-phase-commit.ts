import type { KafkaTransaction } from '../src/connectors/kafka-sink.ts';
import { describeTransaction, type TwoPhaseCommitState } from '../src/connectors/two-phase-commit-sink.ts';
import type { BrokerEvent, TransactionListing } from '../src/connectors/sim/kafka-broker.ts';
import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

/** The two-phase-commit invariants of a Kafka sink, judged from the broker's transaction log and the checkpoints. */
export interface TwoPhaseCommitEvidence {
  readonly observations: RunObservations;
  readonly brokerEvents: readonly BrokerEvent[];
  readonly openTransactions: readonly TransactionListing[];
  /** Global task indexes of the sink subtasks. */
  readonly sinkTasks: readonly number[];
  readonly transactionalIdPrefix: string;
}

interface PreCommit {
  /** The first completed checkpoint whose state holds the transaction as pending. */
  readonly checkpointId: number;
  readonly completedAtMs: number;
  readonly transactionalId: string;
}

/**
 * Every transaction held as pending by a completed checkpoint, from the sinks' checkpointed
 * state, with the earliest such checkpoint. (A transaction pre-committed in a checkpoint that
 * was then declined stays pending, and the next completed checkpoint covers it.)
 */
function preCommitsOfCompletedCheckpoints(evidence: TwoPhaseCommitEvidence): Map<string, PreCommit> {
  const byTransactionalId = new Map<string, PreCommit>();
  for (const checkpoint of evidence.observations.checkpoints) {
    if (checkpoint.outcome !== 'completed' || checkpoint.tasks === undefined) continue;
    for (const task of evidence.sinkTasks) {
      const states = (checkpoint.tasks[task]?.operatorState['two-phase-commit'] ?? []) as TwoPhaseCommitState<KafkaTransaction>[];
      for (const state of states) {
        for (const [, transaction] of state.pending) {
          const known = byTransactionalId.get(transaction.transactionalId);
          if (known !== undefined && known.completedAtMs <= checkpoint.endedAtMs) continue;
          byTransactionalId.set(transaction.transactionalId, { checkpointId: checkpoint.checkpointId, completedAtMs: checkpoint.endedAtMs, transactionalId: transaction.transactionalId });
        }
      }
    }
  }
  return byTransactionalId;
}

/**
 * 1. committed => completed: no record becomes visible to a read_committed reader unless the
 *    checkpoint that pre-committed its transaction had completed when it was committed.
 */
export function checkCommittedImpliesCompleted(evidence: TwoPhaseCommitEvidence): Violation[] {
  const preCommits = preCommitsOfCompletedCheckpoints(evidence);
  const violations: Violation[] = [];
  for (const event of evidence.brokerEvents) {
    if (event.kind !== 'commit' || event.records === 0 || !event.transactionalId.startsWith(`${evidence.transactionalIdPrefix}-`)) continue;
    const preCommit = preCommits.get(event.transactionalId);
    if (preCommit === undefined) {
      violations.push({
        property: 'committed-implies-completed',
        anomaly: 'precommitted read',
        message: `transaction ${event.transactionalId} committed ${event.records} record(s) at ${event.atMs} ms but no completed checkpoint pre-committed it`,
      });
    } else if (preCommit.completedAtMs > event.atMs) {
      violations.push({
        property: 'committed-implies-completed',
        anomaly: 'precommitted read',
        message: `transaction ${event.transactionalId} committed at ${event.atMs} ms, before checkpoint ${preCommit.checkpointId}, the first to hold it, completed (${preCommit.completedAtMs} ms)`,
      });
    }
  }
  return violations;
}

/**
 * 2. completed => eventually committed: every transaction pre-committed in a completed
 *    checkpoint is committed by the end of a finished job, even when its first commit failed
 *    or the job crashed before the notification.
 */
export function checkCompletedImpliesCommitted(evidence: TwoPhaseCommitEvidence): Violation[] {
  if (evidence.observations.outcome !== 'finished') return [];
  const committed = new Set(evidence.brokerEvents.filter((event) => event.kind === 'commit').map((event) => event.transactionalId));
  const stillOpen = new Set(evidence.openTransactions.filter((listing) => listing.state === 'Ongoing').map((listing) => listing.transactionalId));
  const violations: Violation[] = [];
  for (const preCommit of preCommitsOfCompletedCheckpoints(evidence).values()) {
    if (committed.has(preCommit.transactionalId)) continue;
    // A transaction that never wrote a record has nothing to commit (the client completes it locally).
    const aborted = evidence.brokerEvents.find((event) => event.transactionalId === preCommit.transactionalId && event.kind !== 'init' && event.kind !== 'commit' && event.kind !== 'rejected' && event.records > 0);
    if (aborted === undefined && !stillOpen.has(preCommit.transactionalId)) continue;
    violations.push({
      property: 'completed-implies-committed',
      anomaly: 'lost write',
      message: `transaction ${preCommit.transactionalId}, pre-committed in completed checkpoint ${preCommit.checkpointId}, was never committed (${aborted === undefined ? 'still open' : `${aborted.kind}`})`,
    });
  }
  return violations;
}

/**
 * 4. No lingering transaction after a finished job, and no commit by a fenced producer
 *    (a commit must carry the epoch of the latest registration of its transactional id, or,
 *    when that registration kept a prepared transaction (KIP-939), the epoch that wrote it).
 */
export function checkNoLingeringOrFencedCommit(evidence: TwoPhaseCommitEvidence): Violation[] {
  const violations: Violation[] = [];
  if (evidence.observations.outcome === 'finished') {
    for (const listing of evidence.openTransactions) {
      if (listing.state !== 'Ongoing' || !listing.transactionalId.startsWith(`${evidence.transactionalIdPrefix}-`)) continue;
      violations.push({
        property: 'no-lingering-transaction',
        anomaly: 'lingering transaction',
        message: `transaction ${listing.transactionalId} (producer ${listing.producerId}, epoch ${listing.epoch}) is still open on ${listing.partitions.join(', ')} after the job finished: it holds back the last stable offset`,
      });
    }
  }
  const latestEpoch = new Map<string, number>();
  for (const event of evidence.brokerEvents) {
    if (event.kind === 'init') latestEpoch.set(event.transactionalId, event.keptEpoch ?? event.epoch);
    if (event.kind === 'commit' && (latestEpoch.get(event.transactionalId) ?? event.epoch) !== event.epoch) {
      violations.push({
        property: 'no-lingering-transaction',
        anomaly: 'fenced commit',
        message: `transaction ${event.transactionalId} was committed with epoch ${event.epoch} after epoch ${latestEpoch.get(event.transactionalId)} was registered`,
      });
    }
  }
  return violations;
}

/**
 * 5. A restore recovers every pending transaction of the checkpoint it restores: each one is
 *    recovered and committed in the attempt that restored it (by its own subtask, or after a
 *    rescale down by the surviving subtask the removed one's state was handed to). Judged for
 *    attempts that ran long enough to complete a checkpoint (every sink subtask then finished
 *    its initializeState), or that finished the job.
 */
export function checkRestoreRecoversPending(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
  const checkpoints = new Map(observations.checkpoints.map((checkpoint) => [checkpoint.checkpointId, checkpoint]));
  observations.restores.forEach((restore, index) => {
    if (restore.checkpointId === undefined) return;
    const tasks = checkpoints.get(restore.checkpointId)?.tasks;
    if (tasks === undefined) return;
    const nextSeq = observations.restores[index + 1]?.seq ?? Number.POSITIVE_INFINITY;
    const initialized =
      observations.checkpointEvents.some((event) => event.event === 'completed' && event.seq > restore.seq && event.seq < nextSeq) ||
      (index === observations.restores.length - 1 && observations.outcome === 'finished');
    if (!initialized) return;
    const recovered = new Set(
      observations.connectorEvents.filter((event) => event.attempt === restore.attempt && event.type === 'transaction' && event.kind === 'recover-commit').map((event) => event.transaction),
    );
    tasks.forEach((snapshot, task) => {
      for (const state of (snapshot.operatorState['two-phase-commit'] ?? []) as TwoPhaseCommitState<unknown>[]) {
        for (const [checkpointId, transaction] of state.pending) {
          const described = describeTransaction(transaction);
          if (recovered.has(described) || violations.length >= 5) continue;
          violations.push({
            property: 'restore-recovers-pending',
            anomaly: 'lost write',
            message: `attempt ${restore.attempt} restored checkpoint ${restore.checkpointId} but never recovered transaction ${described} (pre-committed at checkpoint ${checkpointId} by ${state.subtask === undefined ? `task ${observations.taskNames[task] ?? task}` : `subtask ${state.subtask}`})`,
          });
        }
      }
    });
  });
  return violations;
}
