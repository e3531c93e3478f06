import type { CheckpointObservation, RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';
import { replayAlignment } from './mode-semantics.ts';

export const CHECKPOINT_PROGRESS = 'checkpoint-progress';

/**
 * The runtime's own faults, each explained by its own rule below. Any other fault (of an
 * external system) that fires while a checkpoint is pending may have slowed or failed a task,
 * and explains that checkpoint's end.
 */
const RUNTIME_FAULT_KINDS: ReadonlySet<string> = new Set(['crash-task', 'crash-job', 'decline-checkpoint', 'expire-checkpoint', 'drop-notify', 'drop-ack', 'fail-initialize']);

/**
 * Checkpoint progress: checkpoints complete unless something the run can point to stops them.
 *
 * 1. Every checkpoint that ended without completing is explained: by a failover that
 *    aborted it, by a newer checkpoint that completed (subsumed) or was triggered while it
 *    was pending (overtaken), by a decline fault armed before it was declined, by a fault of
 *    the plan that fired while it was pending (an expiry fault, or an external fault that
 *    slowed a task), or, for a timeout, by a lost acknowledgement of it or by a barrier
 *    still on its way: a task that held barrier n on every live input for more than half
 *    the timeout without acknowledging n sat on a checkpoint it could have completed, and
 *    nothing explains that. In unaligned mode too: the records a barrier overtook go into
 *    the channel state when the task takes the barrier, so they never excuse a late ack.
 * 2. In a stretch longer than twice the checkpoint interval plus the timeout with no fault,
 *    no failover and no slow barrier, some checkpoint completes (a runtime
 *    that never triggers checkpoints, or completes them only at the end of the input, fails
 *    this on a long enough input).
 *
 * Liveness alone only asks for the final checkpoint, so all of these would pass it.
 */
export function checkCheckpointProgress(observations: RunObservations): Violation[] {
  const { violations, explainedEndsMs } = unexplainedEnds(observations);
  return [...droppedBarriers(observations), ...violations, ...stallsWithoutCompletion(observations, explainedEndsMs)];
}

/**
 * 3. A task counts checkpoint n complete exactly when its last live input delivers barrier n
 *    (or ends while the others already did), in every mode: a task that drops a barrier, or
 *    counts n complete only when an input ends, holds n back from completing. Judged from the
 *    barrier events against the alignment model, with no timing involved.
 */
function droppedBarriers(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
  for (const [event, model] of replayAlignment(observations)) {
    const counted = event.completedId ?? 0;
    if (event.inputSlot < 0 || counted === model.completedId) continue; // an abort or an alignment timeout completes nothing
    const what = event.checkpointId === 0 ? `end of input ${event.inputSlot}` : `barrier ${event.checkpointId} on input ${event.inputSlot}`;
    violations.push({
      property: CHECKPOINT_PROGRESS,
      anomaly: model.completedId !== 0 ? 'barrier dropped' : 'checkpoint counted complete early',
      message:
        model.completedId !== 0
          ? `after ${what} (step ${event.atStep}) every live input of task ${observations.taskNames[event.task]} had delivered barrier ${model.completedId}, but the task did not count it complete` +
            (counted !== 0 ? ` (it counted ${counted})` : '')
          : `after ${what} (step ${event.atStep}) task ${observations.taskNames[event.task]} counted checkpoint ${counted} complete, but not every live input had delivered its barrier`,
    });
    break; // the first mismatch says it; the model and the task disagree from here on
  }
  return violations;
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
    const unexplained = whyUnexplained(checkpoint, end);
    if (unexplained === undefined) {
      explainedEndsMs.push(checkpoint.endedAtMs);
      continue;
    }
    violations.push({
      property: CHECKPOINT_PROGRESS,
      anomaly: `unexplained ${checkpoint.outcome} checkpoint`,
      message:
        `checkpoint ${checkpoint.checkpointId} (triggered at step ${checkpoint.triggeredAtStep}) was ${checkpoint.outcome} at step ${checkpoint.endedAtStep}, ` +
        `${checkpoint.endedAtMs - checkpoint.triggeredAtMs} ms later, ${unexplained}: ${checkpoint.reason}`,
    });
  }

  /** Undefined when something the run observed explains the end; otherwise why nothing does. */
  function whyUnexplained(checkpoint: CheckpointObservation, end: { seq: number; atStep: number }): string | undefined {
    const ev = observations.checkpointEvents.find((e) => e.seq === end.seq)!;
    if (ev.cause === 'failover' && observations.failovers.some((f) => f.seq < end.seq && f.atStep === end.atStep)) return undefined;
    if (ev.cause === 'subsumed' && completedBefore(observations, checkpoint, end.seq)) return undefined;
    if (overtaken(checkpoints, checkpoint, end.seq)) return undefined;
    if (checkpoint.outcome === 'declined') {
      // A decline fault arms a task to decline its next checkpoint: one fault explains one decline.
      const armed = declineFaults.filter((fault) => fault.seq < end.seq).length;
      if (armed > declineFaultsUsed) {
        declineFaultsUsed++;
        return undefined;
      }
    }
    // A slow-snapshot fault slows the task's next snapshot: armed after the previous checkpoint was triggered, that may be this one's.
    const previousTriggeredSeq = checkpoints.filter((other) => other.checkpointId < checkpoint.checkpointId).at(-1)?.triggeredSeq ?? Number.NEGATIVE_INFINITY;
    const faultWhilePending = observations.faults.find(
      (fault) =>
        fault.seq < end.seq &&
        (fault.seq > checkpoint.triggeredSeq || (fault.kind === 'slow-snapshot' && fault.seq > previousTriggeredSeq)) &&
        (fault.kind === 'expire-checkpoint' || !RUNTIME_FAULT_KINDS.has(fault.kind)),
    );
    if (faultWhilePending !== undefined) return undefined;
    if (checkpoint.outcome !== 'expired') return 'with no fault, failover or newer checkpoint to explain it';
    if (observations.lostMessages.some((lost) => lost.kind === 'ack' && lost.checkpointId === checkpoint.checkpointId && lost.seq < end.seq)) return undefined;
    const sitting = sittingOnBarriers(observations, checkpoint, checkpoint.endedAtMs);
    // A task configured with a slow asynchronous phase acknowledges that much later after its snapshot: that is work, not sitting.
    const slowAsyncMs = sitting === undefined ? 0 : (observations.settings.slowAsyncPhaseMs?.[observations.taskNames[sitting.task]!] ?? 0);
    const heldMs = sitting === undefined ? 0 : checkpoint.endedAtMs - sitting.sinceMs - slowAsyncMs;
    // A barrier still on its way (backpressure, a slow or unfairly scheduled task) explains a timeout.
    if (heldMs * 2 <= observations.settings.checkpointTimeoutMs) return undefined;
    return `although task ${observations.taskNames[sitting!.task]} had held barrier ${checkpoint.checkpointId} on every live input for ${heldMs} ms without acknowledging it`;
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
  // A stretch that ends in an explained end (a slow barrier, a lost ack, ...) was spent on that checkpoint: not a stall.
  for (const atMs of explainedEndsMs) boundaries.push({ atMs, what: 'the explained end of a checkpoint', endsExcusedStretch: true });
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
