// Monotonic u64 words read as int32 halves (shm/u64-words.ts): exact across 2^32 carries,
// and never torn while another thread adds to the word with 64-bit Atomics.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { loadU64Words, u64OfWords, u64WordsEqual, u64WordsMod } from '@xfrm/core';

describe('u64 words', () => {
  it('a copy reads back as the same u64, and an equality check sees a move of exactly 2^32 (same low half)', () => {
    const u64 = new BigUint64Array(new SharedArrayBuffer(16));
    const i32 = new Int32Array(u64.buffer);
    const words = new Int32Array(2);
    for (const v of [0n, 1n, 2n ** 31n, 2n ** 32n - 1n, 2n ** 32n, 0xdeadbeef_12345678n, 2n ** 64n - 1n]) {
      Atomics.store(u64, 1, v);
      loadU64Words(i32, 2, words, 0);
      expect(u64OfWords(words, 0)).toBe(v);
      expect(new BigUint64Array(words.buffer)[0]).toBe(v); // memory order: the halves are the u64's own bytes
      expect(u64WordsEqual(i32, 2, words, 0)).toBe(true);
    }
    Atomics.store(u64, 1, 5n);
    loadU64Words(i32, 2, words, 0);
    Atomics.add(u64, 1, 2n ** 32n);
    expect(u64WordsEqual(i32, 2, words, 0)).toBe(false);
    Atomics.store(u64, 1, 2n ** 32n - 1n);
    loadU64Words(i32, 2, words, 0);
    Atomics.add(u64, 1, 1n); // the carry
    expect(u64WordsEqual(i32, 2, words, 0)).toBe(false);
  });

  it('a u64 modulo a small number, from its halves, is the BigInt remainder', () => {
    const words = new Int32Array(2);
    const u64 = new BigUint64Array(words.buffer);
    for (const v of [0n, 1n, 2n ** 32n - 1n, 2n ** 32n, 2n ** 53n + 1n, 0xdeadbeef_12345678n, 2n ** 64n - 1n]) {
      u64[0] = v;
      for (const m of [1, 2, 3, 7, 64, 1000, 2 ** 20 - 1]) expect(u64WordsMod(words, 0, m), `${v} mod ${m}`).toBe(Number(v % BigInt(m)));
    }
  });

  it('while a worker adds to the word across many carries, every copy is a value the word held (never a torn mix of two)', async () => {
    const u64 = new BigUint64Array(new SharedArrayBuffer(16));
    const i32 = new Int32Array(u64.buffer);
    const STEP = 0x7fffffffn; // a carry every other add or so: halves from two different values would show
    const src = `
      const { workerData } = require('node:worker_threads');
      const u64 = new BigUint64Array(workerData.buffer);
      const i32 = new Int32Array(workerData.buffer);
      Atomics.store(i32, 3, 1);
      while (Atomics.load(i32, 3) === 1) Atomics.add(u64, 0, ${STEP}n);`;
    const w = new Worker(src, { eval: true, workerData: { buffer: u64.buffer } });
    try {
      while (Atomics.load(i32, 3) !== 1) await new Promise((r) => setTimeout(r, 1));
      const words = new Int32Array(2);
      let last = 0n;
      let carries = 0;
      for (let n = 0; n < 2_000_000; n++) {
        loadU64Words(i32, 0, words, 0);
        const v = u64OfWords(words, 0);
        if (v % STEP !== 0n || v < last) expect.fail(`read ${v} after ${last}: not a value the word held`);
        if (v >> 32n !== last >> 32n) carries++;
        last = v;
      }
      expect(carries).toBeGreaterThan(1000); // the reads did race the carries
    } finally {
      Atomics.store(i32, 3, 0);
      await w.terminate();
    }
  });
});
