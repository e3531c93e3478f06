import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

export const STATE_RESTORE = 'state-restore';

/**
 * A restore gives back exactly the checkpointed keyed state: for every subtask restored from a
 * rocksdb checkpoint, every file the checkpoint refers to is still in checkpoint storage and
 * the entries merged from them have the digest the subtask computed when it took the
 * snapshot. (Other backends keep the entries themselves in the checkpoint: nothing to judge.)
 *
 * The check must not pass for want of evidence: a rocksdb run that restored a checkpoint
 * holding keyed state, but whose backend reported no restore of it, is a violation too (the
 * restore went unjudged: a backend that stopped reporting would otherwise pass every run).
 */
export function checkStateRestore(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
  if (observations.settings.backend === 'rocksdb') violations.push(...unreportedRestores(observations));
  for (const restore of observations.stateBackend?.restores ?? []) {
    const task = observations.taskNames[restore.task] ?? `task ${restore.task}`;
    if (restore.missingFiles.length > 0) {
      violations.push({
        property: STATE_RESTORE,
        anomaly: 'checkpoint file missing',
        message:
          `restoring checkpoint ${restore.checkpointId}, ${task} found ${restore.missingFiles.length} of its files gone from checkpoint storage ` +
          `(${restore.missingFiles.slice(0, 3).join(', ')}${restore.missingFiles.length > 3 ? ', ...' : ''}): their entries are lost`,
      });
    } else if (restore.restoredDigest !== restore.expectedDigest) {
      violations.push({
        property: STATE_RESTORE,
        anomaly: 'restored state differs',
        message: `restoring checkpoint ${restore.checkpointId}, ${task} got keyed state ${restore.restoredDigest} (entries:hash), checkpointed ${restore.expectedDigest}`,
      });
    }
  }
  return violations;
}

/** Restores of a rocksdb run from a checkpoint with keyed state that the backend did not report. */
function unreportedRestores(observations: RunObservations): Violation[] {
  const backend = observations.stateBackend;
  const restoredCheckpoints = new Set(observations.restores.flatMap((restore) => (restore.checkpointId === undefined ? [] : [restore.checkpointId])));
  if (restoredCheckpoints.size === 0) return [];
  if (backend === undefined) {
    return [
      {
        property: STATE_RESTORE,
        anomaly: 'restore not reported',
        message: `the rocksdb backend reported no checkpoint and no restore, yet the job restored checkpoint${restoredCheckpoints.size === 1 ? '' : 's'} ${[...restoredCheckpoints].join(', ')}: the restored keyed state went unjudged`,
      },
    ];
  }
  const withKeyedState = new Set(backend.checkpoints.filter((checkpoint) => checkpoint.filesReferenced > 0).map((checkpoint) => checkpoint.checkpointId));
  const reported = new Set(backend.restores.map((restore) => restore.checkpointId));
  return [...restoredCheckpoints]
    .filter((checkpointId) => withKeyedState.has(checkpointId) && !reported.has(checkpointId))
    .map((checkpointId) => ({
      property: STATE_RESTORE,
      anomaly: 'restore not reported',
      message: `the job restored checkpoint ${checkpointId}, whose rocksdb keyed state the backend uploaded, but the backend reported no restore of it: the restored keyed state went unjudged`,
    }));
}
