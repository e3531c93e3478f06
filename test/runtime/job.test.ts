import { describe, expect, test } from 'vitest';
import { eventTimeWindow } from '../../scenarios/event-time-window.ts';
import { kafka2pc } from '../../scenarios/kafka-2pc.ts';
import { oddEvenSum } from '../../scenarios/odd-even-sum.ts';
import { SimEnvironment } from '../../src/connectors/sim/environment.ts';
import { runCase } from '../../src/harness/run-case.ts';
import type { Scenario } from '../../src/harness/scenario.ts';
import type { Fault } from '../../src/runtime/faults.ts';
import { FAULT_SITUATIONS } from '../../src/runtime/situations.ts';
import { DEFAULT_FLOW_CONTROL_BUFFERS, DEFAULT_JOB_OPTIONS, describeFault, flowControlBuffersOf, JobRuntime, type JobOptions } from '../../src/runtime/job.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import type { ChoiceSource } from '../../src/sim/choice.ts';
import { Scheduler, type StepOption } from '../../src/sim/scheduler.ts';
import { ElementKind, type Channel } from '../../src/runtime/channel.ts';
import type { Task } from '../../src/runtime/task.ts';

/** A JobRuntime of odd-even-sum (subtasks numbers>parity[0..1], sum>redis[0..1]) built and not run. */
function jobWith(options: Partial<JobOptions>, faults: Fault[] = [], maxSteps = 100, scenario: Scenario = oddEvenSum): JobRuntime {
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps, keepTrace: false });
  const built = scenario.build({ scheduler, env: new SimEnvironment(scheduler), size: scenario.defaultSize, bug: undefined });
  return new JobRuntime(built.pipeline, { ...DEFAULT_JOB_OPTIONS, ...options }, scheduler, faults, built.environmentHooks);
}

describe('JobRuntime refuses invalid options and fault plans by name', () => {
  test('checkpoint interval, timeout, concurrency, watermark interval and poll delay', () => {
    for (const value of [0, -1, Number.NaN]) {
      expect(() => jobWith({ checkpointIntervalMs: value })).toThrow(/^JobRuntime: checkpointIntervalMs must be > 0$/);
      expect(() => jobWith({ checkpointTimeoutMs: value })).toThrow(/^JobRuntime: checkpointTimeoutMs must be > 0$/);
      expect(() => jobWith({ sourcePollDelayMs: value })).toThrow(/^JobRuntime: sourcePollDelayMs must be > 0$/);
    }
    for (const value of [0, 1.5, -1]) expect(() => jobWith({ maxConcurrentCheckpoints: value })).toThrow(/^JobRuntime: maxConcurrentCheckpoints must be a positive integer$/);
    for (const value of [-1, 0.5, Number.POSITIVE_INFINITY]) expect(() => jobWith({ autoWatermarkIntervalMs: value })).toThrow(/^JobRuntime: autoWatermarkIntervalMs must be a non-negative integer$/);
    // The smallest valid values are accepted.
    expect(() => jobWith({ checkpointIntervalMs: 0.5, checkpointTimeoutMs: 0.5, sourcePollDelayMs: 0.5, maxConcurrentCheckpoints: 1, autoWatermarkIntervalMs: 0 })).not.toThrow();
  });

  test('optional virtual-ms settings: a number >= 0, or absent', () => {
    for (const name of ['alignedCheckpointTimeoutMs', 'recordCostMs', 'minPauseBetweenCheckpointsMs'] as const) {
      for (const value of [-1, Number.NaN, Number.POSITIVE_INFINITY]) {
        expect(() => jobWith({ [name]: value })).toThrow(`JobRuntime: ${name} must be a number >= 0 (virtual ms), got ${value}`);
      }
      expect(() => jobWith({ [name]: 0 })).not.toThrow();
      expect(() => jobWith({ [name]: undefined })).not.toThrow();
    }
    expect(() => jobWith({ maxParallelism: 0 })).toThrow(/^JobRuntime: maxParallelism must be an integer in \[1, \d+\], got 0$/);
  });

  test('slow subtasks and slow asynchronous phases name subtasks of the job and a positive number of ms', () => {
    const names = 'numbers>parity[0], numbers>parity[1], sum>redis[0], sum>redis[1]';
    expect(() => jobWith({ slowSubtasks: { 'sum>redis[2]': 4 } })).toThrow(`JobRuntime: slowSubtasks names sum>redis[2], no subtask of odd-even-sum (subtasks: ${names})`);
    expect(() => jobWith({ slowAsyncPhaseMs: { 'sum>redis[2]': 4 } })).toThrow(`JobRuntime: slowAsyncPhaseMs names sum>redis[2], no subtask of odd-even-sum (subtasks: ${names})`);
    for (const value of [0, -2, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => jobWith({ slowSubtasks: { 'sum>redis[1]': value } })).toThrow(`JobRuntime: slowSubtasks['sum>redis[1]'] must be a number > 0 (virtual ms per record), got ${value}`);
      expect(() => jobWith({ slowAsyncPhaseMs: { 'sum>redis[1]': value } })).toThrow(`JobRuntime: slowAsyncPhaseMs['sum>redis[1]'] must be a number > 0 (virtual ms), got ${value}`);
    }
    // Valid ones: every subtask pays recordCostMs, a slow one its extra ms on top.
    const job = jobWith({ recordCostMs: 1, slowSubtasks: { 'sum>redis[0]': 4 }, slowAsyncPhaseMs: { 'numbers>parity[1]': 0.5 } });
    expect(job.tasks.map((task) => task.recordCostMs)).toEqual([1, 1, 5, 1]);
    expect(jobWith({ slowSubtasks: { 'sum>redis[1]': 0.5 } }).tasks.map((task) => task.recordCostMs)).toEqual([0, 0, 0, 0.5]);
  });

  test('a fault plan naming a task the job does not have', () => {
    for (const task of [4, -1]) {
      expect(() => jobWith({}, [{ kind: 'crash-task', atStep: 3, task }])).toThrow(`JobRuntime: fault task #${task} crashes at step 3 names no task of odd-even-sum`);
    }
    expect(() => jobWith({}, [{ kind: 'crash-task', atStep: 3, task: 3 }, { kind: 'crash-task', atStep: 3, task: 0 }, { kind: 'crash-job', atStep: 4 }])).not.toThrow();
  });
});

