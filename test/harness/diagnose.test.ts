import { describe, expect, test } from 'vitest';
import { flowSlowCheckpoint, flowSlowOperator } from '../../scenarios/flow-diagnosis.ts';
import { keyedCounts } from '../../scenarios/keyed-counts.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { EXIT_BAD_INPUT, EXIT_OK, main } from '../../src/cli/main.ts';
import { encodeCase } from '../../src/harness/case-token.ts';
import { backpressureLevel, diagnose, poolReading } from '../../src/harness/diagnose.ts';
import { runCase, type CaseSpec } from '../../src/harness/run-case.ts';
import type { Scenario } from '../../src/harness/scenario.ts';
import { parseFaultPlan } from '../../src/runtime/faults.ts';
import type { SubtaskFlowMetrics } from '../../src/runtime/flow-metrics.ts';

const spec = (scenario: Scenario, seed: number, faults: CaseSpec['faults'] = []): CaseSpec => ({
  scenario: scenario.name,
  size: scenario.defaultSize,
  mode: 'exactly-once',
  backend: 'memory',
  bug: undefined,
  faults,
  schedule: { kind: 'seed', seed },
});

async function cli(argv: readonly string[]): Promise<{ code: number; out: string[]; err: string[] }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(argv, { out: (line) => out.push(line), err: (line) => err.push(line) });
  return { code, out, err };
}

const metrics = (overrides: Partial<SubtaskFlowMetrics>): SubtaskFlowMetrics => ({
  task: 0, recordsReceived: 0, recordsSent: 0, busyTimeMsPerSecond: 0, backPressuredTimeMsPerSecond: 0, idleTimeMsPerSecond: 1000, inPoolUsage: 0, inputExclusiveBuffersUsage: 0, inputFloatingBuffersUsage: 0, outPoolUsage: 0, downstream: [], ...overrides,
});

describe("Flink's task metrics in virtual time", () => {
  test('measuring them does not change the run: same trace with metrics on and off', async () => {
    for (const seed of [1, 2, 3]) {
      const withMetrics = await runCase(keyedCounts, spec(keyedCounts, seed));
      const without = await runCase({ ...keyedCounts, jobOptions: { ...keyedCounts.jobOptions, flowMetrics: false } }, spec(keyedCounts, seed));
      expect(without.observations.traceHash).toBe(withMetrics.observations.traceHash);
      expect(without.observations.flowMetrics).toBeUndefined();
      expect(withMetrics.observations.flowMetrics?.subtasks.length).toBe(withMetrics.observations.taskNames.length);
    }
  }, 120_000);

  test('busy, backpressured and idle time add up to a second; records received and sent match the data', async () => {
    const result = await runCase(keyedCounts, spec(keyedCounts, 4));
    const flow = result.observations.flowMetrics!;
    expect(flow.measuredMs).toBe(result.observations.virtualTimeMs);
    for (const subtask of flow.subtasks) {
      const total = subtask.busyTimeMsPerSecond + subtask.backPressuredTimeMsPerSecond + subtask.idleTimeMsPerSecond;
      expect(Math.abs(total - 1000)).toBeLessThanOrEqual(2); // each rounded on its own
      expect(subtask.inPoolUsage).toBeGreaterThanOrEqual(0);
      expect(subtask.outPoolUsage).toBeLessThanOrEqual(1);
    }
    const { partitions, recordsPerPartition } = keyedCounts.defaultSize;
    const sources = flow.subtasks.filter((s) => result.observations.taskInputCounts[s.task] === 0);
    const keyed = flow.subtasks.filter((s) => (result.observations.taskInputCounts[s.task] ?? 0) > 0);
    expect(sources.reduce((sum, s) => sum + s.recordsSent, 0)).toBe(partitions * recordsPerPartition);
    expect(keyed.reduce((sum, s) => sum + s.recordsReceived, 0)).toBe(partitions * recordsPerPartition);
  }, 60_000);

  test('every acknowledged snapshot has a checkpoint detail whose phases fit in its end-to-end time', async () => {
    const result = await runCase(flowSlowCheckpoint, spec(flowSlowCheckpoint, 2));
    const details = result.observations.checkpointDetails!;
    const acked = result.observations.checkpoints.filter((c) => c.outcome === 'completed').flatMap((c) => c.ackedTasks.map((task) => `${c.checkpointId}/${task}`));
    for (const key of acked) expect(details.some((d) => `${d.checkpointId}/${d.task}` === key), key).toBe(true);
    for (const d of details) {
      expect(d.triggerDelayMs + d.alignmentMs + d.syncMs + d.asyncMs).toBeLessThanOrEqual(d.endToEndMs);
      expect(d.stateBytes).toBeGreaterThan(0);
    }
    // The planted asynchronous phase (200 ms at count>redis[0]) shows in every one of its snapshots.
    const planted = details.filter((d) => result.observations.taskNames[d.task] === 'count>redis[0]');
    expect(planted.length).toBeGreaterThan(0);
    for (const d of planted) expect(d.asyncMs).toBeGreaterThanOrEqual(200);
  }, 60_000);

  test('a slow operator costs virtual time: the run takes longer and the slow subtask is busy most of it', async () => {
    const plain = await runCase({ ...flowSlowOperator, jobOptions: {} }, spec(flowSlowOperator, 1));
    const slow = await runCase(flowSlowOperator, spec(flowSlowOperator, 1));
    expect(slow.observations.virtualTimeMs).toBeGreaterThan(plain.observations.virtualTimeMs);
    const busy = slow.observations.flowMetrics!.subtasks[slow.observations.taskNames.indexOf('count>redis[1]')]!.busyTimeMsPerSecond;
    expect(busy).toBeGreaterThan(800);
  }, 60_000);
});

