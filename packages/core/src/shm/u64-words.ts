/**
 * Monotonic u64 words of shared memory (policy generations, genids, bydst shadow generations)
 * read and compared as their two int32 halves, so that a packet path that reads them allocates
 * nothing: a 64-bit `Atomics.load` returns a new BigInt (24 bytes) every time, and a flow cache
 * miss read four or five of them.
 *
 * Who writes, who reads, which ordering: the control thread writes these words only with
 * 64-bit `Atomics` (`add`, or `store` of a larger value: they never go back); any thread reads
 * them here with 32-bit `Atomics.load`s: the high half, the low half, the high half again. The
 * value only grows, so while the two high halves are equal the high half at the moment the low
 * half was read is the same, and the pair is the value the word held then. Where they differ
 * (a carry between the reads), a copy reads again and a comparison answers "changed", the safe
 * answer for a validity check. Halves are in memory order (low first on little-endian hosts),
 * so words copied into a BigUint64Array's buffer read back as the same u64. (The ECMAScript
 * memory model promises sequential consistency only between atomics of the same size and
 * place; this relies on what x64 and arm64 give: a 4-byte load of half of an 8-byte atomic
 * store sees that half of one store, in store order.)
 */

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;
/** Offsets of the low and high halves of a u64 within its two int32 words. */
const LO = LITTLE_ENDIAN ? 0 : 1;
const HI = 1 - LO;

/** Copy the monotonic u64 at int32 index `w` (even) of `i32` into `out[o]`, `out[o + 1]` (memory order). */
export function loadU64Words(i32: Int32Array, w: number, out: Int32Array, o: number): void {
  for (;;) {
    const h = Atomics.load(i32, w + HI);
    const l = Atomics.load(i32, w + LO);
    if (Atomics.load(i32, w + HI) === h) {
      out[o + HI] = h;
      out[o + LO] = l;
      return;
    }
  }
}

/** Does the monotonic u64 at int32 index `w` of `i32` still equal the one copied to `words[o]`, `words[o + 1]`? */
export function u64WordsEqual(i32: Int32Array, w: number, words: Int32Array, o: number): boolean {
  const h = Atomics.load(i32, w + HI);
  return h === words[o + HI] && Atomics.load(i32, w + LO) === words[o + LO] && Atomics.load(i32, w + HI) === h;
}

/**
 * The u64 whose halves are at `words[o]`, `words[o + 1]` modulo `m` (a positive integer below
 * 2^20), without a BigInt: (hi mod m) * (2^32 mod m) + (lo mod m) stays below 2^40, so no
 * double rounds it; the u64 itself never becomes a number.
 */
export function u64WordsMod(words: Int32Array, o: number, m: number): number {
  return ((words[o + HI] >>> 0) % m * (TWO_32 % m) + (words[o + LO] >>> 0) % m) % m;
}

const TWO_32 = 4294967296;

/** The u64 whose halves are at `words[o]`, `words[o + 1]` (memory order). Allocates: not for the packet path. */
export function u64OfWords(words: Int32Array, o: number): bigint {
  return (BigInt(words[o + HI] >>> 0) << 32n) | BigInt(words[o + LO] >>> 0);
}
