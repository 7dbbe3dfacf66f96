/**
 * Chained tables: a hash table maps a key to the first record of a singly linked chain of
 * arena records (through a `next` field in each record). Policies that share an address
 * pair, and states that share a `bydst` key, live in such chains.
 *
 * Concurrency contract (RCU list, one writer)
 * - Writes: the control thread. A record is filled, its `next` set, and only then linked,
 *   by an `Atomics.store` of its predecessor's `next` or by pointing the table at it
 *   (insert or replace, one atomic store each). Unlinking stores the predecessor's `next`
 *   (or re-points or deletes the table entry) and leaves the record's own `next` alone, so a
 *   reader standing on it walks on; the caller retires the record through the epoch domain.
 *   Substituting a record (an update) links its replacement in its place, then points the
 *   old record's `next` at the replacement: a reader standing on the old one, which may find
 *   it dead a moment later, walks on through the replacement instead of past it.
 * - Reads: any thread; `next` is read with `Atomics.load`.
 * - An optional `prev` field is the writer's alone (readers never look at it): it makes
 *   unlinking O(1) in chains that grow long, such as a `bydst` key with ten thousand SAs
 *   behind one policy.
 * - The first slot is the table's value, or (with `headWord`) word `headWord` of a block the
 *   table's value points at: a key that needs a block of its own anyway (the SAD's `bydst`
 *   keys, for their shadow generation) then costs one table entry, not two. The block is
 *   the caller's: it is made and put in the table before the key's first link, and taken
 *   out after its last unlink; the head is stored with `Atomics.store` like a `next`. With
 *   `keyField` too, the table has external keys and its entry's key is the head record's own
 *   words at `keyField`: the entry's key offset moves to each new head after the head is
 *   stored (a reader that pairs the entry with the old head's key compares equal words: the
 *   old head is retired no earlier than its unlink).
 */
import { type HashTable } from './hash-table.js';
import { type ArenaView } from './record-arena.js';
import { type HeapView } from './shared-heap.js';

/** Reader's walk: the slot after `slot` in a chain whose `next` is payload field `field`, or -1. */
export function chainNext(heap: HeapView, arena: ArenaView, slot: number, field: number): number {
  const p = arena.payload(slot);
  return Atomics.load(heap.i32, p + field) - 1;
}

/** The writer's operations on one kind of chain (one table, one `next` field). */
export class Chains {
  constructor(
    private readonly heap: HeapView,
    private readonly arena: ArenaView,
    readonly table: HashTable,
    private readonly field: number,
    private readonly prevField = -1,
    private readonly headWord = -1,
    private readonly keyField = -1,
  ) {}

  /** First slot of the key's chain, or -1. */
  head(key: Int32Array): number {
    const v = this.table.lookup(key, 0);
    return this.headWord < 0 || v < 0 ? v : Atomics.load(this.heap.i32, v + this.headWord) - 1;
  }

  /** The slot after `slot`, or -1. */
  next(slot: number): number {
    return chainNext(this.heap, this.arena, slot, this.field);
  }

  /** Link the filled record `slot` after `pred` (-1: at the head). */
  linkAfter(key: Int32Array, pred: number, slot: number): void {
    const head = this.head(key);
    const next = pred >= 0 ? this.next(pred) : head;
    this.setNext(slot, next);
    this.setPrev(slot, pred);
    if (next >= 0) this.setPrev(next, slot);
    if (pred >= 0) this.setNext(pred, slot);
    else this.setHead(key, head, slot);
  }

  /** Unlink `slot` from the key's chain (it must be there). The caller retires it. */
  unlink(key: Int32Array, slot: number): void {
    const pred = this.predecessor(key, slot);
    const next = this.next(slot);
    if (next >= 0) this.setPrev(next, pred);
    if (pred >= 0) this.setNext(pred, next);
    else this.setHead(key, slot, next);
  }

  /** Put the filled record `fresh` where `old` is in the key's chain. The caller retires `old` (after this). */
  substitute(key: Int32Array, old: number, fresh: number): void {
    const pred = this.predecessor(key, old);
    const next = this.next(old);
    this.setNext(fresh, next);
    this.setPrev(fresh, pred);
    if (next >= 0) this.setPrev(next, fresh);
    if (pred >= 0) this.setNext(pred, fresh);
    else this.setHead(key, old, fresh);
    this.setNext(old, fresh); // readers on `old` see what took its place (before the caller marks it dead)
  }

  /** Make `slot` (-1: none) the key's first, in place of `old` (-1: none). */
  private setHead(key: Int32Array, old: number, slot: number): void {
    if (this.headWord >= 0) {
      const block = this.table.lookup(key, 0);
      Atomics.store(this.heap.i32, block + this.headWord, slot + 1);
      if (this.keyField >= 0 && slot >= 0) this.table.replace(key, 0, block, this.arena.payload(slot) + this.keyField);
    } else if (slot < 0) this.table.delete(key, 0);
    else if (old >= 0) this.table.replace(key, 0, slot);
    else this.table.insert(key, 0, slot);
  }

  private predecessor(key: Int32Array, slot: number): number {
    if (this.prevField >= 0) return this.heap.i32[this.arena.payload(slot) + this.prevField] - 1;
    let pred = -1;
    for (let cur = this.head(key); cur !== slot; cur = this.next(cur)) {
      if (cur < 0) throw new Error(`record ${slot} is not in its chain`);
      pred = cur;
    }
    return pred;
  }

  private setNext(slot: number, next: number): void {
    Atomics.store(this.heap.i32, this.arena.payload(slot) + this.field, next + 1);
  }

  private setPrev(slot: number, prev: number): void {
    if (this.prevField >= 0) this.heap.i32[this.arena.payload(slot) + this.prevField] = prev + 1;
  }
}
