import type { Key, ListState, OperatorStateStore, SourcePosition } from '../connectors/api.ts';
import type { TimerSnapshot } from './timer-service.ts';
import type { Mutable } from './mutable.ts';
import { downloadKeyedState, type KeyedStateHandle, type StateBackendObservations } from './backends/rocksdb-backend.ts';
import type { SortedFile } from './backends/lsm-store.ts';
import { SharedStateRegistry } from './backends/shared-state-registry.ts';

/** The state of one subtask at one checkpoint. Values are treated as immutable. */
export interface SubtaskSnapshot {
  /** Operator list states by name. */
  readonly operatorState: Readonly<Record<string, readonly unknown[]>>;
  /** Names of the operator list states registered as union list state (getUnionListState): on a rescaled restore every subtask gets all their parts. */
  readonly unionStates?: readonly string[];
  /**
   * Keyed state: per aggregate operator name key -> accumulator, and per process-function
   * state `<operator>/<state>` key -> value (see keyed-state.ts).
   */
  readonly keyedState: Readonly<Record<string, ReadonlyArray<readonly [Key, unknown]>>>;
  /** Unaligned checkpoints: per input slot, the in-flight records in front of the barrier, replayed on restore. */
  readonly channelState?: ReadonlyArray<ReadonlyArray<{ readonly key: Key | undefined; readonly value: unknown; readonly timestampMs?: number }>>;
  /** Keyed timers of the subtask's process functions (absent: none). */
  readonly timers?: readonly TimerSnapshot[];
  /** Source subtasks: the position the source declared after its snapshotState (what a restore rewinds to). */
  readonly sourcePosition?: SourcePosition;
  /** Split-owning source subtasks (a rescaled source): every owned split's position, instead of `sourcePosition`. */
  readonly splitPositions?: readonly SourcePosition[];
  /** rocksdb backend: the keyed state lives in these files (`keyedState` is empty in the checkpoint, filled again on restore). */
  readonly keyedStateHandle?: KeyedStateHandle;
  /** rocksdb backend, on restore only: the files downloaded from checkpoint storage, the new attempt's local store. */
  readonly downloadedFiles?: readonly SortedFile[];
}

/** Every split's checkpointed position over a checkpoint's source subtasks, by split name (one split per subtask, or several for a rescaled source). */
export function checkpointedSplitPositions(tasks: readonly SubtaskSnapshot[]): Map<string, SourcePosition> {
  const positions = new Map<string, SourcePosition>();
  for (const task of tasks) {
    const splitPositions = task.splitPositions;
    if (splitPositions !== undefined) for (const position of splitPositions) positions.set(position.split, position);
    else if (task.sourcePosition !== undefined) positions.set(task.sourcePosition.split, task.sourcePosition);
  }
  return positions;
}

class ListStateImpl<T> implements ListState<T> {
  values: T[] = [];
  get(): readonly T[] {
    return this.values;
  }
  update(values: readonly T[]): void {
    this.values = values.slice();
  }
  add(value: T): void {
    this.values.push(value);
  }
  clear(): void {
    this.values = [];
  }
}

/** Operator and keyed state of one running subtask attempt. */
export class SubtaskState implements OperatorStateStore {
  private readonly lists = new Map<string, ListStateImpl<unknown>>();
  private readonly unionNames = new Set<string>();
  readonly keyed = new Map<string, Map<Key, unknown>>();

  /** Flink's getUnionListState: like getListState, but a rescaled restore gives every subtask the parts of all old subtasks. */
  getUnionListState<T>(name: string): ListState<T> {
    this.unionNames.add(name);
    return this.getListState<T>(name);
  }

  getListState<T>(name: string): ListState<T> {
    let state = this.lists.get(name);
    if (state === undefined) {
      state = new ListStateImpl<unknown>();
      this.lists.set(name, state);
    }
    return state as ListState<T>;
  }

  keyedState(operatorName: string): Map<Key, unknown> {
    let state = this.keyed.get(operatorName);
    if (state === undefined) {
      state = new Map();
      this.keyed.set(operatorName, state);
    }
    return state;
  }

