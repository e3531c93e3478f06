/**
 * Blame for the diagnosis properties (issue 11): a diagnosis that misses its planted cause is
 * judged at the end of the run, from the metrics; the chain shows where the planted cause
 * acted (the bottleneck's first records and the time they cost, the slow snapshot phase), so a
 * reader sees what the diagnosis should have named.
 */
import type { Violation } from '../scenario.ts';
import { finish, link, type BlameChain, type BlameContext, type BlameLink } from './blame-context.ts';

export const DIAGNOSIS_PROPERTIES: readonly string[] = ['backpressure-diagnosis', 'skew-diagnosis', 'slow-checkpoint-diagnosis'];

/** Records of the bottleneck shown in a chain: enough to see it fall behind. */
const BOTTLENECK_RECORD_LINKS = 3;

export function blameDiagnosis(context: BlameContext, violation: Violation): BlameChain | undefined {
  if (!DIAGNOSIS_PROPERTIES.includes(violation.property)) return undefined;
  const events = context.events;
  const end = events.at(-1);
  const endLink = end === undefined ? undefined : link(end, `${end.text}: the run ends, and the diagnosis reads its metrics: ${violation.message.slice(0, 120)}`, true);
  const bottleneck = /planted bottleneck is (\S+),/.exec(violation.message)?.[1] ?? /hot key lives on (\S+),/.exec(violation.message)?.[1];
  if (bottleneck !== undefined) {
    const links: BlameLink[] = [];
    const takes = events.filter((e) => e.text.startsWith(`${bottleneck} takes record `)).slice(0, BOTTLENECK_RECORD_LINKS);
    for (const e of takes) links.push(link(e, `${e.text} (the planted bottleneck)`));
    const busy = events.find((e) => e.text === `timer ${bottleneck} processed a record`);
    if (busy !== undefined) links.push(link(busy, `${busy.text}: ${bottleneck} is only now done with a record, its input piles up behind it`));
    return finish(violation, `root cause ${bottleneck}`, violation.anomaly, links, endLink);
  }
  const slowPhase = /asynchronous phase at (\S+);/.exec(violation.message)?.[1];
  if (slowPhase !== undefined) {
    const links = events.filter((e) => e.text.startsWith(`timer ${slowPhase} asynchronous snapshot phase of checkpoint `)).map((e) => link(e, `${e.text}: the acknowledgement leaves only now (the planted slow phase)`));
    return finish(violation, `slow asynchronous phase at ${slowPhase}`, violation.anomaly, links, endLink);
  }
  return undefined;
}
