/**
 * A record arena: fixed-size record slots in the shared heap, named by a slot number.
 * Tables map keys to slot numbers; records hold what the slot describes (a state, a policy).
 *
 * Shared layout (int32 words):
 *   header: [strideWords, chunkShift, maxChunks, capacity, chunkDirectory[maxChunks]...]
 *   slot:   [-, version, payload[recordWords]...] inside chunk `slot >>> chunkShift`; the
 *           stride is even, so every payload is 8-byte aligned (its even fields can be 64-bit)
 * Chunks are added as the arena fills, so a large capacity costs nothing until used.
 *
 * Concurrency contract
 * - Writes: the control thread allocates, fills, frees and retires slots; it owns the free
 *   list (private, not shared). A reader may write only payload fields that a record layout
 *   defines as atomic counters, and only with `Atomics`.
 * - Reads: any thread, with no lock. A slot number reaches a reader only through a table
 *   entry published with `Atomics.store` after the record was filled, and a new chunk's
 *   directory entry is stored before any slot in it is handed out, so the reader sees both.
 * - The version word is odd while the slot is live and even while free; it moves on every
 *   allocation and every free (`Atomics.add`). A (slot, version) pair held across a
 *   quiescent point can be checked for staleness with {@link ArenaView.isCurrent}.
 * - A freed slot's payload is overwritten with POISON (keys wiped); readers reach freed
 *   slots only if reclamation is broken, which the race tests detect.
 */
import { retireWith, type Reclaimer } from './epoch.js';
import { IntStack } from './int-stack.js';
import { HeapObject, POISON, type HeapObjectDescription, type HeapView, type SharedHeap } from './shared-heap.js';

/** What a worker needs to attach to an arena. */
export type ArenaDescription = HeapObjectDescription;

/** Options for {@link RecordArena.create}. */
export interface ArenaOptions {
  /** Payload words per record (the version word is extra). */
  recordWords: number;
  /** Most records the arena may ever hold at once. */
  capacity: number;
  /** Records per chunk, a power of two. Default 4096. */
  chunkRecords?: number;
}

const H_STRIDE = 0;
const H_SHIFT = 1;
const H_MAX_CHUNKS = 2;
const H_CAPACITY = 3;
const H_DIR = 4;

/** A reader's view of an arena. */
export class ArenaView extends HeapObject {
  /** Words per slot, version word included. */
  readonly stride: number;
  protected readonly shift: number;
  protected readonly mask: number;
  /** Most records the arena may hold. */
  readonly capacity: number;

  constructor(heap: HeapView, base: number) {
    super(heap, base);
    const i32 = heap.cover(base + H_DIR);
    this.stride = i32[base + H_STRIDE];
    this.shift = i32[base + H_SHIFT];
    this.mask = (1 << this.shift) - 1;
    this.capacity = i32[base + H_CAPACITY];
  }

  /** Rebuild an arena view from its description (in a worker). */
  static attach(heap: HeapView, desc: ArenaDescription): ArenaView {
    return new ArenaView(heap, desc.offset);
  }

  /**
   * Word offset of the first payload word of `slot`. The heap's views cover the record
   * afterwards: read it through `heap.i32` fetched after this call.
   */
  payload(slot: number): number {
    const dir = this.base + H_DIR + (slot >>> this.shift);
    const chunk = Atomics.load(this.heap.cover(dir + 1), dir);
    const p = chunk + (slot & this.mask) * this.stride + 2;
    this.heap.cover(p + this.stride - 2);
    return p;
  }

  /** The slot's version word: odd while live, even while free. */
  version(slot: number): number {
    const p = this.payload(slot);
    return Atomics.load(this.i32, p - 1);
  }

  /** True while `slot` still holds the record that had `version`. */
  isCurrent(slot: number, version: number): boolean {
    return this.version(slot) === version;
  }
}