  snapshot(): SubtaskSnapshot {
    const operatorState: Record<string, readonly unknown[]> = {};
    for (const [name, list] of this.lists) operatorState[name] = list.values.slice();
    const keyedState: Record<string, Array<readonly [Key, unknown]>> = {};
    for (const [name, map] of this.keyed) keyedState[name] = Array.from(map.entries());
    // Built without an object spread (every snapshot of every subtask comes through here); the callers may complete it in place.
    const snapshot: Mutable<SubtaskSnapshot> = { operatorState, keyedState };
    if (this.unionNames.size > 0) snapshot.unionStates = [...this.unionNames].sort();
    return snapshot;
  }

  restore(snapshot: SubtaskSnapshot): void {
    this.lists.clear();
    this.keyed.clear();
    this.unionNames.clear();
    for (const name of snapshot.unionStates ?? []) this.unionNames.add(name);
    for (const [name, values] of Object.entries(snapshot.operatorState)) this.getListState(name).update(values);
    for (const [name, entries] of Object.entries(snapshot.keyedState)) this.keyed.set(name, new Map(entries));
  }
}

/**
 * Where completed checkpoints live, with the seed's survival semantics:
 * - memory: snapshots are kept on the coordinator's heap, so a job (coordinator) crash
 *   loses every completed checkpoint and the job restarts from scratch;
 * - fs: snapshots are serialised to a durable store and survive a coordinator crash;
 * - rocksdb: keyed state lives in a local log-structured store; checkpoints upload its files
 *   (all of them, or incrementally only the new ones) to durable storage, shared between
 *   retained checkpoints with reference counts: they survive a coordinator crash like fs.
 */
export type StateBackendKind = 'memory' | 'fs' | 'rocksdb';

export const STATE_BACKEND_KINDS: readonly StateBackendKind[] = ['memory', 'fs', 'rocksdb'];

export interface CompletedCheckpoint {
  readonly checkpointId: number;
  readonly triggeredAtStep: number;
  readonly completedAtStep: number;
  /** One snapshot per subtask, indexed by global task index. */
  readonly tasks: readonly SubtaskSnapshot[];
}

export interface CheckpointStoreOptions {
  /** Completed checkpoints kept for restore, newest last (Flink's state.checkpoints.num-retained, default 1). */
  readonly retainedCheckpoints: number;
  /** Planted bug of the rocksdb backend's shared-state registry (see SharedStateRegistry). */
  readonly deleteSharedFileStillReferenced: boolean;
}

export class CheckpointStore {
  private memoryCompleted: CompletedCheckpoint[] = [];
  private durableCompleted: string[] = [];
  /** rocksdb: the files of the retained checkpoints, with reference counts (durable). */
  readonly registry: SharedStateRegistry;
  private readonly retainedCheckpoints: number;

  constructor(
    readonly backend: StateBackendKind,
    options: CheckpointStoreOptions = { retainedCheckpoints: 1, deleteSharedFileStillReferenced: false },
    /** rocksdb: where the cost of each checkpoint and the result of each restore are reported. */
    private readonly observations?: { stateBackend?: StateBackendObservations },
  ) {
    if (!(Number.isSafeInteger(options.retainedCheckpoints) && options.retainedCheckpoints >= 1)) {
      throw new Error(`retainedCheckpoints must be a positive integer, got ${String(options.retainedCheckpoints)}`);
    }
    this.retainedCheckpoints = options.retainedCheckpoints;
    this.registry = new SharedStateRegistry({ deleteSharedFileStillReferenced: options.deleteSharedFileStillReferenced });
    if (backend === 'rocksdb' && observations !== undefined) observations.stateBackend ??= { checkpoints: [], restores: [] };
  }

  /** Id of the newest checkpoint added, so the order check needs no read of the store. */
  private latestAddedId = 0;
  private readonly retainedIds: number[] = [];

