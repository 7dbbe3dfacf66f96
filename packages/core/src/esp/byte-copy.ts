/**
 * Copying packet bytes between buffers on the packet path. V8 copies a SharedArrayBuffer's
 * bytes one at a time (`set` between shared buffers runs its relaxed-atomic byte path), and a
 * JavaScript loop of byte loads and stores costs about 1.2 ns a byte; a loop over 32-bit words
 * costs about a quarter of that (`bench/byte-copy.mjs`). Packets and their ESP payloads are
 * 4-byte aligned in the buffers the queues use (IP headers, ESP header and IV are whole words),
 * so most copies go by words through an Int32Array over the same buffer, remembered for the
 * last source and the last destination (a queue passes the same areas with offsets).
 *
 * Thread-local state only (the remembered views); the bytes copied are the caller's, whoever
 * shares them: the caller owns both regions for the copy, as with `set`.
 */

import { WordView } from './word-view.js';

/** Non-shared copies above this many bytes go through `set` (a native memmove there). */
const SMALL_COPY = 128;
/** Below this many bytes a word loop does not pay for its setup. */
const WORD_COPY = 16;

const from = new WordView();
const to = new WordView();

/**
 * Copy `n` bytes from `src[s ..]` to `dst[d ..]` (different buffers, or regions that do not
 * overlap). By 32-bit words when both ends are 4-byte aligned in their buffers; else small
 * copies by a byte loop (no view allocated) and large ones by `set`.
 */
export function copyBytes(dst: Uint8Array, d: number, src: Uint8Array, s: number, n: number): void {
  if (n >= WORD_COPY) {
    from.of(src);
    to.of(dst);
    const sa = from.base + s;
    const da = to.base + d;
    const words = n >> 2;
    const sw = from.words;
    const dw = to.words;
    const si = sa >> 2;
    const di = da >> 2;
    if (((sa | da) & 3) === 0 && (from.shared || to.shared || n <= SMALL_COPY) && si + words <= sw.length && di + words <= dw.length) {
      // Four words a turn (fewer loop branches): `lookup --packet-size 1400` 1.26x, 64 B 1.01x.
      let k = 0;
      for (; k + 4 <= words; k += 4) {
        const a = sw[si + k];
        const b = sw[si + k + 1];
        const c = sw[si + k + 2];
        const e = sw[si + k + 3];
        dw[di + k] = a;
        dw[di + k + 1] = b;
        dw[di + k + 2] = c;
        dw[di + k + 3] = e;
      }
      for (; k < words; k++) dw[di + k] = sw[si + k];
      for (let j = words << 2; j < n; j++) dst[d + j] = src[s + j];
      return;
    }
  }
  if (n > SMALL_COPY) {
    dst.set(src.subarray(s, s + n), d);
    return;
  }
  for (let i = 0; i < n; i++) dst[d + i] = src[s + i];
}
