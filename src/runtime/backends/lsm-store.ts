/**
 * A log-structured key-value store in the manner of RocksDB, small enough to read: writes go
 * to a memtable; a full memtable is flushed to an immutable sorted file; files are grouped in
 * levels and once a level holds `compactionTriggerFiles` files they are merged into one file of
 * the next level (size-tiered compaction). Reads look in the memtable, then in the files from
 * newest to oldest. Keys and values are strings (the backend encodes keyed state as JSON); a
 * deletion is a tombstone (`null`) until a compaction that includes the oldest file drops it.
 *
 * Files are what a checkpoint of this store refers to: they never change once written, so an
 * incremental checkpoint uploads only the files that are new since the last one.
 */

/** A deletion marker: the key has no value any more (shadows older files until compacted away). */
export type Tombstone = null;

export interface SortedFile {
  /** Unique across the job (owner, attempt and a sequence number), so the shared-state registry can count references to it. */
  readonly id: string;
  /** Level 0 for a flushed memtable; a compaction of level L writes level L + 1. */
  readonly level: number;
  readonly producedBy: 'flush' | 'compaction' | 'full-snapshot';
  /** Entries in ascending key order (code-unit order of the encoded key), no key twice. */
  readonly entries: ReadonlyArray<readonly [string, string | Tombstone]>;
  /** Size of the file: code units of every key and value (a tombstone counts its key only). */
  readonly bytes: number;
}

export interface LsmThresholds {
  /** A memtable holding this many distinct keys is flushed to a level-0 file. */
  readonly memtableFlushEntries: number;
  /** A level holding this many files is compacted into one file of the next level. */
  readonly compactionTriggerFiles: number;
}

export const DEFAULT_LSM_THRESHOLDS: LsmThresholds = { memtableFlushEntries: 256, compactionTriggerFiles: 4 };

export function fileBytes(entries: ReadonlyArray<readonly [string, string | Tombstone]>): number {
  let bytes = 0;
  for (const [key, value] of entries) bytes += key.length + (value === null ? 0 : value.length);
  return bytes;
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/**
 * Merges files given oldest first: the newest value of a key wins. With `dropTombstones` a
 * deleted key is left out (only right when no older file outside the merge can hold the key).
 */
export function mergeFiles(filesOldestFirst: readonly SortedFile[], dropTombstones: boolean): Array<readonly [string, string | Tombstone]> {
  const merged = new Map<string, string | Tombstone>();
  for (const file of filesOldestFirst) for (const [key, value] of file.entries) merged.set(key, value);
  const entries: Array<readonly [string, string | Tombstone]> = [];
  for (const [key, value] of merged) if (!(dropTombstones && value === null)) entries.push([key, value]);
  return entries.sort((a, b) => compareStrings(a[0], b[0]));
}

export class LsmStore {
  private readonly memtable = new Map<string, string | Tombstone>();
  /** Oldest first: descending level, and within a level in the order written (an older level holds only older data). */
  private files: SortedFile[];
  private nextFileNumber = 1;
  /** Memtable flushes and compactions so far (for reports and tests). */
  flushes = 0;
  compactions = 0;

  constructor(
    /** Prefix of the ids of the files this store writes (e.g. `task-3/attempt-2`). */
    readonly owner: string,
    readonly thresholds: LsmThresholds = DEFAULT_LSM_THRESHOLDS,
    /** Files to start from, oldest first (a restore downloads them from checkpoint storage). */
    restoredFiles: readonly SortedFile[] = [],
  ) {
    if (!(Number.isSafeInteger(thresholds.memtableFlushEntries) && thresholds.memtableFlushEntries >= 1)) {
      throw new Error(`LsmStore: memtableFlushEntries must be a positive integer, got ${String(thresholds.memtableFlushEntries)}`);
    }
    if (!(Number.isSafeInteger(thresholds.compactionTriggerFiles) && thresholds.compactionTriggerFiles >= 2)) {
      throw new Error(`LsmStore: compactionTriggerFiles must be an integer >= 2, got ${String(thresholds.compactionTriggerFiles)}`);
    }
    this.files = restoredFiles.slice();
  }

  put(key: string, value: string): void {
    this.memtable.set(key, value);
    if (this.memtable.size >= this.thresholds.memtableFlushEntries) this.flush();
  }

  delete(key: string): void {
    this.memtable.set(key, null);
    if (this.memtable.size >= this.thresholds.memtableFlushEntries) this.flush();
  }

  get(key: string): string | undefined {
    const inMemtable = this.memtable.get(key);
    if (inMemtable !== undefined) return inMemtable ?? undefined;
    for (let i = this.files.length - 1; i >= 0; i--) {
      const found = findInFile(this.files[i]!, key);
      if (found !== undefined) return found ?? undefined;
    }
    return undefined;
  }

  /** Every live key and value in key order (a full scan, as a full snapshot reads it). */
  entries(): Array<readonly [string, string]> {
    const merged = mergeFiles([...this.files, { id: 'memtable', level: 0, producedBy: 'flush', entries: Array.from(this.memtable), bytes: 0 }], true);
    return merged as Array<readonly [string, string]>;
  }

  /** The immutable files, oldest first (what a checkpoint refers to once the memtable is flushed). */
  liveFiles(): readonly SortedFile[] {
    return this.files;
  }

  memtableSize(): number {
    return this.memtable.size;
  }

  /** Writes the memtable to a level-0 file (RocksDB flushes before it takes a checkpoint), then compacts what is due. */
  flush(): void {
    if (this.memtable.size === 0) return;
    const entries = Array.from(this.memtable).sort((a, b) => compareStrings(a[0], b[0]));
    this.memtable.clear();
    this.files.push(this.newFile(0, 'flush', entries));
    this.flushes++;
    this.compactDueLevels();
  }

  private compactDueLevels(): void {
    for (let level = 0; ; level++) {
      const atLevel = this.files.filter((file) => file.level === level);
      if (atLevel.length === 0 && !this.files.some((file) => file.level > level)) return;
      if (atLevel.length < this.thresholds.compactionTriggerFiles) continue;
      const olderLevelsExist = this.files.some((file) => file.level > level);
      const merged = this.newFile(level + 1, 'compaction', mergeFiles(atLevel, !olderLevelsExist));
      this.compactions++;
      const kept = this.files.filter((file) => file.level !== level);
      // The new file is the newest of its level: after every older level-(L+1) file, before the younger levels.
      const insertAt = kept.findIndex((file) => file.level <= level);
      if (insertAt === -1) kept.push(merged);
      else kept.splice(insertAt, 0, merged);
      this.files = merged.entries.length === 0 ? kept.filter((file) => file !== merged) : kept;
    }
  }

  private newFile(level: number, producedBy: SortedFile['producedBy'], entries: Array<readonly [string, string | Tombstone]>): SortedFile {
    return { id: `${this.owner}/${String(this.nextFileNumber++).padStart(6, '0')}.sst`, level, producedBy, entries, bytes: fileBytes(entries) };
  }
}

/** Binary search in a sorted file: the value, null for a tombstone, undefined if the file does not hold the key. */
function findInFile(file: SortedFile, key: string): string | Tombstone | undefined {
  let low = 0;
  let high = file.entries.length - 1;
  while (low <= high) {
    const middle = (low + high) >> 1;
    const [candidate, value] = file.entries[middle]!;
    if (candidate === key) return value;
    if (candidate < key) low = middle + 1;
    else high = middle - 1;
  }
  return undefined;
}
