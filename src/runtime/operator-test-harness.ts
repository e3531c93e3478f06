/**
 * Unit-test harnesses for keyed process functions, after Flink's
 * KeyedOneInputStreamOperatorTestHarness / KeyedTwoInputStreamOperatorTestHarness: feed
 * elements with timestamps, watermarks and processing time by hand, read what came out,
 * snapshot, and restore the snapshot into a fresh harness (a simulated failover).
 *
 *   const harness = new KeyedOperatorTestHarness(() => tumblingCount(10), (e) => e.user);
 *   harness.processElement({ user: 'a' }, 3);
 *   harness.processWatermark(9);                // fires the window [0, 10)
 *   expect(harness.outputValues()).toEqual([...]);
 *   const restored = new KeyedOperatorTestHarness(() => tumblingCount(10), (e) => e.user, { restoreFrom: harness.snapshot() });
 *
 * It runs the function through the same operator, keyed state and timer service as the
 * runtime (keyed-operator.ts). A method returns a promise only when the function returned
 * one; await it before the next call.
 */
import type { Key, SubtaskInfo } from '../connectors/api.ts';
import type { FunctionFactory, KeyedCoProcessFunction, KeyedProcessFunction, OutputTag } from './functions.ts';
import { KeyedProcessOperator, type KeyedFunctionSpec, type MaybeAsync } from './keyed-operator.ts';
import type { KeyedStateEntries } from './keyed-state.ts';
import type { TimerSnapshot } from './timer-service.ts';

/** A record the function emitted, with its timestamp (undefined: none). */
export interface TimestampedValue<T> {
  readonly value: T;
  readonly timestampMs: number | undefined;
}

/** What `snapshot()` returns: opaque, only for restoring a fresh harness. */
export interface OperatorSnapshot {
  readonly keyedState: KeyedStateEntries;
  readonly timers: readonly TimerSnapshot[];
}

export interface OperatorTestHarnessOptions {
  readonly operatorName?: string;
  readonly subtaskIndex?: number;
  readonly parallelism?: number;
  /** Restore the function's keyed state and timers from another harness's snapshot. */
  readonly restoreFrom?: OperatorSnapshot;
  /** The initial processing time (ms); default 0. */
  readonly processingTimeMs?: number;
}

class HarnessCore {
  readonly operator: KeyedProcessOperator;
  readonly records: TimestampedValue<unknown>[] = [];
  readonly sideOutputs = new Map<string, TimestampedValue<unknown>[]>();
  processingTimeMs: number;
  /** Work still running on a function's promise (the next call waits for it). */
  private busy = false;

  constructor(spec: KeyedFunctionSpec, options: OperatorTestHarnessOptions) {
    this.processingTimeMs = options.processingTimeMs ?? 0;
    const info: SubtaskInfo = { subtaskIndex: options.subtaskIndex ?? 0, parallelism: options.parallelism ?? 1 };
    const restore = options.restoreFrom === undefined ? undefined : cloneSnapshot(options.restoreFrom);
    this.operator = new KeyedProcessOperator(
      spec,
      info,
      {
        currentProcessingTime: () => this.processingTimeMs,
        emit: (value, timestampMs) => {
          this.records.push({ value, timestampMs });
        },
        emitSide: (tagId, value, timestampMs) => {
          let list = this.sideOutputs.get(tagId);
          if (list === undefined) {
            list = [];
            this.sideOutputs.set(tagId, list);
          }
          list.push({ value, timestampMs });
        },
        onProcessingTimerAdded: () => {},
      },
      restore,
    );
  }

  /** Runs one call; refuses a call while the previous one waits on a promise. */
  run(call: string, work: () => MaybeAsync): MaybeAsync {
    if (this.busy) throw new Error(`${call}: the previous call is still waiting on the function's promise (await it first)`);
    const result = work();
    if (result === undefined) return undefined;
    this.busy = true;
    return result.finally(() => {
      this.busy = false;
    });
  }

  snapshot(): OperatorSnapshot {
    if (this.busy) throw new Error('snapshot: the previous call is still waiting on the function\'s promise (await it first)');
    const keyedState: KeyedStateEntries = {};
    const timers: TimerSnapshot[] = [];
    this.operator.snapshotInto(keyedState, timers);
    return cloneSnapshot({ keyedState, timers });
  }
}

/** A snapshot shares nothing with the operator it came from (as a checkpoint written to storage). */
function cloneSnapshot(snapshot: OperatorSnapshot): OperatorSnapshot {
  return structuredClone(snapshot);
}

function checkTime(call: string, ms: number): void {
  if (!Number.isSafeInteger(ms)) throw new Error(`${call}: time must be an integer (ms), got ${String(ms)}`);
}

