/**
 * A min-heap of (time, key) deadlines for the control thread's timers (SA lifetimes), so a
 * tick costs O(log n) per due deadline instead of a walk over every SA. Entries are never
 * removed early: a consumer checks that a due key still means what it did (lazy deletion).
 * Keys are small integers (SA numbers) and the heap is two typed arrays, so a million SAs
 * with time limits cost 24 bytes a deadline and no JS object.
 *
 * Not shared: only the control thread touches it.
 */
import { pageArray } from '../shm/page-array.js';

const MIN = 16;

/** Deadlines ordered by time. */
export class DeadlineQueue {
  private times = new Float64Array(MIN);
  private keys = new Int32Array(MIN);
  private count = 0;

  /** Deadlines queued (including stale ones not yet popped). */
  get size(): number {
    return this.count;
  }

  /** Queue `key` (an int32) for time `at` (ms). Infinity is ignored. */
  push(at: number, key: number): void {
    if (at === Infinity) return;
    if (this.count === this.times.length) this.resize(this.count * 2);
    let i = this.count++;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.times[parent] <= at) break;
      this.times[i] = this.times[parent];
      this.keys[i] = this.keys[parent];
      i = parent;
    }
    this.times[i] = at;
    this.keys[i] = key;
  }

  /** Remove and return the keys due at or before `now`, earliest first. */
  popDue(now: number): number[] {
    const due: number[] = [];
    const { times, keys } = this;
    while (this.count > 0 && times[0] <= now) {
      due.push(keys[0]);
      const n = --this.count;
      const lastTime = times[n];
      const lastKey = keys[n];
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const c = l + 1 < n && times[l + 1] < times[l] ? l + 1 : l;
        if (times[c] >= lastTime) break;
        times[i] = times[c];
        keys[i] = keys[c];
        i = c;
      }
      times[i] = lastTime;
      keys[i] = lastKey;
    }
    if (this.count * 4 < this.times.length && this.times.length > MIN) this.resize(this.times.length / 2);
    return due;
  }

  private resize(length: number): void {
    const times = pageArray(Float64Array, length);
    const keys = pageArray(Int32Array, length);
    times.set(this.times.subarray(0, this.count));
    keys.set(this.keys.subarray(0, this.count));
    this.times = times;
    this.keys = keys;
  }
}
