import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

export const RESTORE_CHOICE = 'restore-choice';

/**
 * Restore choice, from the observed events alone: the first attempt starts from scratch, and
 * every later attempt restores the newest checkpoint that completed before it *and that the
 * state backend still holds*: with the memory backend completed checkpoints live on the
 * coordinator's heap, so a crash of the whole job loses every one completed before it; the
 * fs backend keeps them. An idempotent sink rewrites the same values whichever checkpoint
 * is restored, so the output alone cannot show a wrong choice.
 */
export function checkRestoreChoice(observations: RunObservations): Violation[] {
  const violations: Violation[] = [];
  const restores = observations.restores;
  if (restores.length === 0) {
    return [{ property: RESTORE_CHOICE, anomaly: 'no deploy observed', message: 'the run recorded no deployment at all, so no restore choice can be judged' }];
  }
  const completions = observations.checkpointEvents.filter((event) => event.event === 'completed');
  const jobCrashes = observations.faults.filter((fault) => fault.kind === 'crash-job');
  restores.forEach((restore, index) => {
    let expected: number | undefined;
    let why: string;
    if (index === 0) {
      expected = undefined;
      why = 'the first attempt starts from scratch';
    } else {
      const lostBefore = observations.settings.backend === 'memory' ? (jobCrashes.filter((crash) => crash.seq < restore.seq).at(-1)?.seq ?? -1) : -1;
      const held = completions.filter((event) => event.seq < restore.seq && event.seq > lostBefore);
      expected = held.at(-1)?.checkpointId;
      why =
        expected === undefined
          ? lostBefore >= 0 && completions.some((event) => event.seq < lostBefore)
            ? `the memory backend lost every completed checkpoint when the whole job crashed`
            : 'no checkpoint had completed'
          : `checkpoint ${expected} is the newest completed one the ${observations.settings.backend} backend holds`;
    }
    if (restore.checkpointId === expected) return;
    violations.push({
      property: RESTORE_CHOICE,
      anomaly: restore.checkpointId === undefined ? 'restart from scratch' : expected === undefined ? 'restore of a checkpoint the backend cannot hold' : 'wrong checkpoint restored',
      message:
        `attempt ${restore.attempt} (step ${restore.atStep}) restored ${restore.checkpointId === undefined ? 'nothing' : `checkpoint ${restore.checkpointId}`}, ` +
        `expected ${expected === undefined ? 'a start from scratch' : `checkpoint ${expected}`}: ${why}`,
    });
  });
  return violations;
}
