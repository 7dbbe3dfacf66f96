// Shared by the race test's writer (test/race.test.ts) and its reader workers: how keys and
// records are made, and where failures are counted in the control words.

/** Control words (Int32Array over a SharedArrayBuffer). */
export const CTL = {
  STOP: 0,
  POISON_SEEN: 1, // a reader read a poisoned bucket or record
  MISSED: 2, // a key present for a reader's whole lookup was not found
  WRONG_RECORD: 3, // a lookup returned a record that belongs to another key
  LOOKUPS: 4,
  HITS: 5,
  READY: 6,
  WORDS: 8,
};

/** Record payload: [k, ~k, k * 31, k ^ 0x5a5a5a5a]. */
export const RECORD_WORDS = 4;

/** Write the key for id k into key[0 .. keyWords). */
export function fillKey(key, k, keyWords) {
  key[0] = Math.imul(k + 1, 0x9e3779b1);
  for (let i = 1; i < keyWords; i++) key[i] = 0x20010db8 + i + (i === keyWords - 1 ? k : 0);
}

/** Write the record of key k at word offset p. */
export function fillRecord(i32, p, k) {
  i32[p] = k;
  i32[p + 1] = ~k;
  i32[p + 2] = Math.imul(k, 31);
  i32[p + 3] = k ^ 0x5a5a5a5a;
}

/** 0 if the record at p is key k's, else which CTL failure it is. */
export function checkRecord(i32, p, k, poison) {
  for (let i = 0; i < RECORD_WORDS; i++) if (i32[p + i] === poison) return CTL.POISON_SEEN;
  const ok = i32[p] === k && i32[p + 1] === ~k && i32[p + 2] === Math.imul(k, 31) && i32[p + 3] === (k ^ 0x5a5a5a5a);
  return ok ? 0 : CTL.WRONG_RECORD;
}