describe('network buffers (flowControlBuffersOf)', () => {
  test('each setting at its smallest valid value; the defaults fill what is absent', () => {
    expect(flowControlBuffersOf({ exclusiveBuffersPerChannel: 1 })).toEqual({ exclusiveBuffersPerChannel: 1, floatingBuffersPerGate: 8, outputBuffersPerChannel: 1 });
    expect(flowControlBuffersOf({ floatingBuffersPerGate: 0 })).toEqual({ exclusiveBuffersPerChannel: 2, floatingBuffersPerGate: 0, outputBuffersPerChannel: 1 });
    expect(flowControlBuffersOf({ outputBuffersPerChannel: 0 })).toEqual({ exclusiveBuffersPerChannel: 2, floatingBuffersPerGate: 8, outputBuffersPerChannel: 0 });
    expect(flowControlBuffersOf({ channelCapacity: 1 })).toEqual({ exclusiveBuffersPerChannel: 1, floatingBuffersPerGate: 0, outputBuffersPerChannel: 0 });
    expect(DEFAULT_FLOW_CONTROL_BUFFERS).toEqual({ exclusiveBuffersPerChannel: 2, floatingBuffersPerGate: 8, outputBuffersPerChannel: 1 });
  });

  test('a value below the minimum or not an integer is refused with its name, minimum and value', () => {
    const cases = [['channelCapacity', 1], ['exclusiveBuffersPerChannel', 1], ['floatingBuffersPerGate', 0], ['outputBuffersPerChannel', 0]] as const;
    for (const [name, min] of cases) {
      for (const value of [min - 1, min + 0.5, Number.NaN]) {
        expect(() => flowControlBuffersOf({ [name]: value })).toThrow(`JobRuntime: ${name} must be an integer >= ${min} (buffers of one element each), got ${value}`);
      }
    }
  });

  test('bounded queues exclude every credit setting, and the message names those given', () => {
    expect(() => flowControlBuffersOf({ channelCapacity: 4, exclusiveBuffersPerChannel: 2, outputBuffersPerChannel: 0 })).toThrow(
      'JobRuntime: channelCapacity (bounded queues) and exclusiveBuffersPerChannel, outputBuffersPerChannel (credit-based flow control) exclude each other: give one',
    );
    expect(() => flowControlBuffersOf({ channelCapacity: 4, floatingBuffersPerGate: 0 })).toThrow(/^JobRuntime: channelCapacity \(bounded queues\) and floatingBuffersPerGate \(credit-based/);
  });

  test('a job lays out its channels with those buffers', () => {
    expect(jobWith({ channelCapacity: 3 }).channels.map((channel) => channel.credit)).toEqual([3, 3, 3, 3]);
    expect(() => jobWith({ channelCapacity: 0 })).toThrow('JobRuntime: channelCapacity must be an integer >= 1 (buffers of one element each), got 0');
  });
});

describe('what a job reports before it runs', () => {
  test('its settings, and observations that start empty', () => {
    const plain = jobWith({});
    expect(plain.observations.settings).toEqual({ mode: 'exactly-once', backend: 'memory', checkpointIntervalMs: 100, checkpointTimeoutMs: 1_000, maxConcurrentCheckpoints: 1, maxRestarts: 20, maxParallelism: 32 });
    const tuned = jobWith({ mode: 'unaligned', backend: 'fs', alignedCheckpointTimeoutMs: 0, slowAsyncPhaseMs: { 'sum>redis[0]': 7 }, maxParallelism: 64 });
    expect(tuned.observations.settings).toEqual({
      mode: 'unaligned',
      backend: 'fs',
      checkpointIntervalMs: 100,
      checkpointTimeoutMs: 1_000,
      maxConcurrentCheckpoints: 1,
      maxRestarts: 20,
      maxParallelism: 64,
      alignedCheckpointTimeoutMs: 0,
      slowAsyncPhaseMs: { 'sum>redis[0]': 7 },
    });
    const observations = plain.observations;
    expect(observations).toMatchObject({
      jobName: 'odd-even-sum',
      taskNames: ['numbers>parity[0]', 'numbers>parity[1]', 'sum>redis[0]', 'sum>redis[1]'],
      taskInputCounts: [0, 0, 2, 2],
      checkpointEvents: [],
      failovers: [],
      lostMessages: [],
      notifiesDelivered: [],
      barrierEvents: [],
      forwardedBarriers: [],
      checkpoints: [],
      alignment: [],
      executionAttempts: [],
      faults: [],
      faultsNotReached: [],
      restores: [],
      recordsEmitted: 0,
      backpressureEncounters: 0,
      outcome: 'stuck',
      failureReason: '',
      steps: 0,
      virtualTimeMs: 0,
      traceHash: '',
      lastFaultStep: -1,
      sourcePositions: [],
      connectorEvents: [],
      taskVertices: [
        { vertex: 'numbers>parity', operators: ['parity'] },
        { vertex: 'numbers>parity', operators: ['parity'] },
        { vertex: 'sum>redis', operators: ['sum', 'redis'] },
        { vertex: 'sum>redis', operators: ['sum', 'redis'] },
      ],
      watermarks: [],
      timerFirings: [],
      sideOutputRecords: {},
    });
  });
});

describe('describeFault: every fault kind in words', () => {
  const names = ['numbers>parity[0]', 'numbers>parity[1]', 'sum>redis[0]', 'sum>redis[1]'];
  const cases: [Fault, string][] = [
    [{ kind: 'crash-task', atStep: 12, task: 2 }, 'task sum>redis[0] crashes at step 12'],
    [{ kind: 'crash-task', atStep: 12, task: 9 }, 'task #9 crashes at step 12'],
    [{ kind: 'crash-job', atStep: 12 }, 'the whole job (coordinator included) crashes at step 12'],
    [{ kind: 'expire-checkpoint', atStep: 12 }, 'the oldest pending checkpoint times out at step 12'],
    [{ kind: 'decline-checkpoint', atStep: 12, task: 1 }, 'task numbers>parity[1] declines its next checkpoint (armed at step 12)'],
    [{ kind: 'decline-checkpoint', atStep: 12, task: 9 }, 'task #9 declines its next checkpoint (armed at step 12)'],
    [{ kind: 'drop-notify', atStep: 12 }, 'the next notify-complete message is lost (at step 12)'],
    [{ kind: 'fail-commit', atStep: 12, times: 1 }, 'the next 1 transaction commit fail (armed at step 12)'],
    [{ kind: 'fail-commit', atStep: 12, times: 2 }, 'the next 2 transaction commits fail (armed at step 12)'],
    [{ kind: 'expire-transactions', atStep: 12 }, 'the broker times out every open transaction at step 12'],
    [{ kind: 'fence-transactions', atStep: 12 }, 'a newer producer fences every open transaction of the sink at step 12'],
    [{ kind: 'fail-abort', atStep: 12, times: 1 }, 'the next 1 transaction abort fail (armed at step 12)'],
    [{ kind: 'fail-abort', atStep: 12, times: 3 }, 'the next 3 transaction aborts fail (armed at step 12)'],
    [{ kind: 'cut-connections', atStep: 12 }, 'every connection to the external systems is cut at step 12'],
    [{ kind: 'drop-ack', atStep: 12 }, 'the next acknowledgement to the coordinator is lost (at step 12)'],
    [{ kind: 'fail-initialize', atStep: 12, task: 3 }, 'task sum>redis[1] throws from initializeState on its next deployment (armed at step 12)'],
    [{ kind: 'fail-initialize', atStep: 12, task: 9 }, 'task #9 throws from initializeState on its next deployment (armed at step 12)'],
    [{ kind: 'fail-call', atStep: 12, times: 1 }, 'the next 1 call to an external system fail before reaching it (armed at step 12)'],
    [{ kind: 'fail-call', atStep: 12, times: 2 }, 'the next 2 calls to an external system fail before reaching it (armed at step 12)'],
    [{ kind: 'lose-reply', atStep: 12, times: 1 }, 'the next 1 call to an external system is applied but the reply is lost (armed at step 12)'],
    [{ kind: 'lose-reply', atStep: 12, times: 2 }, 'the next 2 calls to an external system are applied but the reply is lost (armed at step 12)'],
    [{ kind: 'timeout-call', atStep: 12, times: 1 }, 'the next 1 call to an external system time out unapplied (armed at step 12)'],
    [{ kind: 'timeout-call', atStep: 12, times: 2 }, 'the next 2 calls to an external system time out unapplied (armed at step 12)'],
    [{ kind: 'slow-operator', atStep: 12, task: 0, extraMsPerRecord: 4 }, 'task numbers>parity[0] spends 4 ms more on every record from step 12 on (a slow operator)'],
    [{ kind: 'slow-operator', atStep: 12, task: 9, extraMsPerRecord: 4 }, 'task #9 spends 4 ms more on every record from step 12 on (a slow operator)'],
    [{ kind: 'slow-snapshot', atStep: 12, task: 2, phase: 'sync', extraMs: 50 }, 'task sum>redis[0] spends 50 ms more in the synchronous phase of its next snapshot (armed at step 12)'],
    [{ kind: 'slow-snapshot', atStep: 12, task: 9, phase: 'async', extraMs: 50 }, 'task #9 spends 50 ms more in the asynchronous phase of its next snapshot (armed at step 12)'],
    [{ kind: 'slow-calls', atStep: 12, extraLatencyMs: 30 }, 'every call to an external system takes 30 ms longer from step 12 on (a slow external system)'],
    [{ kind: 'skew-keys', atStep: 12, hotKeyPercent: 80 }, '80% of the input not yet read goes to one hot key from step 12 on (a skewed key distribution)'],
    [{ kind: 'rescale', atStep: 12, by: 1 }, 'the job restarts with its keyed part rescaled up by 1 subtask at step 12'],
    [{ kind: 'rescale', atStep: 12, by: -2 }, 'the job restarts with its keyed part rescaled down by 2 subtasks at step 12'],
    [{ kind: 'rescale', atStep: 12, by: 2, vertex: 'source' }, 'the job restarts with its source rescaled up by 2 subtasks (its splits reassigned) at step 12'],
    [{ kind: 'rescale', atStep: 12, by: -1, vertex: 'source' }, 'the job restarts with its source rescaled down by 1 subtask (its splits reassigned) at step 12'],
  ];
  for (const [fault, words] of cases) {
    test(words, () => expect(describeFault(fault, names)).toBe(words));
  }

  test('a fault placed by situation says when, from its step on', () => {
    const when = { situation: 'between-checkpoints', occurrence: 2 } as const;
    expect(describeFault({ kind: 'crash-job', atStep: 0, when }, names)).toBe('the whole job (coordinator included) crashes between checkpoints (the 2nd time)');
    expect(describeFault({ kind: 'crash-job', atStep: 5, when }, names)).toBe('the whole job (coordinator included) crashes between checkpoints (the 2nd time from step 5)');
    expect(describeFault({ kind: 'fail-call', atStep: 5, times: 1, when }, names)).toBe('the next 1 call to an external system fail before reaching it (armed between checkpoints (the 2nd time from step 5))');
    expect(describeFault({ kind: 'slow-calls', atStep: 0, extraLatencyMs: 9, when }, names)).toBe('every call to an external system takes 9 ms longer starting between checkpoints (the 2nd time) (a slow external system)');
  });
});

describe('the trace in words', () => {
  /** The trace's lines of a case, each with its numbers kept (the words are what is judged here). */
  async function traceOf(scenario: typeof oddEvenSum, faults: Fault[], seed = 3): Promise<string[]> {
    const result = await runCase(
      scenario,
      { scenario: scenario.name, size: { partitions: 2, recordsPerPartition: 6 }, mode: 'exactly-once', backend: 'fs', bug: undefined, faults, schedule: { kind: 'seed', seed }, checkpointIntervalMs: 10 },
      { keepTrace: true },
    );
    return result.trace.map((entry) => entry.event);
  }
  const matching = (trace: string[], pattern: RegExp): string[] => trace.filter((line) => pattern.test(line));

  test('odd-even-sum: emits, takes, receives, deploy, fault and failover, each in its own words', async () => {
    const trace = await traceOf(oddEvenSum, [{ kind: 'crash-task', atStep: 40, task: 2 }]);
    expect(trace[0]).toBe('deploy attempt 0 from scratch');
    expect(matching(trace, /^numbers>parity\[0\] emits \(partition 0 @ offset \d+\)$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^sum>redis\[\d\] takes record \{"parity":\d,"n":\d+\} from numbers>parity\[\d\]$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^sum>redis\[\d\] takes barrier \d+ from numbers>parity\[\d\]$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^sum>redis\[\d\] takes end of input from numbers>parity\[\d\]$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^coordinator receives ack \d+ from (numbers>parity|sum>redis)\[\d\]$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^coordinator receives input-ended from numbers>parity\[\d\]$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^numbers>parity\[\d\] receives trigger \d+$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^(numbers>parity|sum>redis)\[\d\] receives notify-complete \d+$/).length).toBeGreaterThan(0);
    expect(matching(trace, /^fault: task sum>redis\[0\] crashes at step 40 \([a-z-]+\)$/)).toHaveLength(1);
    expect(matching(trace, /^failover: task sum>redis\[0\] crashed \(fault plan\)$/)).toHaveLength(1);
    expect(matching(trace, /^deploy attempt 2 from (scratch|checkpoint \d+)$/)).toHaveLength(1);
  });

  test('event-time-window: watermarks and idleness statuses taken from an input', async () => {
    const trace = await traceOf(eventTimeWindow, [], 5);
    expect(matching(trace, / takes watermark -?\d+ from /).length).toBeGreaterThan(0);
    expect(matching(trace, / takes record .* @\d+ from /).length).toBeGreaterThan(0);
  });
});

describe("footprints for prove's partial-order reduction", () => {
  /** Every step option of a plain run, each with what the job held when it was offered. */
  async function optionsOf(scenario: typeof oddEvenSum): Promise<{ option: StepOption; expected: string[] | undefined | 'skip' }[]> {
    let running: { readonly scheduler: Scheduler; readonly job: JobRuntime } | undefined;
    const seen: { option: StepOption; expected: string[] | undefined | 'skip' }[] = [];
    const gate = (channel: Channel): string => `gate ${channel.gate.channels[0]!.index}`;
    const outputs = (task: Task): string[] => task.outputs.flatMap((output) => [`channel ${output.index}`, ...(output.buffersUsed >= output.credit ? [gate(output)] : [])]);
    const io = (task: Task): string[] => (task.operators.some((op) => op.writer !== undefined || op.process !== undefined) ? ['io queue'] : []);
    const source: ChoiceSource = {
      pick: () => {
        const job = running!.job;
        for (const option of running!.scheduler.stepOptions() ?? []) {
          let expected: string[] | undefined | 'skip' = 'skip';
          const emit = /^emit (.+)$/.exec(option.id);
          const deliver = /^deliver (\d+)$/.exec(option.id);
          if (emit !== null) {
            const task = job.tasks.find((t) => t.name === emit[1])!;
            expected = task.eventTime ? undefined : [`task ${task.index}`, ...outputs(task), 'control queue', 'timer queue', ...io(task)];
          } else if (deliver !== null) {
            const channel = job.channels[Number(deliver[1])]!;
            const task = job.tasks[channel.toTask]!;
            const kind = channel.peek().kind;
            const local = !task.eventTime && (kind === ElementKind.Record || kind === ElementKind.Watermark);
            expected = local ? [`task ${task.index}`, `channel ${channel.index}`, ...(channel.floatingHeld > 0 || channel.waitingForCredit ? [gate(channel)] : []), ...outputs(task), ...io(task)] : undefined;
          } else if (option.id.startsWith('control ')) expected = undefined;
          seen.push({ option, expected });
        }
        return 0;
      },
      describe: () => 'test',
    };
    const spec = { scenario: scenario.name, size: { partitions: 2, recordsPerPartition: 6 }, mode: 'exactly-once', backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'choices', choices: [], tailSeed: null }, checkpointIntervalMs: 10 } as const;
    await runCase(scenario, spec, { choiceSource: source, onStart: (r) => (running = r) });
    return seen;
  }

  test('odd-even-sum: a record taken or a source polled touches its task, channels, the gates it may borrow from and the queues it may add to; barriers, ends of input and control messages touch everything', async () => {
    const seen = await optionsOf(oddEvenSum);
    for (const { option, expected } of seen) if (expected !== 'skip') expect(option.touches, option.id).toEqual(expected);
    const ids = seen.map(({ option }) => option.id);
    expect(ids.filter((id) => !/^(emit numbers>parity\[\d\]|deliver \d+|control (deploy undefined|trigger \d+|ack \d+|notify-complete \d+|input-ended ) \d+|timer .*|io .*)$/.test(id))).toEqual([]);
    // Not vacuous: local emits and takes were offered, with and without a gate, and so were global events.
    const touches = seen.filter(({ option }) => /^(emit|deliver)/.test(option.id)).map(({ option }) => option.touches);
    expect(touches.some((t) => t?.includes('io queue'))).toBe(true);
    expect(touches.some((t) => t?.some((r) => r.startsWith('gate ')))).toBe(true);
    expect(touches.some((t) => t !== undefined && !t.some((r) => r.startsWith('gate ')))).toBe(true);
    expect(touches.some((t) => t === undefined)).toBe(true);
    expect(seen.some(({ option }) => option.id.startsWith('control ack '))).toBe(true);
  });

  test('event-time-window: every emit and take of an event-time task touches everything (its work reads the clock)', async () => {
    const seen = await optionsOf(eventTimeWindow);
    const local = seen.filter(({ option }) => /^(emit|deliver)/.test(option.id));
    expect(local.length).toBeGreaterThan(0);
    for (const { option } of local) expect(option.touches, option.id).toBeUndefined();
  });
});

