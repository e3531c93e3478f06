import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

/**
 * Liveness: once faults stop, a checkpoint completes and the bounded job finishes within
 * the step budget. A job that fails for good, gets stuck or runs out of budget violates it.
 * (Fault plans are finite, so every run has a fault-free suffix.)
 */
export function checkLiveness(observations: RunObservations): Violation[] {
  if (observations.outcome !== 'finished') {
    return [{ property: 'liveness', anomaly: observations.outcome, message: observations.failureReason || `job ended as ${observations.outcome}` }];
  }
  // Finishing needs the final checkpoint (the one covering all input) to complete in the
  // attempt that finished, i.e. after the last restore. Without the deployment it needs to
  // look after, the check would pass vacuously: that is a failure of the observation.
  const lastRestore = observations.restores.at(-1);
  if (lastRestore === undefined) {
    return [{ property: 'liveness', anomaly: 'no deploy observed', message: 'the job finished but the run recorded no deployment to judge the final checkpoint against' }];
  }
  const crashAfter = observations.faults.find((fault) => (fault.kind === 'crash-task' || fault.kind === 'crash-job') && fault.seq > lastRestore.seq);
  if (crashAfter !== undefined) {
    return [
      {
        property: 'liveness',
        anomaly: 'restore not observed',
        message: `the job finished but no deployment was recorded after '${crashAfter.description}': the finishing attempt cannot be told apart from the crashed one`,
      },
    ];
  }
  const lastRestoreStep = lastRestore.atStep;
  const completedAfterRestore = observations.checkpoints.some(
    (checkpoint) => checkpoint.outcome === 'completed' && checkpoint.endedAtStep >= lastRestoreStep,
  );
  if (!completedAfterRestore) {
    return [
      {
        property: 'liveness',
        anomaly: 'finished without a final checkpoint',
        message: `the job finished but no checkpoint completed after its last restore (step ${lastRestoreStep})`,
      },
    ];
  }
  return [];
}
