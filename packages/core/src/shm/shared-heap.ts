/**
 * The shared heap: one growable SharedArrayBuffer that every table, arena and epoch
 * domain of a dataplane is carved from, addressed by int32 word offsets.
 *
 * Concurrency contract
 * - Writes: the control thread only. It allocates, frees and grows. The allocator's
 *   bookkeeping (bump pointer, free lists) is private to that thread, not in shared memory.
 * - Reads: any thread that attached the heap's description. The buffer grows in place, so a
 *   worker never needs a new buffer, only longer views ({@link HeapView.cover}).
 * - Ordering: the heap publishes nothing by itself. A block becomes reachable only when a
 *   structure stores its offset with `Atomics.store` after filling it; the block was
 *   allocated (and the buffer grown) before that store, so a reader that loads the offset
 *   sees the bytes, and the length (the byteLength of a growable SharedArrayBuffer is read
 *   sequentially consistent).
 * - 64-bit fields (generations, identities, lifetime counters) are read and written through
 *   `u64` with `Atomics` (true 64-bit atomics: a value is never seen torn, and never passes
 *   through a double). Their word offset is even: blocks and record payloads are 8-byte
 *   aligned, and the index into `u64` is the word offset / 2.
 * - Freed blocks are poisoned (every word set to {@link POISON}) so that a reader that
 *   touches memory after its grace period is caught by tests, and secrets are wiped.
 */

import { loadNative } from '@xfrm/native';
import { IntStack } from './int-stack.js';

/** Freed blocks of this many words or more give their pages back (256 KiB). */
const DISCARD_WORDS = 1 << 16;

/** Word written over every freed block and record. A reader that sees it read freed memory. */
export const POISON = 0xdeadbeef | 0;

/** What a worker needs to rebuild the heap's views. Structured-clone safe. */
export interface SharedHeapDescription {
  readonly buffer: SharedArrayBuffer;
}

/** Options for {@link SharedHeap.create}. */
export interface SharedHeapOptions {
  /** Bytes committed at creation. Default 1 MiB. */
  initialBytes?: number;
  /** Bytes the heap may grow to (address space reserved up front). Default 1 GiB. */
  maxBytes?: number;
}

/**
 * Views over a heap; what a worker thread holds.
 *
 * The views have a fixed length, remapped when the heap has grown: on Node 20 a
 * length-tracking view over a growable SharedArrayBuffer is about 7x slower to index
 * (docs/PERFORMANCE.md). A reader that follows an offset it loaded from shared memory calls
 * {@link HeapView.cover} with the end of what it will read: the writer grew the buffer
 * before it published the offset, so one remap always suffices. Never keep `i32` or `u8`
 * across a call that may remap; re-read them from the view.
 */
export class HeapView {
  /** Word view of the heap; all offsets in this project index it. */
  i32: Int32Array;
  /** Byte view of the heap (packet bytes, keys). */
  u8: Uint8Array;
  /** 64-bit view of the heap: the field at (even) word offset `w` is `u64[w >> 1]`. */
  u64: BigUint64Array;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer, 0, buffer.byteLength >>> 2);
    this.u8 = new Uint8Array(buffer, 0, buffer.byteLength);
    this.u64 = new BigUint64Array(buffer, 0, buffer.byteLength >>> 3);
  }

  /** Rebuild the views of a heap from its description (in a worker). */
  static attach(desc: SharedHeapDescription): HeapView {
    return new HeapView(desc.buffer);
  }

  /** The description to post to a worker. */
  describe(): SharedHeapDescription {
    return { buffer: this.buffer };
  }

  /** The word view, remapped first if it ends before word `end` (the other views with it). */
  cover(end: number): Int32Array {
    if (end > this.i32.length) this.remap();
    return this.i32;
  }

  /** The 64-bit view, remapped first if it ends before word `end`. */
  cover64(end: number): BigUint64Array {
    if (end > this.i32.length) this.remap();
    return this.u64;
  }

  /** Rebuild the views at the buffer's current length. */
  protected remap(): void {
    const bytes = this.buffer.byteLength;
    this.i32 = new Int32Array(this.buffer, 0, bytes >>> 2);
    this.u8 = new Uint8Array(this.buffer, 0, bytes);
    this.u64 = new BigUint64Array(this.buffer, 0, bytes >>> 3);
  }
}

