/**
 * A single-producer single-consumer ring of fixed-size packet slots in a SharedArrayBuffer:
 * a queue's receive ring (the steering thread produces, the queue worker consumes) or its
 * transmit ring (the worker produces, the control thread consumes). Batch operations: fill
 * several slots, publish them with one store; take several, release them with one store.
 *
 * Layout: int32 header [head, tail, capacity, slotBytes, parked, bell, ...] (64 bytes), then
 * `capacity` slots of `slotBytes`: [length, meta0, meta1, meta2, meta64 (u64), data...].
 *
 * Concurrency contract
 * - `head` is written only by the producer, `tail` only by the consumer, each with
 *   `Atomics.store` after the slots it covers were written (producer) or read (consumer);
 *   each side reads the other's index with `Atomics.load`. So a slot is never read before it
 *   is complete nor overwritten before it was consumed.
 * - `bell` is a doorbell: every publish, every release and every `wake()` (a stop or kill
 *   request) adds one to it, then notifies if `parked` is set. Either side sleeps the same
 *   way: read `bell` (`bell()`), then check everything it waits for (slots, free room, its
 *   stop flags), then `park(bell)`, which sets `parked` and waits only while `bell` still
 *   holds that value. Whatever happened after the read moved the bell, so no wake-up is
 *   lost, whichever side or reason it comes from (all accesses are sequentially consistent).
 * - Counters are 32-bit and compared by wrap-safe differences.
 */

const H_HEAD = 0;
const H_TAIL = 1;
const H_CAPACITY = 2;
const H_SLOT_BYTES = 3;
const H_PARKED = 4;
const H_BELL = 5;
const HEADER_BYTES = 64;
/** Bytes of a slot's header: length, three metadata words and a u64 one. */
export const SLOT_HEADER = 24;

/** A packet ring, seen from either side. */
export class PacketRing {
  readonly i32: Int32Array;
  readonly u8: Uint8Array;
  /** 64-bit view: a slot at byte offset `o` has its u64 metadata at `u64[(o >> 3) + 2]`. */
  readonly u64: BigUint64Array;
  readonly capacity: number;
  readonly slotBytes: number;
  private readonly mask: number;

  constructor(readonly buffer: SharedArrayBuffer) {
    this.i32 = new Int32Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.u64 = new BigUint64Array(buffer);
    this.capacity = this.i32[H_CAPACITY];
    this.slotBytes = this.i32[H_SLOT_BYTES];
    this.mask = this.capacity - 1;
  }

  /** A ring of `capacity` slots (a power of two) of `slotBytes` each (a multiple of 16). */
  static create(capacity: number, slotBytes: number): PacketRing {
    if (!(capacity >= 2 && capacity <= 1 << 20 && (capacity & (capacity - 1)) === 0)) {
      throw new RangeError(`ring capacity must be a power of two from 2 to 2^20, got ${capacity}`);
    }
    if (!(slotBytes >= 64 && slotBytes % 16 === 0 && slotBytes <= 1 << 17)) {
      throw new RangeError(`ring slot size must be a multiple of 16 from 64 to 128 KiB, got ${slotBytes}`);
    }
    const buffer = new SharedArrayBuffer(HEADER_BYTES + capacity * slotBytes);
    const i32 = new Int32Array(buffer);
    i32[H_CAPACITY] = capacity;
    i32[H_SLOT_BYTES] = slotBytes;
    return new PacketRing(buffer);
  }

  /** Largest packet a slot holds. */
  get maxPacket(): number {
    return this.slotBytes - SLOT_HEADER;
  }

  /** Producer: slots free to fill. */
  free(): number {
    return this.capacity - ((Atomics.load(this.i32, H_HEAD) - Atomics.load(this.i32, H_TAIL)) | 0);
  }

  /** Consumer: slots ready to take. */
  available(): number {
    return (Atomics.load(this.i32, H_HEAD) - Atomics.load(this.i32, H_TAIL)) | 0;
  }

  /** Byte offset of the k-th slot after the producer's head (to fill). */
  pending(k: number): number {
    return HEADER_BYTES + ((this.i32[H_HEAD] + k) & this.mask) * this.slotBytes;
  }

  /** Byte offset of the k-th slot after the consumer's tail (to read). */
  ready(k: number): number {
    return HEADER_BYTES + ((this.i32[H_TAIL] + k) & this.mask) * this.slotBytes;
  }

  /** Producer: fill the k-th pending slot with a packet and metadata. */
  put(k: number, data: Uint8Array, off: number, len: number, meta0: number, meta1: number, meta2: number): void {
    const o = this.pending(k);
    const w = o >> 2;
    this.i32[w] = len;
    this.i32[w + 1] = meta0;
    this.i32[w + 2] = meta1;
    this.i32[w + 3] = meta2;
    this.u8.set(data.subarray(off, off + len), o + SLOT_HEADER);
  }

  /** Producer: make `n` filled slots visible, waking a parked consumer. */
  publish(n: number): void {
    Atomics.store(this.i32, H_HEAD, (this.i32[H_HEAD] + n) | 0);
    this.ring();
  }

  /** Consumer: give `n` read slots back to the producer, waking it if it waits for room. */
  release(n: number): void {
    Atomics.store(this.i32, H_TAIL, (this.i32[H_TAIL] + n) | 0);
    this.ring();
  }

  /** The doorbell's value: read it before checking what to wait for, then {@link park} on it. */
  bell(): number {
    return Atomics.load(this.i32, H_BELL);
  }

  /**
   * Sleep until the doorbell moves from `bell` (a publish, a release or a wake since it was
   * read) or `timeoutMs` passes. Returns at once if it has moved already. The caller goes
   * offline in its epoch domain first.
   */
  park(bell: number, timeoutMs: number): 'ok' | 'not-equal' | 'timed-out' {
    Atomics.store(this.i32, H_PARKED, 1);
    const r = Atomics.wait(this.i32, H_BELL, bell, timeoutMs);
    Atomics.store(this.i32, H_PARKED, 0);
    return r;
  }

  /** Wake whoever sleeps on this ring (to make it see a stop or kill request). */
  wake(): void {
    Atomics.add(this.i32, H_BELL, 1);
    Atomics.notify(this.i32, H_BELL);
  }

  private ring(): void {
    Atomics.add(this.i32, H_BELL, 1);
    if (Atomics.load(this.i32, H_PARKED) !== 0) Atomics.notify(this.i32, H_BELL);
  }
}
