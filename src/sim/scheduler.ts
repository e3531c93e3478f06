import type { ChoiceSource } from './choice.ts';
import { Trace } from './trace.ts';

/**
 * The part of a simulation that knows what can happen next. The scheduler knows nothing of
 * streams: it asks the world for its enabled events (small integer codes, in a canonical
 * order), lets the choice source pick one, and runs it to completion.
 */
/** A reusable list of enabled event codes (no allocation per step). */
export class EnabledEvents {
  codes: number[] = [];
  count = 0;

  add(code: number): void {
    this.codes[this.count++] = code;
  }
}

export interface SimWorld {
  /** Adds the code of every enabled event to `out`, plainest first. */
  collectEnabled(out: EnabledEvents): void;
  /** Runs one enabled event synchronously. */
  execute(code: number): void;
  /** Domain words for an event code, for traces and timelines. */
  describe(code: number): string;
  /**
   * What an enabled event is and what it touches (prove's partial-order reduction): absent, or
   * `touches` undefined, means it may touch anything, so it commutes with nothing.
   */
  footprint?(code: number): StepOption;
}

/**
 * One enabled event as the bounded exhaustive search sees it. `id` names the event so that the
 * same event enabled in two states (the same record at the head of the same channel, the same
 * message in flight) has the same id; `touches` lists the resources it reads or writes (task,
 * channel, control queue, clock, ...): two events with disjoint lists commute. Undefined: it
 * may touch anything (timers, I/O completions, coordinator messages).
 */
export interface StepOption {
  readonly id: string;
  readonly touches: readonly string[] | undefined;
}

/**
 * What the runtime needs from whatever drives it: the deterministic Scheduler below, or the
 * real-time driver of end-to-end runs (src/harness/e2e/), which runs the same runtime
 * against real Kafka and Redis.
 */
export interface StepDriver {
  readonly nowMs: number;
  readonly step: number;
  readonly trace: Trace;
  /** True under the simulation: every connector promise must then come from simulated I/O. */
  readonly simulated: boolean;
  beforeStep: ((step: number) => void) | undefined;
  attach(world: SimWorld): void;
  setTimer(delayMs: number, label: string, fire: () => void): () => void;
  requestDrain(): void;
  /**
   * A crash: what was sent reaches its server (simulation) or is abandoned (real world). Until
   * `acceptIo`, the tasks are cancelled: I/O they still issue is never sent nor answered.
   */
  settleAllIo(outcome: 'apply' | 'drop'): void;
  /** A new deployment: its tasks' I/O is served again. */
  acceptIo(): void;
  readonly pendingIoCount: number;
  record(event: string): void;
  stop(): void;
  run(): Promise<StopReason>;
}

export interface SchedulerOptions {
  readonly choices: ChoiceSource;
  /** Virtual time one step costs. */
  readonly msPerStep: number;
  /** A run that has not gone quiet after this many steps stops with `budget-exhausted`. */
  readonly maxSteps: number;
  /** Keep every step as a readable line (replay, timelines); the hash is always kept. */
  readonly keepTrace: boolean;
}

export type StopReason = 'quiescent' | 'budget-exhausted' | 'stopped';

interface Timer {
  readonly dueMs: number;
  readonly sequence: number;
  readonly label: string;
  readonly fire: () => void;
  cancelled: boolean;
}

interface PendingIo {
  readonly label: string;
  /** Operations on the same connection complete in the order they were issued. */
  readonly connection: string;
  /** Virtual time from which the call can complete (its request's latency has passed). */
  readonly readyAtMs: number;
  readonly perform: () => unknown;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: unknown) => void;
}

/** An error from a simulated external system, delivered as a rejected I/O promise. */
export class SimulatedIoError extends Error {
  constructor(message: string, readonly code: string) {
    super(message);
    this.name = 'SimulatedIoError';
  }
}

const CODE_TIMER = -1;
const CODE_IO = -2;

/**
 * Deterministic scheduler: virtual time, timers, simulated I/O completions and world events,
 * one chosen per step by the choice source. Same choices => same trace.
 *
 * Asynchronous connector calls (a Redis SET, a Kafka commit) return promises that only this
 * scheduler resolves, each as a step of its own; after such a step the scheduler drains the
 * microtask queue before choosing again, so continuations run at a deterministic point.
 */
