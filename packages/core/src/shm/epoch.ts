/**
 * Quiescent-state-based reclamation (QSBR), in the style of DPDK's `rte_rcu_qsbr` and
 * liburcu-qsbr: readers never take locks or reference counts; the writer frees a retired
 * thing only after every online reader has reported a quiescent state since it was retired.
 *
 * Shared layout (heap words), one 64-byte line per reader to avoid false sharing:
 *   line 0:     [token (u64), maxReaders]
 *   line 1 + r: [counter (u64), registered]   counter 0 = offline, else the token last reported
 *
 * Concurrency contract
 * - The writer (control thread) increments `token` after it unlinked what it retires, and
 *   reads every reader's counter to decide what is safe to free (every 256 retirements, for
 *   a large block at once, and at a grace period: reading 64 lines at each retirement was
 *   most of a large flush's time).
 * - Reader r writes only its own line's counter, on online/quiescent/offline. A line is
 *   claimed either by the reader (`register`, compare-exchange on `registered`) or, for
 *   workers the control thread supervises, by the control thread before the worker starts
 *   (`claim`, then `EpochReader.attach` in the worker): a worker that dies at any point then
 *   leaks nothing, because the control thread knows its line and takes it offline.
 * - Ordering: all accesses are `Atomics` (sequentially consistent). The writer unlinks a
 *   thing *before* incrementing the token to T; a reader that stores a counter >= T loaded
 *   the token after the unlink, so it holds no reference from before. A reader going online
 *   stores its counter before reading any table, so a writer that saw it offline cannot free
 *   anything the reader can still reach.
 * - Tokens and counters are u64 (as DPDK's): at a billion retirements a second they would
 *   take 584 years to wrap, so they are compared as plain numbers.
 * - The defer queue is bounded ({@link EpochDomainOptions.maxPending}, as `rte_rcu_qsbr_dq`):
 *   a reader that is alive but stuck holds everything retired after its last report, so the
 *   writer must be able to see that ({@link EpochDomain.stalled}) and refuse more work
 *   ({@link EpochDomain.full}) rather than grow without end.
 */
import { type HeapView, type SharedHeap } from './shared-heap.js';

/** Something that defers a free until no reader can see the freed thing any more. */
export interface Reclaimer {
  /** Call `free` once every reader that might hold a reference has moved on. */
  retire(free: () => void): void;
  /**
   * Call `freer.freeRetired(a, b)` once every reader has moved on: the same as {@link retire}
   * without a closure per retirement (a flush retires millions of records and blocks).
   */
  retireWith?(freer: Freer, a: number, b: number): void;
}

/** Retire through `r.retireWith` where it has one (a plain closure otherwise: test reclaimers). */
export function retireWith(r: Reclaimer, freer: Freer, a: number, b: number): void {
  if (r.retireWith !== undefined) r.retireWith(freer, a, b);
  else r.retire(() => freer.freeRetired(a, b));
}

/** A structure that frees what it retired, named by two numbers (an offset and a size, a slot). */
export interface Freer {
  freeRetired(a: number, b: number): void;
}

/** What a worker needs to attach to an epoch domain. */
export interface EpochDescription {
  readonly offset: number;
  readonly maxReaders: number;
}

/** Options for {@link EpochDomain.create}. */
export interface EpochDomainOptions {
  /** Retired things that may wait for a grace period at once. Default 2^20. */
  maxPending?: number;
}

/** A grace period did not end in time: these readers have not reported since it began. */
export class StalledReaderError extends Error {
  constructor(
    readonly readers: number[],
    readonly waitedMs: number,
  ) {
    super(`grace period not over after ${waitedMs} ms: reader ${readers.join(', ')} online but not reporting (stalled?)`);
    this.name = 'StalledReaderError';
  }
}

const LINE = 16;
const OFFLINE = 0n;
/** Retirements between two reclaims (each reads every reader's line). */
const RECLAIM_EVERY = 256;
/** Heap blocks of this many words or more are reclaimed as soon as their grace period allows. */
const LARGE_BLOCK_WORDS = 1 << 14;

/** The writer's side of an epoch domain, owned by the control thread. */
export class EpochDomain implements Reclaimer {
  /**
   * The defer queue, as parallel arrays (no object per retirement): what frees item i, its
   * two numbers, and the token taken when it was retired (after its unlink).
   */
  private fns: (Freer | (() => void) | undefined)[] = [];
  private as: number[] = [];
  private bs: number[] = [];
  private tokens: bigint[] = [];
  private head = 0;
  private sinceReclaim = 0;
  /** Per reader: the counter last seen and when it was first seen (for stall detection). */
  private readonly seen: { counter: bigint; since: number }[];
  readonly maxPending: number;

