/**
 * The control thread's own part of each SA, as columns of typed arrays indexed by the SA's
 * number (a small integer, given when the SA is added, kept by updates, reused after it is
 * deleted): what no reader needs (its record slot and identity, lifetime times, and its
 * settings: time limits and the counters it was configured with, interned, since most SAs
 * share them). One SA costs 33 bytes here instead of a JS object graph (State, addresses, key
 * copy, map entries: about 1.5 KB per SA before).
 *
 * Not shared: only the control thread reads or writes these arrays, so no ordering applies.
 */
import { IntStack } from '../shm/int-stack.js';
import { pageArray } from '../shm/page-array.js';
import { TupleInterner } from './tuple-interner.js';

/** Initial columns; each doubles when full. */
const INITIAL = 64;
/** A settings tuple: four time limits, four configured counters. */
export const SETTING_WORDS = 8;
/** Where the configured counters start in a settings tuple. */
export const SETTING_REPLAY = 4;

/** The SAs' control-side columns. */
export class StateRows {
  /** The SA's current record slot; -1 for a free number. */
  slot!: Int32Array;
  /** The SA's identity (State.serial, u64). */
  serial!: BigUint64Array;
  /**
   * The SA's settings, an id in {@link settings}: time limits in seconds (softAdd, hardAdd,
   * softUse, hardUse), then the counters as configured (replay-seq, -seq-hi, -oseq, -oseq-hi).
   */
  setting!: Int32Array;
  /** The distinct settings tuples (SETTING_WORDS numbers each). */
  readonly settings = new TupleInterner(SETTING_WORDS);
  /** When the SA was added and first used (ms since the epoch; 0 before its first use). */
  addTime!: Float64Array;
  useTime!: Float64Array;
  /** 1 once the SA's soft expiry has been announced. */
  softFired!: Uint8Array;
  private free!: IntStack;
  /** Numbers ever given (the high-water mark: numbers below it are live or free). */
  private used = 0;
  /** SAs live now. */
  live = 0;

  constructor() {
    this.init();
  }

  /** The highest number given so far plus one (iterate 0..end and skip free rows). */
  get end(): number {
    return this.used;
  }

  /** Take a number for a new SA (its row zeroed, but for `slot`, which the caller sets). */
  alloc(): number {
    let n: number;
    if (this.free.size > 0) {
      n = this.free.pop();
    } else {
      if (this.used === this.slot.length) this.grow();
      n = this.used++;
    }
    this.serial[n] = 0n;
    this.setting[n] = 0;
    this.addTime[n] = 0;
    this.useTime[n] = 0;
    this.softFired[n] = 0;
    this.live++;
    return n;
  }

  /** Give SA `n` these settings (SETTING_WORDS numbers), in place of its old ones. */
  setSettings(n: number, tuple: readonly number[]): void {
    const id = this.settings.intern(tuple);
    this.settings.release(this.setting[n]);
    this.setting[n] = id;
  }

  /** Where SA `n`'s settings start in `settings.values`. */
  settingsAt(n: number): number {
    return this.setting[n] * SETTING_WORDS;
  }

  /** Give a number back. */
  release(n: number): void {
    this.settings.release(this.setting[n]);
    this.slot[n] = -1;
    this.serial[n] = 0n;
    this.free.push(n);
    this.live--; // the columns keep their size: a flush is usually followed by a refill
  }

  private init(): void {
    this.slot = new Int32Array(INITIAL).fill(-1);
    this.serial = new BigUint64Array(INITIAL);
    this.setting = new Int32Array(INITIAL);
    this.addTime = new Float64Array(INITIAL);
    this.useTime = new Float64Array(INITIAL);
    this.softFired = new Uint8Array(INITIAL);
    this.free = new IntStack();
    this.used = 0;
  }

  private grow(): void {
    const n = this.slot.length * 2;
    const slot = grown(this.slot, n);
    slot.fill(-1, this.slot.length);
    this.slot = slot;
    this.serial = grown(this.serial, n);
    this.setting = grown(this.setting, n);
    this.addTime = grown(this.addTime, n);
    this.useTime = grown(this.useTime, n);
    this.softFired = grown(this.softFired, n);
  }
}

type Column = Int32Array | Float64Array | Uint8Array | BigUint64Array;

/** A copy of `a`, `length` long. */
function grown<T extends Column>(a: T, length: number): T {
  const out = pageArray(a.constructor as unknown as Parameters<typeof pageArray<T>>[0], length);
  out.set(a as never);
  return out;
}