export class Scheduler implements StepDriver {
  readonly simulated = true;
  nowMs = 0;
  step = 0;
  readonly trace: Trace;
  private readonly timers: Timer[] = [];
  private timerSequence = 0;
  private readonly pendingIo: PendingIo[] = [];
  /** Between a failover and the next deployment: the tasks are cancelled, their I/O refused. */
  private ioRefused = false;
  private readonly enabledWorld = new EnabledEvents();
  private readonly enabledIo = new EnabledEvents();
  private needsDrain = false;
  private stopRequested = false;
  private world: SimWorld | undefined;
  /** Called before each step; the fault plan hooks in here. */
  beforeStep: ((step: number) => void) | undefined;

  private readonly choices: ChoiceSource;
  private readonly msPerStep: number;
  /** True while the choice source picks among the enabled events of a step (not a `choose`). */
  private choosingStep = false;
  private dueTimerNow: Timer | undefined;

  constructor(readonly options: SchedulerOptions) {
    this.choices = options.choices;
    this.msPerStep = options.msPerStep;
    if (!(options.msPerStep > 0)) throw new Error(`Scheduler: msPerStep must be > 0, got ${options.msPerStep}`);
    if (!Number.isSafeInteger(options.maxSteps) || options.maxSteps <= 0) {
      throw new Error(`Scheduler: maxSteps must be a positive integer, got ${options.maxSteps}`);
    }
    this.trace = new Trace(options.keepTrace);
  }

  attach(world: SimWorld): void {
    this.world = world;
  }

  /** Schedules `fire` at virtual time `dueMs` (it runs as a step once due). Returns a cancel function. */
  setTimer(delayMs: number, label: string, fire: () => void): () => void {
    if (!(delayMs >= 0)) throw new Error(`Scheduler.setTimer(${label}): delayMs must be >= 0, got ${delayMs}`);
    const timer: Timer = { dueMs: this.nowMs + delayMs, sequence: this.timerSequence++, label, fire, cancelled: false };
    // Keep timers sorted by (dueMs, sequence); there are only a handful at a time.
    let index = this.timers.length;
    while (index > 0 && this.timers[index - 1]!.dueMs > timer.dueMs) index--;
    this.timers.splice(index, 0, timer);
    return () => {
      timer.cancelled = true;
    };
  }

  /**
   * Starts a simulated I/O call. `perform` applies its effect to the simulated system when
   * the scheduler completes the call (it may throw a SimulatedIoError to fail it).
   * `latencyMs` of virtual time must pass before the call can complete (0: from the next step).
   */
  io<T>(connection: string, label: string, perform: () => T, latencyMs = 0): Promise<T> {
    if (!(latencyMs >= 0)) throw new Error(`Scheduler.io(${label}): latencyMs must be >= 0, got ${latencyMs}`);
    if (this.ioRefused) {
      // Issued by a cancelled task (a continuation of the failed attempt that was still queued
      // as a microtask): Flink interrupts the task's thread, so the request never leaves it.
      // Kept (not hashed) for replay pictures, like requests applied as their requester crashed.
      if (this.trace.keepEntries) this.trace.keep(this.step, this.nowMs, `io ${label} refused: its requester was cancelled`);
      return new Promise<T>(() => {});
    }
    const readyAtMs = this.nowMs + latencyMs;
    return new Promise<T>((resolve, reject) => {
      this.pendingIo.push({ connection, label, readyAtMs, perform, resolve: resolve as (value: unknown) => void, reject });
    });
  }

  /**
   * A choice that is not a step (a retry's jittered pause, say), from the run's own choice
   * source: seeded, replayable and shrinkable like the schedule, and recorded in the trace.
   * Returns an integer in [0, optionCount).
   */
  choose(label: string, optionCount: number): number {
    if (!Number.isSafeInteger(optionCount) || optionCount < 1) throw new Error(`Scheduler.choose(${label}): optionCount must be a positive integer, got ${optionCount}`);
    const choice = optionCount === 1 ? 0 : this.choices.pick(optionCount);
    if (!(Number.isSafeInteger(choice) && choice >= 0 && choice < optionCount)) throw new Error(`Scheduler.choose(${label}): choice source returned ${choice} for ${optionCount} options`);
    this.record(`choice ${label}: ${choice} of ${optionCount}`);
    return choice;
  }

  acceptIo(): void {
    this.ioRefused = false;
  }

