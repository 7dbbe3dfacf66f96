/**
 * The runtime block of an SA: what packets change, kept apart from the SA's immutable
 * configuration record so that an update (a new record) shares it and no sequence number is
 * handed out twice, and no byte or packet is counted twice or lost. Layout in int32 words of
 * the shared heap (8-byte aligned):
 *   [oseq, oseqHi, seq, seqHi, flags, lock, bytes (u64), packets (u64), bitmap[bitmapWords(window)]...,
 *    (pad to 8 bytes), shares[n] of (bytes (u64), packets (u64))]
 * The SA's lifetime usage is the shared count (bytes, packets) plus its `n` lifetime shares
 * (n is the SAD's, StateDbOptions.lifetimeShares; {@link runtimeWords}).
 * Who writes what: queue workers take output sequence numbers (state-db.ts nextOutputSeq,
 * compare-exchange or the lock); any queue that opens a packet of the SA moves the replay
 * window under the lock (replay.ts). Queue q < n counts the packets of SAs without count
 * limits in share q, which no other thread writes, with plain 64-bit stores
 * ({@link chargeShare}: no lock, no allocation, as Linux's per-CPU counters); everything else
 * (SAs with limits, queues from n on, tools) counts in the shared count with 64-bit
 * `Atomics.add` ({@link chargeLifetime}), which orders the packets that cross a limit. Any
 * thread sets RT_USED with `Atomics.or` (exactly one first use). The control thread
 * initialises the block and reads it (`Atomics.load`) for display and lifetime checks: a
 * share read may be a packet behind its queue, and is never more than its queue counted nor
 * torn on x64 and arm64, where an aligned 8-byte store is one store (a 32-bit host may show a
 * share 2^32 short for the moment of a carry).
 */

export const RT_OSEQ = 0;
export const RT_OSEQ_HI = 1;
export const RT_SEQ = 2;
export const RT_SEQ_HI = 3;
export const RT_FLAGS = 4;
export const RT_LOCK = 5;
/** u64 bytes and packets used (word offsets; even). */
export const RT_BYTES = 6;
export const RT_PACKETS = 8;
export const RT_BITMAP = 10;
/** RT_FLAGS bit: output sequence numbers are used up. */
export const RT_EXHAUSTED = 1;
/** RT_FLAGS bit: a packet has used the SA (set once, by whichever thread counted the first). */
export const RT_USED = 2;
/** Words of one lifetime share: bytes (u64) at SH_BYTES, packets (u64) at SH_PACKETS. */
export const SHARE_WORDS = 4;
export const SH_BYTES = 0;
export const SH_PACKETS = 2;

/** Bitmap words for a window of `window` packets (a power of two, so `seq mod N` is a mask). */
export function bitmapWords(window: number): number {
  let words = 1;
  while (words * 32 < window) words *= 2;
  return window === 0 ? 0 : words;
}

/** Word offset, within a runtime block, of the first lifetime share of an SA with replay window `window` (after the bitmap, 8-byte aligned). */
export function sharesAt(window: number): number {
  return (RT_BITMAP + bitmapWords(window) + 1) & ~1;
}

/** Words of the runtime block of an SA with replay window `window` in a SAD of `shares` lifetime shares. */
export function runtimeWords(window: number, shares: number): number {
  return sharesAt(window) + SHARE_WORDS * shares;
}

/** The byte and packet limits the packet path enforces (u64; 2^64 - 1 for none), and where the SA's lifetime shares are. */
export interface CountLimits {
  readonly hardBytes: bigint;
  readonly hardPackets: bigint;
  readonly softBytes: bigint;
  readonly softPackets: bigint;
  /** True when all four are 2^64 - 1 (no limit): the packet path only counts. */
  readonly none: boolean;
  /** Word offset (in the heap) of the SA's first lifetime share, and how many it has. */
  readonly sharesAt: number;
  readonly shareCount: number;
}

/** {@link chargeLifetime}: the packet may not use the SA (a hard limit was reached before it). */
export const CHARGE_REFUSED = -1;
/** Notice bits of {@link chargeLifetime}: this packet was the SA's first, crossed a soft limit, used the SA up. */
export const NOTICE_FIRST_USE = 1;
export const NOTICE_SOFT = 2;
export const NOTICE_HARD = 4;

/** Packet sizes as bigint, made once: converting a length per packet allocates. */
const SMALL: readonly bigint[] = Array.from({ length: 2048 }, (_, i) => BigInt(i));

