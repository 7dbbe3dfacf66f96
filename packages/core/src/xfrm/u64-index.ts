/**
 * u64 keys to small numbers, for the control thread: SA identities (serials) to SA numbers,
 * where a lifetime notice from the packet path finds its SA, and policy indexes to record
 * slots. An open-addressing table in one Int32Array (three words a bucket: key low, key high,
 * value + 1), linear probing, deletion by backward shift (no tombstones), so a million
 * entries cost 24 bytes each at most and no JS object. A key is split into two words, never
 * made a double.
 *
 * Not shared: only the control thread touches it.
 */
import { pageArray } from '../shm/page-array.js';

const B = 3;
const MIN_BUCKETS = 64;

/** A map from u64 keys to numbers 0..2^31-2. */
export class U64Index {
  private buckets = new Int32Array(MIN_BUCKETS * B);
  private mask = MIN_BUCKETS - 1;
  private count = 0;

  /** Entries. */
  get size(): number {
    return this.count;
  }

  /** The number recorded for `key`, or -1. */
  get(key: bigint): number {
    const lo = Number(key & 0xffffffffn) | 0;
    const hi = Number(key >> 32n) | 0;
    const b = this.buckets;
    for (let i = hash(lo, hi) & this.mask; ; i = (i + 1) & this.mask) {
      const v = b[i * B + 2];
      if (v === 0) return -1;
      if (b[i * B] === lo && b[i * B + 1] === hi) return v - 1;
    }
  }

  /** Record `key` -> `n` (a key not in the index). */
  set(key: bigint, n: number): void {
    if ((this.count + 1) * 2 > this.mask + 1) this.resize((this.mask + 1) * 2);
    this.put(Number(key & 0xffffffffn) | 0, Number(key >> 32n) | 0, n + 1);
    this.count++;
  }

  /** Forget `key`; true if it was there. */
  delete(key: bigint): boolean {
    const lo = Number(key & 0xffffffffn) | 0;
    const hi = Number(key >> 32n) | 0;
    const b = this.buckets;
    const mask = this.mask;
    let i = hash(lo, hi) & mask;
    for (; ; i = (i + 1) & mask) {
      if (b[i * B + 2] === 0) return false;
      if (b[i * B] === lo && b[i * B + 1] === hi) break;
    }
    // Backward shift: move later entries of the run into the hole when their home allows it.
    for (let j = (i + 1) & mask; b[j * B + 2] !== 0; j = (j + 1) & mask) {
      const home = hash(b[j * B], b[j * B + 1]) & mask;
      // j's entry may fill the hole at i unless its home lies cyclically in (i, j].
      if (((j - home) & mask) >= ((j - i) & mask)) {
        b.copyWithin(i * B, j * B, j * B + B);
        i = j;
      }
    }
    b.fill(0, i * B, i * B + B);
    this.count--;
    if (this.count * 8 < this.mask + 1 && this.mask + 1 > MIN_BUCKETS) this.resize((this.mask + 1) / 2);
    return true;
  }

  /** Call `fn` with every value (in no particular order). */
  forEach(fn: (value: number) => void): void {
    const b = this.buckets;
    for (let i = 2; i < b.length; i += B) if (b[i] !== 0) fn(b[i] - 1);
  }

  private put(lo: number, hi: number, v: number): void {
    const b = this.buckets;
    let i = hash(lo, hi) & this.mask;
    while (b[i * B + 2] !== 0) i = (i + 1) & this.mask;
    b[i * B] = lo;
    b[i * B + 1] = hi;
    b[i * B + 2] = v;
  }

  private resize(buckets: number): void {
    const old = this.buckets;
    this.buckets = pageArray(Int32Array, buckets * B);
    this.mask = buckets - 1;
    for (let i = 0; i < old.length; i += B) if (old[i + 2] !== 0) this.put(old[i], old[i + 1], old[i + 2]);
  }
}

function hash(lo: number, hi: number): number {
  return Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 7;
}
