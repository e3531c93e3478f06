import type { Violation } from '../scenario.ts';
import { faultLinks, finish, link, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';

/**
 * Blame for the rescaling invariants: `rescale-state` (state redistributed to another
 * parallelism lost, doubled or misplaced per key group, or a rescaled source's split not
 * resumed whole at its checkpointed offset) and `restore-recovers-pending` (a
 * restore that never recovered a pending transaction of its checkpoint). Both break at one
 * deployment: the chain is the faults and failovers before it (the rescale among them), the
 * restored checkpoint's trigger and completion, and that deployment, marked first-false.
 */
export function blameRescale(context: BlameContext, violation: Violation): BlameChain {
  const observations = context.result.observations;
  const checkpointId = Number(/(?:restoring|restored) checkpoint (\d+)/.exec(violation.message)?.[1] ?? NaN);
  const attempt = Number(/^attempt (\d+) restored/.exec(violation.message)?.[1] ?? NaN);
  const restore = Number.isNaN(attempt)
    ? observations.restores.find((r) => r.attempt > 0 && r.checkpointId === checkpointId && (observations.rescales ?? []).some((s) => s.attempt === r.attempt))
    : observations.restores.find((r) => r.attempt === attempt);
  const deploy = restore === undefined ? undefined : context.events.find((e) => e.step === restore.atStep && e.kind === 'deploy');
  const links: BlameLink[] = [
    ...context.events.filter((e) => e.checkpointId === checkpointId && (e.kind === 'trigger' || e.kind === 'completed')).map((e) => link(e)),
    ...faultLinks(context).filter((l) => restore === undefined || l.step <= restore.atStep),
  ];
  const rescale = (observations.rescales ?? []).find((r) => r.attempt === restore?.attempt);
  const moved = rescale === undefined ? '' : ` onto ${rescale.toParallelism} subtasks of ${rescale.vertexName} (taken with ${rescale.fromParallelism})`;
  const what =
    violation.property === 'restore-recovers-pending'
      ? 'a pending transaction of the checkpoint is recovered by no subtask'
      : rescale?.splits !== undefined
        ? 'its splits are not reassigned whole, each at its checkpointed offset'
        : 'its state is not redistributed whole, by key group';
  const firstFalse = deploy === undefined ? undefined : link(deploy, `${deploy.text}: restore of checkpoint ${checkpointId}${moved}: ${what}`, true);
  const others = firstFalse === undefined ? links : links.filter((l) => !(l.step === firstFalse.step && l.lane === deploy!.lane && firstFalse.text.startsWith(l.text)));
  return finish(violation, `checkpoint ${Number.isNaN(checkpointId) ? '?' : checkpointId}${moved}`, `${violation.anomaly}: ${what}`, others, firstFalse);
}