/** NOTICE_FIRST_USE if no packet had used the SA whose runtime block is at `rt` (marks it used), else 0. */
function firstUse(i32: Int32Array, rt: number): number {
  return (Atomics.or(i32, rt + RT_FLAGS, RT_USED) & RT_USED) === 0 ? NOTICE_FIRST_USE : 0;
}

/** A packet length as bigint (from the table below 2,048: no allocation). */
function big(bytes: number): bigint {
  return bytes < SMALL.length ? SMALL[bytes] : BigInt(bytes);
}

/**
 * Count one packet of `bytes` in the lifetime share at word `share` of the SA whose runtime
 * block is at `rt`: a share is one queue's and only that queue writes it, so plain 64-bit
 * stores do (`BigInt.asUintN(64, ...)` of a typed-array load compiles to a machine add: no
 * lock, no allocation). Only for SAs without count limits: nothing to refuse, no soft limit to
 * cross. Returns NOTICE_FIRST_USE when this was the SA's first packet on any thread, else 0.
 */
export function chargeShare(u64: BigUint64Array, i32: Int32Array, rt: number, share: number, bytes: number): number {
  const p = (share + SH_PACKETS) >> 1;
  const b = (share + SH_BYTES) >> 1;
  const fresh = i32[share + SH_PACKETS] === 0 && i32[share + SH_PACKETS + 1] === 0;
  u64[p] = BigInt.asUintN(64, u64[p] + 1n);
  u64[b] = BigInt.asUintN(64, u64[b] + big(bytes));
  return fresh ? firstUse(i32, rt) : 0;
}

/** What `count` lifetime shares from heap word `first` counted, bytes or packets (`field`: SH_BYTES or SH_PACKETS). */
export function sharesSum(u64: BigUint64Array, first: number, count: number, field: number): bigint {
  let sum = 0n;
  for (let k = 0; k < count; k++) sum += Atomics.load(u64, (first + k * SHARE_WORDS + field) >> 1);
  return sum;
}

/**
 * Count one packet of `bytes` in the shared count of the SA whose runtime block is at word
 * `rt`, as Linux's `xfrm_state_check_expire` then `curlft` update do: refused (CHARGE_REFUSED,
 * nothing counted) when a hard limit was already reached; else counted, with the notices this
 * packet raised. Exactly one packet crosses each limit (the shared count moves by atomic adds;
 * the shares, which only SAs without limits write, are added as they stand, so a record
 * updated to have limits counts what it used before), so each notice is raised once across
 * all queues; a refused packet's add is taken back and never lets another packet under a hard
 * limit (the counts stay at or above it).
 */
export function chargeLifetime(u64: BigUint64Array, i32: Int32Array, rt: number, bytes: number, l: CountLimits): number {
  const pi = (rt + RT_PACKETS) >> 1;
  const bi = (rt + RT_BYTES) >> 1;
  const n = big(bytes);
  const op0 = Atomics.add(u64, pi, 1n);
  if (l.none) {
    // No limit to check: count, and say whether this was the first use.
    Atomics.add(u64, bi, n);
    return op0 === 0n ? firstUse(i32, rt) : 0;
  }
  const ob0 = Atomics.add(u64, bi, n);
  const op = op0 + sharesSum(u64, l.sharesAt, l.shareCount, SH_PACKETS);
  const ob = ob0 + sharesSum(u64, l.sharesAt, l.shareCount, SH_BYTES);
  if (op >= l.hardPackets || ob >= l.hardBytes) {
    Atomics.sub(u64, pi, 1n);
    Atomics.sub(u64, bi, n);
    return CHARGE_REFUSED;
  }
  let notice = op0 === 0n ? firstUse(i32, rt) : 0;
  const np = op + 1n;
  const nb = ob + n;
  if (np >= l.hardPackets || nb >= l.hardBytes) notice |= NOTICE_HARD;
  else if ((op < l.softPackets && np >= l.softPackets) || (ob < l.softBytes && nb >= l.softBytes)) notice |= NOTICE_SOFT;
  return notice;
}

/** True when a hard limit of the SA is reached already (a check before costly work; not a charge). */
export function lifetimeSpent(u64: BigUint64Array, rt: number, l: CountLimits): boolean {
  if (l.none) return false;
  const packets = Atomics.load(u64, (rt + RT_PACKETS) >> 1) + sharesSum(u64, l.sharesAt, l.shareCount, SH_PACKETS);
  return packets >= l.hardPackets || Atomics.load(u64, (rt + RT_BYTES) >> 1) + sharesSum(u64, l.sharesAt, l.shareCount, SH_BYTES) >= l.hardBytes;
}
