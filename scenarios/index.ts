import type { Scenario } from '../src/harness/scenario.ts';
import { CONNECTOR_SUITES } from './connector-suites.ts';
import { eventTimeWindow, ingestionTimeWindow, processingTimeWindow } from './event-time-window.ts';
import { kafka2pc } from './kafka-2pc.ts';
import { FLOW_SCENARIOS } from './flow-diagnosis.ts';
import { keyedCounts } from './keyed-counts.ts';
import { intervalJoinScenario } from './interval-join.ts';
import { oddEvenSum } from './odd-even-sum.ts';
import { regularJoinScenario } from './regular-join.ts';
import { temporalJoinScenario } from './temporal-join.ts';

/** Every named scenario, in the order the suite runs them: the pipelines, then the built-in connectors through the connector suites. */
export const SCENARIOS: readonly Scenario[] = [
  oddEvenSum,
  kafka2pc,
  keyedCounts,
  eventTimeWindow,
  processingTimeWindow,
  ingestionTimeWindow,
  intervalJoinScenario,
  temporalJoinScenario,
  regularJoinScenario,
  ...FLOW_SCENARIOS,
  ...CONNECTOR_SUITES,
];

export function findScenario(name: string): Scenario {
  const scenario = SCENARIOS.find((candidate) => candidate.name === name);
  if (scenario === undefined) {
    throw new Error(`unknown scenario '${name}'; known: ${SCENARIOS.map((s) => s.name).join(', ')}`);
  }
  return scenario;
}
