/**
 * The rocksdb state backend (Flink's EmbeddedRocksDBStateBackend, in miniature). A subtask's
 * keyed state is written into a log-structured store (lsm-store.ts) local to the subtask; a
 * checkpoint flushes the memtable and refers to the store's immutable files. A full
 * checkpoint uploads one file with every entry; an incremental one uploads only the files
 * that the last completed checkpoint did not already hold, and refers to the others through
 * the shared-state registry (shared-state-registry.ts). Checkpoint storage is durable like
 * the fs backend's; the local store is lost on failover and rebuilt by downloading the
 * restored checkpoint's files.
 *
 * The working keyed state of the operators stays in their heap tables (keyed-state.ts); at
 * each snapshot the backend writes the entries that changed since the previous snapshot into
 * the store (deletions as tombstones), so the store holds exactly the snapshotted state and
 * an incremental checkpoint's upload is proportional to what changed (plus compactions).
 */
import type { Key } from '../../connectors/api.ts';
import type { KeyedStateEntries } from '../keyed-state.ts';
import { fileBytes, LsmStore, mergeFiles, type LsmThresholds, type SortedFile } from './lsm-store.ts';
import type { SharedStateRegistry } from './shared-state-registry.ts';

/** What a subtask's checkpoint holds of its keyed state under the rocksdb backend (instead of the entries themselves). */
export interface KeyedStateHandle {
  readonly kind: 'incremental' | 'full';
  /** Files the checkpoint refers to, oldest first. */
  readonly fileIds: readonly string[];
  /** Files uploaded with this checkpoint; left out once checkpoint storage holds them. */
  readonly uploaded?: readonly SortedFile[];
  readonly bytesUploaded: number;
  readonly bytesReferenced: number;
  /** Keyed state entries at the snapshot, over every state of the subtask. */
  readonly entryCount: number;
  /** Order-independent digest of the snapshotted entries: a restore must reproduce it. */
  readonly digest: string;
}

export interface RocksDbBackendOptions {
  readonly incremental: boolean;
  readonly thresholds: LsmThresholds;
  /** Planted bug: an incremental checkpoint does not upload the files a compaction wrote (it takes them for already uploaded). */
  readonly incrementalForgetsCompactedFiles: boolean;
}

// ---------------------------------------------------------------- encoding

/** Keyed state entries as the store's string keys (`[state, key]` as JSON) and values (JSON). */
export function encodeKeyedState(keyedState: Readonly<Record<string, ReadonlyArray<readonly [Key, unknown]>>>): Map<string, string> {
  const encoded = new Map<string, string>();
  for (const [state, entries] of Object.entries(keyedState)) {
    for (const [key, value] of entries) {
      const json = JSON.stringify(value);
      if (json === undefined) throw new Error(`rocksdb state backend: the value of key ${JSON.stringify(key)} in state '${state}' is not serialisable (${typeof value})`);
      encoded.set(JSON.stringify([state, key]), json);
    }
  }
  return encoded;
}

export function decodeKeyedState(encoded: ReadonlyMap<string, string>): KeyedStateEntries {
  const keyedState: KeyedStateEntries = {};
  for (const [storeKey, json] of encoded) {
    const [state, key] = JSON.parse(storeKey) as [string, Key];
    (keyedState[state] ??= []).push([key, JSON.parse(json) as unknown]);
  }
  return keyedState;
}

/** FNV-1a over the entries in key order, with the entry count: equal state, equal digest. */
export function digestOf(encoded: ReadonlyMap<string, string>): string {
  let hash = 0x811c9dc5;
  const mix = (text: string): void => {
    for (let i = 0; i < text.length; i++) {
      hash ^= text.charCodeAt(i);
      hash = Math.imul(hash, 0x01000193) >>> 0;
    }
  };
  for (const key of Array.from(encoded.keys()).sort()) {
    mix(key);
    mix('\u0001');
    mix(encoded.get(key)!);
    mix('\u0002');
  }
  return `${encoded.size}:${hash.toString(16).padStart(8, '0')}`;
}

// ---------------------------------------------------------------- task side

/** One subtask attempt's local store and what it knows to be in checkpoint storage already. */
export class RocksDbKeyedStateSnapshotter {
  private readonly store: LsmStore;
  /** What the store holds (the entries written at the previous snapshot), to write only changes. */
  private written: Map<string, string>;
  /** Files checkpoint storage holds for sure: those of the last checkpoint confirmed complete (Flink's base for the next incremental one). */
  private confirmedFiles: Set<string>;
  private readonly referencedBy = new Map<number, readonly string[]>();

