import { it, expect } from 'vitest';
/**
 * Both event-time jobs (co-process with timers; windows over a fast and an idle source) under
 * random fault plans in every checkpointing mode and backend: the runtime's invariants hold,
 * and the exactly-once modes give the exact result.
 */
import seedrandom from 'seedrandom';
import { expectedStatuses, KeyedStore, paymentJob, runGraph, runtimeViolations, twoSpeedWindows, type OrderStatus, type Payment, type Reading, type WindowCount } from './event-time-jobs.ts';
import type { Fault } from '../../src/runtime/faults.ts';
it('event-time jobs under random faults keep every runtime invariant and, exactly-once, their result', { timeout: 300_000 }, async () => {
  const problems: string[] = [];
  for (const mode of ['exactly-once', 'unaligned', 'at-least-once'] as const) {
    for (let seed = 1; seed <= 40; seed++) {
      const random = seedrandom.alea(`${mode}${seed}`);
      const faults: Fault[] = [];
      const n = Math.floor(random() * 4);
      for (let i = 0; i < n; i++) {
        const kind = (['crash-task', 'crash-job', 'expire-checkpoint', 'decline-checkpoint'] as const)[Math.floor(random() * 4)]!;
        const atStep = Math.floor(random() * 600);
        faults.push(kind === 'crash-job' || kind === 'expire-checkpoint' ? { kind, atStep } : { kind, atStep, task: Math.floor(random() * 8) });
      }
      faults.sort((a, b) => a.atStep - b.atStep);
      const statuses = new KeyedStore<OrderStatus>((s) => s.id);
      const late = new KeyedStore<Payment>((p) => p.id);
      const backend = random() < 0.5 ? 'fs' : 'memory';
      const run = await runGraph((clock) => paymentJob(clock, 30, statuses, late, { msPerRecord: Math.floor(random() * 5) }), { mode, backend, checkpointIntervalMs: 10 + Math.floor(random() * 40), maxConcurrentCheckpoints: 1 + Math.floor(random() * 2) }, faults, seed);
      const v = runtimeViolations(run);
      if (v.length > 0) problems.push(`${mode} seed ${seed} ${JSON.stringify(faults)}: ${v.map((x) => x.anomaly + ': ' + x.message).join(' | ')}`);
      if (mode !== 'at-least-once' && JSON.stringify(statuses.sorted()) !== JSON.stringify(expectedStatuses(30).statuses)) problems.push(`${mode} seed ${seed}: wrong statuses`);
      // windows job
      const windows = new KeyedStore<WindowCount>((w) => w.end);
      const lateR = new KeyedStore<Reading>((r) => `${r.source}@${r.ts}`);
      const slow = [...Array.from({ length: 10 }, (_, i) => ({ ts: i * 3, arrivalMs: i * 3 })), { ts: 150, arrivalMs: 300 }];
      const fast = Array.from({ length: 80 }, (_, i) => ({ ts: i, arrivalMs: i }));
      const run2 = await runGraph((clock) => twoSpeedWindows(clock, fast, slow, windows, lateR, 20), { mode, backend, checkpointIntervalMs: 20 }, faults.map((f) => ('task' in f ? { ...f, task: f.task % 4 } : f)), seed);
      const v2 = runtimeViolations(run2);
      if (v2.length > 0) problems.push(`windows ${mode} seed ${seed}: ${v2.map((x) => x.anomaly + ': ' + x.message).join(' | ')}`);
      if (run2.observations.outcome !== 'finished') problems.push(`windows ${mode} seed ${seed}: ${run2.observations.outcome} ${run2.observations.failureReason}`);
    }
  }
  expect(problems.slice(0, 5)).toEqual([]);
});
