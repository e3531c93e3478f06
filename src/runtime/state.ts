import type { Key, ListState, OperatorStateStore, SourcePosition } from '../connectors/api.ts';
import type { TimerSnapshot } from './timer-service.ts';

/** The state of one subtask at one checkpoint. Values are treated as immutable. */
export interface SubtaskSnapshot {
  /** Operator list states by name. */
  readonly operatorState: Readonly<Record<string, readonly unknown[]>>;
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
  readonly keyed = new Map<string, Map<Key, unknown>>();

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
    return { operatorState, keyedState };
  }

  restore(snapshot: SubtaskSnapshot): void {
    this.lists.clear();
    this.keyed.clear();
    for (const [name, values] of Object.entries(snapshot.operatorState)) this.getListState(name).update(values);
    for (const [name, entries] of Object.entries(snapshot.keyedState)) this.keyed.set(name, new Map(entries));
  }
}

/**
 * Where completed checkpoints live, with the seed's survival semantics:
 * - memory: snapshots are kept on the coordinator's heap, so a job (coordinator) crash
 *   loses every completed checkpoint and the job restarts from scratch;
 * - fs: snapshots are serialised to a durable store and survive a coordinator crash.
 */
export type StateBackendKind = 'memory' | 'fs';

export interface CompletedCheckpoint {
  readonly checkpointId: number;
  readonly triggeredAtStep: number;
  readonly completedAtStep: number;
  /** One snapshot per subtask, indexed by global task index. */
  readonly tasks: readonly SubtaskSnapshot[];
}

export class CheckpointStore {
  private memoryCompleted: CompletedCheckpoint[] = [];
  private durableCompleted: string[] = [];
  /** Completed checkpoints kept for restore, newest last (Flink's default retains 1). */
  static readonly RETAINED_CHECKPOINTS = 3;

  constructor(readonly backend: StateBackendKind) {}

  /** Id of the newest checkpoint added, so the order check needs no read of the store. */
  private latestAddedId = 0;

  add(checkpoint: CompletedCheckpoint): void {
    if (checkpoint.checkpointId <= this.latestAddedId) {
      throw new Error(`CheckpointStore: checkpoint ${checkpoint.checkpointId} completed after checkpoint ${this.latestAddedId}`);
    }
    this.latestAddedId = checkpoint.checkpointId;
    if (this.backend === 'memory') {
      this.memoryCompleted.push(checkpoint);
      if (this.memoryCompleted.length > CheckpointStore.RETAINED_CHECKPOINTS) this.memoryCompleted.shift();
    } else {
      let serialized: string;
      try {
        serialized = JSON.stringify(checkpoint);
      } catch (error) {
        throw new Error(
          `fs state backend: checkpoint ${checkpoint.checkpointId} is not serialisable: ${(error as Error).message}`,
        );
      }
      this.durableCompleted.push(serialized);
      if (this.durableCompleted.length > CheckpointStore.RETAINED_CHECKPOINTS) this.durableCompleted.shift();
    }
  }

  latest(): CompletedCheckpoint | undefined {
    if (this.backend === 'memory') return this.memoryCompleted[this.memoryCompleted.length - 1];
    const last = this.durableCompleted[this.durableCompleted.length - 1];
    return last === undefined ? undefined : (JSON.parse(last) as CompletedCheckpoint);
  }

  /** The coordinator process died: what lived only on its heap is gone. */
  onCoordinatorCrash(): void {
    if (this.backend === 'memory') this.memoryCompleted = [];
  }
}