  private constructor(
    private readonly heap: HeapView,
    private readonly base: number,
    readonly maxReaders: number,
    opts: EpochDomainOptions,
  ) {
    this.maxPending = opts.maxPending ?? 1 << 20;
    this.seen = Array.from({ length: maxReaders }, () => ({ counter: OFFLINE, since: 0 }));
  }

  /** Create a domain for at most `maxReaders` reader threads. */
  static create(heap: SharedHeap, maxReaders = 64, opts: EpochDomainOptions = {}): EpochDomain {
    if (!(Number.isInteger(maxReaders) && maxReaders >= 1 && maxReaders <= 4096)) {
      throw new RangeError(`maxReaders must be 1..4096, got ${maxReaders}`);
    }
    const base = heap.alloc(LINE * (maxReaders + 1));
    Atomics.store(heap.u64, base >> 1, 1n);
    heap.i32[base + 2] = maxReaders;
    return new EpochDomain(heap, base, maxReaders, opts);
  }

  /** The description to post to reader threads. */
  describe(): EpochDescription {
    return { offset: this.base, maxReaders: this.maxReaders };
  }

  /** Defer `free` until one grace period from now has passed. */
  retire(free: () => void): void {
    this.push(free, 0, 0);
  }

  /** Defer `freer.freeRetired(a, b)` until one grace period from now has passed. */
  retireWith(freer: Freer, a: number, b: number): void {
    this.push(freer, a, b);
  }

  private push(fn: Freer | (() => void), a: number, b: number): void {
    this.fns.push(fn);
    this.as.push(a);
    this.bs.push(b);
    this.tokens.push(this.nextToken());
    // A large heap block (a bucket array a table outgrew) is worth a reclaim of its own.
    const large = fn === (this.heap as unknown) && b >= LARGE_BLOCK_WORDS;
    if (++this.sinceReclaim >= RECLAIM_EVERY || large) this.reclaim();
  }

  /** Things retired and not yet freed. */
  get pending(): number {
    return this.fns.length - this.head;
  }

  /**
   * True when the defer queue has no room for `n` more retirements even after reclaiming:
   * a writer checks this before a change, and refuses the change instead of growing the
   * queue without end behind a stalled reader.
   */
  full(n = 64): boolean {
    if (this.pending + n <= this.maxPending) return false;
    this.reclaim();
    return this.pending + n > this.maxPending;
  }

  /** True when every online reader has reported `token` or later. */
  passed(token: bigint): boolean {
    return token <= this.safeToken();
  }

  /** Free everything whose grace period is over; returns how many were freed. */
  reclaim(): number {
    this.sinceReclaim = 0;
    if (this.head === this.fns.length) return 0;
    const safe = this.safeToken();
    let n = 0;
    const { fns, as, bs, tokens } = this;
    while (this.head < fns.length && tokens[this.head] <= safe) {
      const i = this.head++;
      const fn = fns[i]!;
      fns[i] = undefined;
      if (typeof fn === 'function') fn();
      else fn.freeRetired(as[i], bs[i]);
      n++;
    }
    if (this.head === fns.length) {
      this.fns = [];
      this.as = [];
      this.bs = [];
      this.tokens = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > fns.length) {
      for (const a of [fns, as, bs, tokens]) a.splice(0, this.head);
      this.head = 0;
    }
    return n;
  }

  /**
   * Resolve after one grace period: every reader online now has reported a quiescent state
   * (or gone offline). Reclaims what became free on the way. With `timeoutMs`, rejects with
   * a {@link StalledReaderError} naming the readers that held it up, instead of waiting
   * forever for a reader that is alive but stuck.
   */
  async synchronize(opts: { timeoutMs?: number } = {}): Promise<void> {
    const token = this.nextToken();
    const started = Date.now();
    for (let spins = 0; !this.passed(token); spins++) {
      if (opts.timeoutMs !== undefined && Date.now() - started >= opts.timeoutMs) {
        throw new StalledReaderError(this.behind(token), Date.now() - started);
      }
      await new Promise<void>((resolve) => (spins < 8 ? setImmediate(resolve) : setTimeout(resolve, 1)));
    }
    this.reclaim();
  }

  /**
   * Readers that are online and have not reported a quiescent state for `thresholdMs` while
   * something waits for them (a retirement, or a grace period asked for). Call it now and
   * then (the control thread's timer): it remembers each reader's counter between calls.
   */
  stalled(now: number, thresholdMs: number): number[] {
    const token = Atomics.load(this.heap.u64, this.base >> 1);
    const out: number[] = [];
    for (let r = 0; r < this.maxReaders; r++) {
      const c = Atomics.load(this.heap.u64, this.lineOf(r) >> 1);
      const s = this.seen[r];
      if (c !== s.counter) {
        s.counter = c;
        s.since = now;
      } else if (c !== OFFLINE && c < token && now - s.since >= thresholdMs) {
        out.push(r);
      }
    }
    return out;
  }

