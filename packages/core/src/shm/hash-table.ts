/**
 * An open-addressing hash table in shared memory: fixed-width keys (int32 words) mapping to
 * record slot numbers. One writer, any number of lock-free readers.
 *
 * Shared layout (int32 words):
 *   header:       [bucketArray, keyWords, seed, external]
 *   bucket array: [capacity, 0, bucket[capacity]...]
 *   bucket:       [ref, hash, key[keyWords]...], or with `external` keys [ref, hash, keyAt]:
 *                 the key is the keyWords words at heap offset keyAt, inside what the entry
 *                 names (a record, a block), immutable while the entry lives, so a table of
 *                 large keys costs 12 bytes a bucket and no copy of them
 *   ref: 0 empty, slot + 1 live, -1 tombstone, -2 tombstone past its grace period (reusable)
 * Linear probing from `hash & (capacity - 1)`.
 *
 * Concurrency contract
 * - Writes: the control thread only (insert, delete, rebuild).
 * - Reads: any thread; a lookup takes no lock, never waits and never retries.
 * - Publication: insert fills `hash` and `key` of an empty bucket, then sets `ref` with one
 *   `Atomics.store`; a reader that loads a live ref therefore sees the whole key. Delete
 *   stores a tombstone and retires it through the reclaimer; only after that grace period
 *   may insert reuse the bucket, so no reader can be comparing the old key while the new
 *   one is written. (Reusing tombstones keeps probe chains short when the same keys are
 *   deleted and added again and again, as in Jamal's test.)
 * - Growth and tombstone clean-up build a complete new array, switch readers with one
 *   `Atomics.store` of the header's `bucketArray` word, and retire the old array through the
 *   reclaimer (QSBR): a reader still walking it finds it intact until its next quiescent
 *   report.
 * - A reader that needs the record must use it before its next quiescent report; the record
 *   slot is retired by the caller of {@link HashTable.delete} the same way.
 */
import { retireWith, type Reclaimer } from './epoch.js';
import { randomSeed, xxh32Words } from './hash.js';
import { HeapObject, type HeapObjectDescription, type HeapView, type SharedHeap } from './shared-heap.js';

/** What a worker needs to attach to a table. */
export type HashTableDescription = HeapObjectDescription;

/** Options for {@link HashTable.create}. */
export interface HashTableOptions {
  /** Key width in int32 words (an IPv6 5-tuple packs into 10). */
  keyWords: number;
  /**
   * Keys live outside the table: each insert names the heap offset of its key's words, which
   * stay put and unchanged while the entry lives (retired no earlier than the entry).
   */
  external?: boolean;
  /** Entries expected; sizes the first bucket array. Default 16. */
  capacity?: number;
  /** Hash seed; random per table when not given (tests may fix it). */
  seed?: number;
}

const EMPTY = 0;
const TOMB = -1;
const REUSABLE = -2;
const H_ARRAY = 0;
const H_KEYWORDS = 1;
const H_SEED = 2;
const H_EXTERNAL = 3;
const HEADER_WORDS = 4;
/**
 * Rebuild when live entries plus tombstones pass this share of the buckets. 4/5 rather than
 * 3/4: 100,000 SAs fit 131,072 buckets instead of 262,144 (16 B a state per table, not 31),
 * for a miss that probes ~9 buckets instead of ~5 at that load (`bench/byspi-at-load.mjs`:
 * a byspi miss 60 -> 100 ns at 100k, hits within the noise).
 */
const MAX_LOAD = 0.8;
/** A rebuilt array holds live entries at no more than this load. */
const TARGET_LOAD = 0.5;
/** The smallest bucket array. */
const MIN_CAPACITY = 16;
/** Bucket arrays larger than this shrink when mostly empty. */
const SHRINK_ABOVE = 4096;

/** A reader's view of a table: lookups only. */
export class HashTableView extends HeapObject {
  /** Key width in int32 words. */
  readonly keyWords: number;
  /** Keys are outside the table (bucket: ref, hash, key offset). */
  readonly external: boolean;
  protected readonly stride: number;
  protected readonly seed: number;

  constructor(heap: HeapView, base: number) {
    super(heap, base);
    const i32 = heap.cover(base + HEADER_WORDS);
    this.keyWords = i32[base + H_KEYWORDS];
    this.external = i32[base + H_EXTERNAL] !== 0;
    this.stride = this.external ? 3 : this.keyWords + 2;
    this.seed = i32[base + H_SEED];
  }

  /** Rebuild a table view from its description (in a worker). */
  static attach(heap: HeapView, desc: HashTableDescription): HashTableView {
    return new HashTableView(heap, desc.offset);
  }

  /** The table's hash of a key (`keyWords` words of `key` from `off`). */
  hash(key: Int32Array, off: number): number {
    return xxh32Words(key, off, this.keyWords, this.seed) | 0;
  }

