import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';
import { INJECTED_INITIALIZE_FAILURE } from '../src/runtime/faults.ts';

export const FAULT_EFFECTS = 'fault-effects';

const TERMINAL_EVENTS: ReadonlySet<string> = new Set(['completed', 'declined', 'expired', 'aborted']);

/**
 * Every fault that fired had its effect, and nothing undid it:
 * - a crash (of a task or of the whole job) fails the job over at once, aborts every
 *   checkpoint pending at that moment, and is followed by a new deployment (unless the job
 *   ran out of restarts);
 * - an expiry fault with checkpoints pending expires the oldest of them at once;
 * - an initializeState failure armed for a task fails the job over when that task next
 *   initializes (judged when a deployment followed it and the job finished, so that every
 *   task initialized; a rescale in between, or one whose restart was pending when it was
 *   armed, may fold the task away, and is not judged);
 * - a checkpoint whose acknowledgement was lost never completes;
 * - a notify-complete that was lost never reaches its task (the sink must commit the
 *   transaction on a later notify or on restore; a notify that arrives anyway hides that path);
 * - a checkpoint that ended (completed, declined, expired, aborted) never ends again: an
 *   expired checkpoint that completes later would be a restore point nobody acknowledged in time.
 */
export function checkFaultEffects(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
  const events = observations.checkpointEvents;
  for (const fault of observations.faults) {
    const atFault = events.filter((event) => event.seq > fault.seq && event.atStep === fault.atStep);
    if (fault.kind === 'crash-task' || fault.kind === 'crash-job') {
      const failover = observations.failovers.find((candidate) => candidate.seq > fault.seq && candidate.atStep === fault.atStep);
      if (failover === undefined) {
        violations.push({ property: FAULT_EFFECTS, anomaly: 'crash without failover', message: `${fault.description}, but the job did not fail over at that step` });
        continue;
      }
      const notAborted = fault.pendingCheckpoints.filter((id) => !atFault.some((event) => event.checkpointId === id && event.event === 'aborted'));
      if (notAborted.length > 0) {
        violations.push({
          property: FAULT_EFFECTS,
          anomaly: 'checkpoint survived a crash',
          message: `${fault.description} with checkpoints [${fault.pendingCheckpoints.join(', ')}] pending, but [${notAborted.join(', ')}] were not aborted by the failover`,
        });
      }
      const redeployed = observations.restores.some((restore) => restore.seq > failover.seq);
      const gaveUp = observations.outcome === 'failed' && observations.failovers.length > observations.settings.maxRestarts;
      if (!redeployed && !gaveUp && observations.outcome !== 'budget-exhausted') {
        violations.push({ property: FAULT_EFFECTS, anomaly: 'crash without restart', message: `${fault.description}; the job failed over but never deployed its tasks again (ended ${observations.outcome})` });
      }
    } else if (fault.kind === 'fail-initialize') {
      const redeployed = observations.restores.some((restore) => restore.seq > fault.seq);
      // A rescale after it may fold the task away (its armed failure then has no task to fire in), and so
      // may one before it whose restart was still pending (the new layout comes with the next deployment).
      const rescaled = observations.faults.some(
        (other) => other.kind === 'rescale' && (other.seq > fault.seq || !observations.restores.some((restore) => restore.seq > other.seq && restore.seq < fault.seq)),
      );
      const failedOver = observations.failovers.some((failover) => failover.seq > fault.seq && failover.cause.includes(INJECTED_INITIALIZE_FAILURE));
      if (redeployed && !rescaled && observations.outcome === 'finished' && !failedOver) {
        violations.push({
          property: FAULT_EFFECTS,
          anomaly: 'initialize failure ignored',
          message: `${fault.description}, but no deployment after it failed over in initializeState: the task ran on as if it had initialized`,
        });
      }
    } else if (fault.kind === 'expire-checkpoint' && fault.pendingCheckpoints.length > 0) {
      const oldest = fault.pendingCheckpoints[0]!;
      if (!atFault.some((event) => event.checkpointId === oldest && event.event === 'expired')) {
        violations.push({ property: FAULT_EFFECTS, anomaly: 'expiry without effect', message: `${fault.description} with checkpoint ${oldest} pending, but it did not expire` });
      }
    }
  }
  for (const lost of observations.lostMessages) {
    if (lost.kind === 'notify-complete') {
      const delivered = observations.notifiesDelivered.find((notify) => notify.checkpointId === lost.checkpointId && notify.task === lost.task && notify.seq > lost.seq);
      if (delivered !== undefined) {
        violations.push({
          property: FAULT_EFFECTS,
          anomaly: 'lost notify delivered',
          message: `the notify-complete of checkpoint ${lost.checkpointId} to task ${observations.taskNames[lost.task]} was lost (fault plan, step ${lost.atStep}), yet the task received it at step ${delivered.atStep}`,
        });
      }
      continue;
    }
    const completed = events.find((event) => event.checkpointId === lost.checkpointId && event.event === 'completed' && event.seq > lost.seq);
    if (completed !== undefined) {
      violations.push({
        property: FAULT_EFFECTS,
        anomaly: 'checkpoint completed without a lost acknowledgement',
        message: `the acknowledgement of checkpoint ${lost.checkpointId} from task ${observations.taskNames[lost.task]} was lost (fault plan), yet checkpoint ${lost.checkpointId} completed at step ${completed.atStep}`,
      });
    }
  }
  const ended = new Map<number, string>();
  for (const event of events) {
    if (!TERMINAL_EVENTS.has(event.event)) continue;
    const before = ended.get(event.checkpointId);
    if (before !== undefined) {
      violations.push({
        property: FAULT_EFFECTS,
        anomaly: `${before} checkpoint ${event.event} later`,
        message: `checkpoint ${event.checkpointId} was ${before}, and then ${event.event} at step ${event.atStep}`,
      });
      continue;
    }
    ended.set(event.checkpointId, event.event);
  }
  return violations;
}