  constructor(
    private readonly owner: string,
    private readonly options: RocksDbBackendOptions,
    restored?: { readonly files: readonly SortedFile[]; readonly entries: Map<string, string> },
  ) {
    this.store = new LsmStore(owner, options.thresholds, restored?.files ?? []);
    this.written = restored?.entries ?? new Map();
    this.confirmedFiles = new Set(restored?.files.map((file) => file.id) ?? []);
  }

  snapshot(checkpointId: number, keyedState: Readonly<Record<string, ReadonlyArray<readonly [Key, unknown]>>>): KeyedStateHandle {
    const encoded = encodeKeyedState(keyedState);
    for (const [key, value] of encoded) if (this.written.get(key) !== value) this.store.put(key, value);
    for (const key of this.written.keys()) if (!encoded.has(key)) this.store.delete(key);
    this.written = encoded;
    this.store.flush();
    const digest = digestOf(encoded);
    let files: readonly SortedFile[];
    let uploaded: SortedFile[];
    if (this.options.incremental) {
      files = this.store.liveFiles();
      uploaded = files.filter((file) => !this.confirmedFiles.has(file.id) && !(this.options.incrementalForgetsCompactedFiles && file.producedBy === 'compaction'));
    } else {
      const entries = Array.from(encoded).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const full: SortedFile = { id: `${this.owner}/full-checkpoint-${checkpointId}`, level: 0, producedBy: 'full-snapshot', entries, bytes: fileBytes(entries) };
      files = [full];
      uploaded = [full];
    }
    const fileIds = files.map((file) => file.id);
    this.referencedBy.set(checkpointId, fileIds);
    return {
      kind: this.options.incremental ? 'incremental' : 'full',
      fileIds,
      uploaded,
      bytesUploaded: uploaded.reduce((sum, file) => sum + file.bytes, 0),
      bytesReferenced: files.reduce((sum, file) => sum + file.bytes, 0),
      entryCount: encoded.size,
      digest,
    };
  }

  /** notifyCheckpointComplete: its files are in checkpoint storage, the base of the next incremental checkpoint. */
  onCheckpointComplete(checkpointId: number): void {
    const fileIds = this.referencedBy.get(checkpointId);
    if (fileIds === undefined) return; // not snapshotted by this attempt
    this.confirmedFiles = new Set(fileIds);
    for (const id of this.referencedBy.keys()) if (id <= checkpointId) this.referencedBy.delete(id);
  }

  /** For tests and reports: the local store. */
  localStore(): LsmStore {
    return this.store;
  }
}

// ---------------------------------------------------------------- storage side

export interface DownloadedKeyedState {
  readonly keyedState: KeyedStateEntries;
  /** The files found, oldest first (the new attempt's local store starts from them). */
  readonly files: readonly SortedFile[];
  readonly entries: Map<string, string>;
  readonly missingFiles: readonly string[];
  readonly digest: string;
  readonly bytesDownloaded: number;
}

/** Downloads a handle's files from checkpoint storage and merges them (a missing file is skipped and named). */
export function downloadKeyedState(handle: KeyedStateHandle, registry: SharedStateRegistry): DownloadedKeyedState {
  const files: SortedFile[] = [];
  const missingFiles: string[] = [];
  for (const id of handle.fileIds) {
    const file = registry.read(id);
    if (file === undefined) missingFiles.push(id);
    else files.push(file);
  }
  const entries = new Map(mergeFiles(files, true) as Array<readonly [string, string]>);
  return {
    keyedState: decodeKeyedState(entries),
    files,
    entries,
    missingFiles,
    digest: digestOf(entries),
    bytesDownloaded: files.reduce((sum, file) => sum + file.bytes, 0),
  };
}

// ---------------------------------------------------------------- observations

/** What one completed checkpoint cost under the rocksdb backend, over all subtasks. */
export interface BackendCheckpointObservation {
  readonly checkpointId: number;
  readonly kind: 'incremental' | 'full';
  readonly bytesUploaded: number;
  readonly filesUploaded: number;
  readonly filesReferenced: number;
  /** Bytes of every file the checkpoint refers to (what a restore downloads). */
  readonly bytesReferenced: number;
  readonly stateEntries: number;
  /** Checkpoint storage after the checkpoint was registered and older ones discarded. */
  readonly storedFiles: number;
  readonly storedBytes: number;
  readonly filesDeleted: number;
}

/** One subtask's keyed state restored from checkpoint storage. */
export interface BackendRestoreObservation {
  readonly checkpointId: number;
  readonly task: number;
  readonly expectedDigest: string;
  readonly restoredDigest: string;
  readonly missingFiles: readonly string[];
  readonly bytesDownloaded: number;
}

export interface StateBackendObservations {
  readonly checkpoints: BackendCheckpointObservation[];
  readonly restores: BackendRestoreObservation[];
}
