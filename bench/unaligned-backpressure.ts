/**
 * Unaligned vs aligned checkpoints under backpressure: completed checkpoints of odd-even-sum
 * with channel capacity 1 (or the third argument) and a slow sink (sinkBufferKeys 1), over fault-free seeded runs (2 partitions of recordsPerPartition records).
 * Prints figures; asserts nothing (speed and counts are reported, not tested).
 *   npx tsx bench/unaligned-backpressure.ts [runs] [recordsPerPartition] [channelCapacity]
 */
import { oddEvenSum } from '../scenarios/odd-even-sum.ts';
import { runCase, type CaseSpec } from '../src/harness/run-case.ts';
import type { CheckpointingMode } from '../src/runtime/barrier-handler.ts';

const runs = Number(process.argv[2] ?? 20);
const recordsPerPartition = Number(process.argv[3] ?? 200);
const channelCapacity = Number(process.argv[4] ?? 1);
for (const mode of ['exactly-once', 'unaligned'] as CheckpointingMode[]) {
  let completed = 0;
  let expired = 0;
  let violations = 0;
  let virtualMs = 0;
  let durationSteps = 0;
  let durationMs = 0;
  for (let seed = 1; seed <= runs; seed++) {
    const spec: CaseSpec = { scenario: 'odd-even-sum', size: { partitions: 2, recordsPerPartition }, mode, backend: 'memory', bug: undefined, faults: [], schedule: { kind: 'seed', seed }, channelCapacity, sinkBufferKeys: 1 };
    const result = await runCase(oddEvenSum, spec);
    completed += result.observations.checkpoints.filter((c) => c.outcome === 'completed').length;
    expired += result.observations.checkpoints.filter((c) => c.outcome === 'expired').length;
    violations += result.violations.length;
    virtualMs += result.observations.virtualTimeMs;
    for (const c of result.observations.checkpoints) if (c.outcome === 'completed') {
      durationSteps += c.endedAtStep - c.triggeredAtStep;
      durationMs += c.endedAtMs - c.triggeredAtMs;
    }
  }
  console.log(`capacity=${channelCapacity} ${mode.padEnd(12)} runs=${runs} completed=${completed} (${(completed / runs).toFixed(1)}/run) expired=${expired} violations=${violations} steps trigger->complete (mean)=${(durationSteps / Math.max(1, completed)).toFixed(0)} steps, ${(durationMs / Math.max(1, completed)).toFixed(0)} ms virtualMs/run=${(virtualMs / runs).toFixed(0)}`);
}
