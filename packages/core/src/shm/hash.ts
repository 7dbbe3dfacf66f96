/**
 * Seeded hashing of fixed-width keys: XXH32 computed over 32-bit words.
 *
 * Table keys are packed into int32 words (an IPv4 5-tuple in 4 words, an IPv6 5-tuple in
 * 10, an SA id in 6), so the hot path hashes words straight from an Int32Array with no
 * byte shuffling. The result equals XXH32 of the same words laid out little-endian, which
 * the tests check against xxhash-wasm. Why JS and not xxhash-wasm on the hot path: for
 * keys this short the copy into wasm memory and the call boundary cost more than the hash
 * (docs/PERFORMANCE.md, "Seeded hash").
 *
 * Each table draws its own seed at creation, so collisions cannot be precomputed by a
 * sender (hash flooding); the seed lives in the table header in shared memory so that every
 * thread hashes alike.
 */

const P1 = 0x9e3779b1 | 0;
const P2 = 0x85ebca77 | 0;
const P3 = 0xc2b2ae3d | 0;
const P4 = 0x27d4eb2f | 0;
const P5 = 0x165667b1 | 0;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

function round(acc: number, lane: number): number {
  return Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1);
}

/**
 * XXH32 of `words` int32 words of `w` starting at `off`, as if they were 4*words bytes in
 * little-endian order. Returns its bits as an int32 (`>>> 0` gives the uint32): a uint32 of
 * 2^31 or more is not a small integer to V8, so half the hashes returned from a call that was
 * not inlined were boxed in a heap number (allocation on the packet path).
 */
export function xxh32Words(w: Int32Array, off: number, words: number, seed: number): number {
  let i = off;
  const end = off + words;
  let h: number;
  if (words >= 4) {
    let v1 = (seed + P1 + P2) | 0;
    let v2 = (seed + P2) | 0;
    let v3 = seed | 0;
    let v4 = (seed - P1) | 0;
    for (const limit = end - 4; i <= limit; i += 4) {
      v1 = round(v1, w[i]);
      v2 = round(v2, w[i + 1]);
      v3 = round(v3, w[i + 2]);
      v4 = round(v4, w[i + 3]);
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0;
  } else {
    h = (seed + P5) | 0;
  }
  h = (h + words * 4) | 0;
  for (; i < end; i++) h = Math.imul(rotl((h + Math.imul(w[i], P3)) | 0, 17), P4);
  h ^= h >>> 15;
  h = Math.imul(h, P2);
  h ^= h >>> 13;
  h = Math.imul(h, P3);
  h ^= h >>> 16;
  return h | 0;
}

/**
 * A fresh random 32-bit seed from the system CSPRNG, as an int32: a uint32 of 2^31 or more
 * kept in an object's field is a boxed double, and passing it to a call V8 did not inline
 * boxed it again each time (16 bytes a flow cache probe, in about half of the runs).
 */
export function randomSeed(): number {
  return crypto.getRandomValues(new Int32Array(1))[0];
}
