/**
 * Checkpoint storage for the rocksdb backend's files and Flink's SharedStateRegistry over it:
 * every retained checkpoint registers the files it refers to (uploaded by it or by an earlier
 * checkpoint), and a file is deleted from storage only when the last retained checkpoint that
 * refers to it is discarded. The storage is durable (a distributed file system): it survives
 * a crash of the coordinator.
 */
import type { SortedFile } from './lsm-store.ts';

export interface SharedStateRegistryOptions {
  /**
   * Planted bug: discarding a checkpoint deletes every file it uploaded, whatever the
   * reference count, although a newer retained checkpoint may still refer to it.
   */
  readonly deleteSharedFileStillReferenced: boolean;
}

export class SharedStateRegistry {
  /** Checkpoint storage: file id -> file. */
  private readonly stored = new Map<string, SortedFile>();
  private readonly referenceCounts = new Map<string, number>();
  private readonly byCheckpoint = new Map<number, { readonly referenced: readonly string[]; readonly uploaded: readonly string[] }>();

  constructor(private readonly options: SharedStateRegistryOptions = { deleteSharedFileStillReferenced: false }) {}

  /** A checkpoint completed: store what it uploaded and count its references (once per checkpoint and file). */
  register(checkpointId: number, referenced: readonly string[], uploaded: readonly SortedFile[]): void {
    if (this.byCheckpoint.has(checkpointId)) throw new Error(`SharedStateRegistry: checkpoint ${checkpointId} registered twice`);
    for (const file of uploaded) this.stored.set(file.id, file);
    const distinct = Array.from(new Set(referenced));
    for (const id of distinct) this.referenceCounts.set(id, (this.referenceCounts.get(id) ?? 0) + 1);
    this.byCheckpoint.set(checkpointId, { referenced: distinct, uploaded: uploaded.map((file) => file.id) });
  }

  /** A checkpoint is no longer retained: drop its references; returns the ids of the files deleted from storage. */
  release(checkpointId: number): string[] {
    const entry = this.byCheckpoint.get(checkpointId);
    if (entry === undefined) throw new Error(`SharedStateRegistry: checkpoint ${checkpointId} released but never registered`);
    this.byCheckpoint.delete(checkpointId);
    const deleted: string[] = [];
    for (const id of entry.referenced) {
      const count = (this.referenceCounts.get(id) ?? 0) - 1;
      if (count > 0) {
        this.referenceCounts.set(id, count);
        continue;
      }
      this.referenceCounts.delete(id);
      if (this.stored.delete(id)) deleted.push(id);
    }
    if (this.options.deleteSharedFileStillReferenced) {
      for (const id of entry.uploaded) if (this.stored.delete(id)) deleted.push(id);
    }
    return deleted;
  }

  /** Downloads a file (undefined: it is not in checkpoint storage). */
  read(id: string): SortedFile | undefined {
    return this.stored.get(id);
  }

  referenceCount(id: string): number {
    return this.referenceCounts.get(id) ?? 0;
  }

  storedFileCount(): number {
    return this.stored.size;
  }

  storedBytes(): number {
    let bytes = 0;
    for (const file of this.stored.values()) bytes += file.bytes;
    return bytes;
  }
}
