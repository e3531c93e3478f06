/**
 * Checkpoint cost of the rocksdb backend, incremental versus full, for 10,000 keys of keyed
 * state of which 1% change between checkpoints (the seed's case for incremental checkpoints:
 * large state, small changes). Drives the backend directly (the same snapshotter and
 * checkpoint store the runtime uses), one subtask, 1 retained checkpoint. Prints figures;
 * asserts nothing.
 *
 *   npm run bench:backend              # 10,000 keys, 20 checkpoints, 100 changed keys each
 *   npm run bench:backend -- 50000 30 500
 */
import { RocksDbKeyedStateSnapshotter, type StateBackendObservations } from '../src/runtime/backends/rocksdb-backend.ts';
import { DEFAULT_JOB_OPTIONS } from '../src/runtime/job.ts';
import { CheckpointStore } from '../src/runtime/state.ts';

const KEYS = Number(process.argv[2] ?? 10_000);
const CHECKPOINTS = Number(process.argv[3] ?? 20);
const CHANGED_KEYS_PER_CHECKPOINT = Number(process.argv[4] ?? 100);
for (const [name, value] of [['keys', KEYS], ['checkpoints', CHECKPOINTS], ['changed keys per checkpoint', CHANGED_KEYS_PER_CHECKPOINT]] as const) {
  if (!Number.isSafeInteger(value) || value < 1) throw new Error(`bench:backend: ${name} must be a positive integer, got ${value}`);
}

interface Totals {
  readonly uploadedBytes: number[];
  readonly filesReferenced: number[];
  readonly storedBytes: number[];
  readonly wallMs: number;
}

function run(incremental: boolean): Totals {
  const observations: { stateBackend?: StateBackendObservations } = {};
  const store = new CheckpointStore('rocksdb', { retainedCheckpoints: 1, deleteSharedFileStillReferenced: false }, observations);
  const snapshotter = new RocksDbKeyedStateSnapshotter('task-0/store-1', {
    incremental,
    thresholds: { memtableFlushEntries: DEFAULT_JOB_OPTIONS.rocksDbMemtableFlushEntries, compactionTriggerFiles: DEFAULT_JOB_OPTIONS.rocksDbCompactionTriggerFiles },
    incrementalForgetsCompactedFiles: false,
  });
  const counts = new Map<string, { count: number; sum: number }>();
  for (let key = 0; key < KEYS; key++) counts.set(`k${key}`, { count: 1, sum: key });
  // Deterministic change pattern: a sliding window of keys changes between checkpoints.
  const started = performance.now();
  for (let checkpointId = 1; checkpointId <= CHECKPOINTS; checkpointId++) {
    if (checkpointId > 1) {
      for (let i = 0; i < CHANGED_KEYS_PER_CHECKPOINT; i++) {
        const key = `k${(checkpointId * 7919 + i * 13) % KEYS}`;
        const previous = counts.get(key)!;
        counts.set(key, { count: previous.count + 1, sum: previous.sum + checkpointId });
      }
    }
    const handle = snapshotter.snapshot(checkpointId, { 'count': Array.from(counts) });
    store.add({ checkpointId, triggeredAtStep: 0, completedAtStep: 0, tasks: [{ operatorState: {}, keyedState: {}, keyedStateHandle: handle }] });
    snapshotter.onCheckpointComplete(checkpointId);
  }
  const wallMs = performance.now() - started;
  const costs = observations.stateBackend!.checkpoints;
  return { uploadedBytes: costs.map((c) => c.bytesUploaded), filesReferenced: costs.map((c) => c.filesReferenced), storedBytes: costs.map((c) => c.storedBytes), wallMs };
}

const sum = (values: readonly number[]): number => values.reduce((a, b) => a + b, 0);
const kb = (bytes: number): string => `${(bytes / 1024).toFixed(1)} KiB`;

const full = run(false);
const incremental = run(true);
console.log(`rocksdb backend, ${KEYS} keys, ${CHECKPOINTS} checkpoints, ${CHANGED_KEYS_PER_CHECKPOINT} keys changed between checkpoints, 1 retained checkpoint`);
console.log(`(bytes: code units of the encoded keys and values; memtable ${DEFAULT_JOB_OPTIONS.rocksDbMemtableFlushEntries} keys, compaction at ${DEFAULT_JOB_OPTIONS.rocksDbCompactionTriggerFiles} files per level)`);
for (const [name, totals] of [['full', full], ['incremental', incremental]] as const) {
  const afterFirst = totals.uploadedBytes.slice(1);
  console.log(
    `  ${name.padEnd(11)} first checkpoint ${kb(totals.uploadedBytes[0]!)}, later ones ${kb(sum(afterFirst) / afterFirst.length)} on average ` +
      `(max ${kb(Math.max(...afterFirst))}), total uploaded ${kb(sum(totals.uploadedBytes))}, files referenced by the last ${totals.filesReferenced.at(-1)}, ` +
      `checkpoint storage at the end ${kb(totals.storedBytes.at(-1)!)}, ${totals.wallMs.toFixed(0)} ms wall`,
  );
}
console.log(`  incremental uploads ${((100 * sum(incremental.uploadedBytes)) / sum(full.uploadedBytes)).toFixed(1)}% of the bytes full checkpoints upload`);