/** What a worker needs to attach to a structure in the heap: its header's word offset. */
export interface HeapObjectDescription {
  readonly offset: number;
}

/** A structure in the heap, named by the word offset of its header. */
export abstract class HeapObject<H extends HeapView = HeapView> {
  constructor(
    protected readonly heap: H,
    protected readonly base: number,
  ) {}

  /** The heap's current word view (re-read after anything that may remap it). */
  protected get i32(): Int32Array {
    return this.heap.i32;
  }

  /** The description to post to a worker. */
  describe(): HeapObjectDescription {
    return { offset: this.base };
  }
}

/**
 * The writer's side of the heap: a bump allocator with exact-size free lists.
 * Sizes are in 32-bit words; blocks are 8-byte aligned. Blocks of a size that was freed
 * before are reused first (bucket arrays and arena chunks come in few sizes).
 */
export class SharedHeap extends HeapView {
  private top = 2; // word 0..1 reserved so that offset 0 never names a block
  private readonly free = new Map<number, IntStack>();
  private used = 0;

  /** Create a heap. Throws RangeError when the sizes are not usable. */
  static create(opts: SharedHeapOptions = {}): SharedHeap {
    const initial = opts.initialBytes ?? 1 << 20;
    const max = opts.maxBytes ?? 1 << 30;
    if (!(initial >= 64 && max >= initial && max <= 2 ** 33 && initial % 8 === 0 && max % 8 === 0)) {
      throw new RangeError(`heap sizes out of range: initialBytes=${initial} maxBytes=${max}`);
    }
    return new SharedHeap(new SharedArrayBuffer(initial, { maxByteLength: max }));
  }

  /** Allocate `words` zeroed words; returns the word offset. Throws RangeError when full. */
  alloc(words: number): number {
    const size = roundWords(words);
    let off = this.free.get(size)?.pop() ?? -1;
    if (off >= 0) {
      this.i32.fill(0, off, off + size);
    } else {
      off = this.top;
      this.ensure((off + size) * 4);
      this.top = off + size;
    }
    this.used += size;
    return off;
  }

  /**
   * Return a block to the heap. The caller guarantees no reader can still reach it. The block
   * stays on a free list for its size; a large one (a bucket array a table outgrew or shrank
   * from) also gives its whole pages back to the kernel where the addon is loaded (they read
   * as zero, not poison, until reused).
   */
  release(off: number, words: number): void {
    const size = roundWords(words);
    this.i32.fill(POISON, off, off + size);
    if (size >= DISCARD_WORDS) loadNative()?.discard(this.u8, off, size);
    let list = this.free.get(size);
    if (list === undefined) this.free.set(size, (list = new IntStack()));
    list.push(off);
    this.used -= size;
  }

  /** A retired block's grace period is over (Freer: `words` at `off`). */
  freeRetired(off: number, words: number): void {
    this.release(off, words);
  }

  /** Bytes in live blocks. */
  get bytesInUse(): number {
    return this.used * 4;
  }

  /** Bytes below the bump pointer: the most the heap has ever handed out at once, free lists included. */
  get highWater(): number {
    return this.top * 4;
  }

  /** Bytes committed (the buffer's current length). */
  get bytesCommitted(): number {
    return this.buffer.byteLength;
  }

  private ensure(bytes: number): void {
    const buf = this.buffer;
    if (bytes <= buf.byteLength) return;
    if (bytes > buf.maxByteLength) {
      throw new RangeError(`shared heap exhausted: need ${bytes} bytes, limit ${buf.maxByteLength}`);
    }
    // Grow geometrically so that growth is rare; page-rounded.
    const want = Math.ceil(Math.max(bytes, buf.byteLength * 2) / 4096) * 4096;
    buf.grow(Math.min(buf.maxByteLength, want));
    this.remap();
  }
}

function roundWords(words: number): number {
  if (!(Number.isInteger(words) && words > 0)) throw new RangeError(`bad block size: ${words} words`);
  return (words + 1) & ~1;
}
