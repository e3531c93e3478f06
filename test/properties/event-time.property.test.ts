import { test } from '@fast-check/vitest';
import { describe, expect } from 'vitest';
import { eventTimeWindowInput, eventTimeWindowModel, type TimedReading } from '../../model/event-time-windows.ts';
import { checkEventTimeOutput, checkIdleProgress, checkWatermarksMonotonic, checkWindowsFireOnce, lateReadingKey, windowCountKey, type TimerFiring } from '../../properties/event-time.ts';
import { eventTimeWindow, ingestionTimeWindow, processingTimeWindow, WINDOW_OPERATOR } from '../../scenarios/event-time-window.ts';
import { caseArbitrary } from '../../src/harness/explore.ts';
import { MIN_WATERMARK } from '../../src/runtime/functions.ts';
import { runCase } from '../../src/harness/run-case.ts';
import type { CaseSpec } from '../../src/harness/run-case.ts';

const SIZE = eventTimeWindow.defaultSize;
const base = { scenario: eventTimeWindow.name, size: SIZE, mode: 'exactly-once' as const, bug: undefined };
/** Generated runs plus their judging, on a loaded 2-core machine. */
const PROPERTY_TIMEOUT_MS = 240_000;

describe('event-time-window under generated interleavings and fault plans', () => {
  for (const [mode, backend] of [['exactly-once', 'memory'], ['exactly-once', 'fs'], ['unaligned', 'memory'], ['unaligned', 'fs']] as const) {
    test.prop([caseArbitrary(eventTimeWindow, { ...base, mode, backend }, 3)], { numRuns: 100, seed: 10 })(
      `window counts equal the batch model, watermarks never regress, windows fire once, idleness does not stall (${mode}, ${backend})`,
      async (spec) => {
        const result = await runCase(eventTimeWindow, spec);
        expect(result.violations.map((v) => `${v.property}: ${v.message}`)).toEqual([]);
        expect(result.observations.outcome).toBe('finished');
      },
      PROPERTY_TIMEOUT_MS,
    );
  }
});

/** The window counts of a finished run's store, restricted to the windows the model calls exact. */
function exactCounts(store: Record<string, unknown>, prefix: string): string {
  const model = eventTimeWindowModel(eventTimeWindowInput(SIZE.partitions, SIZE.recordsPerPartition));
  const exact = [...model.cells.values()].filter((cell) => cell.exact).map((cell) => windowCountKey(prefix, cell.id));
  return JSON.stringify(exact.map((key) => [key, store[key]]));
}


describe('negative controls: processing and ingestion time depend on the interleaving and faults, event time does not', () => {
  const schedules: CaseSpec['schedule'][] = [{ kind: 'choices', choices: [], tailSeed: null }, ...[1, 2, 3, 4, 5].map((seed) => ({ kind: 'seed' as const, seed }))];
  const faultPlans: CaseSpec['faults'][] = [[], [{ kind: 'crash-job', atStep: 300 }], [{ kind: 'crash-task', atStep: 250, task: 2 }]];
  const cases = schedules.flatMap((schedule) => faultPlans.map((faults) => ({ schedule, faults })));

  test('the same readings give different processing-time and ingestion-time window counts, and identical event-time counts', async () => {
    const processing = new Set<string>();
    const ingestion = new Set<string>();
    const event = new Set<string>();
    for (const { schedule, faults } of cases) {
      const spec = { size: SIZE, mode: 'exactly-once' as const, backend: 'memory' as const, bug: undefined, faults, schedule, sinkBufferKeys: 1 };
      const processingRun = await runCase(processingTimeWindow, { ...spec, scenario: processingTimeWindow.name });
      expect(processingRun.observations.outcome).toBe('finished');
      processing.add(JSON.stringify(processingRun.output));
      const ingestionRun = await runCase(ingestionTimeWindow, { ...spec, scenario: ingestionTimeWindow.name });
      expect(ingestionRun.observations.outcome).toBe('finished');
      ingestion.add(JSON.stringify(ingestionRun.output));
      const eventRun = await runCase(eventTimeWindow, { ...spec, scenario: eventTimeWindow.name });
      expect(eventRun.violations).toEqual([]);
      event.add(exactCounts(eventRun.output as Record<string, unknown>, 'etw'));
    }
    // Expected, not a bug: a processing-time window is the clock's, so counts move with the schedule.
    expect(processing.size).toBeGreaterThan(1);
    expect(ingestion.size).toBeGreaterThan(1);
    expect(event.size).toBe(1);
  }, PROPERTY_TIMEOUT_MS);
});