describe('reading the metrics', () => {
  test("Flink's backpressure levels and the seed's pool-usage readings", () => {
    expect(backpressureLevel(100)).toBe('OK');
    expect(backpressureLevel(101)).toBe('LOW');
    expect(backpressureLevel(501)).toBe('HIGH');
    expect(poolReading(metrics({ inPoolUsage: 0.1, outPoolUsage: 0.1 }), false, false)).toMatch(/fine/);
    expect(poolReading(metrics({ inPoolUsage: 0.9, outPoolUsage: 0.9 }), false, false)).toMatch(/backpressured by its downstream/);
    expect(poolReading(metrics({ inPoolUsage: 0.9, outPoolUsage: 0.1 }), false, false)).toMatch(/root/);
    expect(poolReading(metrics({ inPoolUsage: 0, outPoolUsage: 0.9 }), true, false)).toMatch(/backpressured by its downstream/);
  });

  test('the planted diagnosis bugs name the wrong cause on a run the correct diagnosis gets right', async () => {
    const result = await runCase(flowSlowOperator, spec(flowSlowOperator, 3));
    const names = result.observations.taskNames;
    expect(names[diagnose(result.observations).backpressure!.rootCause!]).toBe('count>redis[1]');
    expect(names[diagnose(result.observations, { blameSender: true }).backpressure!.rootCause!]).toMatch(/^numbers\[/);
    const slow = await runCase(flowSlowCheckpoint, spec(flowSlowCheckpoint, 3));
    expect(diagnose(slow.observations).slowCheckpoint!.cause?.item).toBe('async-phase');
    expect(diagnose(slow.observations, { foldAsyncIntoSync: true }).slowCheckpoint!.cause?.item).not.toBe('async-phase');
  }, 60_000);

  test('the log views map every execution attempt id to its task and task manager', async () => {
    const result = await runCase(keyedCounts, spec(keyedCounts, 1, [{ kind: 'crash-task', atStep: 40, task: 0 }]));
    const diagnosis = diagnose(result.observations);
    const deploys = diagnosis.jobManagerLog.filter((line) => line.includes('Deploying '));
    expect(deploys.length).toBe(result.observations.restores.length * result.observations.taskNames.length);
    for (const line of deploys) {
      const [, task, attemptId, tm] = /Deploying (\S+) \(attempt #\d+\) with attempt id ([0-9a-f]{32}) to (tm-\d+)\./.exec(line)!;
      expect(diagnosis.taskManagerLogs.get(tm!)!.some((entry) => entry.includes(`Received task ${task}`) && entry.includes(attemptId!))).toBe(true);
    }
  }, 60_000);
});

describe('minPauseBetweenCheckpointsMs', () => {
  test('the next checkpoint is triggered no sooner than the pause after the last one ended', async () => {
    const minPauseMs = 60;
    const scenario: Scenario = { ...oddEvenSum, jobOptions: { ...oddEvenSum.jobOptions, minPauseBetweenCheckpointsMs: minPauseMs } };
    for (const seed of [1, 2]) {
      const result = await runCase(scenario, { ...spec(oddEvenSum, seed), checkpointIntervalMs: 10 });
      expect(result.observations.outcome).toBe('finished');
      const checkpoints = result.observations.checkpoints;
      expect(checkpoints.length).toBeGreaterThan(1);
      // The final checkpoint (every task ended) is triggered at once, as before.
      for (let i = 1; i < checkpoints.length - 1; i++) expect(checkpoints[i]!.triggeredAtMs - checkpoints[i - 1]!.endedAtMs).toBeGreaterThanOrEqual(minPauseMs);
    }
  }, 60_000);
});

describe('the new fault kinds as plan data', () => {
  test('parse, and bad values are named', () => {
    const plan = parseFaultPlan(
      [
        { kind: 'slow-operator', atStep: 1, task: 2, extraMsPerRecord: 3 },
        { kind: 'slow-snapshot', atStep: 2, task: 0, phase: 'async', extraMs: 40 },
        { kind: 'slow-calls', atStep: 3, extraLatencyMs: 5 },
        { kind: 'skew-keys', atStep: 4, hotKeyPercent: 50 },
      ],
      4,
      'test',
    );
    expect(plan.map((fault) => fault.kind)).toEqual(['slow-operator', 'slow-snapshot', 'slow-calls', 'skew-keys']);
    expect(() => parseFaultPlan([{ kind: 'slow-operator', atStep: 0, task: 2, extraMsPerRecord: 0 }], 4, 'plan')).toThrow(/extraMsPerRecord must be an integer in \[1, 10000\], got 0/);
    expect(() => parseFaultPlan([{ kind: 'slow-snapshot', atStep: 0, task: 2, phase: 'later', extraMs: 5 }], 4, 'plan')).toThrow(/phase must be "sync" or "async"/);
    expect(() => parseFaultPlan([{ kind: 'skew-keys', atStep: 0, hotKeyPercent: 101 }], 4, 'plan')).toThrow(/hotKeyPercent must be an integer in \[1, 100\]/);
  });

  test('a slow external system makes the sink\'s calls take longer: the same run takes more virtual time', async () => {
    const fast = await runCase(keyedCounts, { ...spec(keyedCounts, 1), sinkBufferKeys: 1 });
    const slow = await runCase(keyedCounts, { ...spec(keyedCounts, 1, [{ kind: 'slow-calls', atStep: 0, extraLatencyMs: 10 }]), sinkBufferKeys: 1 });
    expect(slow.violations).toEqual([]);
    expect(slow.observations.virtualTimeMs).toBeGreaterThan(fast.observations.virtualTimeMs + 100);
  }, 60_000);

  test('skew-keys sends the unread input to the hot key, and exactly-once still holds', async () => {
    const result = await runCase(flowSlowOperator, spec(flowSlowOperator, 1, [{ kind: 'skew-keys', atStep: 30, hotKeyPercent: 100 }]));
    expect(result.violations.filter((v) => v.property === 'exactly-once')).toEqual([]);
    expect(Object.keys(result.output as Record<string, string>)).toContain('flow:hot');
  }, 60_000);
});

describe('streamcheck diagnose', () => {
  test('prints the tables and names the planted root cause; --logs adds the log views', async () => {
    const token = encodeCase(spec(flowSlowOperator, 3));
    const { code, out } = await cli(['diagnose', token, '--logs']);
    expect(code).toBe(EXIT_OK);
    const text = out.join('\n');
    expect(text).toContain('Backpressure (Flink task metrics, virtual time):');
    expect(text).toMatch(/root cause: count>redis\[1\]/);
    expect(text).toContain("Slow checkpoints (the seed's checklist, in order):");
    expect(text).toMatch(/jobmanager\.log:\n {2}0 ms {2}Job flow-slow-operator \([0-9a-f]{32}\)/);
    expect(text).toContain('taskmanager.log of tm-1:');
  }, 60_000);

  test('--json is one object; a bad token is bad input (exit 2, no stack)', async () => {
    const json = await cli(['diagnose', encodeCase(spec(flowSlowOperator, 3)), '--json']);
    expect(json.code).toBe(EXIT_OK);
    expect(JSON.parse(json.out.join('\n')).backpressure.rootCause).toBe('count>redis[1]');
    const bad = await cli(['diagnose', 'flow-slow-operator:not-base64!']);
    expect(bad.code).toBe(EXIT_BAD_INPUT);
    expect(bad.err.join('\n')).not.toMatch(/\n\s+at /);
    const none = await cli(['diagnose']);
    expect(none.code).toBe(EXIT_BAD_INPUT);
    expect(none.err[0]).toMatch(/diagnose: expects exactly one token/);
  }, 60_000);
});
