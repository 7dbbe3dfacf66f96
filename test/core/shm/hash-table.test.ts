import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { HashTable, HashTableView, SharedHeap, type Reclaimer } from '@xfrm/core';

const now: Reclaimer = { retire: (free) => free() };

/** Key for id k: keyWords words, distinct per k, sharing most words with neighbours. */
function keyOf(k: number, keyWords: number): Int32Array {
  const key = new Int32Array(keyWords);
  key[0] = k;
  for (let i = 1; i < keyWords; i++) key[i] = 0x0a000000 + i;
  return key;
}

type Op =
  | { op: 'insert'; k: number; slot: number }
  | { op: 'delete'; k: number }
  | { op: 'lookup'; k: number }
  | { op: 'replace'; k: number; slot: number }
  | { op: 'rebuild' }
  | { op: 'clear' };

const opArb = (keys: number): fc.Arbitrary<Op> =>
  fc.oneof(
    { weight: 6, arbitrary: fc.record({ op: fc.constant('insert' as const), k: fc.nat(keys - 1), slot: fc.nat(1 << 20) }) },
    { weight: 4, arbitrary: fc.record({ op: fc.constant('delete' as const), k: fc.nat(keys - 1) }) },
    { weight: 3, arbitrary: fc.record({ op: fc.constant('lookup' as const), k: fc.nat(keys - 1) }) },
    { weight: 2, arbitrary: fc.record({ op: fc.constant('replace' as const), k: fc.nat(keys - 1), slot: fc.nat(1 << 20) }) },
    { weight: 1, arbitrary: fc.constant({ op: 'rebuild' as const }) },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('clear' as const) }).filter(() => Math.random() < 0.1) },
  );

