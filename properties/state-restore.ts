import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

export const STATE_RESTORE = 'state-restore';

/**
 * A restore gives back exactly the checkpointed keyed state: for every subtask restored from a
 * rocksdb checkpoint, every file the checkpoint refers to is still in checkpoint storage and
 * the entries merged from them have the digest the subtask computed when it took the
 * snapshot. (Other backends keep the entries themselves in the checkpoint: nothing to judge.)
 */
export function checkStateRestore(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
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