  /** The slot stored for the key in `key[off .. off + keyWords)`, or -1. */
  lookup(key: Int32Array, off: number): number {
    const arr = Atomics.load(this.heap.cover(this.base + HEADER_WORDS), this.base + H_ARRAY);
    return probe(this.heap, arr, key, off, this.hash(key, off), this.keyWords, this.external) - 1;
  }

  /**
   * Look a key up in the table whose header is at `base`, without a view object (for
   * structures that hold many tables, such as the policy groups).
   */
  static lookupIn(heap: HeapView, base: number, key: Int32Array, off: number): number {
    const i32 = heap.cover(base + HEADER_WORDS); // a table made after this reader's view
    const keyWords = i32[base + H_KEYWORDS];
    const h = xxh32Words(key, off, keyWords, i32[base + H_SEED]) | 0;
    return probe(heap, Atomics.load(i32, base + H_ARRAY), key, off, h, keyWords, i32[base + H_EXTERNAL] !== 0) - 1;
  }
}

/** Bucket offset of the last successful {@link probe} (this thread's; used by the writer). */
let probed = -1;

/**
 * The ref (slot + 1) of the key's live bucket in bucket array `arr`, or 0; the bucket's word
 * offset is left in `probed`. The ref is the value loaded once: re-reading the bucket could
 * see a tombstone stored since.
 */
function probe(heap: HeapView, arr: number, key: Int32Array, off: number, h: number, kw: number, external: boolean): number {
  const stride = external ? 3 : kw + 2;
  const cap = heap.cover(arr + 2)[arr];
  const i32 = heap.cover(arr + 2 + cap * stride);
  const mask = cap - 1;
  let i = h & mask;
  for (let n = 0; n < cap; n++, i = (i + 1) & mask) {
    const b = arr + 2 + i * stride;
    const ref = Atomics.load(i32, b);
    if (ref === EMPTY) return 0;
    if (ref < 0 || i32[b + 1] !== h) continue; // tombstone (or, in broken tests, poison)
    let k = 0;
    if (external) {
      const at = i32[b + 2];
      const keys = heap.cover(at + kw); // what the entry names was allocated before it was published
      while (k < kw && keys[at + k] === key[off + k]) k++;
    } else {
      while (k < kw && i32[b + 2 + k] === key[off + k]) k++;
    }
    if (k === kw) {
      probed = b;
      return ref;
    }
  }
  return 0;
}

/** The control thread's side of a table. */
export class HashTable extends HashTableView {
  protected declare readonly heap: SharedHeap;
  private live = 0;
  private tombs = 0;
  private rebuilds = 0;

  private constructor(
    heap: SharedHeap,
    base: number,
    private readonly reclaimer: Reclaimer,
  ) {
    super(heap, base);
  }

  /** Create a table whose retired bucket arrays are freed through `reclaimer`. */
  static create(heap: SharedHeap, reclaimer: Reclaimer, opts: HashTableOptions): HashTable {
    if (!(Number.isInteger(opts.keyWords) && opts.keyWords >= 1 && opts.keyWords <= 64)) {
      throw new RangeError(`keyWords must be 1..64, got ${opts.keyWords}`);
    }
    const base = heap.alloc(HEADER_WORDS);
    heap.i32[base + H_KEYWORDS] = opts.keyWords;
    heap.i32[base + H_SEED] = opts.seed ?? randomSeed();
    heap.i32[base + H_EXTERNAL] = opts.external ? 1 : 0;
    const table = new HashTable(heap, base, reclaimer);
    Atomics.store(heap.i32, base + H_ARRAY, table.newArray(capacityFor(opts.capacity ?? 16)));
    return table;
  }

  /** Live entries. */
  get size(): number {
    return this.live;
  }

  /** Buckets in the current array. */
  get capacity(): number {
    return this.i32[this.array()];
  }

  /** How many times the bucket array was replaced. */
  get rebuildCount(): number {
    return this.rebuilds;
  }

  /** Heap bytes held by the current bucket array and header. */
  get bytes(): number {
    return (HEADER_WORDS + 2 + this.capacity * this.stride) * 4;
  }

  /**
   * Map the key to `slot`. Returns false (and changes nothing) if the key is present. An
   * `external` table takes `keyAt`, where the same key words are in the heap.
   */
  insert(key: Int32Array, off: number, slot: number, keyAt = -1): boolean {
    if (!(Number.isInteger(slot) && slot >= 0 && slot < 0x7fffffff)) throw new RangeError(`bad slot ${slot}`);
    if (this.external !== keyAt >= 0) throw new RangeError(this.external ? 'an external-key table needs the key offset' : 'keyAt is for external-key tables');
    const h = this.hash(key, off);
    if (probe(this.heap, this.array(), key, off, h, this.keyWords, this.external) !== 0) return false;
    if (this.live + this.tombs + 1 > this.capacity * MAX_LOAD) this.rebuild(this.live + 1);
    this.place(this.array(), h, key, off, slot + 1, keyAt);
    this.live++;
    return true;
  }

