import { describe, expect, it } from 'vitest';
import { compareKeys, KeyedStateBackend, type KeyedStateEntries } from '../../src/runtime/keyed-state.ts';

function backend(restored: KeyedStateEntries = {}, clock = { nowMs: 0 }): { state: KeyedStateBackend; clock: { nowMs: number } } {
  return { state: new KeyedStateBackend('op', () => clock.nowMs, restored), clock };
}

describe('KeyedStateBackend', () => {
  it('scopes value, list and map state to the current key', () => {
    const { state } = backend();
    const count = state.getState<number>('count');
    const seen = state.getListState<string>('seen');
    const byId = state.getMapState<number, string>('byId');
    state.currentKey = 'a';
    count.update(1);
    seen.add('x');
    byId.put(2, 'two');
    byId.put(1, 'one');
    state.currentKey = 'b';
    expect(count.value()).toBeUndefined();
    expect(seen.get()).toEqual([]);
    expect(byId.isEmpty()).toBe(true);
    count.update(5);
    state.currentKey = 'a';
    expect(count.value()).toBe(1);
    expect(seen.get()).toEqual(['x']);
    expect(byId.entries()).toEqual([[1, 'one'], [2, 'two']]);
    expect(byId.keys()).toEqual([1, 2]);
    byId.remove(1);
    expect(byId.contains(1)).toBe(false);
    expect(state.keyCount()).toBe(2);
  });

  it('refuses state access without a current key and two kinds under one name', () => {
    const { state } = backend();
    const count = state.getState<number>('count');
    expect(() => count.value()).toThrow(/no current key/);
    expect(() => state.getListState('count')).toThrow(/value state, asked for as a list state/);
    expect(() => state.getState('x', { ttl: { ttlMs: 0 } })).toThrow(/ttlMs must be a positive integer/);
  });

  it('snapshots under <operator>/<state> and restores into a fresh backend without sharing containers', () => {
    const { state } = backend();
    const seen = state.getListState<number>('seen');
    const byId = state.getMapState<string, number>('byId');
    state.currentKey = 7;
    seen.add(1);
    byId.put('z', 1);
    byId.put('a', 2);
    const snapshot: KeyedStateEntries = {};
    state.snapshotInto(snapshot);
    expect(snapshot).toEqual({ 'op/seen': [[7, [1]]], 'op/byId': [[7, [['a', 2], ['z', 1]]]] });
    seen.add(2); // the snapshot must not change
    expect(snapshot['op/seen']).toEqual([[7, [1]]]);
    const restored = backend(snapshot).state;
    const restoredSeen = restored.getListState<number>('seen');
    restored.currentKey = 7;
    restoredSeen.add(3);
    expect(restoredSeen.get()).toEqual([1, 3]);
    expect(snapshot['op/seen']).toEqual([[7, [1]]]);
    expect(restored.getMapState<string, number>('byId').get('a')).toBe(2);
  });

  it('expires TTL state in processing time and leaves expired values out of snapshots', () => {
    const { state, clock } = backend();
    const last = state.getState<string>('last', { ttl: { ttlMs: 10 } });
    state.currentKey = 'k';
    last.update('v');
    clock.nowMs = 9;
    expect(last.value()).toBe('v');
    const live: KeyedStateEntries = {};
    state.snapshotInto(live);
    expect(live['op/last']).toEqual([['k', { value: 'v', lastAccessMs: 0 }]]);
    clock.nowMs = 10;
    const expired: KeyedStateEntries = {};
    state.snapshotInto(expired);
    expect(expired['op/last']).toEqual([]);
    expect(last.value()).toBeUndefined();
    // Restored with its write time: still expires on schedule.
    const restoredClock = { nowMs: 5 };
    const restored = backend(live, restoredClock).state;
    const restoredLast = restored.getState<string>('last', { ttl: { ttlMs: 10 } });
    restored.currentKey = 'k';
    expect(restoredLast.value()).toBe('v');
    restoredClock.nowMs = 10;
    expect(restoredLast.value()).toBeUndefined();
  });

  it('refreshes TTL on read with on-read-and-write', () => {
    const { state, clock } = backend();
    const last = state.getState<string>('last', { ttl: { ttlMs: 10, updateType: 'on-read-and-write' } });
    state.currentKey = 'k';
    last.update('v');
    clock.nowMs = 8;
    expect(last.value()).toBe('v');
    clock.nowMs = 16;
    expect(last.value()).toBe('v');
    clock.nowMs = 26;
    expect(last.value()).toBeUndefined();
  });

  it('orders keys numbers first, then strings', () => {
    expect([10, 'b', 2, 'a'].sort(compareKeys)).toEqual([2, 10, 'a', 'b']);
  });
});