describe('how a run ends', () => {
  test('out of steps: budget-exhausted, with the progress in words; faults after the end are listed as not reached', async () => {
    const when = { situation: 'after-end-of-input', occurrence: 1 } as const;
    // Situation faults out of step order: they are armed, and listed, in step order.
    const observations = await jobWith({}, [{ kind: 'crash-job', atStep: 7, when }, { kind: 'crash-job', atStep: 5_000 }, { kind: 'crash-task', atStep: 0, task: 1, when }], 60).run();
    expect(observations.outcome).toBe('budget-exhausted');
    expect(observations.steps).toBe(60);
    expect(observations.failureReason).toMatch(/^no end after 60 steps \(\d+ virtual ms\): status running, 0\/4 tasks ended, \d+ elements in flight, \d+ checkpoints completed, [01] pending$/);
    expect(observations.faultsNotReached).toEqual([
      'the whole job (coordinator included) crashes at step 5000',
      'task numbers>parity[1] crashes after the input ended, no checkpoint pending (the first time)',
      'the whole job (coordinator included) crashes after the input ended, no checkpoint pending (the first time from step 7)',
    ]);
    expect(observations.faults).toEqual([]);
    expect(observations.traceHash).toMatch(/^[0-9a-f]+$/);
    expect(observations.virtualTimeMs).toBeGreaterThan(0);
  });

  test('the progress in words counts the completed checkpoints only', async () => {
    const observations = await jobWith({ checkpointIntervalMs: 10 }, [{ kind: 'decline-checkpoint', atStep: 0, task: 2 }], 150).run();
    expect(observations.outcome).toBe('budget-exhausted');
    const completed = observations.checkpoints.filter((c) => c.outcome === 'completed').length;
    expect(completed).toBeGreaterThan(0);
    expect(observations.checkpoints.length).toBeGreaterThan(completed);
    expect(observations.failureReason).toContain(`, ${completed} checkpoints completed, `);
  });

  test('a job that fails over more often than maxRestarts fails for good, naming the last failure; as often as maxRestarts it finishes', async () => {
    const crashes: Fault[] = [{ kind: 'crash-task', atStep: 30, task: 2 }, { kind: 'crash-task', atStep: 90, task: 0 }];
    const failed = await jobWith({ maxRestarts: 1 }, crashes, 20_000).run();
    expect(failed.outcome).toBe('failed');
    expect(failed.failureReason).toBe('job failed after 1 restarts; last failure: task numbers>parity[0] crashed (fault plan)');
    expect(failed.failovers).toHaveLength(2);
    expect(failed.restores).toHaveLength(2);
    const finished = await jobWith({ maxRestarts: 2 }, crashes, 20_000).run();
    expect(finished.outcome).toBe('finished');
    expect(finished.failovers).toHaveLength(2);
    expect(finished.restores).toHaveLength(3);
  });
});

