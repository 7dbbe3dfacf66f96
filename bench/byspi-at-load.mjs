// byspi lookups (hit and miss) at the SAD's own load, N states added one by one as a gateway
// would (each its own bydst key), looked up in random order. For the hash tables' load factor:
// the table sizes itself, so this measures what a gateway with N SAs gets.
// Usage: node bench/byspi-at-load.mjs [N=100000] [runs=5]
import os from 'node:os';
import { Xfrm } from '@xfrm/core';
import { xorshift } from './harness.mjs';

const N = Number(process.argv[2] ?? 100_000);
const RUNS = Number(process.argv[3] ?? 5);
const x = Xfrm.create({ heap: { maxBytes: 2 ** 31 }, stateCapacity: Math.max(N * 2, 1024) });
const key = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
const v4 = (w) => ({ family: 4, words: [w | 0, 0, 0, 0] });
for (let i = 0; i < N; i++) {
  x.addState({ src: v4(0xcb007101), dst: v4(0xc6336400 + (i % 50_000)), spi: 0x1000 + i, reqid: i + 1, mode: 'tunnel', algorithm: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 } });
}
const sad = x.sad;
const rnd = xorshift(7);
const M = 1 << 16;
const dst = new Int32Array(M * 4);
const spiHit = new Int32Array(M);
for (let k = 0; k < M; k++) {
  const i = rnd() % N;
  dst[k * 4] = 0xc6336400 + (i % 50_000);
  spiHit[k] = 0x1000 + i;
}
function run(spiOffset) {
  let found = 0;
  const t = process.hrtime.bigint();
  for (let r = 0; r < 8; r++) for (let k = 0; k < M; k++) if (sad.byspi(4, dst, k * 4, spiHit[k] + spiOffset, 50) >= 0) found++;
  return [Number(process.hrtime.bigint() - t) / (8 * M), found];
}
const hit = [];
const miss = [];
for (let r = 0; r < RUNS; r++) {
  hit.push(run(0)[0]);
  miss.push(run(0x40000000)[0]); // SPIs never used: a miss
}
const med = (a) => a.sort((p, q) => p - q)[a.length >> 1];
console.log(`${os.cpus()[0].model} x${os.cpus().length}, node ${process.version}; N = ${N}: byspi hit ${med(hit).toFixed(1)} ns, miss ${med(miss).toFixed(1)} ns (medians of ${RUNS}); byspi table ${(sad.spis.bytes / N).toFixed(1)} B a state`);