  /** Remove the key; returns the slot it mapped to, or -1. The caller retires the slot. */
  delete(key: Int32Array, off: number): number {
    const ref = probe(this.heap, this.array(), key, off, this.hash(key, off), this.keyWords, this.external);
    if (ref === 0) return -1;
    const b = probed;
    Atomics.store(this.i32, b, TOMB);
    this.live--;
    this.tombs++;
    retireWith(this.reclaimer, this, b, this.rebuilds);
    // Mass deletes (a flush) give the bucket array back: below 1/8 full, rebuild at half load.
    // Small tables keep their size (churn on a few keys reuses tombstones instead).
    if (this.live * 8 < this.capacity && this.capacity > SHRINK_ABOVE) this.rebuild(this.live);
    return ref - 1;
  }

  /** A tombstone's grace period is over (Freer): reusable, unless its array was rebuilt since. */
  freeRetired(bucket: number, generation: number): void {
    if (generation === this.rebuilds) Atomics.store(this.i32, bucket, REUSABLE);
  }

  /**
   * Point a present key at another slot with one atomic store (readers see the old or the
   * new slot, never neither). Returns the old slot, or -1 if the key is absent. The caller
   * retires the old slot if it is gone. An `external` table takes the new slot's `keyAt`
   * (stored first: a reader that pairs it with the old slot compares the same key).
   */
  replace(key: Int32Array, off: number, slot: number, keyAt = -1): number {
    if (!(Number.isInteger(slot) && slot >= 0 && slot < 0x7fffffff)) throw new RangeError(`bad slot ${slot}`);
    if (this.external !== keyAt >= 0) throw new RangeError(this.external ? 'an external-key table needs the key offset' : 'keyAt is for external-key tables');
    const ref = probe(this.heap, this.array(), key, off, this.hash(key, off), this.keyWords, this.external);
    if (ref === 0) return -1;
    if (this.external) Atomics.store(this.i32, probed + 2, keyAt);
    Atomics.store(this.i32, probed, slot + 1);
    return ref - 1;
  }

  /** Retire the whole table (bucket array and header); it must be unreachable already. */
  destroy(): void {
    const arr = this.array();
    const words = 2 + this.i32[arr] * this.stride;
    const base = this.base;
    this.reclaimer.retire(() => {
      this.heap.release(arr, words);
      this.heap.release(base, HEADER_WORDS);
    });
  }

  /** Call `fn(slot, keyOffset)` for each live entry; keys are read from the heap's i32. */
  forEach(fn: (slot: number, keyOffset: number) => void): void {
    const arr = this.array();
    const cap = this.i32[arr];
    for (let i = 0; i < cap; i++) {
      const b = arr + 2 + i * this.stride;
      const ref = this.i32[b];
      if (ref > 0) fn(ref - 1, this.external ? this.i32[b + 2] : b + 2);
    }
  }

  /** Drop every entry at once (readers switch to an empty array). The caller retires slots. */
  clear(): void {
    this.swap(this.newArray(capacityFor(0)));
    this.live = 0;
  }

  /**
   * Copy the live entries into a fresh array sized for `expected` entries, switch readers to
   * it with one atomic store, and retire the old array. Drops all tombstones.
   */
  rebuild(expected = this.live): void {
    const old = this.array();
    const next = this.newArray(capacityFor(Math.max(expected, this.live)));
    const cap = this.i32[old];
    for (let i = 0; i < cap; i++) {
      const b = old + 2 + i * this.stride;
      const ref = this.i32[b];
      if (ref > 0) this.place(next, this.i32[b + 1], this.i32, b + 2, ref, this.external ? this.i32[b + 2] : -1);
    }
    this.swap(next);
  }

  private array(): number {
    return this.i32[this.base + H_ARRAY];
  }

  private swap(next: number): void {
    const old = this.array();
    const words = 2 + this.i32[old] * this.stride;
    Atomics.store(this.i32, this.base + H_ARRAY, next);
    this.tombs = 0;
    this.rebuilds++;
    retireWith(this.reclaimer, this.heap, old, words);
  }

  private newArray(cap: number): number {
    const arr = this.heap.alloc(2 + cap * this.stride);
    this.i32[arr] = cap;
    return arr;
  }

  /** Fill the first empty or reusable bucket on the probe path, publishing `ref` last. */
  private place(arr: number, h: number, key: Int32Array, off: number, ref: number, keyAt: number): void {
    const i32 = this.i32;
    const mask = i32[arr] - 1;
    let i = h & mask;
    let b = arr + 2 + i * this.stride;
    while (i32[b] !== EMPTY && i32[b] !== REUSABLE) {
      i = (i + 1) & mask;
      b = arr + 2 + i * this.stride;
    }
    if (i32[b] === REUSABLE) this.tombs--;
    i32[b + 1] = h;
    if (this.external) i32[b + 2] = keyAt;
    else for (let k = 0; k < this.keyWords; k++) i32[b + 2 + k] = key[off + k];
    Atomics.store(i32, b, ref);
  }
}

function capacityFor(entries: number): number {
  let cap = MIN_CAPACITY;
  while (cap * TARGET_LOAD < entries) cap *= 2;
  return cap;
}
