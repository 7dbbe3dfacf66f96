/**
 * A queue's lifetime notices on their way to the control thread: the SA identities (u64) and
 * sa-runtime.ts NOTICE_* bits the packet path raised (first use, soft limit crossed, used
 * up). The control thread turns them into `expire` events and deletes used-up SAs; the
 * packet path has refused packets past a hard limit by itself already, so a late notice costs
 * no correctness, only the timeliness of an event.
 *
 * Layout (BigUint64Array over a SharedArrayBuffer): [head, tail, lost, -, (serial, bits) x capacity].
 *
 * Concurrency contract: single producer (the queue's worker) writes the entries and `head`,
 * single consumer (the control thread) reads them and writes `tail`; both indexes by
 * `Atomics.store` after the entries they cover, read by `Atomics.load`. When the ring is
 * full the producer adds to `lost` instead: the consumer then checks every SA's lifetime
 * against the shared counters, so nothing is missed for long.
 */

const HEAD = 0;
const TAIL = 1;
const LOST = 2;
const ENTRIES = 4;

/** A queue's notice ring, seen from either side. */
export class NoticeRing {
  private readonly u64: BigUint64Array;
  private readonly capacity: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.u64 = new BigUint64Array(buffer);
    this.capacity = (this.u64.length - ENTRIES) >> 1;
  }

  /** A ring of `capacity` notices. */
  static create(capacity = 1024): NoticeRing {
    return new NoticeRing(new SharedArrayBuffer(8 * (ENTRIES + 2 * capacity)));
  }

  /** Producer: queue a notice (or count it lost when the ring is full). */
  push(serial: bigint, bits: number): void {
    const head = this.u64[HEAD];
    if (head - Atomics.load(this.u64, TAIL) >= BigInt(this.capacity)) {
      Atomics.add(this.u64, LOST, 1n);
      return;
    }
    const at = ENTRIES + 2 * Number(head % BigInt(this.capacity));
    this.u64[at] = serial;
    this.u64[at + 1] = BigInt(bits);
    Atomics.store(this.u64, HEAD, head + 1n);
  }

  /** Consumer: hand every queued notice to `sink`; returns true if notices were lost since the last call. */
  drain(sink: (serial: bigint, bits: number) => void): boolean {
    const head = Atomics.load(this.u64, HEAD);
    let tail = this.u64[TAIL];
    for (; tail !== head; tail++) {
      const at = ENTRIES + 2 * Number(tail % BigInt(this.capacity));
      sink(this.u64[at], Number(this.u64[at + 1]));
    }
    Atomics.store(this.u64, TAIL, tail);
    return Atomics.exchange(this.u64, LOST, 0n) !== 0n;
  }
}
