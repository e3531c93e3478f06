import fc from 'fast-check';
import type { CheckpointingMode } from '../runtime/barrier-handler.ts';
import { DEFAULT_JOB_OPTIONS, type JobOptions } from '../runtime/job.ts';
import type { StateBackendKind } from '../runtime/state.ts';
import type { CaseSpec } from './run-case.ts';
import type { Scenario } from './scenario.ts';

/**
 * Configuration swarm: each generated case may draw the job's configuration, as Flink
 * randomises its options per build from a seed, but here per case and shrinkable. The draw
 * lands in the case's own settings (CaseSpec's optional fields, carried by replay tokens):
 * the one mechanism every per-case setting uses. Every option lists its default first and
 * the whole draw is an option whose nil is "as asked", so fast-check shrinks a failing case
 * toward the configuration the exploration was asked for, option by option.
 *
 * The values are few and chosen on either side of the timings that matter in the simulation
 * (1 virtual ms per step; a checkpoint of a small job takes a few dozen steps).
 */

/** Alternatives to the default interval (100 ms): shorter than a checkpoint takes, about one, longer. */
export const SWARM_CHECKPOINT_INTERVALS_MS: readonly number[] = [12, 30, 250];
/**
 * Alternatives to the default checkpoint timeout (1000 ms). Never shorter than
 * SWARM_MIN_CHECKPOINT_TIMEOUT_MS: the checkpoint-progress invariant (properties/progress.ts)
 * explains an expiry by a barrier still on its way, but calls it unexplained when a task held
 * the barrier on every input for more than half the timeout without acknowledging it. An
 * unaligned task whose sink flushes on every write (sinkBufferKeys 1) does tens of I/O steps
 * between taking the last barrier and acknowledging; with a 150 ms timeout that legitimately
 * exceeds half the timeout (measured: task sum>redis[0] held barrier 2 for 79 ms of a 150 ms
 * timeout, odd-even-sum unaligned; the finding that kept the previous swarm out of main). Rather
 * than weaken the invariant for every run, the swarm keeps
 * timeouts where "held for more than half the timeout" still means a stuck task.
 */
export const SWARM_CHECKPOINT_TIMEOUTS_MS: readonly number[] = [400];
export const SWARM_MIN_CHECKPOINT_TIMEOUT_MS = 400;
/** Concurrent checkpoints (with an interval shorter than a checkpoint takes, so they overlap). */
export const SWARM_CONCURRENT_CHECKPOINTS: readonly number[] = [2];
/** Interval of a case with concurrent checkpoints when it drew the default one or longer: a second checkpoint then starts before the first completes. */
export const CONCURRENT_CHECKPOINT_INTERVAL_MS = 12;
/**
 * Shortest interval of an unaligned case. An unaligned checkpoint completes without the data
 * moving (its barriers overtake it), and one checkpoint's own traffic is about 20 steps (20
 * virtual ms): with a shorter interval the plain (control-first) schedule runs checkpoint after
 * checkpoint and starves the data until the step budget runs out. Flink's remedy is a minimum
 * pause between checkpoints, which the runtime does not model yet.
 */
export const UNALIGNED_MIN_INTERVAL_MS = 30;
export const SWARM_RESTART_DELAYS_MS: readonly number[] = [0, 1, 150];
/**
 * Bounded-queue channel capacities (JobOptions.channelCapacity) instead of the default credit-based flow control. 1 and 2 (every push may backpressure, barriers
 * queue behind one record) only with the default interval or longer: with a 12 ms interval the
 * plain (control-first) schedule fills one-element channels with checkpoint traffic faster than
 * data moves and starves the data until the step budget runs out (Flink's remedy is a minimum
 * pause between checkpoints, which the runtime does not model).
 */
export const SWARM_CHANNEL_CAPACITIES: readonly number[] = [2, 1, 4, 32];
const SMALL_CHANNEL_CAPACITY_BELOW = 4;
/**
 * Transaction timeouts other than the scenario's default, for scenarios with one. Still far above
 * the longest a transaction of a generated case stays open (interval + checkpoint timeout +
 * restart delay, a few hundred ms, times the faults of a plan): the swarm exercises the broker's
 * timer without walking into the unsafe envelope, which `streamcheck envelope` maps on purpose.
 */
export const SWARM_TRANSACTION_TIMEOUTS_MS: readonly number[] = [5_000];

/** The job options a case may draw (their types are JobOptions' own), and the Kafka transaction timeout. */
export interface SwarmDraw
  extends Pick<JobOptions, 'mode' | 'backend' | 'checkpointIntervalMs' | 'checkpointTimeoutMs' | 'maxConcurrentCheckpoints' | 'restartDelayMs' | 'channelCapacity'> {
  readonly transactionTimeoutMs: number | undefined;
}

