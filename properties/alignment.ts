import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

/**
 * Barrier alignment: when a task takes snapshot n, it has taken from every input channel
 * exactly the records that were in front of barrier n on that channel: none behind it
 * (they belong to the next checkpoint) and none missing. With unaligned checkpoints the
 * records in front of the barrier taken after the snapshot count too: they are in the
 * checkpoint as channel state. Judged on completed checkpoints.
 *
 * A check with nothing to compare must not pass: a task with inputs that acknowledged a
 * completed checkpoint from its barriers but reported no barrier positions is a failure of
 * the observation ('alignment not observed'), not an alignment that held.
 */
export function checkBarrierAlignment(observations: RunObservations): Violation[] {
  const violations: Violation[] = [...unobservedAlignments(observations)];
  for (const entry of observations.alignment) {
    const accountedFor = entry.recordsTakenAtSnapshot + entry.recordsInChannelState;
    if (accountedFor === entry.recordsBeforeBarrier) continue;
    const behind = accountedFor - entry.recordsBeforeBarrier;
    violations.push({
      property: 'barrier-alignment',
      anomaly: behind > 0 ? 'record behind barrier in snapshot' : 'record before barrier missing from snapshot',
      message:
        `task ${observations.taskNames[entry.task]} took snapshot ${entry.checkpointId} after ${entry.recordsTakenAtSnapshot} records ` +
        `from input ${entry.inputSlot} (and kept ${entry.recordsInChannelState} as channel state), but barrier ${entry.checkpointId} stood behind ${entry.recordsBeforeBarrier}`,
    });
  }
  return violations;
}

function unobservedAlignments(observations: RunObservations): Violation[] {
  const observed = new Set(observations.alignment.map((entry) => `${entry.checkpointId}/${entry.task}`));
  const violations: Violation[] = [];
  for (const checkpoint of observations.checkpoints) {
    if (checkpoint.outcome !== 'completed') continue;
    checkpoint.snapshotCauses.forEach((cause, task) => {
      if (cause !== 'barrier' || observations.taskInputCounts[task] === 0) return;
      if (observed.has(`${checkpoint.checkpointId}/${task}`)) return;
      violations.push({
        property: 'barrier-alignment',
        anomaly: 'alignment not observed',
        message: `task ${observations.taskNames[task]} acknowledged checkpoint ${checkpoint.checkpointId} from its barriers but reported no barrier position to compare: the check would pass vacuously`,
      });
    });
  }
  return violations;
}
