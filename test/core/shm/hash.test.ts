import { describe, expect, it } from 'vitest';
import xxhash from 'xxhash-wasm';
import { randomSeed, xxh32Words } from '@xfrm/core';

describe('xxh32Words', () => {
  it('equals XXH32 (xxhash-wasm) of the same words laid out little-endian', async () => {
    const { h32Raw } = await xxhash();
    let state = 12345;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) | 0);
    for (let words = 0; words <= 24; words++) {
      for (let trial = 0; trial < 40; trial++) {
        const w = new Int32Array(words + 3);
        for (let i = 0; i < w.length; i++) w[i] = next();
        const off = trial % 3;
        const seed = next() >>> 0;
        const bytes = new Uint8Array(w.buffer, off * 4, words * 4);
        expect(xxh32Words(w, off, words, seed) >>> 0).toBe(h32Raw(bytes, seed));
      }
    }
  });

  it('matches the published XXH32 value of the empty input with seed 0', () => {
    expect(xxh32Words(new Int32Array(0), 0, 0, 0) >>> 0).toBe(0x02cc5d05);
  });

  it('depends on the seed', () => {
    const key = Int32Array.of(1, 2, 3, 4, 5);
    expect(xxh32Words(key, 0, 5, 1)).not.toBe(xxh32Words(key, 0, 5, 2));
  });

  it('draws different random seeds', () => {
    const seeds = new Set(Array.from({ length: 16 }, randomSeed));
    expect(seeds.size).toBeGreaterThan(14);
  });
});
