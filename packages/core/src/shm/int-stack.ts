/**
 * A stack of int32s in one typed array that doubles when full and halves when it is mostly
 * empty: the free lists of the heap, of arenas and of SA numbers. A free list of a million
 * entries as a JS array of numbers sat in the JS heap (8 bytes each, never given back); here
 * it is 4 bytes each, outside it, and shrinks after a flush's entries are reused.
 *
 * Not shared: only its owner (the control thread) touches it.
 */
import { pageArray } from './page-array.js';

const MIN = 16;

/** A growable, shrinkable stack of int32s. */
export class IntStack {
  private items = new Int32Array(MIN);
  private count = 0;

  /** Entries on the stack. */
  get size(): number {
    return this.count;
  }

  push(v: number): void {
    if (this.count === this.items.length) this.resize(this.items.length * 2);
    this.items[this.count++] = v;
  }

  /** The top entry, removed; -1 when empty (entries are never negative). */
  pop(): number {
    if (this.count === 0) return -1;
    const v = this.items[--this.count];
    if (this.count * 4 < this.items.length && this.items.length > MIN) this.resize(this.items.length / 2);
    return v;
  }

  private resize(length: number): void {
    const items = pageArray(Int32Array, length);
    items.set(this.items.subarray(0, this.count));
    this.items = items;
  }
}
