import { FAULT_SITUATIONS, TRANSACTION_SITUATIONS, TransactionSituationTracker, type TransactionSituation } from '../runtime/situations.ts';
import type { RunObservations } from '../runtime/observations.ts';
import type { Scenario } from './scenario.ts';

/**
 * Coverage points: states of the protocol state machines the runtime reports, crossed with
 * the fault that hit them, and ordered pairs of faults. A point is a plain string so it can be
 * counted across worker threads and shards, and named in a must-reach declaration.
 *
 * - `fault K @ S`: a fault of kind K fired while the coordinator and barrier handlers were in
 *   situation S (job.ts FAULT_SITUATIONS: between checkpoints, triggered, aligning, partially
 *   acknowledged, completed before notify, recovering, after end of input).
 * - `checkpoint E`: a checkpoint of the run ended as E (completed, declined, expired, aborted
 *   by a failover, aborted as subsumed), or two were in flight at once (`checkpoint concurrent`).
 * - `pair A then B`: a fault of kind A fired, and later one of kind B (crash during the
 *   recovery of a crash is `fault crash-task @ during-recovery`; this is the order alone).
 *
 * - `fault K @ transaction S` (scenarios with a two-phase-commit sink, those that list the
 *   fail-commit fault): a fault of kind K fired while the sink's transactions were in state S
 *   (TRANSACTION_SITUATIONS: some transaction pre-committed and waiting for its commit, else
 *   some open, else none), from the transaction events the sink reports (begin, pre-commit,
 *   commit, abort, recover-commit, recover-abort). The Kafka sink's transactions are the
 *   broker's: open is Ongoing, pre-committed is Ongoing and flushed (PrepareCommit comes with
 *   the commit call), committed and aborted are CompleteCommit and CompleteAbort.
 * - `transaction E`: a transaction of the run was committed, aborted, or recovered from a
 *   checkpoint and committed or aborted (TRANSACTION_COVERAGE_POINTS).
 *
 * A point no run can reach by construction carries its reason (UNREACHABLE_COVERAGE_POINTS):
 * reports print it as `unreachable: <reason>` instead of counting it as never reached.
 */
export const CHECKPOINT_COVERAGE_POINTS = [
  'checkpoint completed',
  'checkpoint declined',
  'checkpoint expired',
  'checkpoint aborted by failover',
  'checkpoint aborted as subsumed',
  'checkpoint concurrent',
] as const;

/** The state of a two-phase-commit sink's transactions when a fault fired (situations.ts: a fault can be placed at one too). */
export { TRANSACTION_SITUATIONS, type TransactionSituation };

export const TRANSACTION_COVERAGE_POINTS = ['transaction committed', 'transaction aborted', 'transaction recovered and committed', 'transaction recovered and aborted'] as const;

/** Scenarios whose sink commits in two phases: their plans can fail a commit. */
export function hasTransactionalSink(scenario: Scenario): boolean {
  return scenario.faultKinds.includes('fail-commit');
}

/**
 * Points no generated run can reach, because of how the runtime is built, each with the
 * reason: `point` is a coverage point's text, or a pattern over it.
 */
export const UNREACHABLE_COVERAGE_POINTS: readonly { readonly point: string | RegExp; readonly reason: string }[] = [
  {
    point: 'transaction aborted',
    reason:
      "the Kafka sink never calls abort: it ends a transaction by commit, or at recovery by initTransactions on the transaction's id (kafka-sink.ts recoverAndAbort, abortLingering), reported as recovered and aborted; a sink that aborts reaches it",
  },
];

/** Why a point cannot be reached, or undefined when it can. */
export function unreachableReason(point: string): string | undefined {
  return UNREACHABLE_COVERAGE_POINTS.find((entry) => (typeof entry.point === 'string' ? entry.point === point : entry.point.test(point)))?.reason;
}

/** Every point a scenario's generated runs could reach, in a stable order. */
export function definedCoveragePoints(scenario: Scenario): string[] {
  const kinds = scenario.faultKinds;
  return [
    ...kinds.flatMap((kind) => FAULT_SITUATIONS.map((situation) => `fault ${kind} @ ${situation}`)),
    ...CHECKPOINT_COVERAGE_POINTS,
    ...kinds.flatMap((first) => kinds.map((second) => `pair ${first} then ${second}`)),
    ...(hasTransactionalSink(scenario) ? [...kinds.flatMap((kind) => TRANSACTION_SITUATIONS.map((situation) => `fault ${kind} @ transaction ${situation}`)), ...TRANSACTION_COVERAGE_POINTS] : []),
  ];
}