  add(checkpoint: CompletedCheckpoint): void {
    if (checkpoint.checkpointId <= this.latestAddedId) {
      throw new Error(`CheckpointStore: checkpoint ${checkpoint.checkpointId} completed after checkpoint ${this.latestAddedId}`);
    }
    this.latestAddedId = checkpoint.checkpointId;
    if (this.backend === 'memory') {
      this.memoryCompleted.push(checkpoint);
      if (this.memoryCompleted.length > this.retainedCheckpoints) this.memoryCompleted.shift();
      return;
    }
    const stored = this.backend === 'rocksdb' ? this.registerFiles(checkpoint) : checkpoint;
    let serialized: string;
    try {
      serialized = JSON.stringify(stored);
    } catch (error) {
      throw new Error(`${this.backend} state backend: checkpoint ${checkpoint.checkpointId} is not serialisable: ${(error as Error).message}`);
    }
    this.durableCompleted.push(serialized);
    this.retainedIds.push(checkpoint.checkpointId);
    let filesDeleted = 0;
    if (this.durableCompleted.length > this.retainedCheckpoints) {
      this.durableCompleted.shift();
      const discarded = this.retainedIds.shift()!;
      if (this.backend === 'rocksdb') filesDeleted = this.registry.release(discarded).length;
    }
    if (this.backend === 'rocksdb') this.observeCost(checkpoint, filesDeleted);
  }

  /** rocksdb: uploads land in checkpoint storage and every referenced file gains a reference; the stored checkpoint keeps only the handles. */
  private registerFiles(checkpoint: CompletedCheckpoint): CompletedCheckpoint {
    const referenced: string[] = [];
    const uploaded: SortedFile[] = [];
    for (const task of checkpoint.tasks) {
      const handle = task.keyedStateHandle;
      if (handle === undefined) continue;
      referenced.push(...handle.fileIds);
      uploaded.push(...(handle.uploaded ?? []));
    }
    this.registry.register(checkpoint.checkpointId, referenced, uploaded);
    return {
      ...checkpoint,
      tasks: checkpoint.tasks.map((task) => (task.keyedStateHandle === undefined ? task : { ...task, keyedStateHandle: { ...task.keyedStateHandle, uploaded: undefined } })),
    };
  }

  private observeCost(checkpoint: CompletedCheckpoint, filesDeleted: number): void {
    const handles = checkpoint.tasks.flatMap((task) => (task.keyedStateHandle === undefined ? [] : [task.keyedStateHandle]));
    this.observations?.stateBackend?.checkpoints.push({
      checkpointId: checkpoint.checkpointId,
      kind: handles[0]?.kind ?? 'incremental',
      bytesUploaded: handles.reduce((sum, handle) => sum + handle.bytesUploaded, 0),
      filesUploaded: handles.reduce((sum, handle) => sum + (handle.uploaded?.length ?? 0), 0),
      filesReferenced: handles.reduce((sum, handle) => sum + handle.fileIds.length, 0),
      bytesReferenced: handles.reduce((sum, handle) => sum + handle.bytesReferenced, 0),
      stateEntries: handles.reduce((sum, handle) => sum + handle.entryCount, 0),
      storedFiles: this.registry.storedFileCount(),
      storedBytes: this.registry.storedBytes(),
      filesDeleted,
    });
  }

  latest(): CompletedCheckpoint | undefined {
    if (this.backend === 'memory') return this.memoryCompleted[this.memoryCompleted.length - 1];
    const last = this.durableCompleted[this.durableCompleted.length - 1];
    if (last === undefined) return undefined;
    const checkpoint = JSON.parse(last) as CompletedCheckpoint;
    return this.backend === 'rocksdb' ? this.download(checkpoint) : checkpoint;
  }

  /** rocksdb: every subtask's keyed state downloaded from its files (a missing file is reported, its entries lost). */
  private download(checkpoint: CompletedCheckpoint): CompletedCheckpoint {
    const tasks = checkpoint.tasks.map((task, index): SubtaskSnapshot => {
      const handle = task.keyedStateHandle;
      if (handle === undefined) return task;
      const downloaded = downloadKeyedState(handle, this.registry);
      this.observations?.stateBackend?.restores.push({
        checkpointId: checkpoint.checkpointId,
        task: index,
        expectedDigest: handle.digest,
        restoredDigest: downloaded.digest,
        missingFiles: downloaded.missingFiles,
        bytesDownloaded: downloaded.bytesDownloaded,
      });
      return { ...task, keyedState: { ...task.keyedState, ...downloaded.keyedState }, downloadedFiles: downloaded.files };
    });
    return { ...checkpoint, tasks };
  }

  /** The coordinator process died: what lived only on its heap is gone. */
  onCoordinatorCrash(): void {
    if (this.backend === 'memory') this.memoryCompleted = [];
  }
}