describe('HashTable against a Map reference', () => {
  for (const keyWords of [1, 4, 10]) {
    it(`agrees on random operation sequences (${keyWords}-word keys), through growth and rebuilds`, () => {
      fc.assert(
        fc.property(fc.array(opArb(300), { maxLength: 600 }), fc.integer(), (ops, seed) => {
          const heap = SharedHeap.create();
          const table = HashTable.create(heap, now, { keyWords, seed });
          const reader = HashTableView.attach(heap, table.describe());
          const model = new Map<number, number>();
          for (const o of ops) {
            if (o.op === 'insert') {
              expect(table.insert(keyOf(o.k, keyWords), 0, o.slot)).toBe(!model.has(o.k));
              if (!model.has(o.k)) model.set(o.k, o.slot);
            } else if (o.op === 'delete') {
              expect(table.delete(keyOf(o.k, keyWords), 0)).toBe(model.get(o.k) ?? -1);
              model.delete(o.k);
            } else if (o.op === 'lookup') {
              expect(reader.lookup(keyOf(o.k, keyWords), 0)).toBe(model.get(o.k) ?? -1);
              expect(HashTableView.lookupIn(heap, table.describe().offset, keyOf(o.k, keyWords), 0)).toBe(model.get(o.k) ?? -1);
            } else if (o.op === 'replace') {
              expect(table.replace(keyOf(o.k, keyWords), 0, o.slot)).toBe(model.get(o.k) ?? -1);
              if (model.has(o.k)) model.set(o.k, o.slot);
            } else if (o.op === 'rebuild') {
              table.rebuild();
            } else {
              table.clear();
              model.clear();
            }
            expect(table.size).toBe(model.size);
          }
          for (let k = 0; k < 300; k++) expect(reader.lookup(keyOf(k, keyWords), 0)).toBe(model.get(k) ?? -1);
          const seen = new Map<number, number>();
          table.forEach((slot, keyOff) => seen.set(heap.i32[keyOff], slot));
          expect(seen).toEqual(model);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('grows from 16 buckets to hold 100k keys and shrinks on rebuild', () => {
    const heap = SharedHeap.create();
    const table = HashTable.create(heap, now, { keyWords: 4 });
    for (let k = 0; k < 100_000; k++) expect(table.insert(keyOf(k, 4), 0, k)).toBe(true);
    expect(table.capacity).toBeGreaterThanOrEqual(100_000 / 0.8); // the load bound (MAX_LOAD)
    expect(table.capacity).toBeLessThan(2 * (100_000 / 0.8)); // and no more than one doubling past it
    for (let k = 0; k < 100_000; k++) expect(table.lookup(keyOf(k, 4), 0)).toBe(k);
    for (let k = 0; k < 99_990; k++) table.delete(keyOf(k, 4), 0);
    table.rebuild();
    expect(table.capacity).toBe(32);
    for (let k = 99_990; k < 100_000; k++) expect(table.lookup(keyOf(k, 4), 0)).toBe(k);
    expect(table.lookup(keyOf(5, 4), 0)).toBe(-1);
  });

  it('clears tombstones by rebuilding when churn fills the array before grace periods end', () => {
    const heap = SharedHeap.create();
    const never: Reclaimer = { retire: () => {} }; // readers never move on: no tombstone is reusable
    const table = HashTable.create(heap, never, { keyWords: 2 });
    for (let round = 0; round < 10_000; round++) {
      expect(table.insert(keyOf(round, 2), 0, round)).toBe(true);
      expect(table.delete(keyOf(round, 2), 0)).toBe(round);
    }
    expect(table.capacity).toBe(16); // never grew: rebuilds dropped the tombstones
    expect(table.rebuildCount).toBeGreaterThan(100);
  });

  it('gives its bucket array back after mass deletes, and finds every remaining key', () => {
    const heap = SharedHeap.create({ maxBytes: 1 << 28 });
    const table = HashTable.create(heap, now, { keyWords: 2 });
    for (let k = 0; k < 100_000; k++) table.insert(keyOf(k, 2), 0, k);
    const full = table.capacity;
    for (let k = 0; k < 99_990; k++) expect(table.delete(keyOf(k, 2), 0)).toBe(k);
    expect(table.capacity).toBeLessThanOrEqual(8192); // from 262,144 buckets
    expect(full).toBeGreaterThan(100_000);
    for (let k = 0; k < 100_000; k++) expect(table.lookup(keyOf(k, 2), 0)).toBe(k < 99_990 ? -1 : k);
  });

  it('reuses a tombstone once its grace period is over, so re-adding the same keys needs no rebuild', () => {
    const heap = SharedHeap.create();
    const table = HashTable.create(heap, now, { keyWords: 2 });
    for (let round = 0; round < 10_000; round++) {
      for (let k = 0; k < 10; k++) expect(table.insert(keyOf(k, 2), 0, round)).toBe(true);
      for (let k = 0; k < 10; k++) expect(table.delete(keyOf(k, 2), 0)).toBe(round);
    }
    expect(table.rebuildCount).toBe(0);
    expect(table.capacity).toBe(32);
  });

  it('does not reuse a tombstone whose grace period ends after the array was replaced', () => {
    const heap = SharedHeap.create();
    const pending: (() => void)[] = [];
    const table = HashTable.create(heap, { retire: (f) => pending.push(f) }, { keyWords: 1 });
    table.insert(keyOf(1, 1), 0, 1);
    table.insert(keyOf(2, 1), 0, 2);
    table.delete(keyOf(1, 1), 0); // pending[0]: tombstone becomes reusable
    table.rebuild(); // pending[1]: old array freed
    pending[1]();
    heap.alloc(2 + 32 * 3); // the freed array's memory is handed out again
    pending[0](); // must not write into memory the table no longer owns
    expect(table.lookup(keyOf(2, 1), 0)).toBe(2);
  });

  it('retires replaced bucket arrays through the reclaimer, not at once', () => {
    const heap = SharedHeap.create();
    const pending: (() => void)[] = [];
    const table = HashTable.create(heap, { retire: (f) => pending.push(f) }, { keyWords: 1, capacity: 20 });
    for (let k = 0; k < 20; k++) table.insert(keyOf(k, 1), 0, k);
    const before = heap.bytesInUse;
    table.rebuild();
    expect(pending.length).toBe(1);
    expect(heap.bytesInUse).toBeGreaterThan(before);
    pending[0]();
    expect(heap.bytesInUse).toBe(before);
  });

  it('destroy() retires the array and header through the reclaimer', () => {
    const heap = SharedHeap.create();
    const before = heap.bytesInUse;
    const pending: (() => void)[] = [];
    const table = HashTable.create(heap, { retire: (f) => pending.push(f) }, { keyWords: 3 });
    table.insert(keyOf(1, 3), 0, 1);
    table.destroy();
    expect(heap.bytesInUse).toBeGreaterThan(before);
    for (const f of pending) f();
    expect(heap.bytesInUse).toBe(before);
  });

  it('rejects bad arguments', () => {
    const heap = SharedHeap.create();
    expect(() => HashTable.create(heap, now, { keyWords: 0 })).toThrow(RangeError);
    const table = HashTable.create(heap, now, { keyWords: 1 });
    expect(() => table.insert(keyOf(1, 1), 0, -1)).toThrow(RangeError);
  });
});
