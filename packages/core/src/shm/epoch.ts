/**
 * Quiescent-state-based reclamation (QSBR), in the style of DPDK's `rte_rcu_qsbr` and
 * liburcu-qsbr: readers never take locks or reference counts; the writer frees a retired
 * thing only after every online reader has reported a quiescent state since it was retired.
 *
 * Shared layout (int32 words in the heap), one 64-byte line per reader to avoid false sharing:
 *   line 0:     [token, maxReaders]
 *   line 1 + r: [counter, registered]   counter 0 = offline, else the token last reported
 *
 * Concurrency contract
 * - The writer (control thread) increments `token` when it retires something, and reads
 *   every reader's counter to decide what is safe to free.
 * - Reader r writes only its own line: `registered` by compare-exchange when it registers,
 *   `counter` on online/quiescent/offline. The control thread may also clear the line of a
 *   reader that died ({@link EpochDomain.unregister}).
 * - Ordering: all accesses are `Atomics` (sequentially consistent). The writer unlinks a
 *   thing *before* incrementing the token to T; a reader that stores a counter >= T loaded
 *   the token after the unlink, so it holds no reference from before. A reader going online
 *   stores its counter before reading any table, so a writer that saw it offline cannot free
 *   anything the reader can still reach.
 * - Tokens are 32-bit and compared with wrap-safe signed differences; 0 is never a token.
 */
import { type HeapView, type SharedHeap } from './shared-heap.js';

/** Something that defers a free until no reader can see the freed thing any more. */
export interface Reclaimer {
  /** Call `free` once every reader that might hold a reference has moved on. */
  retire(free: () => void): void;
}

/** What a worker needs to attach to an epoch domain. */
export interface EpochDescription {
  readonly offset: number;
  readonly maxReaders: number;
}

const LINE = 16;
const OFFLINE = 0;

function nextToken(i32: Int32Array, base: number): number {
  let t = Atomics.add(i32, base, 1) + 1;
  if (t === 0) t = Atomics.add(i32, base, 1) + 1; // skip 0: it means "offline"
  return t | 0;
}

/** The writer's side of an epoch domain, owned by the control thread. */
export class EpochDomain implements Reclaimer {
  private readonly queue: { token: number; free: () => void }[] = [];
  private head = 0;

  private constructor(
    private readonly heap: HeapView,
    private readonly base: number,
    readonly maxReaders: number,
  ) {}

  /** Create a domain for at most `maxReaders` reader threads. */
  static create(heap: SharedHeap, maxReaders = 64): EpochDomain {
    if (!(Number.isInteger(maxReaders) && maxReaders >= 1 && maxReaders <= 4096)) {
      throw new RangeError(`maxReaders must be 1..4096, got ${maxReaders}`);
    }
    const base = heap.alloc(LINE * (maxReaders + 1));
    heap.i32[base] = 1;
    heap.i32[base + 1] = maxReaders;
    return new EpochDomain(heap, base, maxReaders);
  }

  /** The description to post to reader threads. */
  describe(): EpochDescription {
    return { offset: this.base, maxReaders: this.maxReaders };
  }

  /** Defer `free` until one grace period from now has passed. */
  retire(free: () => void): void {
    this.queue.push({ token: nextToken(this.heap.i32, this.base), free });
    this.reclaim();
  }

  /** Things retired and not yet freed. */
  get pending(): number {
    return this.queue.length - this.head;
  }

  /** True when every online reader has reported `token` or later. */
  passed(token: number): boolean {
    return ((token - this.safeToken()) | 0) <= 0;
  }

  /** Free everything whose grace period is over; returns how many were freed. */
  reclaim(): number {
    if (this.head === this.queue.length) return 0;
    const safe = this.safeToken();
    let n = 0;
    while (this.head < this.queue.length && ((this.queue[this.head].token - safe) | 0) <= 0) {
      const item = this.queue[this.head];
      this.queue[this.head++] = undefined as never;
      item.free();
      n++;
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    return n;
  }

  /**
   * Resolve after one grace period: every reader online now has reported a quiescent state
   * (or gone offline). Reclaims what became free on the way.
   */
  async synchronize(): Promise<void> {
    const token = nextToken(this.heap.i32, this.base);
    for (let spins = 0; !this.passed(token); spins++) {
      await new Promise<void>((resolve) => (spins < 8 ? setImmediate(resolve) : setTimeout(resolve, 1)));
    }
    this.reclaim();
  }

  /** Take a dead reader's line back so it no longer holds up reclamation. */
  unregister(reader: number): void {
    const line = this.lineOf(reader);
    Atomics.store(this.heap.i32, line, OFFLINE);
    Atomics.store(this.heap.i32, line + 1, 0);
  }

  /** The oldest token any online reader may still be before. */
  private safeToken(): number {
    const i32 = this.heap.i32;
    const token = Atomics.load(i32, this.base);
    let oldest = 0; // largest age (token - counter) over online readers
    for (let r = 0; r < this.maxReaders; r++) {
      const c = Atomics.load(i32, this.lineOf(r));
      if (c === OFFLINE) continue;
      const age = (token - c) | 0;
      if (age > oldest) oldest = age;
    }
    return (token - oldest) | 0;
  }

  private lineOf(reader: number): number {
    if (!(Number.isInteger(reader) && reader >= 0 && reader < this.maxReaders)) {
      throw new RangeError(`no reader ${reader} in this epoch domain`);
    }
    return this.base + LINE * (reader + 1);
  }
}

/** A reader thread's handle on an epoch domain. Starts offline. */
export class EpochReader {
  private constructor(
    private readonly i32: Int32Array,
    private readonly base: number,
    private readonly line: number,
    /** This reader's index in the domain. */
    readonly id: number,
  ) {}

  /** Claim a free reader line. Throws when the domain is full. */
  static register(heap: HeapView, desc: EpochDescription): EpochReader {
    const i32 = heap.i32;
    for (let r = 0; r < desc.maxReaders; r++) {
      const line = desc.offset + LINE * (r + 1);
      if (Atomics.compareExchange(i32, line + 1, 0, 1) === 0) {
        return new EpochReader(i32, desc.offset, line, r);
      }
    }
    throw new RangeError(`epoch domain full: ${desc.maxReaders} readers registered`);
  }

  /** Start reading: from now on this reader holds up reclamation until it reports. */
  online(): void {
    this.quiescent();
  }

  /** Report that this reader holds no reference into shared tables right now. */
  quiescent(): void {
    // A token read as 0 is mid-skip in nextToken(): the unlink it follows is done, so 1 is true.
    Atomics.store(this.i32, this.line, Atomics.load(this.i32, this.base) || 1);
  }

  /** Stop reading (e.g. before parking): this reader no longer delays anyone. */
  offline(): void {
    Atomics.store(this.i32, this.line, OFFLINE);
  }

  /** Go offline and give the line back. */
  unregister(): void {
    this.offline();
    Atomics.store(this.i32, this.line + 1, 0);
  }
}
