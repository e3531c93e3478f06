import { RandomChoices } from '../../sim/choice.ts';
import { EnabledEvents, type SimWorld, type StepDriver, type StopReason } from '../../sim/scheduler.ts';
import { Trace } from '../../sim/trace.ts';

export interface RealTimeDriverOptions {
  /** Seeds the choice among enabled events (the real world decides everything else). */
  readonly seed: number;
  /** Wall-clock bound for the whole run. */
  readonly timeoutMs: number;
  /** A run with nothing to do for this long while not finished is reported as stuck. */
  readonly idleTimeoutMs: number;
  readonly keepTrace: boolean;
}

/**
 * Wall-clock ms of steps run back to back before the driver yields to the event loop, so real
 * I/O callbacks run while the job is busy. Records move in such batches between connector
 * calls (as Flink's network stack moves buffers, not records); a yield costs an event-loop turn.
 */
const STEPS_SLICE_MS = 2;
/** Steps between two looks at the clock inside a slice (reading it costs more than a step). */
const STEPS_PER_CLOCK_READ = 64;
/**
 * With nothing enabled, the driver waits for a wake-up (a connector call it was told about
 * settled: `wake`), the next timer, or this long, whichever comes first: connectors that do
 * not call `wake` are still noticed within a poll.
 */
const IDLE_POLL_MS = 1;

/**
 * `client` with every method that returns a promise calling `wake` once that promise settles:
 * how end-to-end runs tell an idle RealTimeDriver that a connector call is done.
 */
export function wakingOnSettle<T extends object>(client: T, wake: () => void): T {
  return new Proxy(client, {
    get(target, property, receiver) {
      const value: unknown = Reflect.get(target, property, receiver);
      if (typeof value !== 'function') return value;
      return (...args: unknown[]) => {
        const result: unknown = (value as (...args: unknown[]) => unknown).apply(target, args);
        if (result instanceof Promise) void result.then(wake, wake);
        return result;
      };
    },
  });
}

/**
 * Drives the same runtime in real time for end-to-end runs: timers on the wall clock,
 * connector promises settled by real Kafka and Redis, and the choice among enabled events
 * still seeded, so a run's shape (which source emits, which channel delivers) is
 * reproducible even though the services' timing is not.
 */
export class RealTimeDriver implements StepDriver {
  readonly simulated = false;
  step = 0;
  readonly trace: Trace;
  beforeStep: ((step: number) => void) | undefined;
  private world: SimWorld | undefined;
  private readonly startedAtMs = performance.now();
  private readonly timers: { dueMs: number; sequence: number; label: string; fire: () => void; cancelled: boolean }[] = [];
  private timerSequence = 0;
  private readonly choices: RandomChoices;
  private readonly enabled = new EnabledEvents();
  private stopRequested = false;
  /** Ends the current idle wait; undefined while the driver is not waiting. */
  private endIdleWait: (() => void) | undefined;

  constructor(private readonly options: RealTimeDriverOptions) {
    if (!(options.timeoutMs > 0)) throw new Error(`RealTimeDriver: timeoutMs must be > 0, got ${options.timeoutMs}`);
    if (!(options.idleTimeoutMs > 0)) throw new Error(`RealTimeDriver: idleTimeoutMs must be > 0, got ${options.idleTimeoutMs}`);
    this.choices = new RandomChoices(options.seed);
    this.trace = new Trace(options.keepTrace);
  }

  get nowMs(): number {
    return Math.round(performance.now() - this.startedAtMs);
  }

  get pendingIoCount(): number {
    return 0;
  }

  attach(world: SimWorld): void {
    this.world = world;
  }

  setTimer(delayMs: number, label: string, fire: () => void): () => void {
    const timer = { dueMs: this.nowMs + delayMs, sequence: this.timerSequence++, label, fire, cancelled: false };
    let index = this.timers.length;
    while (index > 0 && this.timers[index - 1]!.dueMs > timer.dueMs) index--;
    this.timers.splice(index, 0, timer);
    return () => {
      timer.cancelled = true;
    };
  }

  requestDrain(): void {
    // Real promises settle on their own; the loop yields to the event loop regularly.
  }

  /**
   * A connector call settled (end-to-end wrappers of the real clients call this): an idle
   * driver looks for enabled events again at once instead of at its next poll. Deferred to
   * the event loop's check phase, so the runtime's own continuation of that promise (a
   * microtask) has run and cleared the busy task by then.
   */
  wake(): void {
    const end = this.endIdleWait;
    if (end === undefined) return;
    this.endIdleWait = undefined;
    setImmediate(end);
  }

  /** Waits up to `waitMs`, or less when `wake` is called. */
  private idleWait(waitMs: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        this.endIdleWait = undefined;
        resolve();
      }, waitMs);
      this.endIdleWait = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }

  settleAllIo(): void {
    // Requests already sent are out of our hands; the runtime ignores their answers.
  }

  acceptIo(): void {
    // Real clients have no notion of a cancelled requester; the runtime ignores stale answers.
  }

  record(event: string): void {
    this.trace.foldText(event);
    this.trace.keep(this.step, this.nowMs, event);
  }

  stop(): void {
    this.stopRequested = true;
  }

  async run(): Promise<StopReason> {
    const world = this.world;
    if (world === undefined) throw new Error('RealTimeDriver.run: no world attached');
    let idleSinceMs: number | undefined;
    let sliceStartedMs = performance.now();
    let stepsSinceClockRead = 0;
    while (true) {
      if (this.stopRequested) return 'stopped';
      if (this.nowMs > this.options.timeoutMs) return 'budget-exhausted';
      this.beforeStep?.(this.step);
      if (this.stopRequested) return 'stopped';
      while (this.timers.length > 0 && this.timers[0]!.cancelled) this.timers.shift();
      const timer = this.timers[0];
      if (timer !== undefined && timer.dueMs <= this.nowMs) {
        this.timers.shift();
        this.step++;
        this.record(`timer ${timer.label}`);
        timer.fire();
        idleSinceMs = undefined;
        continue;
      }
      this.enabled.count = 0;
      world.collectEnabled(this.enabled);
      if (this.enabled.count > 0) {
        const code = this.enabled.codes[this.choices.pick(this.enabled.count)]!;
        this.step++;
        this.trace.fold(code, this.step);
        if (this.trace.keepEntries) this.trace.keep(this.step, this.nowMs, world.describe(code));
        world.execute(code);
        idleSinceMs = undefined;
        if (++stepsSinceClockRead >= STEPS_PER_CLOCK_READ) {
          stepsSinceClockRead = 0;
          if (performance.now() - sliceStartedMs >= STEPS_SLICE_MS) {
            await new Promise<void>((resolve) => setImmediate(resolve));
            sliceStartedMs = performance.now();
          }
        }
        continue;
      }
      // Nothing to do until a connector's promise settles or a timer is due.
      idleSinceMs ??= this.nowMs;
      if (this.nowMs - idleSinceMs > this.options.idleTimeoutMs && (timer === undefined || timer.dueMs - this.nowMs > this.options.idleTimeoutMs)) {
        return 'quiescent';
      }
      await this.idleWait(IDLE_POLL_MS);
      sliceStartedMs = performance.now();
      stepsSinceClockRead = 0;
    }
  }
}