/** Whether the runtime runs concurrent checkpoints in this mode: Flink does not with unaligned checkpoints (barrier n+1 would overtake n's data and abort n, checkpoint after checkpoint). */
export function concurrentCheckpointsAllowed(scenario: Scenario, mode: CheckpointingMode): boolean {
  return scenario.concurrentCheckpoints !== false && mode !== 'unaligned';
}

/** The configuration a case draws, the asked-for one first in every option (mode and backend only among what the scenario runs with). */
export function swarmArbitrary(scenario: Scenario, base: Pick<CaseSpec, 'mode' | 'backend'>): fc.Arbitrary<SwarmDraw | null> {
  // An at-least-once exploration stays at-least-once: a stricter mode would judge promises it was not asked about.
  const modes = base.mode === 'at-least-once' ? [base.mode] : [base.mode, ...(scenario.modes ?? ['exactly-once', 'unaligned']).filter((mode) => mode !== base.mode && mode !== 'at-least-once')];
  const backends = [base.backend, ...scenario.backends.filter((backend) => backend !== base.backend)];
  const config = fc.record({
    mode: fc.constantFrom(...modes),
    backend: fc.constantFrom(...backends),
    checkpointIntervalMs: fc.constantFrom(DEFAULT_JOB_OPTIONS.checkpointIntervalMs, ...SWARM_CHECKPOINT_INTERVALS_MS),
    checkpointTimeoutMs: fc.constantFrom(DEFAULT_JOB_OPTIONS.checkpointTimeoutMs, ...SWARM_CHECKPOINT_TIMEOUTS_MS),
    maxConcurrentCheckpoints: fc.constantFrom(DEFAULT_JOB_OPTIONS.maxConcurrentCheckpoints, ...SWARM_CONCURRENT_CHECKPOINTS),
    restartDelayMs: fc.constantFrom(DEFAULT_JOB_OPTIONS.restartDelayMs, ...SWARM_RESTART_DELAYS_MS),
    channelCapacity: fc.constantFrom<number | undefined>(undefined, ...SWARM_CHANNEL_CAPACITIES),
    transactionTimeoutMs: scenario.transactionTimeouts === undefined ? fc.constant(undefined) : fc.constantFrom<number | undefined>(undefined, ...SWARM_TRANSACTION_TIMEOUTS_MS),
  });
  // Half the cases keep the asked-for configuration: the swarm widens the search without starving the plain case.
  return fc.option(config, { nil: null, freq: 2 });
}

/**
 * The case fields of a draw, made legal together: concurrency only where the runtime allows
 * it (and then with an interval short enough to overlap), small channels only with a
 * long enough interval. A field at its default is left out (shorter tokens, same run).
 */
export function swarmFields(scenario: Scenario, draw: SwarmDraw | null): Partial<CaseSpec> {
  if (draw === null) return {};
  const concurrent = concurrentCheckpointsAllowed(scenario, draw.mode) ? draw.maxConcurrentCheckpoints : 1;
  const drawnIntervalMs = concurrent > 1 && draw.checkpointIntervalMs >= DEFAULT_JOB_OPTIONS.checkpointIntervalMs ? CONCURRENT_CHECKPOINT_INTERVAL_MS : draw.checkpointIntervalMs;
  const intervalMs = draw.mode === 'unaligned' ? Math.max(drawnIntervalMs, UNALIGNED_MIN_INTERVAL_MS) : drawnIntervalMs;
  const channelCapacity = draw.channelCapacity !== undefined && draw.channelCapacity < SMALL_CHANNEL_CAPACITY_BELOW && intervalMs < DEFAULT_JOB_OPTIONS.checkpointIntervalMs ? undefined : draw.channelCapacity;
  const fields: { -readonly [K in keyof CaseSpec]?: CaseSpec[K] } = { mode: draw.mode, backend: draw.backend };
  if (concurrent !== DEFAULT_JOB_OPTIONS.maxConcurrentCheckpoints) fields.maxConcurrentCheckpoints = concurrent;
  if (intervalMs !== DEFAULT_JOB_OPTIONS.checkpointIntervalMs) fields.checkpointIntervalMs = intervalMs;
  if (draw.checkpointTimeoutMs !== DEFAULT_JOB_OPTIONS.checkpointTimeoutMs) fields.checkpointTimeoutMs = draw.checkpointTimeoutMs;
  if (draw.restartDelayMs !== DEFAULT_JOB_OPTIONS.restartDelayMs) fields.restartDelayMs = draw.restartDelayMs;
  if (channelCapacity !== undefined) fields.channelCapacity = channelCapacity;
  if (draw.transactionTimeoutMs !== undefined) fields.transactionTimeoutMs = draw.transactionTimeoutMs;
  return fields;
}
