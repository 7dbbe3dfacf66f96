// Control-side arrays that grow by reallocation: large ones on pages of their own (a
// resizable ArrayBuffer, which V8 maps and unmaps itself), small ones from malloc as usual.
import { describe, expect, it } from 'vitest';
import { PAGED_BYTES, pageArray } from '../../../packages/core/src/shm/page-array.js';

describe('pageArray', () => {
  it('gives a zeroed array of the kind and length asked, paged when it is large', () => {
    for (const [ctor, length] of [[Int32Array, 16], [Int32Array, 1 << 20], [Float64Array, 1 << 17], [BigUint64Array, 3], [Uint8Array, 1 << 16]] as const) {
      const a = pageArray(ctor as never, length) as Int32Array | Float64Array | BigUint64Array | Uint8Array;
      expect(a).toBeInstanceOf(ctor);
      expect(a.length).toBe(length);
      expect(a.every((v: number | bigint) => v === 0 || v === 0n)).toBe(true);
      expect(a.buffer.resizable).toBe(a.byteLength >= PAGED_BYTES);
    }
  });
});
