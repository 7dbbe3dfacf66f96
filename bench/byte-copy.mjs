// Packet-sized copies between SharedArrayBuffers (a queue's receive and transmit areas) and
// plain buffers: copyBytes (words when aligned) against a byte loop and `set(subarray())`,
// ns per copy, medians of 5 runs, on the CPU printed first.
// Usage: node bench/byte-copy.mjs
import os from 'node:os';
import { copyBytes } from '@xfrm/core';

const RUNS = 5;
const make = { shared: (n) => new SharedArrayBuffer(n), plain: (n) => new ArrayBuffer(n) };
function byteLoop(dst, d, src, s, n) {
  for (let i = 0; i < n; i++) dst[d + i] = src[s + i];
}
function setView(dst, d, src, s, n) {
  dst.set(src.subarray(s, s + n), d);
}
const ways = { copyBytes, byteLoop, setView };
console.log(`${os.cpus()[0].model}, Node ${process.version}`);
for (const kind of ['shared', 'plain']) {
  const src = new Uint8Array(make[kind](1 << 16)).fill(7);
  const dst = new Uint8Array(make[kind](1 << 16));
  for (const n of [64, 1400]) {
    for (const align of [0, 1]) {
      const row = [];
      for (const [name, f] of Object.entries(ways)) {
        const N = Math.round(4e6 / Math.sqrt(n));
        const times = [];
        for (let r = 0; r < RUNS; r++) {
          const t = process.hrtime.bigint();
          for (let k = 0; k < N; k++) f(dst, (k & 63) * 512 + 28 + align, src, (k & 127) * 256, n);
          times.push(Number(process.hrtime.bigint() - t) / N);
        }
        times.sort((a, b) => a - b);
        row.push(`${name} ${times[RUNS >> 1].toFixed(1)}`);
      }
      console.log(`${kind.padEnd(6)} ${String(n).padStart(4)} B ${align ? 'misaligned' : 'aligned   '}  ns: ${row.join('  ')}`);
    }
  }
}
