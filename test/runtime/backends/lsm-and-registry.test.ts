import { describe, expect, it } from 'vitest';
import { LsmStore, type SortedFile } from '../../../src/runtime/backends/lsm-store.ts';
import { SharedStateRegistry } from '../../../src/runtime/backends/shared-state-registry.ts';

function file(id: string, entries: Array<[string, string]>): SortedFile {
  return { id, level: 0, producedBy: 'flush', entries, bytes: entries.reduce((sum, [k, v]) => sum + k.length + v.length, 0) };
}

describe('SharedStateRegistry', () => {
  it('deletes a file only when no retained checkpoint refers to it', () => {
    const registry = new SharedStateRegistry();
    registry.register(1, ['a', 'b'], [file('a', [['x', '1']]), file('b', [['y', '2']])]);
    registry.register(2, ['b', 'c'], [file('c', [['z', '3']])]);
    expect(registry.referenceCount('b')).toBe(2);
    expect(registry.release(1)).toEqual(['a']);
    expect(registry.read('b')).toBeDefined();
    expect(registry.referenceCount('b')).toBe(1);
    expect(registry.release(2).sort()).toEqual(['b', 'c']);
    expect(registry.storedFileCount()).toBe(0);
  });

  it('counts a file referenced twice by one checkpoint once', () => {
    const registry = new SharedStateRegistry();
    registry.register(1, ['a', 'a'], [file('a', [['x', '1']])]);
    expect(registry.referenceCount('a')).toBe(1);
    expect(registry.release(1)).toEqual(['a']);
  });

  it('planted bug deleteSharedFileStillReferenced: discarding a checkpoint deletes the files it uploaded although a newer one refers to them', () => {
    const registry = new SharedStateRegistry({ deleteSharedFileStillReferenced: true });
    registry.register(1, ['a'], [file('a', [['x', '1']])]);
    registry.register(2, ['a', 'b'], [file('b', [['y', '2']])]);
    expect(registry.release(1)).toEqual(['a']);
    expect(registry.read('a')).toBeUndefined();
  });

  it('rejects releasing a checkpoint it never registered, and registering one twice', () => {
    const registry = new SharedStateRegistry();
    expect(() => registry.release(7)).toThrow(/checkpoint 7 released but never registered/);
    registry.register(1, [], []);
    expect(() => registry.register(1, [], [])).toThrow(/registered twice/);
  });
});

describe('LsmStore', () => {
  it('flushes a full memtable to a sorted file and compacts a full level into the next one, dropping tombstones at the bottom', () => {
    const store = new LsmStore('t', { memtableFlushEntries: 2, compactionTriggerFiles: 2 });
    store.put('b', '1');
    expect(store.liveFiles()).toHaveLength(0);
    store.put('a', '2'); // memtable full: flush
    expect(store.liveFiles().map((f) => [f.level, f.entries.map((e) => e[0])])).toEqual([[0, ['a', 'b']]]);
    store.delete('b');
    store.put('c', '3'); // second level-0 file: compaction into level 1
    expect(store.compactions).toBe(1);
    expect(store.liveFiles()).toHaveLength(1);
    const [compacted] = store.liveFiles();
    expect(compacted!.level).toBe(1);
    expect(compacted!.producedBy).toBe('compaction');
    expect(compacted!.entries).toEqual([['a', '2'], ['c', '3']]); // b's tombstone dropped: no older file can hold b
    expect(store.get('b')).toBeUndefined();
    expect(store.get('a')).toBe('2');
  });

  it('keeps a tombstone while an older level may still hold the key, and reads the newest value', () => {
    const store = new LsmStore('t', { memtableFlushEntries: 1, compactionTriggerFiles: 3 });
    for (const key of ['k', 'x', 'q']) store.put(key, key === 'k' ? 'old' : '1'); // three L0 files -> one L1 file
    store.delete('k'); // L0 tombstone
    expect(store.get('k')).toBeUndefined();
    store.put('y', '1');
    store.put('z', '1'); // three L0 files -> a second L1 file, next to the older one that holds k: the tombstone stays
    const tombstones = store.liveFiles().flatMap((f) => f.entries.filter(([, v]) => v === null));
    expect(tombstones.map(([k]) => k)).toEqual(['k']);
    expect(store.liveFiles().map((f) => f.level)).toEqual([1, 1]);
    expect(store.get('k')).toBeUndefined();
    for (const key of ['w', 'v', 'u']) store.put(key, '1'); // a third L1 file -> one L2 file: the tombstone is gone
    expect(store.liveFiles().map((f) => f.level)).toEqual([2]);
    expect(store.liveFiles()[0]!.entries.some(([, v]) => v === null)).toBe(false);
    expect(store.entries().map(([k]) => k)).toEqual(['q', 'u', 'v', 'w', 'x', 'y', 'z']);
    expect(new Set(store.liveFiles().map((f) => f.id)).size).toBe(store.liveFiles().length);
  });

  it('rejects thresholds that cannot work', () => {
    expect(() => new LsmStore('t', { memtableFlushEntries: 0, compactionTriggerFiles: 2 })).toThrow(/memtableFlushEntries/);
    expect(() => new LsmStore('t', { memtableFlushEntries: 4, compactionTriggerFiles: 1 })).toThrow(/compactionTriggerFiles/);
  });
});
