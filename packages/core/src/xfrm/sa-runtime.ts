/**
 * The runtime block of an SA: what packets change, kept apart from the SA's immutable
 * configuration record so that an update (a new record) shares it and no sequence number is
 * handed out twice, and no byte or packet is counted twice or lost. Layout in int32 words of
 * the shared heap (8-byte aligned):
 *   [oseq, oseqHi, seq, seqHi, flags, lock, bytes (u64), packets (u64), bitmap[bitmapWords(window)]...]
 * Who writes what: queue workers take output sequence numbers (state-db.ts nextOutputSeq,
 * compare-exchange or the lock); any queue that opens a packet of the SA moves the replay
 * window under the lock (replay.ts); every queue counts bytes and packets with 64-bit
 * `Atomics.add` ({@link chargeLifetime}); the control thread initialises the block and reads
 * it for display and lifetime checks.
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

/** Bitmap words for a window of `window` packets (a power of two, so `seq mod N` is a mask). */
export function bitmapWords(window: number): number {
  let words = 1;
  while (words * 32 < window) words *= 2;
  return window === 0 ? 0 : words;
}

/** The byte and packet limits the packet path enforces (u64; 2^64 - 1 for none). */
export interface CountLimits {
  readonly hardBytes: bigint;
  readonly hardPackets: bigint;
  readonly softBytes: bigint;
  readonly softPackets: bigint;
  /** True when all four are 2^64 - 1 (no limit): the packet path only counts. */
  readonly none: boolean;
}

/** {@link chargeLifetime}: the packet may not use the SA (a hard limit was reached before it). */
export const CHARGE_REFUSED = -1;
/** Notice bits of {@link chargeLifetime}: this packet was the SA's first, crossed a soft limit, used the SA up. */
export const NOTICE_FIRST_USE = 1;
export const NOTICE_SOFT = 2;
export const NOTICE_HARD = 4;

/** Packet sizes as bigint, made once: converting a length per packet allocates. */
const SMALL: readonly bigint[] = Array.from({ length: 2048 }, (_, i) => BigInt(i));

/**
 * Count one packet of `bytes` against the SA whose runtime block is at word `rt`, as Linux's
 * `xfrm_state_check_expire` then `curlft` update do: refused (CHARGE_REFUSED, nothing counted)
 * when a hard limit was already reached; else counted, with the notices this packet raised.
 * Exactly one packet crosses each limit (the counters move by atomic adds), so each notice is
 * raised once across all queues; a refused packet's add is taken back and never lets another
 * packet under a hard limit (the counters stay at or above it).
 */
export function chargeLifetime(u64: BigUint64Array, rt: number, bytes: number, l: CountLimits): number {
  const pi = (rt + RT_PACKETS) >> 1;
  const bi = (rt + RT_BYTES) >> 1;
  const n = bytes < SMALL.length ? SMALL[bytes] : BigInt(bytes);
  const op = Atomics.add(u64, pi, 1n);
  if (l.none) {
    // No limit to check (the common case): count, and say whether this was the first use.
    Atomics.add(u64, bi, n);
    return op === 0n ? NOTICE_FIRST_USE : 0;
  }
  const ob = Atomics.add(u64, bi, n);
  if (op >= l.hardPackets || ob >= l.hardBytes) {
    Atomics.sub(u64, pi, 1n);
    Atomics.sub(u64, bi, n);
    return CHARGE_REFUSED;
  }
  let notice = op === 0n ? NOTICE_FIRST_USE : 0;
  const np = op + 1n;
  const nb = ob + n;
  if (np >= l.hardPackets || nb >= l.hardBytes) notice |= NOTICE_HARD;
  else if ((op < l.softPackets && np >= l.softPackets) || (ob < l.softBytes && nb >= l.softBytes)) notice |= NOTICE_SOFT;
  return notice;
}

/** True when a hard limit of the SA is reached already (a check before costly work; not a charge). */
export function lifetimeSpent(u64: BigUint64Array, rt: number, l: CountLimits): boolean {
  return Atomics.load(u64, (rt + RT_PACKETS) >> 1) >= l.hardPackets || Atomics.load(u64, (rt + RT_BYTES) >> 1) >= l.hardBytes;
}