/** Common reading side of both harnesses. */
abstract class HarnessBase<O> {
  protected abstract readonly core: HarnessCore;

  /** The records emitted so far, in order. */
  output(): ReadonlyArray<TimestampedValue<O>> {
    return this.core.records as TimestampedValue<O>[];
  }

  outputValues(): O[] {
    return this.core.records.map((record) => record.value as O);
  }

  sideOutput<X>(tag: OutputTag<X>): ReadonlyArray<TimestampedValue<X>> {
    return (this.core.sideOutputs.get(tag.id) ?? []) as TimestampedValue<X>[];
  }

  /** Forgets what was emitted so far. */
  clearOutput(): void {
    this.core.records.length = 0;
    this.core.sideOutputs.clear();
  }

  /** The watermark advances to `watermarkMs` (never back): due event-time timers fire. */
  processWatermark(watermarkMs: number): MaybeAsync {
    checkTime('processWatermark', watermarkMs);
    const current = this.core.operator.currentWatermark;
    if (watermarkMs < current) throw new Error(`processWatermark(${watermarkMs}): the watermark is already ${current} and never goes back`);
    return this.core.run('processWatermark', () => this.core.operator.advanceWatermark(watermarkMs));
  }

  /** The processing time moves to `nowMs` (never back): due processing-time timers fire. */
  setProcessingTime(nowMs: number): MaybeAsync {
    checkTime('setProcessingTime', nowMs);
    if (nowMs < this.core.processingTimeMs) throw new Error(`setProcessingTime(${nowMs}): processing time is already ${this.core.processingTimeMs} and never goes back`);
    this.core.processingTimeMs = nowMs;
    return this.core.run('setProcessingTime', () => this.core.operator.advanceProcessingTime(nowMs));
  }

  currentWatermark(): number {
    return this.core.operator.currentWatermark;
  }

  currentProcessingTime(): number {
    return this.core.processingTimeMs;
  }

  numEventTimeTimers(): number {
    return this.core.operator.timers.count('event-time');
  }

  numProcessingTimeTimers(): number {
    return this.core.operator.timers.count('processing-time');
  }

  /** Keys holding a value in any keyed state (state cleanup checks). */
  numKeysInState(): number {
    return this.core.operator.state.keyCount();
  }

  /** Keyed state and timers, as a checkpoint would hold them; restore with `{ restoreFrom }`. */
  snapshot(): OperatorSnapshot {
    return this.core.snapshot();
  }
}

export class KeyedOperatorTestHarness<I, O> extends HarnessBase<O> {
  protected readonly core: HarnessCore;

  constructor(
    create: FunctionFactory<KeyedProcessFunction<I, O>>,
    private readonly keySelector: (value: I) => Key,
    options: OperatorTestHarnessOptions = {},
  ) {
    super();
    const name = options.operatorName ?? 'process';
    this.core = new HarnessCore({ kind: 'process', name, create: create as FunctionFactory<KeyedProcessFunction<unknown, unknown>> }, options);
  }

  /** An element with its event timestamp (undefined: none, as without event time). */
  processElement(value: I, timestampMs?: number): MaybeAsync {
    if (timestampMs !== undefined) checkTime('processElement', timestampMs);
    const key = this.keySelector(value);
    return this.core.run('processElement', () => this.core.operator.processElement(1, key, value, timestampMs));
  }
}

export class KeyedCoOperatorTestHarness<I1, I2, O> extends HarnessBase<O> {
  protected readonly core: HarnessCore;

  constructor(
    create: FunctionFactory<KeyedCoProcessFunction<I1, I2, O>>,
    private readonly keySelector1: (value: I1) => Key,
    private readonly keySelector2: (value: I2) => Key,
    options: OperatorTestHarnessOptions = {},
  ) {
    super();
    const name = options.operatorName ?? 'co-process';
    this.core = new HarnessCore({ kind: 'co-process', name, create: create as FunctionFactory<KeyedCoProcessFunction<unknown, unknown, unknown>> }, options);
  }

  processElement1(value: I1, timestampMs?: number): MaybeAsync {
    if (timestampMs !== undefined) checkTime('processElement1', timestampMs);
    const key = this.keySelector1(value);
    return this.core.run('processElement1', () => this.core.operator.processElement(1, key, value, timestampMs));
  }

  processElement2(value: I2, timestampMs?: number): MaybeAsync {
    if (timestampMs !== undefined) checkTime('processElement2', timestampMs);
    const key = this.keySelector2(value);
    return this.core.run('processElement2', () => this.core.operator.processElement(2, key, value, timestampMs));
  }
}