/** The control thread's side of an arena. */
export class RecordArena extends ArenaView {
  protected declare readonly heap: SharedHeap;
  private readonly freeSlots = new IntStack();
  private next = 0;
  private chunks = 0;
  private count = 0;

  /** Create an arena in `heap`. Memory for records is taken a chunk at a time. */
  static create(heap: SharedHeap, opts: ArenaOptions): RecordArena {
    const chunkRecords = opts.chunkRecords ?? 4096;
    if (!(Number.isInteger(opts.recordWords) && opts.recordWords >= 1)) {
      throw new RangeError(`recordWords must be a positive integer, got ${opts.recordWords}`);
    }
    if (!(Number.isInteger(opts.capacity) && opts.capacity >= 1 && opts.capacity < 2 ** 30)) {
      throw new RangeError(`capacity must be 1..2^30-1, got ${opts.capacity}`);
    }
    if (!(chunkRecords >= 1 && chunkRecords <= 1 << 20 && (chunkRecords & (chunkRecords - 1)) === 0)) {
      throw new RangeError(`chunkRecords must be a power of two up to 2^20, got ${chunkRecords}`);
    }
    const maxChunks = Math.ceil(opts.capacity / chunkRecords);
    const base = heap.alloc(H_DIR + maxChunks);
    const i32 = heap.i32;
    i32[base + H_STRIDE] = (opts.recordWords + 3) & ~1; // pad, version, payload; even
    i32[base + H_SHIFT] = Math.log2(chunkRecords);
    i32[base + H_MAX_CHUNKS] = maxChunks;
    i32[base + H_CAPACITY] = opts.capacity;
    return new RecordArena(heap, base);
  }

  private constructor(heap: SharedHeap, base: number) {
    super(heap, base);
  }

  /** Records live now. */
  get live(): number {
    return this.count;
  }

  /** True if `slot` is allocated now (given by {@link alloc} and not freed). */
  holds(slot: number): boolean {
    return Number.isInteger(slot) && slot >= 0 && slot < this.next && (Atomics.load(this.i32, this.payload(slot) - 1) & 1) === 1;
  }

  /** Heap bytes this arena holds (chunks and header). */
  get bytes(): number {
    return (this.chunks * (this.mask + 1) * this.stride + H_DIR + this.i32[this.base + H_MAX_CHUNKS]) * 4;
  }

  /**
   * Take a free slot; its payload is zeroed and its version made odd. Fill it, then publish
   * the slot number. Throws RangeError when the arena is full.
   */
  alloc(): number {
    let slot = this.freeSlots.pop();
    if (slot < 0) {
      if (this.next >= this.capacity) throw new RangeError(`record arena full (${this.capacity} records)`);
      slot = this.next++;
      if (slot >>> this.shift >= this.chunks) this.addChunk();
    }
    const p = this.payload(slot);
    this.i32.fill(0, p, p + this.stride - 2);
    Atomics.add(this.i32, p - 1, 1);
    this.count++;
    return slot;
  }

  /** Free a slot now: poison its payload, make its version even. No reader may reach it. */
  free(slot: number): void {
    const p = this.payload(slot);
    if ((Atomics.load(this.i32, p - 1) & 1) === 0) throw new Error(`double free of record slot ${slot}`);
    this.i32.fill(POISON, p, p + this.stride - 2);
    Atomics.add(this.i32, p - 1, 1);
    this.freeSlots.push(slot);
    this.count--;
  }

  /** Free a slot after readers have moved on (the slot must already be unpublished). */
  retire(slot: number, reclaimer: Reclaimer): void {
    retireWith(reclaimer, this, slot, 0);
  }

  /** A retired slot's grace period is over (Freer). */
  freeRetired(slot: number): void {
    this.free(slot);
  }

  private addChunk(): void {
    const off = this.heap.alloc((this.mask + 1) * this.stride);
    Atomics.store(this.i32, this.base + H_DIR + this.chunks, off);
    this.chunks++;
  }
}
