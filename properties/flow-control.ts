import type { RunObservations } from '../src/runtime/observations.ts';
import type { Violation } from '../src/harness/scenario.ts';

export const FLOW_CONTROL = 'flow-control';

/**
 * Credit-based flow control: no input channel ever holds more elements sent with credit than
 * the buffers its receiver has for it (its exclusive buffers plus the floating buffers its
 * gate lent it). Unaligned barriers overtake as priority events without credit and do not
 * count. The runtime reports each time a receiver's excess grows (`bufferOverdrafts`); a
 * sender that sends without credit makes the receiver's buffers overflow.
 */
export function checkFlowControl(observations: RunObservations): Violation[] {
  const overdrafts = observations.bufferOverdrafts ?? [];
  const first = overdrafts[0];
  if (first === undefined) return [];
  const names = observations.taskNames;
  const worst = overdrafts.reduce((a, b) => (b.elementsOverBuffers > a.elementsOverBuffers ? b : a));
  const channels = new Set(overdrafts.map((o) => o.channel)).size;
  return [
    {
      property: FLOW_CONTROL,
      anomaly: 'receiver buffers overflowed',
      message:
        `at step ${first.atStep} task ${names[first.toTask]} held ${first.elementsOverBuffers} element(s) from ${names[first.fromTask]} beyond the ${first.buffers} buffer(s) it had for that channel ` +
        `(exclusive plus floating lent): the sender sent without credit` +
        (overdrafts.length > 1 ? ` (on ${channels} channel(s), at worst ${worst.elementsOverBuffers} beyond ${worst.buffers} at task ${names[worst.toTask]})` : ''),
    },
  ];
}
