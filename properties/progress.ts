import type { CheckpointObservation, RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

export const CHECKPOINT_PROGRESS = 'checkpoint-progress';

/** Faults that end no checkpoint by themselves but may slow or fail a task (external systems). */
const DISTURBING_FAULT_KINDS: ReadonlySet<string> = new Set(['crash-task', 'crash-job', 'decline-checkpoint', 'expire-checkpoint', 'drop-notify']);

/**
 * Checkpoint progress: checkpoints complete unless something the run can point to stops them.
 *
 * 1. Every checkpoint that ended without completing is explained: by a failover that
 *    aborted it, by a newer checkpoint that completed (subsumed) or was triggered while it
 *    was pending (overtaken), by a decline fault armed before it was declined, or by a fault
 *    of the plan that fired while it was pending (an expiry fault, or an external fault that
 *    slowed a task). A checkpoint that timed out in a fault-free stretch is not explained.
 * 2. In a fault-free stretch longer than the checkpoint interval plus the timeout, some
 *    checkpoint completes (a runtime where checkpoints complete only at the end of input,
 *    or never get triggered, fails this on a long enough input).
 *
 * Liveness alone only asks for the final checkpoint, so both of these would pass it.
 */
export function checkCheckpointProgress(observations: RunObservations): Violation[] {
  return [...unexplainedEnds(observations), ...stallsWithoutCompletion(observations)];
}

function unexplainedEnds(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
  const checkpoints = observations.checkpoints;
  const endEvents = new Map<number, { seq: number; atStep: number }>();
  for (const event of observations.checkpointEvents) {
    if (event.event !== 'triggered' && !endEvents.has(event.checkpointId)) endEvents.set(event.checkpointId, { seq: event.seq, atStep: event.atStep });
  }
  const declineFaults = observations.faults.filter((fault) => fault.kind === 'decline-checkpoint');
  let declineFaultsUsed = 0;
  for (const checkpoint of checkpoints) {
    if (checkpoint.outcome === 'completed' || checkpoint.outcome === 'pending') continue;
    const end = endEvents.get(checkpoint.checkpointId);
    if (end === undefined) {
      violations.push({
        property: CHECKPOINT_PROGRESS,
        anomaly: 'checkpoint end not observed',
        message: `checkpoint ${checkpoint.checkpointId} is ${checkpoint.outcome}, but the run recorded no event ending it`,
      });
      continue;
    }
    const ev = observations.checkpointEvents.find((e) => e.seq === end.seq)!;
    if (ev.cause === 'failover' && observations.failovers.some((f) => f.seq < end.seq && f.atStep === end.atStep)) continue;
    if (ev.cause === 'subsumed' && completedBefore(observations, checkpoint, end.seq)) continue;
    if (overtaken(checkpoints, checkpoint, end.seq)) continue;
    if (checkpoint.outcome === 'declined') {
      // A decline fault arms a task to decline its next checkpoint: one fault explains one decline.
      const armed = declineFaults.filter((fault) => fault.seq < end.seq).length;
      if (armed > declineFaultsUsed) {
        declineFaultsUsed++;
        continue;
      }
    }
    const faultWhilePending = observations.faults.find(
      (fault) => fault.seq > checkpoint.triggeredSeq && fault.seq < end.seq && (fault.kind === 'expire-checkpoint' || !DISTURBING_FAULT_KINDS.has(fault.kind)),
    );
    if (faultWhilePending !== undefined) continue;
    violations.push({
      property: CHECKPOINT_PROGRESS,
      anomaly: `unexplained ${checkpoint.outcome} checkpoint`,
      message:
        `checkpoint ${checkpoint.checkpointId} (triggered at step ${checkpoint.triggeredAtStep}) was ${checkpoint.outcome} at step ${checkpoint.endedAtStep}, ` +
        `${checkpoint.endedAtMs - checkpoint.triggeredAtMs} ms later, with no fault, failover or newer checkpoint to explain it: ${checkpoint.reason}`,
    });
  }
  return violations;
}

/** A newer checkpoint completed no later than this one ended (completion subsumes older pending ones). */
function completedBefore(observations: RunObservations, checkpoint: CheckpointObservation, endSeq: number): boolean {
  return observations.checkpointEvents.some((event) => event.event === 'completed' && event.checkpointId > checkpoint.checkpointId && event.seq < endSeq);
}

/** A newer checkpoint was triggered while this one was pending (its barrier may overtake this one's). */
function overtaken(checkpoints: readonly CheckpointObservation[], checkpoint: CheckpointObservation, endSeq: number): boolean {
  return checkpoints.some((other) => other.checkpointId > checkpoint.checkpointId && other.triggeredSeq < endSeq);
}

function stallsWithoutCompletion(observations: RunObservations): Violation[] {
  const { checkpointIntervalMs, checkpointTimeoutMs } = observations.settings;
  const allowedMs = checkpointIntervalMs + checkpointTimeoutMs;
  // Stretch boundaries: the start, every fault, failover, restore and completed checkpoint, the end.
  const boundaries: { atMs: number; what: string }[] = [{ atMs: 0, what: 'the start' }];
  for (const fault of observations.faults) boundaries.push({ atMs: fault.atMs, what: `fault '${fault.description}'` });
  for (const failover of observations.failovers) boundaries.push({ atMs: failover.atMs, what: 'a failover' });
  for (const restore of observations.restores) boundaries.push({ atMs: restore.atMs, what: `deploy of attempt ${restore.attempt}` });
  for (const event of observations.checkpointEvents) {
    if (event.event === 'completed') boundaries.push({ atMs: event.atMs, what: `completion of checkpoint ${event.checkpointId}` });
  }
  boundaries.sort((a, b) => a.atMs - b.atMs);
  boundaries.push({ atMs: observations.virtualTimeMs, what: `the end (${observations.outcome})` });
  const violations: Violation[] = [];
  for (let i = 1; i < boundaries.length; i++) {
    const from = boundaries[i - 1]!;
    const to = boundaries[i]!;
    if (to.atMs - from.atMs <= allowedMs) continue;
    violations.push({
      property: CHECKPOINT_PROGRESS,
      anomaly: 'no checkpoint completed in a fault-free stretch',
      message:
        `no checkpoint completed for ${to.atMs - from.atMs} virtual ms, from ${from.what} (${from.atMs} ms) to ${to.what} (${to.atMs} ms), ` +
        `longer than the interval plus the timeout (${checkpointIntervalMs} + ${checkpointTimeoutMs} ms), with no fault or failover in between`,
    });
  }
  return violations;
}
