import { describe, expect, it } from 'vitest';
import { keyedCounts } from '../../../scenarios/keyed-counts.ts';
import { runCase, type CaseSpec } from '../../../src/harness/run-case.ts';

const base: CaseSpec = {
  scenario: 'keyed-counts',
  size: { partitions: 2, recordsPerPartition: 60 },
  mode: 'exactly-once',
  backend: 'rocksdb',
  bug: undefined,
  faults: [],
  schedule: { kind: 'choices', choices: [], tailSeed: null },
  checkpointIntervalMs: 30,
  // Bounded queues of 8 (the runtime before credit-based flow control): the schedule whose crash at
  // step 250 makes the lost files show in the output too (under Flink's buffers only state-restore sees them there).
  channelCapacity: 8,
};

describe('keyed-counts on the rocksdb backend', () => {
  it('a crash of the whole job restores every subtask from the shared files and every invariant holds', async () => {
    const result = await runCase(keyedCounts, { ...base, faults: [{ kind: 'crash-job', atStep: 250 }] });
    expect(result.violations).toEqual([]);
    expect(result.observations.outcome).toBe('finished');
    const backend = result.observations.stateBackend!;
    expect(backend.checkpoints.length).toBeGreaterThan(3);
    // Later checkpoints refer to files earlier ones uploaded.
    expect(backend.checkpoints.some((c) => c.filesReferenced > c.filesUploaded)).toBe(true);
    expect(backend.restores.length).toBeGreaterThan(0);
    for (const restore of backend.restores) {
      expect(restore.missingFiles).toEqual([]);
      expect(restore.restoredDigest).toBe(restore.expectedDigest);
    }
  }, 120_000);

  it('planted bug delete-shared-file-still-referenced: the same crash loses files, caught by state-restore and exactly-once', async () => {
    const result = await runCase(keyedCounts, { ...base, bug: 'delete-shared-file-still-referenced', faults: [{ kind: 'crash-job', atStep: 250 }] });
    const properties = new Set(result.violations.map((violation) => violation.property));
    expect(properties.has('state-restore')).toBe(true);
    expect(properties.has('exactly-once')).toBe(true);
  }, 120_000);
});