  /** Completes (applies) every pending I/O call at once: what a crash does to requests already sent. */
  settleAllIo(outcome: 'apply' | 'drop'): void {
    // The cancelled tasks' continuations still queued as microtasks run in this step's drain,
    // while their I/O is refused: none of them may reach a server after the next deployment.
    if (!this.ioRefused) {
      this.ioRefused = true;
      this.needsDrain = true;
    }
    const pending = this.pendingIo.splice(0, this.pendingIo.length);
    for (const io of pending) {
      if (outcome === 'apply') {
        try {
          io.perform();
          // Kept (not hashed) for replay pictures: a write that lands during a crash is often the blamed one.
          if (this.trace.keepEntries) this.trace.keep(this.step, this.nowMs, `io ${io.label} applied as its requester crashed`);
        } catch {
          // The requester is gone; a failed request has no effect to keep.
        }
      }
      // Never settle the promise: its requester was killed, and its continuation must not run.
    }
  }

  /**
   * Drain microtasks after this step. Completed I/O always drains; the world asks for a drain
   * only when it would otherwise stop with a connector still busy (a promise that settles
   * without I/O, e.g. an async function that awaited nothing), so most steps need none.
   */
  requestDrain(): void {
    this.needsDrain = true;
  }

  get pendingIoCount(): number {
    return this.pendingIo.length;
  }

  stop(): void {
    this.stopRequested = true;
  }

  record(event: string): void {
    this.trace.foldText(event);
    this.trace.keep(this.step, this.nowMs, event);
  }

  /**
   * `record(prefix + label + suffix)` without building the string unless lines are kept:
   * FNV-1a over the pieces in order equals FNV-1a over their concatenation, so the hash is
   * the same, and bulk exploration allocates nothing on timer and I/O steps.
   */
  private recordPieces(prefix: string, label: string, suffix: string): void {
    const trace = this.trace;
    trace.foldText(prefix);
    trace.foldText(label);
    trace.foldText(suffix);
    if (trace.keepEntries) trace.keep(this.step, this.nowMs, prefix + label + suffix);
  }

  /** Runs steps until nothing is enabled, the world asks to stop, or the step budget is spent. */
  async run(): Promise<StopReason> {
    const world = this.world;
    if (world === undefined) throw new Error('Scheduler.run: no world attached');
    while (true) {
      if (this.stopRequested) return 'stopped';
      if (this.step >= this.options.maxSteps) return 'budget-exhausted';
      this.beforeStep?.(this.step);
      if (this.stopRequested) return 'stopped';
      const progressed = this.runOneStep(world);
      const drained = this.needsDrain;
      if (drained) {
        this.needsDrain = false;
        await drainMicrotasks();
      }
      if (!progressed) {
        // Continuations that just ran may have enabled something: look again before moving time.
        if (drained) continue;
        // Nothing enabled: jump virtual time to the next timer or call whose latency ends, or stop when there is none.
        const nextDueMs = Math.min(this.nextLiveTimer()?.dueMs ?? Infinity, this.nextIoReadyAtMs());
        if (nextDueMs === Infinity) return 'quiescent';
        this.nowMs = Math.max(this.nowMs, nextDueMs);
      }
    }
  }

  /**
   * The next time after now at which a pending call stops waiting for its latency (Infinity when
   * none does). Only later times count: a call already ready may still wait behind an older call
   * of its connection, and time must move for that one.
   */
  private nextIoReadyAtMs(): number {
    let earliestMs = Infinity;
    for (let i = 0; i < this.pendingIo.length; i++) {
      const readyAtMs = this.pendingIo[i]!.readyAtMs;
      if (readyAtMs > this.nowMs && readyAtMs < earliestMs) earliestMs = readyAtMs;
    }
    return earliestMs;
  }

  private nextLiveTimer(): Timer | undefined {
    while (this.timers.length > 0 && this.timers[0]!.cancelled) this.timers.shift();
    return this.timers[0];
  }

