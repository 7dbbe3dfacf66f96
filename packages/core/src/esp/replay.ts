/**
 * Inbound anti-replay (RFC 4303 section 3.4.3) with extended sequence numbers (RFC 4304
 * Appendix A): the check runs before decryption and infers the high half of an ESN; the
 * window moves only after the ICV has verified.
 *
 * Shared state: the runtime block of the SA (sa-runtime.ts): the highest sequence number
 * seen (RT_SEQ_HI:RT_SEQ) and a circular bitmap of N bits (N a power of two >= the window),
 * bit `seq mod N` standing for `seq`. Steering sends an SA's packets to one queue, but not
 * always (an inner SA of nested ESP arrives on the queues of every outer SA that carries it),
 * so the window is written only under the SA's lock word, as Linux does under `x->lock`:
 * {@link replayAccept} checks again and advances in one critical section, after the ICV
 * verified. The lock-free {@link replayCheck} before decryption only saves work on replays.
 * The control thread reads the window for display and may see the two halves of the top apart.
 */
import { RT_BITMAP, RT_LOCK, RT_SEQ, RT_SEQ_HI, bitmapWords } from '../xfrm/sa-runtime.js';

/**
 * Check sequence number `seqLo` (the 32 bits on the wire) against the window. Returns the
 * high half of the full sequence number (0 without ESN), or -1 if the packet is a replay or
 * too old. Does not change the window.
 */
export function replayCheck(i32: Int32Array, rt: number, window: number, esn: boolean, seqLo: number): number {
  const sl = seqLo >>> 0;
  if (window === 0) return 0; // anti-replay off (only possible without ESN)
  const tl = i32[rt + RT_SEQ] >>> 0;
  const th = i32[rt + RT_SEQ_HI] >>> 0;
  let sh = 0;
  if (esn) {
    const bottom = (tl - window + 1) >>> 0;
    if (tl >= window - 1) sh = sl >= bottom ? th : th + 1;
    else sh = sl >= bottom ? th - 1 : th; // the window spans a 2^32 boundary
    if (sh < 0 || sh > 0xffffffff) return -1;
  }
  if (sh === 0 && sl === 0) return -1; // sequence number 0 is never sent
  if (sh > th || (sh === th && sl > tl)) return sh; // ahead of the window: new
  const behind = sh === th ? tl - sl : tl + 2 ** 32 - sl; // T - S, here < 2^33
  if (behind >= window) return -1;
  const n = bitmapWords(window) * 32;
  const bit = sl & (n - 1);
  return (i32[rt + RT_BITMAP + (bit >>> 5)] >>> (bit & 31)) & 1 ? -1 : sh;
}

/**
 * After the ICV of (seqHi:seqLo) verified: under the SA's lock, check the number again (a
 * packet on another queue may have taken it since the pre-check) and record it. Returns
 * false for a replay: the packet must be dropped.
 */
export function replayAccept(i32: Int32Array, rt: number, window: number, esn: boolean, seqHi: number, seqLo: number): boolean {
  if (window === 0) return true;
  while (Atomics.compareExchange(i32, rt + RT_LOCK, 0, 1) !== 0); // a few dozen instructions, held by queue workers only
  const ok = replayCheck(i32, rt, window, esn, seqLo) === seqHi;
  if (ok) replayAdvance(i32, rt, window, seqHi, seqLo);
  Atomics.store(i32, rt + RT_LOCK, 0);
  return ok;
}

/** Record (seqHi:seqLo) as received, after its ICV verified and replayCheck passed it (the caller holds the SA's lock). */
export function replayAdvance(i32: Int32Array, rt: number, window: number, seqHi: number, seqLo: number): void {
  if (window === 0) return;
  const sl = seqLo >>> 0;
  const tl = i32[rt + RT_SEQ] >>> 0;
  const th = i32[rt + RT_SEQ_HI] >>> 0;
  const words = bitmapWords(window);
  const n = words * 32;
  if (seqHi > th || (seqHi === th && sl > tl)) {
    const ahead = seqHi === th ? sl - tl : seqHi - th > 1 ? Infinity : sl + 2 ** 32 - tl;
    if (ahead >= n) {
      i32.fill(0, rt + RT_BITMAP, rt + RT_BITMAP + words);
    } else {
      for (let i = 1; i <= ahead; i++) {
        const bit = (tl + i) & (n - 1);
        i32[rt + RT_BITMAP + (bit >>> 5)] &= ~(1 << (bit & 31));
      }
    }
    Atomics.store(i32, rt + RT_SEQ_HI, seqHi | 0);
    Atomics.store(i32, rt + RT_SEQ, sl | 0);
  }
  const bit = sl & (n - 1);
  i32[rt + RT_BITMAP + (bit >>> 5)] |= 1 << (bit & 31);
}
