// copyBytes against the obvious byte-by-byte reference: every alignment of both ends, lengths
// around the word and size thresholds, shared and plain buffers, views with their own byte
// offsets, and a switch of buffers between calls (the remembered word views must follow).
import { describe, expect, it } from 'vitest';
import { copyBytes } from '@xfrm/core';

function filled(buffer: ArrayBufferLike, seed: number): Uint8Array {
  const b = new Uint8Array(buffer);
  for (let i = 0; i < b.length; i++) b[i] = (i * 31 + seed * 7 + 1) & 0xff;
  return b;
}

function check(dstBuf: ArrayBufferLike, srcBuf: ArrayBufferLike, viewOffset: number): void {
  const src = filled(srcBuf, 1).subarray(viewOffset);
  for (const n of [0, 1, 3, 4, 15, 16, 17, 63, 64, 65, 127, 128, 129, 131, 300]) {
    for (let s = 0; s < 4; s++) {
      for (let d = 0; d < 4; d++) {
        const dst = filled(dstBuf, 2).subarray(viewOffset);
        const want = dst.slice();
        for (let i = 0; i < n; i++) want[d + 8 + i] = src[s + 4 + i];
        copyBytes(dst, d + 8, src, s + 4, n);
        expect(dst, `n ${n} s ${s} d ${d} view +${viewOffset}`).toEqual(want);
      }
    }
  }
}

describe('copyBytes', () => {
  for (const [name, make] of [
    ['shared', (n: number) => new SharedArrayBuffer(n)],
    ['plain', (n: number) => new ArrayBuffer(n)],
  ] as const) {
    it(`copies exactly the bytes asked, at every alignment (${name} buffers)`, () => {
      for (const viewOffset of [0, 1, 4, 6]) check(make(512), make(512), viewOffset);
    });
  }

  it('follows a change of buffer between calls, and copies near the end of a buffer whose size is not whole words', () => {
    const a = filled(new SharedArrayBuffer(402), 3);
    const b = filled(new SharedArrayBuffer(402), 4);
    const out = new Uint8Array(new SharedArrayBuffer(402));
    copyBytes(out, 0, a, 0, 200);
    expect(out.subarray(0, 200)).toEqual(a.subarray(0, 200));
    copyBytes(out, 200, b, 200, 202); // ends on the two bytes past the last whole word
    expect(out.subarray(200)).toEqual(b.subarray(200));
    copyBytes(out, 0, b, 0, 64);
    expect(out.subarray(0, 64)).toEqual(b.subarray(0, 64));
  });

  it('copies right in a buffer that grew after its word view was made', () => {
    const grows = new ArrayBuffer(64, { maxByteLength: 1024 });
    const src = filled(new SharedArrayBuffer(1024), 5);
    copyBytes(new Uint8Array(grows), 0, src, 0, 64); // the destination's word view: 16 words
    grows.resize(1024);
    const dst = new Uint8Array(grows);
    copyBytes(dst, 256, src, 256, 64);
    expect(dst.subarray(256, 320)).toEqual(src.subarray(256, 320));
  });
});