  private runOneStep(world: SimWorld): boolean {
    const dueTimer = this.nextLiveTimer();
    const timerCount = dueTimer !== undefined && dueTimer.dueMs <= this.nowMs ? 1 : 0;
    const enabledIo = this.enabledIo;
    enabledIo.count = 0;
    if (this.pendingIo.length > 0) this.collectEnabledIo(enabledIo);
    const enabledWorld = this.enabledWorld;
    enabledWorld.count = 0;
    world.collectEnabled(enabledWorld);
    const total = timerCount + enabledIo.count + enabledWorld.count;
    if (total === 0) return false;

    this.choosingStep = true;
    this.dueTimerNow = timerCount === 1 ? dueTimer : undefined;
    let choice: number;
    try {
      choice = this.choices.pick(total);
    } finally {
      this.choosingStep = false;
    }
    if (!(choice >= 0 && choice < total)) {
      throw new Error(`Scheduler: choice source returned ${choice} for ${total} options`);
    }
    this.step++;
    this.nowMs += this.msPerStep;
    if (choice < timerCount) {
      const timer = this.timers.shift()!;
      this.trace.fold(CODE_TIMER, this.step);
      this.recordPieces('timer ', timer.label, '');
      timer.fire();
      return true;
    }
    choice -= timerCount;
    if (choice < enabledIo.count) {
      const io = removeAt(this.pendingIo, enabledIo.codes[choice]!);
      this.trace.fold(CODE_IO, this.step);
      let result: unknown;
      try {
        result = io.perform();
      } catch (error) {
        this.record(`io ${io.label} failed: ${error instanceof Error ? error.message : String(error)}`);
        io.reject(error);
        this.needsDrain = true;
        return true;
      }
      this.recordPieces('io ', io.label, ' done');
      io.resolve(result);
      this.needsDrain = true;
      return true;
    }
    choice -= enabledIo.count;
    const code = enabledWorld.codes[choice]!;
    this.trace.fold(code, this.step);
    if (this.trace.keepEntries) this.trace.keep(this.step, this.nowMs, world.describe(code));
    world.execute(code);
    return true;
  }

  /**
   * The enabled events of the step being chosen, in option order; undefined outside a step's
   * pick (a `choose` is no step). For prove's partial-order reduction: read inside `pick`.
   * Timers and I/O completions touch anything (a timer may trigger a checkpoint or redeploy
   * the job, an I/O completion resumes whichever task awaited it).
   */
  stepOptions(): StepOption[] | undefined {
    if (!this.choosingStep) return undefined;
    const world = this.world!;
    const options: StepOption[] = [];
    if (this.dueTimerNow !== undefined) options.push({ id: `timer ${this.dueTimerNow.label} @${this.dueTimerNow.dueMs}`, touches: undefined });
    for (let i = 0; i < this.enabledIo.count; i++) {
      const io = this.pendingIo[this.enabledIo.codes[i]!]!;
      options.push({ id: `io ${io.connection} ${io.label}`, touches: undefined });
    }
    for (let i = 0; i < this.enabledWorld.count; i++) {
      const code = this.enabledWorld.codes[i]!;
      options.push(world.footprint?.(code) ?? { id: world.describe(code), touches: undefined });
    }
    return options;
  }

  /**
   * The scheduler's part of the simulation state, for prove's state-hash cache: the step, the
   * virtual time, every live timer (label, due time) and every pending I/O call (connection,
   * label, readiness), in order. What a timer or a call will do lives in its closure; its label
   * names it (checkpoint id, task), which is what the cache relies on.
   */
  describePending(): string {
    const parts = [`step ${this.step} at ${this.nowMs}`];
    for (const timer of this.timers) if (!timer.cancelled) parts.push(`timer ${timer.label} @${timer.dueMs}`);
    for (const io of this.pendingIo) parts.push(`io ${io.connection} ${io.label} @${io.readyAtMs}`);
    return parts.join('\n');
  }

  /** The oldest pending call of each connection is enabled once its latency has passed; later ones wait their turn. */
  private collectEnabledIo(out: EnabledEvents): void {
    const pending = this.pendingIo;
    const nowMs = this.nowMs;
    for (let i = 0; i < pending.length; i++) {
      const connection = pending[i]!.connection;
      if (pending[i]!.readyAtMs > nowMs) continue;
      let isOldest = true;
      for (let j = 0; j < i; j++) {
        if (pending[j]!.connection === connection) {
          isOldest = false;
          break;
        }
      }
      if (isOldest) out.add(i);
    }
  }
}

/** Removes and returns `list[index]`, keeping order; unlike `splice` it allocates no array. */
function removeAt<T>(list: T[], index: number): T {
  const removed = list[index]!;
  for (let i = index; i < list.length - 1; i++) list[i] = list[i + 1]!;
  list.length--;
  return removed;
}

/** Resolves after every queued microtask (and their follow-ups) has run. */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
