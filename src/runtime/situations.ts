import type { ConnectorEventObservation } from './observations.ts';

/**
 * Situations: what the job was doing when a fault fired (the fault-injection points reports
 * count), and the state of a two-phase-commit sink's transactions. A fault may also be placed
 * by situation instead of by step number (SituationPlacement): it fires when the situation
 * arises, however many steps the schedule takes to get there.
 */

/** The situations a fault can fire in: the fault-injection points, as reports count them (job.ts computes them). */
export const FAULT_SITUATIONS = [
  'between-checkpoints',
  'checkpoint-triggered',
  'during-alignment',
  'checkpoint-partially-acked',
  'completed-before-notify',
  'during-recovery',
  'after-end-of-input',
] as const;
export type FaultSituation = (typeof FAULT_SITUATIONS)[number];

/** The state of a two-phase-commit sink's transactions when a fault fired: pre-committed beats open beats none. */
export const TRANSACTION_SITUATIONS = ['none open', 'open', 'pre-committed'] as const;
export type TransactionSituation = (typeof TRANSACTION_SITUATIONS)[number];

/** A situation a fault can be placed at: one of the job's, or one of its sink's transactions (`transaction open`). */
export type PlacementSituation = FaultSituation | `transaction ${TransactionSituation}`;
export const PLACEMENT_SITUATIONS: readonly PlacementSituation[] = [...FAULT_SITUATIONS, ...TRANSACTION_SITUATIONS.map((situation) => `transaction ${situation}` as const)];

/**
 * "Fire when the job enters `situation` for the `occurrence`-th time" (counted from the
 * fault's atStep on; a situation already holding at atStep counts as entered there). A
 * situation the run never enters that often leaves the fault not reached, like a step after
 * the job's end.
 */
export interface SituationPlacement {
  readonly situation: PlacementSituation;
  readonly occurrence: number;
}

/** Most entries into a situation a placement may wait for (a bounded job enters each a few dozen times at most). */
export const MAX_SITUATION_OCCURRENCE = 64;

/** The domain words for a situation: "while a checkpoint is partially acknowledged". */
export function describeSituation(situation: PlacementSituation): string {
  switch (situation) {
    case 'between-checkpoints':
      return 'between checkpoints';
    case 'checkpoint-triggered':
      return 'while a checkpoint is triggered and no task has acknowledged it';
    case 'during-alignment':
      return 'while a task aligns the barriers of a checkpoint';
    case 'checkpoint-partially-acked':
      return 'while a checkpoint is partially acknowledged';
    case 'completed-before-notify':
      return 'when a checkpoint completed and its notifications are still in flight';
    case 'during-recovery':
      return 'during the recovery from a failure';
    case 'after-end-of-input':
      return 'after the input ended, no checkpoint pending';
    case 'transaction none open':
      return 'while the sink has no transaction open';
    case 'transaction open':
      return 'while a sink transaction is open';
    case 'transaction pre-committed':
      return 'while a sink transaction is pre-committed and waits for its commit';
  }
}

/** "the 3rd time": how often the situation must have been entered. */
export function ordinalTimes(occurrence: number): string {
  if (occurrence === 1) return 'the first time';
  const tens = occurrence % 100;
  const suffix = tens >= 11 && tens <= 13 ? 'th' : occurrence % 10 === 1 ? 'st' : occurrence % 10 === 2 ? 'nd' : occurrence % 10 === 3 ? 'rd' : 'th';
  return `the ${occurrence}${suffix} time`;
}

/**
 * The sink's transactions as its reported events leave them (begin, pre-commit, and the events
 * that end one). A failover leaves the failed attempt's transactions to the next attempt's
 * recovery: they stay open until it ends them. Reads the events incrementally: both the
 * runtime (placing faults) and the coverage (counting points) judge a fault by the events
 * reported up to its step.
 */
export class TransactionSituationTracker {
  private readonly states = new Map<string, 'open' | 'pre-committed'>();
  private next = 0;

  /** Takes in the events reported up to `step` (inclusive), in report order. */
  advanceTo(events: readonly ConnectorEventObservation[], step: number): void {
    for (; this.next < events.length && events[this.next]!.step <= step; this.next++) {
      const event = events[this.next]!;
      if (event.kind === 'begin') this.states.set(event.transaction, 'open');
      else if (event.kind === 'pre-commit') this.states.set(event.transaction, 'pre-committed');
      else this.states.delete(event.transaction);
    }
  }

  get situation(): TransactionSituation {
    let open = false;
    for (const state of this.states.values()) {
      if (state === 'pre-committed') return 'pre-committed';
      open = true;
    }
    return open ? 'open' : 'none open';
  }
}
