/**
 * Interned, reference-counted tuples of numbers: many SAs share a few sets of settings (the
 * time limits a key manager gives every SA, with a little jitter; counters that start at 0),
 * so a row holds a 4-byte id instead of the tuple. Id 0 is the all-zero tuple, always there.
 *
 * Not shared: only the control thread touches it.
 */
import { IntStack } from '../shm/int-stack.js';

/** A table of distinct `width`-number tuples, by id. */
export class TupleInterner {
  /** Tuple `id` is values[id * width .. (id + 1) * width). */
  values: Float64Array;
  private refs: Int32Array;
  private readonly ids = new Map<string, number>();
  private readonly freeIds = new IntStack();
  private next = 1;

  constructor(readonly width: number) {
    this.values = new Float64Array(width * 16);
    this.refs = new Int32Array(16);
    this.ids.set(new Array<number>(width).fill(0).join(','), 0);
  }

  /** Distinct tuples held (the zero tuple included). */
  get size(): number {
    return this.ids.size;
  }

  /** The id of `tuple`, its reference count raised (the zero tuple is not counted). */
  intern(tuple: readonly number[]): number {
    const name = tuple.join(',');
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.freeIds.size > 0 ? this.freeIds.pop() : this.next++;
      if (id >= this.refs.length) this.grow();
      this.values.set(tuple, id * this.width);
      this.ids.set(name, id);
    }
    if (id !== 0) this.refs[id]++;
    return id;
  }

  /** Drop a reference taken by {@link intern}; the tuple goes with its last one. */
  release(id: number): void {
    if (id === 0 || --this.refs[id] > 0) return;
    this.ids.delete(Array.from(this.values.subarray(id * this.width, (id + 1) * this.width)).join(','));
    this.freeIds.push(id);
  }

  private grow(): void {
    const refs = new Int32Array(this.refs.length * 2);
    refs.set(this.refs);
    const values = new Float64Array(refs.length * this.width);
    values.set(this.values);
    this.refs = refs;
    this.values = values;
  }
}
