import type { Violation } from '../scenario.ts';
import { faultLinks, finish, link, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';

/** Events of each side shown before the overflow: enough to see the sender outrun the receiver. */
const LINKS_PER_SIDE = 3;

/**
 * Flow control: the step at which a receiver first held more elements from a sender than its
 * buffers for the channel (the runtime's own report, `bufferOverdrafts`), marked first-false,
 * after the sender's last steps (what it sent) and the receiver's last takes from it (what it
 * drained): the sender went on without credit.
 */
export function blameFlowControl(context: BlameContext, violation: Violation): BlameChain {
  const observations = context.result.observations;
  const first = observations.bufferOverdrafts?.[0];
  if (first === undefined) return finish(violation, 'the channels', violation.anomaly, faultLinks(context), undefined);
  const sender = observations.taskNames[first.fromTask]!;
  const receiver = observations.taskNames[first.toTask]!;
  const events = context.events;
  const sent = events.filter((e) => e.lane === sender && e.step < first.atStep).slice(-LINKS_PER_SIDE);
  const drained = events.filter((e) => e.lane === receiver && e.peer === sender && e.step < first.atStep).slice(-LINKS_PER_SIDE);
  const links: BlameLink[] = [...faultLinks(context).filter((l) => l.step <= first.atStep), ...sent.map((e) => link(e)), ...drained.map((e) => link(e))];
  const what = `${receiver} holds ${first.elementsOverBuffers} element(s) from ${sender} beyond its ${first.buffers} buffer(s) for the channel`;
  const overflow = events.find((e) => e.step === first.atStep);
  const firstFalse: BlameLink = overflow === undefined ? { step: first.atStep, timeMs: 0, lane: sender, text: what, firstFalse: true } : link(overflow, `${overflow.text}: ${what}`, true);
  return finish(violation, `channel ${sender} -> ${receiver}`, `receiver buffers overflowed: ${sender} sent to ${receiver} without credit`, links, firstFalse);
}
