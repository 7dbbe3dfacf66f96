import { describe, expect, it } from 'vitest';
import { ArenaView, POISON, RecordArena, SharedHeap, type Reclaimer } from '@xfrm/core';

function arena(capacity = 100, chunkRecords = 8) {
  const heap = SharedHeap.create();
  return { heap, arena: RecordArena.create(heap, { recordWords: 3, capacity, chunkRecords }) };
}

describe('RecordArena', () => {
  it('gives live slots odd versions and moves the version on free and reuse', () => {
    const { arena: a } = arena();
    const s = a.alloc();
    const v1 = a.version(s);
    expect(v1 & 1).toBe(1);
    a.free(s);
    expect(a.version(s) & 1).toBe(0);
    expect(a.isCurrent(s, v1)).toBe(false);
    const again = a.alloc();
    expect(again).toBe(s); // reused from the free list
    expect(a.version(s)).toBe(v1 + 2);
    expect(a.isCurrent(s, v1)).toBe(false); // a stale reference is detectable
  });

  it('poisons a freed payload and zeroes it on reuse', () => {
    const { heap, arena: a } = arena();
    const s = a.alloc();
    const p = a.payload(s);
    heap.i32.set([1, 2, 3], p);
    a.free(s);
    expect(Array.from(heap.i32.subarray(p, p + 3))).toEqual([POISON, POISON, POISON]);
    a.alloc();
    expect(Array.from(heap.i32.subarray(p, p + 3))).toEqual([0, 0, 0]);
  });

  it('adds chunks as it fills, keeps records apart, and stops at capacity', () => {
    const { heap, arena: a } = arena(20, 8);
    const slots = Array.from({ length: 20 }, () => a.alloc());
    const payloads = new Set(slots.map((s) => a.payload(s)));
    expect(payloads.size).toBe(20);
    for (const s of slots) heap.i32.fill(s, a.payload(s), a.payload(s) + 3);
    for (const s of slots) expect(heap.i32[a.payload(s) + 2]).toBe(s);
    expect(() => a.alloc()).toThrow(/full/);
    expect(a.live).toBe(20);
  });

  it('refuses a double free', () => {
    const { arena: a } = arena();
    const s = a.alloc();
    a.free(s);
    expect(() => a.free(s)).toThrow(/double free/);
  });

  it('retire defers the free to the reclaimer', () => {
    const { arena: a } = arena();
    const s = a.alloc();
    const pending: (() => void)[] = [];
    const later: Reclaimer = { retire: (f) => pending.push(f) };
    a.retire(s, later);
    expect(a.version(s) & 1).toBe(1);
    pending[0]();
    expect(a.version(s) & 1).toBe(0);
  });

  it('a view attached from the description sees the same records', () => {
    const { heap, arena: a } = arena();
    const s = a.alloc();
    heap.i32[a.payload(s)] = 99;
    const view = ArenaView.attach(heap, a.describe());
    expect(heap.i32[view.payload(s)]).toBe(99);
    expect(view.version(s)).toBe(a.version(s));
  });
});