/** The sink's transactions at each fault: pre-committed beats open beats none (reported events up to the fault's step). */
function transactionSituationsAtFaults(observations: RunObservations): TransactionSituation[] {
  const tracker = new TransactionSituationTracker();
  return [...observations.faults].sort((a, b) => a.seq - b.seq).map((fault) => {
    tracker.advanceTo(observations.connectorEvents, fault.atStep);
    return tracker.situation;
  });
}

const TRANSACTION_EVENT_POINTS: Partial<Record<string, (typeof TRANSACTION_COVERAGE_POINTS)[number]>> = {
  commit: 'transaction committed',
  abort: 'transaction aborted',
  'recover-commit': 'transaction recovered and committed',
  'recover-abort': 'transaction recovered and aborted',
};

/** The points one run reached (each once). */
export function reachedCoveragePoints(observations: RunObservations): string[] {
  const reached = new Set<string>();
  for (const fault of observations.faults) reached.add(`fault ${fault.kind} @ ${fault.situation}`);
  for (const event of observations.checkpointEvents) {
    if (event.event === 'triggered') continue;
    reached.add(event.event === 'aborted' ? (event.cause === 'subsumed' ? 'checkpoint aborted as subsumed' : 'checkpoint aborted by failover') : `checkpoint ${event.event}`);
  }
  // Two in flight: a checkpoint triggered before an older one ended.
  const endSeq = new Map<number, number>();
  for (const event of observations.checkpointEvents) if (event.event !== 'triggered' && !endSeq.has(event.checkpointId)) endSeq.set(event.checkpointId, event.seq);
  const checkpoints = observations.checkpoints;
  for (const checkpoint of checkpoints) {
    const end = endSeq.get(checkpoint.checkpointId) ?? Number.POSITIVE_INFINITY;
    if (checkpoints.some((other) => other.checkpointId > checkpoint.checkpointId && other.triggeredSeq < end)) {
      reached.add('checkpoint concurrent');
      break;
    }
  }
  const faults = [...observations.faults].sort((a, b) => a.seq - b.seq);
  for (let i = 0; i < faults.length; i++) for (let j = i + 1; j < faults.length; j++) reached.add(`pair ${faults[i]!.kind} then ${faults[j]!.kind}`);
  if (observations.connectorEvents.some((event) => event.type === 'transaction')) {
    const situations = transactionSituationsAtFaults(observations);
    faults.forEach((fault, index) => reached.add(`fault ${fault.kind} @ transaction ${situations[index]!}`));
    for (const event of observations.connectorEvents) {
      const point = TRANSACTION_EVENT_POINTS[event.kind];
      if (point !== undefined) reached.add(point);
    }
  }
  return [...reached];
}

/** Adds one run's points to a tally. */
export function countCoverage(tally: Record<string, number>, points: readonly string[]): void {
  for (const point of points) tally[point] = (tally[point] ?? 0) + 1;
}

export interface CoverageSummary {
  readonly scenario: string;
  readonly reached: number;
  readonly defined: number;
  readonly neverReached: readonly string[];
  /** Points not reached that cannot be, by construction, with the reason (not counted in `defined`). */
  readonly unreachable: readonly { readonly point: string; readonly reason: string }[];
  /** Declared must-reach points (Scenario.mustReach) that no run reached. */
  readonly missingMustReach: readonly string[];
}

export function summarizeCoverage(scenario: Scenario, tally: Readonly<Record<string, number>>): CoverageSummary {
  const all = definedCoveragePoints(scenario);
  const unreachable = all.flatMap((point) => {
    const reason = tally[point] === undefined ? unreachableReason(point) : undefined;
    return reason === undefined ? [] : [{ point, reason }];
  });
  const defined = all.filter((point) => !unreachable.some((entry) => entry.point === point));
  const neverReached = defined.filter((point) => tally[point] === undefined);
  return {
    scenario: scenario.name,
    reached: defined.length - neverReached.length,
    defined: defined.length,
    neverReached,
    unreachable,
    missingMustReach: (scenario.mustReach ?? []).filter((point) => tally[point] === undefined),
  };
}

/** `coverage: reached X of Y points`, the points never reached (`(none)`), those unreachable with the reason, and each declared point never reached. */
export function formatCoverage(summary: CoverageSummary): string[] {
  return [
    `coverage: ${summary.scenario} reached ${summary.reached} of ${summary.defined} points`,
    `  never reached: ${summary.neverReached.length === 0 ? '(none)' : summary.neverReached.join(', ')}`,
    ...summary.unreachable.map(({ point, reason }) => `  ${point}: unreachable: ${reason}`),
    ...summary.missingMustReach.map((point) => `  MUST-REACH point never reached: ${point}`),
  ];
}