describe('faults a job cannot take, and rescales at their bounds', () => {
  test('a fault the environment or the job cannot take stops the run with a message naming the fault and why', async () => {
    await expect(jobWith({}, [{ kind: 'fail-commit', atStep: 5, times: 1 }], 1_000).run()).rejects.toThrow(
      "fault plan: 'the next 1 transaction commit fail (armed at step 5)' cannot be injected into odd-even-sum: its environment has no failNextCommits",
    );
    await expect(jobWith({}, [{ kind: 'rescale', atStep: 5, by: 1 }], 1_000, eventTimeWindow).run()).rejects.toThrow(
      "fault plan: 'the job restarts with its keyed part rescaled up by 1 subtask at step 5' cannot be injected into event-time-window: its last vertex is not keyed (only a keyed last vertex rescales)",
    );
    await expect(jobWith({}, [{ kind: 'rescale', atStep: 5, by: 1, vertex: 'source' }], 1_000, eventTimeWindow).run()).rejects.toThrow(
      "fault plan: 'the job restarts with its source rescaled up by 1 subtask (its splits reassigned) at step 5' cannot be injected into event-time-window: readings has a watermark strategy",
    );
  });

  test("kafka-2pc's environment takes each of its fault kinds through its own hook", async () => {
    for (const fault of [{ kind: 'fail-commit', atStep: 40, times: 1 }, { kind: 'fail-abort', atStep: 40, times: 1 }, { kind: 'expire-transactions', atStep: 40 }, { kind: 'fence-transactions', atStep: 40 }] as Fault[]) {
      const observations = await jobWith({}, [fault], 20_000, kafka2pc).run();
      expect(observations.faults.map((f) => f.kind)).toEqual([fault.kind]);
      expect(observations.outcome).toBe('finished');
    }
  });

  test("the simulated environment's call faults each reach their own hook (a case run through runCase)", async () => {
    for (const fault of [{ kind: 'cut-connections', atStep: 40 }, { kind: 'fail-call', atStep: 40, times: 1 }, { kind: 'lose-reply', atStep: 40, times: 1 }, { kind: 'timeout-call', atStep: 40, times: 1 }, { kind: 'slow-calls', atStep: 40, extraLatencyMs: 5 }] as Fault[]) {
      const result = await runCase(oddEvenSum, { scenario: oddEvenSum.name, size: oddEvenSum.defaultSize, mode: 'exactly-once', backend: 'fs', bug: undefined, faults: [fault], schedule: { kind: 'seed', seed: 3 } });
      expect(result.observations.faults.map((f) => f.kind)).toEqual([fault.kind]);
      expect(result.observations.outcome).toBe('finished');
    }
  });

  test('a keyed rescale stays within 1 and maxParallelism; a source rescale within 1 and its splits', async () => {
    const causes = async (options: Partial<JobOptions>, faults: Fault[]): Promise<string[]> => {
      const observations = await jobWith(options, faults, 20_000).run();
      expect(observations.outcome).toBe('finished');
      return observations.failovers.map((failover) => failover.cause);
    };
    expect(await causes({}, [{ kind: 'rescale', atStep: 40, by: -5 }])).toEqual(['the job is rescaled: sum>redis restarts with 1 subtask instead of 2 (fault plan)']);
    expect(await causes({ maxParallelism: 3 }, [{ kind: 'rescale', atStep: 40, by: 4 }])).toEqual(['the job is rescaled: sum>redis restarts with 3 subtasks instead of 2 (fault plan)']);
    // Two rescales before the restart: the second counts from the first's parallelism.
    expect(await causes({}, [{ kind: 'rescale', atStep: 40, by: 1 }, { kind: 'rescale', atStep: 41, by: 1 }])).toEqual([
      'the job is rescaled: sum>redis restarts with 3 subtasks instead of 2 (fault plan)',
      'the job is rescaled: sum>redis restarts with 4 subtasks instead of 3 (fault plan)',
    ]);
    expect(await causes({}, [{ kind: 'rescale', atStep: 40, by: -5, vertex: 'source' }, { kind: 'rescale', atStep: 41, by: 7, vertex: 'source' }])).toEqual([
      'the job is rescaled: the 2 splits of numbers>parity are read by 1 subtask instead of 2 after the restart (fault plan)',
      'the job is rescaled: the 2 splits of numbers>parity are read by 2 subtasks instead of 1 after the restart (fault plan)',
    ]);
  });
});

