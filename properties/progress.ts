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
 *    was pending (overtaken), by a decline fault armed before it was declined, by a fault of
 *    the plan that fired while it was pending (an expiry fault, or an external fault that
 *    slowed a task), or, for a timeout, by a barrier still on its way: a task that held
 *    barrier n on every live input for more than half the timeout without acknowledging n
 *    sat on a checkpoint it could have completed, and nothing explains that.
 * 2. In a stretch longer than twice the checkpoint interval plus the timeout with no fault,
 *    no failover and no slow barrier, some checkpoint completes (a runtime
 *    that never triggers checkpoints, or completes them only at the end of the input, fails
 *    this on a long enough input).
 *
 * Liveness alone only asks for the final checkpoint, so all of these would pass it.
 */
export function checkCheckpointProgress(observations: RunObservations): Violation[] {
  const { violations, explainedEndsMs } = unexplainedEnds(observations);
  return [...violations, ...stallsWithoutCompletion(observations, explainedEndsMs)];
}

/**
 * The task that held barrier n on every live input the longest without acknowledging n, and
 * since when (virtual ms), as of `atMs`; undefined when every unacknowledged task still
 * waited for a barrier.
 */
function sittingOnBarriers(observations: RunObservations, checkpoint: CheckpointObservation, atMs: number): { task: number; sinceMs: number } | undefined {
  let longest: { task: number; sinceMs: number } | undefined;
  observations.taskInputCounts.forEach((inputCount, task) => {
    if (inputCount === 0 || checkpoint.snapshotCauses[task] !== undefined) return;
    const barriers = observations.barrierEvents.filter((e) => e.task === task && e.checkpointId === checkpoint.checkpointId && e.inputSlot >= 0 && e.atMs <= atMs);
    if (barriers.length === 0) return;
    const attempt = barriers[0]!.attempt;
    const ends = observations.barrierEvents.filter((e) => e.task === task && e.attempt === attempt && e.checkpointId === 0 && e.atMs <= atMs);
    let sinceMs = Number.NEGATIVE_INFINITY;
    for (let slot = 0; slot < inputCount; slot++) {
      const delivered = [...barriers, ...ends].filter((e) => e.inputSlot === slot).map((e) => e.atMs);
      if (delivered.length === 0) return; // barrier n still on its way on this input
      sinceMs = Math.max(sinceMs, Math.min(...delivered));
    }
    if (longest === undefined || sinceMs < longest.sinceMs) longest = { task, sinceMs };
  });
  return longest;
}

function unexplainedEnds(observations: RunObservations): { violations: Violation[]; explainedEndsMs: number[] } {
  const violations: Violation[] = [];
  const explainedEndsMs: number[] = [];
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
    let why = 'with no fault, failover or newer checkpoint to explain it';
    if (checkpoint.outcome === 'expired') {
      const sitting = sittingOnBarriers(observations, checkpoint, checkpoint.endedAtMs);
      const heldMs = sitting === undefined ? 0 : checkpoint.endedAtMs - sitting.sinceMs;
      if (heldMs * 2 <= observations.settings.checkpointTimeoutMs) {
        explainedEndsMs.push(checkpoint.endedAtMs); // a barrier was still on its way: slow, not stuck
        continue;
      }
      why = `although task ${observations.taskNames[sitting!.task]} had held barrier ${checkpoint.checkpointId} on every live input for ${heldMs} ms without acknowledging it`;
    }
    violations.push({
      property: CHECKPOINT_PROGRESS,
      anomaly: `unexplained ${checkpoint.outcome} checkpoint`,
      message:
        `checkpoint ${checkpoint.checkpointId} (triggered at step ${checkpoint.triggeredAtStep}) was ${checkpoint.outcome} at step ${checkpoint.endedAtStep}, ` +
        `${checkpoint.endedAtMs - checkpoint.triggeredAtMs} ms later, ${why}: ${checkpoint.reason}`,
    });
  }
  return { violations, explainedEndsMs };
}

/** A newer checkpoint completed no later than this one ended (completion subsumes older pending ones). */
function completedBefore(observations: RunObservations, checkpoint: CheckpointObservation, endSeq: number): boolean {
  return observations.checkpointEvents.some((event) => event.event === 'completed' && event.checkpointId > checkpoint.checkpointId && event.seq < endSeq);
}

/** A newer checkpoint was triggered while this one was pending (its barrier may overtake this one's). */
function overtaken(checkpoints: readonly CheckpointObservation[], checkpoint: CheckpointObservation, endSeq: number): boolean {
  return checkpoints.some((other) => other.checkpointId > checkpoint.checkpointId && other.triggeredSeq < endSeq);
}

function stallsWithoutCompletion(observations: RunObservations, explainedEndsMs: readonly number[]): Violation[] {
  const { checkpointIntervalMs, checkpointTimeoutMs } = observations.settings;
  // Interval + timeout is the time a checkpoint takes to be triggered and then complete or
  // expire; twice that allows for timers that fire late under an unfair schedule (a timer is
  // one enabled event among many) and for a slow checkpoint that completes just in time.
  const allowedMs = 2 * (checkpointIntervalMs + checkpointTimeoutMs);
  // Stretch boundaries: the start, every fault, failover, restore and completed checkpoint, the end.
  const boundaries: { atMs: number; what: string; endsExcusedStretch?: boolean }[] = [{ atMs: 0, what: 'the start' }];
  for (const fault of observations.faults) boundaries.push({ atMs: fault.atMs, what: `fault '${fault.description}'` });
  for (const failover of observations.failovers) boundaries.push({ atMs: failover.atMs, what: 'a failover' });
  for (const restore of observations.restores) boundaries.push({ atMs: restore.atMs, what: `deploy of attempt ${restore.attempt}` });
  for (const event of observations.checkpointEvents) {
    if (event.event === 'completed') boundaries.push({ atMs: event.atMs, what: `completion of checkpoint ${event.checkpointId}` });
  }
  // A stretch that ends in such a timeout was spent waiting on a slow barrier: not a stall.
  for (const atMs of explainedEndsMs) boundaries.push({ atMs, what: 'the timeout of a checkpoint whose barrier was still on its way', endsExcusedStretch: true });
  boundaries.sort((a, b) => a.atMs - b.atMs);
  boundaries.push({ atMs: observations.virtualTimeMs, what: `the end (${observations.outcome})` });
  const violations: Violation[] = [];
  for (let i = 1; i < boundaries.length; i++) {
    const from = boundaries[i - 1]!;
    const to = boundaries[i]!;
    if (to.atMs - from.atMs <= allowedMs || to.endsExcusedStretch === true) continue;
    violations.push({
      property: CHECKPOINT_PROGRESS,
      anomaly: 'no checkpoint completed in a fault-free stretch',
      message:
        `no checkpoint completed for ${to.atMs - from.atMs} virtual ms, from ${from.what} (${from.atMs} ms) to ${to.what} (${to.atMs} ms), ` +
        `more than twice the interval plus the timeout (2 x (${checkpointIntervalMs} + ${checkpointTimeoutMs}) ms), with no fault, failover or slow barrier in between`,
    });
  }
  return violations;
}