  /**
   * Claim a free reader line for a worker this thread supervises (the worker attaches to it
   * with {@link EpochReader.attach}). Throws when the domain is full.
   */
  claim(): number {
    const i32 = this.heap.i32;
    for (let r = 0; r < this.maxReaders; r++) {
      if (Atomics.compareExchange(i32, this.lineOf(r) + 2, 0, 1) === 0) return r;
    }
    throw new RangeError(`epoch domain full: ${this.maxReaders} readers registered`);
  }

  /** Take a reader offline for it (a worker that died): it no longer holds up reclamation. The line stays claimed. */
  offline(reader: number): void {
    Atomics.store(this.heap.u64, this.lineOf(reader) >> 1, OFFLINE);
  }

  /** Take a reader's line back (a reader that died, or a claimed line no longer needed). */
  unregister(reader: number): void {
    const line = this.lineOf(reader);
    Atomics.store(this.heap.u64, line >> 1, OFFLINE);
    Atomics.store(this.heap.i32, line + 2, 0);
  }

  /** Readers claimed or registered now. */
  get registered(): number {
    let n = 0;
    for (let r = 0; r < this.maxReaders; r++) n += Atomics.load(this.heap.i32, this.lineOf(r) + 2);
    return n;
  }

  private nextToken(): bigint {
    return Atomics.add(this.heap.u64, this.base >> 1, 1n) + 1n;
  }

  /** The oldest token any online reader may still be before. */
  private safeToken(): bigint {
    const u64 = this.heap.u64;
    let oldest = Atomics.load(u64, this.base >> 1);
    for (let r = 0; r < this.maxReaders; r++) {
      const c = Atomics.load(u64, this.lineOf(r) >> 1);
      if (c !== OFFLINE && c < oldest) oldest = c;
    }
    return oldest;
  }

  /** Online readers that have not reported `token` yet. */
  private behind(token: bigint): number[] {
    const out: number[] = [];
    for (let r = 0; r < this.maxReaders; r++) {
      const c = Atomics.load(this.heap.u64, this.lineOf(r) >> 1);
      if (c !== OFFLINE && c < token) out.push(r);
    }
    return out;
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
    private readonly u64: BigUint64Array,
    private readonly i32: Int32Array,
    private readonly base: number,
    private readonly line: number,
    /** This reader's index in the domain. */
    readonly id: number,
  ) {}

  /** Claim a free reader line. Throws when the domain is full. */
  static register(heap: HeapView, desc: EpochDescription): EpochReader {
    const i32 = heap.cover(desc.offset + LINE * (desc.maxReaders + 1));
    for (let r = 0; r < desc.maxReaders; r++) {
      const line = desc.offset + LINE * (r + 1);
      if (Atomics.compareExchange(i32, line + 2, 0, 1) === 0) return new EpochReader(heap.u64, i32, desc.offset, line, r);
    }
    throw new RangeError(`epoch domain full: ${desc.maxReaders} readers registered`);
  }

  /** Use the line the control thread claimed for this reader ({@link EpochDomain.claim}). */
  static attach(heap: HeapView, desc: EpochDescription, id: number): EpochReader {
    if (!(Number.isInteger(id) && id >= 0 && id < desc.maxReaders)) throw new RangeError(`no reader ${id} in this epoch domain`);
    const i32 = heap.cover(desc.offset + LINE * (desc.maxReaders + 1));
    return new EpochReader(heap.u64, i32, desc.offset, desc.offset + LINE * (id + 1), id);
  }

  /** Start reading: from now on this reader holds up reclamation until it reports. */
  online(): void {
    this.quiescent();
  }

  /**
   * How many read-side sections this reader has begun or ended (local, no sharing): it moves
   * at every quiescent state and offline. A check a reader made in a section whose count it
   * saw is only as old as that section ({@link ChangeEpoch} relies on it).
   */
  sections = 0;

  /** Report that this reader holds no reference into shared tables right now. */
  quiescent(): void {
    Atomics.store(this.u64, this.line >> 1, Atomics.load(this.u64, this.base >> 1));
    this.sections++;
  }

  /** Stop reading (e.g. before parking): this reader no longer delays anyone. */
  offline(): void {
    Atomics.store(this.u64, this.line >> 1, OFFLINE);
    this.sections++;
  }

  /** Go offline and give the line back. */
  unregister(): void {
    this.offline();
    Atomics.store(this.i32, this.line + 2, 0);
  }
}
