/**
 * A min-heap of (time, key) deadlines for the control thread's timers (SA lifetimes), so a
 * tick costs O(log n) per due deadline instead of a walk over every SA. Entries are never
 * removed early: a consumer checks that a due key still means what it did (lazy deletion).
 */

/** Deadlines ordered by time. */
export class DeadlineQueue<K> {
  private readonly times: number[] = [];
  private readonly keys: K[] = [];

  /** Deadlines queued (including stale ones not yet popped). */
  get size(): number {
    return this.times.length;
  }

  /** Queue `key` for time `at` (ms). Infinity is ignored. */
  push(at: number, key: K): void {
    if (at === Infinity) return;
    let i = this.times.length;
    this.times.push(at);
    this.keys.push(key);
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (this.times[parent] <= at) break;
      this.move(parent, i);
      i = parent;
    }
    this.times[i] = at;
    this.keys[i] = key;
  }

  /** Remove and return the keys due at or before `now`, earliest first. */
  popDue(now: number): K[] {
    const due: K[] = [];
    while (this.times.length > 0 && this.times[0] <= now) {
      due.push(this.keys[0]);
      const lastTime = this.times.pop()!;
      const lastKey = this.keys.pop()!;
      if (this.times.length === 0) break;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= this.times.length) break;
        const c = l + 1 < this.times.length && this.times[l + 1] < this.times[l] ? l + 1 : l;
        if (this.times[c] >= lastTime) break;
        this.move(c, i);
        i = c;
      }
      this.times[i] = lastTime;
      this.keys[i] = lastKey;
    }
    return due;
  }

  private move(from: number, to: number): void {
    this.times[to] = this.times[from];
    this.keys[to] = this.keys[from];
  }
}
