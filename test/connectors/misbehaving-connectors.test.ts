import { describe, expect, test } from 'vitest';
import type { SinkWriter } from '../../src/connectors/api.ts';
import { RandomChoices } from '../../src/sim/choice.ts';
import { Scheduler } from '../../src/sim/scheduler.ts';
import { DEFAULT_JOB_OPTIONS, JobRuntime } from '../../src/runtime/job.ts';
import { pipeline } from '../../src/runtime/pipeline.ts';
import { countingSource } from './counting-source.ts';

async function runWithSink(sink: () => SinkWriter<number>) {
  const scheduler = new Scheduler({ choices: new RandomChoices(1), msPerStep: 1, maxSteps: 20_000, keepTrace: false });
  const spec = pipeline('misbehaving').source('numbers', 1, () => countingSource(10)).map('id', (n: number) => n).keyBy((n) => n % 2, 1).sink('bad', sink).build();
  return new JobRuntime(spec, { ...DEFAULT_JOB_OPTIONS, maxRestarts: 3 }, scheduler, []).run();
}

describe('connectors that misbehave get a clear error, never a hang or a silent pass', () => {
  test('a sink that throws fails the job after the restart budget, naming the task and the error', async () => {
    const observations = await runWithSink(() => ({
      write: () => {
        throw new Error('disk on fire');
      },
    }));
    expect(observations.outcome).toBe('failed');
    expect(observations.failureReason).toMatch(/job failed after 3 restarts; last failure: task bad\[0\] failed: disk on fire/);
  });

  test('a sink whose promise nothing settles is reported as a hung connector', async () => {
    const observations = await runWithSink(() => ({ write: () => new Promise<void>(() => {}) }));
    expect(observations.outcome).toBe('stuck');
    expect(observations.failureReason).toMatch(/connector hung: task bad\[0\] waits on bad.write/);
  });

  test('a sink whose async call rejects fails over and is retried from the last checkpoint', async () => {
    let calls = 0;
    const observations = await runWithSink(() => ({
      write: () => {
        calls++;
        return calls === 3 ? Promise.reject(new Error('connection reset')) : undefined;
      },
    }));
    expect(observations.outcome).toBe('finished');
    expect(observations.restores).toHaveLength(2);
  });

  test('the pipeline builder names the call and the broken assumption', () => {
    expect(() => pipeline('x').map('m', (v: never) => v)).toThrow(/map\(m\): call source\(\) first/);
    expect(() => pipeline('x').source('s', 0, () => countingSource(1))).toThrow(/source\(s\): parallelism must be an integer in \[1, 64\], got 0/);
    expect(() => pipeline('x').source('s', 1, () => countingSource(1)).build()).toThrow(/must end in a sink/);
    expect(() => pipeline('x').source('s', 1, () => countingSource(1)).aggregate('a', () => 0)).toThrow(/needs a keyBy/);
  });
});