describe('event-time properties on hand-made observations', () => {
  const input: TimedReading[][] = [
    [
      { value: { id: 'p0-0', sensor: 'a', timestampMs: 5 }, arrivalMs: 5 },
      { value: { id: 'p0-1', sensor: 'a', timestampMs: 8 }, arrivalMs: 8 },
      { value: { id: 'p0-2', sensor: 'a', timestampMs: 150 }, arrivalMs: 150 },
      { value: { id: 'p0-3', sensor: 'late', timestampMs: 20 }, arrivalMs: 151 },
    ],
  ];
  const model = eventTimeWindowModel(input);

  test('exact windows must hold their count; late output only for late candidates; nothing outside the model', () => {
    const good = { [windowCountKey('x', 'a:0')]: '2', [windowCountKey('x', 'a:100')]: '1', [lateReadingKey('x', 'p0-3')]: '20' };
    expect(checkEventTimeOutput(good, model, 'x', false)).toEqual([]);
    const lost = { ...good, [windowCountKey('x', 'a:0')]: '1' };
    expect(checkEventTimeOutput(lost, model, 'x', true).map((v) => v.anomaly)).toEqual(['lost write']);
    const onTimeDropped = { ...good, [lateReadingKey('x', 'p0-1')]: '8' };
    expect(checkEventTimeOutput(onTimeDropped, model, 'x', true).map((v) => v.anomaly)).toEqual(['on-time reading dropped as late']);
    const extra = { ...good, [windowCountKey('x', 'a:900')]: '1' };
    expect(checkEventTimeOutput(extra, model, 'x', true).map((v) => v.anomaly)).toEqual(['unexpected write']);
    // The late candidate neither counted nor reported, in a run without a restore: lost.
    const vanished = { [windowCountKey('x', 'a:0')]: '2', [windowCountKey('x', 'a:100')]: '1' };
    expect(checkEventTimeOutput(vanished, model, 'x', false).map((v) => v.anomaly)).toEqual(['lost write']);
    expect(checkEventTimeOutput(vanished, model, 'x', true)).toEqual([]);
  });

  test('a watermark that goes back within an attempt is caught; a new attempt may start over', () => {
    const change = (attempt: number, step: number, watermarkMs: number) => ({ task: 3, attempt, step, watermarkMs, idle: false });
    expect(checkWatermarksMonotonic([change(0, 1, 10), change(0, 2, 20), change(1, 3, -5), change(1, 4, 0)], [])).toEqual([]);
    const regressed = checkWatermarksMonotonic([change(0, 1, 10), change(0, 2, 20), change(0, 3, 15)], ['t0', 't1', 't2', 'window[0]']);
    expect(regressed.map((v) => v.message)).toEqual(['task window[0] (attempt 0): watermark 15 at step 3 after 20 at step 2']);
  });

  test('a window that fired before the restored checkpoint was triggered must not fire again', () => {
    const firing = (attempt: number, step: number): TimerFiring => ({ task: 2, attempt, operator: WINDOW_OPERATOR, key: 'a', timestampMs: 99, domain: 'event-time', step });
    const restores = [{ attempt: 0, atStep: 0, checkpointId: undefined }, { attempt: 1, atStep: 300, checkpointId: 4 }];
    // Fired at step 100, checkpoint 4 triggered at 200: the firing is in the checkpoint.
    expect(checkWindowsFireOnce([firing(0, 100), firing(1, 350)], restores, [{ checkpointId: 4, triggeredAtStep: 200 }], model, WINDOW_OPERATOR).map((v) => v.anomaly)).toEqual(['duplicate']);
    // Checkpoint 4 triggered before the firing: firing again after the restore is the replay.
    expect(checkWindowsFireOnce([firing(0, 100), firing(1, 350)], restores, [{ checkpointId: 4, triggeredAtStep: 50 }], model, WINDOW_OPERATOR)).toEqual([]);
    expect(checkWindowsFireOnce([firing(0, 100), firing(0, 120)], restores, [], model, WINDOW_OPERATOR).map((v) => v.anomaly)).toEqual(['duplicate']);
    // A restart between the firing and the checkpoint: the checkpoint was taken in an attempt where the window had not fired yet.
    const restartedBetween = [{ attempt: 0, atStep: 0, checkpointId: undefined }, { attempt: 1, atStep: 150, checkpointId: undefined }, { attempt: 2, atStep: 300, checkpointId: 4 }];
    expect(checkWindowsFireOnce([firing(0, 100), firing(2, 350)], restartedBetween, [{ checkpointId: 4, triggeredAtStep: 200 }], model, WINDOW_OPERATOR)).toEqual([]);
  });

  test('an idle partition that never says so is caught only when its source kept pace up to the gap and read past it in one attempt', () => {
    const gapModel = eventTimeWindowModel(eventTimeWindowInput(2, 40));
    const idle = gapModel.idleProgress!;
    const idleSource = 1;
    // Step = virtual ms here; the other source (task 0) passes every window by 600 ms.
    const change = (task: number, attempt: number, atMs: number, watermarkMs: number, isIdle = false) => ({ task, attempt, step: atMs, atMs, watermarkMs, idle: isIdle });
    const other = (attempt: number) => [change(0, attempt, 100, 50), change(0, attempt, 600, 560)];
    const beforeGap = idle.lastArrivalBeforeGapMs;
    const through = [...other(0), change(idleSource, 0, 10, 100), change(idleSource, 0, beforeGap, 200), change(idleSource, 0, idle.resumesAtMs, 700)];
    expect(checkIdleProgress(through, idleSource, [], gapModel, WINDOW_OPERATOR, 200).map((v) => v.anomaly)).toEqual(['idle partition not marked idle']);
    // Idle in between, but the other partition's windows did not fire before it resumed.
    const idled = [...other(0), change(idleSource, 0, 10, 100), change(idleSource, 0, beforeGap, 200), change(idleSource, 0, beforeGap + 50, 200, true), change(idleSource, 0, idle.resumesAtMs, 700)];
    expect(checkIdleProgress(idled, idleSource, [], gapModel, WINDOW_OPERATOR, 200).map((v) => v.anomaly)).toEqual(['window held back by an idle partition']);
    const fired = idle.cellsToFire.map((id): TimerFiring => {
      const cell = gapModel.cells.get(id)!;
      return { task: 2, attempt: 0, operator: WINDOW_OPERATOR, key: cell.sensor, timestampMs: cell.endMs - 1, domain: 'event-time', step: 620 };
    });
    expect(checkIdleProgress(idled, idleSource, fired, gapModel, WINDOW_OPERATOR, 200)).toEqual([]);
    // The other source passed the windows too late to expect them before the resume: nothing to judge.
    const otherLate = [change(0, 0, 100, 50), change(0, 0, idle.resumesAtMs - 20, 560), ...idled.filter((c) => c.task === idleSource)];
    expect(checkIdleProgress(otherLate, idleSource, [], gapModel, WINDOW_OPERATOR, 200)).toEqual([]);
    // Restored inside the gap (no data from before it), or still replaying a backlog at the gap: nothing to judge.
    expect(checkIdleProgress([...other(1), change(idleSource, 1, 400, MIN_WATERMARK, true), change(idleSource, 1, 700, MIN_WATERMARK), change(idleSource, 1, 700, 700)], idleSource, [], gapModel, WINDOW_OPERATOR, 200)).toEqual([]);
    const backlog = [...other(2), change(idleSource, 2, 10, 100), change(idleSource, 2, idle.resumesAtMs - 5, 200), change(idleSource, 2, idle.resumesAtMs + 1, 700)];
    expect(checkIdleProgress(backlog, idleSource, [], gapModel, WINDOW_OPERATOR, 200)).toEqual([]);
  });
});

describe('the report names a negative control as such', () => {
  test('run --scenario processing-time-window prints that its differences are expected, not a bug', async () => {
    const { main, EXIT_OK } = await import('../../src/cli/main.ts');
    const out: string[] = [];
    const code = await main(['run', '--scenario', 'processing-time-window', '--runs', '3', '--workers', '1'], { out: (line) => out.push(line), err: () => {} });
    expect(code).toBe(EXIT_OK);
    expect(out.join('\n')).toMatch(/ok {3}processing-time-window .*\n {2}negative control: its window counts differ between interleavings and faults - expected, not a bug/);
    const eventTime: string[] = [];
    await main(['run', '--scenario', 'event-time-window', '--runs', '3', '--workers', '1'], { out: (line) => eventTime.push(line), err: () => {} });
    expect(eventTime.join('\n')).not.toContain('negative control');
  }, PROPERTY_TIMEOUT_MS);
});