describe('the situation a fault fires in', () => {
  for (const situation of FAULT_SITUATIONS) {
    test(`a crash placed at the first ${situation} fires there, and what it records agrees`, async () => {
      // during-recovery needs a failure first; the others are entered by the plain run.
      const before: Fault[] = situation === 'during-recovery' ? [{ kind: 'crash-task', atStep: 30, task: 0 }] : [];
      const placed: Fault = { kind: 'crash-task', atStep: before.length > 0 ? 31 : 0, task: 1, when: { situation, occurrence: 1 } };
      const result = await runCase(oddEvenSum, {
        scenario: oddEvenSum.name, size: { partitions: 2, recordsPerPartition: 10 }, mode: 'exactly-once', backend: 'fs', bug: undefined, faults: [...before, placed], schedule: { kind: 'seed', seed: 3 }, checkpointIntervalMs: 10,
        // An input that ends early, so the job runs on after it with no checkpoint pending.
        ...(situation === 'after-end-of-input' ? { partitionRecords: [2, 10], checkpointIntervalMs: 200 } : {}),
      });
      expect(result.violations).toEqual([]);
      expect(result.observations.faultsNotReached).toEqual([]);
      const fired = result.observations.faults.at(-1)!;
      expect(fired.situation).toBe(situation);
      expect(fired.description).toBe(describeFault(placed, result.observations.taskNames));
      if (situation !== 'during-recovery') expect(fired.jobRunning).toBe(true);
      const pending = ['checkpoint-triggered', 'during-alignment', 'checkpoint-partially-acked'].includes(situation);
      if (pending) expect(fired.pendingCheckpoints.length).toBeGreaterThan(0);
      if (situation === 'between-checkpoints' || situation === 'after-end-of-input') expect(fired.pendingCheckpoints).toEqual([]);
      const completedBefore = result.observations.checkpointEvents.some((event) => event.event === 'completed' && event.seq < fired.seq);
      if (situation === 'completed-before-notify') expect(completedBefore).toBe(true);
      // The first checkpoint is in checkpoint-triggered from its trigger until a task acknowledges it.
      const firstTrigger = result.observations.checkpointEvents.find((event) => event.event === 'triggered')!;
      if (situation === 'checkpoint-triggered') expect(fired.atStep - firstTrigger.atStep).toBeLessThanOrEqual(1);
      if (situation === 'during-recovery') expect(result.observations.failovers[0]!.seq).toBeLessThan(fired.seq);
      expect(result.observations.lastFaultStep).toBe(fired.atStep);
    });
  }
});
