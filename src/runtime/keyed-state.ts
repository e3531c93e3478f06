/**
 * Keyed state of one keyed operator in one subtask (Flink's heap keyed state backend):
 * named ValueState, ListState and MapState, each scoped to the current key, with optional
 * time-to-live in processing time, snapshotted with every checkpoint and restored on the
 * subtask that owns the keys.
 *
 * Snapshot format (inside `SubtaskSnapshot.keyedState`): one entry per state, named
 * `<operator>/<state>`, holding `[key, stored]` pairs in the order the keys were first
 * written. `stored` is the value (ValueState), a copy of the list (ListState) or the map's
 * `[userKey, value]` pairs in ascending user-key order (MapState); for a state with TTL it is
 * `{ value: stored, lastAccessMs }`. A state's TTL applies per key (the whole list or map of a
 * key expires at once; Flink expires list elements and map entries one by one).
 */
import type { Key, ListState } from '../connectors/api.ts';
import type { KeyedStateStore, MapState, StateOptions, StateTtlConfig, ValueState } from './functions.ts';

/** Keyed state entries by `<operator>/<state>` (the form `SubtaskSnapshot.keyedState` holds). */
export type KeyedStateEntries = Record<string, Array<readonly [Key, unknown]>>;

/** Total order on keys: numbers (ascending) before strings (code-unit order). Timers and MapState iterate in it. */
export function compareKeys(a: Key, b: Key): number {
  if (typeof a === 'number') {
    if (typeof b !== 'number') return -1;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof b === 'number') return 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

type StateKind = 'value' | 'list' | 'map';

/** Wrapper of a TTL state's value in a snapshot. */
interface TtlStored {
  readonly value: unknown;
  readonly lastAccessMs: number;
}

const EMPTY_LIST: readonly never[] = Object.freeze([]);

/** One named state: its per-key values and, with TTL, when each key was last written (or read). */
class StateTable {
  readonly values = new Map<Key, unknown>();
  readonly lastAccessMs: Map<Key, number> | undefined;

  constructor(
    readonly name: string,
    readonly kind: StateKind,
    readonly ttl: StateTtlConfig | undefined,
  ) {
    this.lastAccessMs = ttl === undefined ? undefined : new Map();
  }

  /** The key's live value (undefined if absent or expired; an expired value is dropped). */
  read(key: Key, nowMs: number): unknown {
    const value = this.values.get(key);
    if (value === undefined || this.lastAccessMs === undefined) return value;
    if (this.isExpired(key, nowMs)) {
      this.remove(key);
      return undefined;
    }
    if (this.ttl!.updateType === 'on-read-and-write') this.lastAccessMs.set(key, nowMs);
    return value;
  }

  write(key: Key, value: unknown, nowMs: number): void {
    this.values.set(key, value);
    this.lastAccessMs?.set(key, nowMs);
  }

  remove(key: Key): void {
    this.values.delete(key);
    this.lastAccessMs?.delete(key);
  }

  isExpired(key: Key, nowMs: number): boolean {
    if (this.lastAccessMs === undefined) return false;
    return nowMs - (this.lastAccessMs.get(key) ?? nowMs) >= this.ttl!.ttlMs;
  }

  /** Live entries in snapshot form (containers copied, expired values left out). */
  snapshot(nowMs: number): Array<readonly [Key, unknown]> {
    const entries: Array<readonly [Key, unknown]> = [];
    for (const [key, value] of this.values) {
      if (this.isExpired(key, nowMs)) continue;
      const stored = this.kind === 'list' ? (value as unknown[]).slice() : this.kind === 'map' ? sortedEntries(value as Map<Key, unknown>) : value;
      entries.push([key, this.lastAccessMs === undefined ? stored : ({ value: stored, lastAccessMs: this.lastAccessMs.get(key)! } satisfies TtlStored)]);
    }
    return entries;
  }

  /** Adopts restored entries (copying containers: a snapshot stays immutable). */
  restore(entries: ReadonlyArray<readonly [Key, unknown]>): void {
    for (const [key, raw] of entries) {
      let stored = raw;
      let lastAccessMs = 0;
      if (this.lastAccessMs !== undefined) {
        if (!isTtlStored(raw)) throw new Error(`keyed state '${this.name}': restored without TTL metadata but declared with a TTL`);
        stored = raw.value;
        lastAccessMs = raw.lastAccessMs;
      }
      const value =
        this.kind === 'list' ? (stored as unknown[]).slice() : this.kind === 'map' ? new Map(stored as Array<readonly [Key, unknown]>) : stored;
      this.values.set(key, value);
      this.lastAccessMs?.set(key, lastAccessMs);
    }
  }
}

function isTtlStored(raw: unknown): raw is TtlStored {
  return typeof raw === 'object' && raw !== null && 'lastAccessMs' in raw && 'value' in raw;
}

function sortedEntries<V>(map: Map<Key, V>): Array<readonly [Key, V]> {
  // Every snapshot and window firing comes here. Most maps of a key hold one entry (a window,
  // a timestamp) or were filled in ascending key order (windows open in time order): sorted
  // already, they are not sorted again (a sort copies the array, on every checkpoint).
  const entries: Array<readonly [Key, V]> = [];
  let ascending = true;
  for (const entry of map) {
    if (ascending && entries.length > 0 && compareKeys(entries[entries.length - 1]![0], entry[0]) > 0) ascending = false;
    entries.push(entry);
  }
  return ascending ? entries : entries.sort(compareEntryKeys);
}

function compareEntryKeys(a: readonly [Key, unknown], b: readonly [Key, unknown]): number {
  return compareKeys(a[0], b[0]);
}

/**
 * The keyed state of one operator in one subtask. The operator sets `currentKey` before it
 * calls the user function; every state handle reads and writes that key's value.
 */
export class KeyedStateBackend implements KeyedStateStore {
  /** The key of the element or timer being processed; undefined outside of one. */
  currentKey: Key | undefined = undefined;
  private readonly tables = new Map<string, StateTable>();

  constructor(
    readonly operatorName: string,
    /** Processing time (virtual ms), for TTL. */
    private readonly clockMs: () => number,
    /** The subtask's restored keyed state (all operators); this operator's states are taken from it as they are declared. */
    private readonly restored: Readonly<Record<string, ReadonlyArray<readonly [Key, unknown]>>> = {},
  ) {}

  getState<T>(name: string, options?: StateOptions): ValueState<T> {
    const table = this.table(name, 'value', options);
    return {
      value: () => table.read(this.key('ValueState.value'), this.nowFor(table)) as T | undefined,
      update: (value: T) => {
        const key = this.key('ValueState.update');
        if (value === undefined) table.remove(key);
        else table.write(key, value, this.nowFor(table));
      },
      clear: () => table.remove(this.key('ValueState.clear')),
    };
  }

  getListState<T>(name: string, options?: StateOptions): ListState<T> {
    const table = this.table(name, 'list', options);
    return {
      get: () => (table.read(this.key('ListState.get'), this.nowFor(table)) as T[] | undefined) ?? (EMPTY_LIST as readonly T[]),
      update: (values: readonly T[]) => {
        const key = this.key('ListState.update');
        if (values.length === 0) table.remove(key);
        else table.write(key, values.slice(), this.nowFor(table));
      },
      add: (value: T) => {
        const key = this.key('ListState.add');
        const list = table.read(key, this.nowFor(table)) as T[] | undefined;
        if (list === undefined) table.write(key, [value], this.nowFor(table));
        else {
          list.push(value);
          table.write(key, list, this.nowFor(table));
        }
      },
      clear: () => table.remove(this.key('ListState.clear')),
    };
  }

  getMapState<UK extends Key, UV>(name: string, options?: StateOptions): MapState<UK, UV> {
    const table = this.table(name, 'map', options);
    const current = (call: string): Map<UK, UV> | undefined => table.read(this.key(call), this.nowFor(table)) as Map<UK, UV> | undefined;
    return {
      get: (userKey) => current('MapState.get')?.get(userKey),
      put: (userKey, value) => {
        const key = this.key('MapState.put');
        const nowMs = this.nowFor(table);
        const map = table.read(key, nowMs) as Map<UK, UV> | undefined;
        if (map === undefined) {
          const created = new Map<UK, UV>();
          created.set(userKey, value);
          table.write(key, created, nowMs);
        } else {
          map.set(userKey, value);
          // The key's map is already stored: writing it again only refreshes a TTL (every record of a window comes here).
          if (table.ttl !== undefined) table.write(key, map, nowMs);
        }
      },
      remove: (userKey) => {
        const key = this.key('MapState.remove');
        const map = table.read(key, this.nowFor(table)) as Map<UK, UV> | undefined;
        if (map === undefined) return;
        map.delete(userKey);
        if (map.size === 0) table.remove(key);
        else table.write(key, map, this.nowFor(table));
      },
      contains: (userKey) => current('MapState.contains')?.has(userKey) ?? false,
      entries: () => {
        const map = current('MapState.entries');
        return map === undefined ? [] : (sortedEntries(map) as Array<readonly [UK, UV]>);
      },
      keys: () => {
        const map = current('MapState.keys');
        return map === undefined ? [] : (Array.from(map.keys()).sort(compareKeys) as UK[]);
      },
      isEmpty: () => (current('MapState.isEmpty')?.size ?? 0) === 0,
      clear: () => table.remove(this.key('MapState.clear')),
    };
  }

  /** Entries of every declared state, named `<operator>/<state>`. */
  snapshotInto(out: KeyedStateEntries): void {
    const nowMs = this.clockMs();
    for (const table of this.tables.values()) out[`${this.operatorName}/${table.name}`] = table.snapshot(nowMs);
  }

  /** Keys with a live value in any state (for tests and reports). */
  keyCount(): number {
    const keys = new Set<Key>();
    for (const table of this.tables.values()) for (const key of table.values.keys()) keys.add(key);
    return keys.size;
  }

  /** Processing time for a table's TTL; a table without TTL never reads the clock (a chain of calls, on every state access). */
  private nowFor(table: StateTable): number {
    return table.ttl === undefined ? 0 : this.clockMs();
  }

  private key(call: string): Key {
    const key = this.currentKey;
    if (key === undefined) throw new Error(`${call} on keyed state of operator '${this.operatorName}' outside of processElement/onTimer (no current key)`);
    return key;
  }

  private table(name: string, kind: StateKind, options: StateOptions | undefined): StateTable {
    if (typeof name !== 'string' || name.length === 0) throw new Error(`keyed state of operator '${this.operatorName}': the state name must be a non-empty string`);
    const existing = this.tables.get(name);
    if (existing !== undefined) {
      if (existing.kind !== kind) throw new Error(`keyed state '${name}' of operator '${this.operatorName}' is a ${existing.kind} state, asked for as a ${kind} state`);
      return existing;
    }
    const ttl = options?.ttl;
    if (ttl !== undefined && !(Number.isSafeInteger(ttl.ttlMs) && ttl.ttlMs > 0)) {
      throw new Error(`keyed state '${name}' of operator '${this.operatorName}': ttlMs must be a positive integer, got ${String(ttl.ttlMs)}`);
    }
    const table = new StateTable(name, kind, ttl);
    const restored = this.restored[`${this.operatorName}/${name}`];
    if (restored !== undefined) table.restore(restored);
    this.tables.set(name, table);
    return table;
  }
}
