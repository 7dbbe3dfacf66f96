// What an SA's context costs one queue: build time and bytes (the JS object in V8's heap, the
// backend's state outside it: OpenSSL's EVP_CIPHER_CTX for native, the key schedule and
// GHASH table for noble, a KeyObject for node), for N states built in turn.
// Usage: node --expose-gc bench/context-cost.mjs [N=20000]
import os from 'node:os';
import { SaContextCache, Xfrm, aeadBackend } from '@xfrm/core';

const N = Number(process.argv[2] ?? 20_000);
const x = Xfrm.create({ heap: { maxBytes: 2 ** 30 }, stateCapacity: N * 2 });
const key = Uint8Array.from({ length: 20 }, (_, i) => i + 1);
for (let i = 0; i < N; i++) {
  x.addState({ src: { family: 4, words: [0xcb007101 | 0, 0, 0, 0] }, dst: { family: 4, words: [(0xc6336400 + i) | 0, 0, 0, 0] }, spi: 0x1000 + i, reqid: 1, mode: 'tunnel', algorithm: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 } });
}
const slots = x.sad.list().map((s) => x.sad.slotOf(s));
const gc = globalThis.gc ?? (() => {});
console.log(`${os.cpus()[0].model}, Node ${process.version}; ${N} AES-GCM-128 contexts, one thread`);
// One backend per process (BACKEND=name) gives a clean RSS figure; without it, all three.
for (const name of process.env.BACKEND ? [process.env.BACKEND] : ['native', 'node', 'noble']) {
  let backend;
  try {
    backend = aeadBackend(name);
  } catch {
    console.log(`${name}: unavailable`);
    continue;
  }
  const times = [];
  let heap = 0;
  let rss = 0; // of the first run: later ones reuse what malloc kept
  for (let r = 0; r < 3; r++) {
    gc();
    const m0 = process.memoryUsage();
    const cache = new SaContextCache(x.sad, backend);
    const t = process.hrtime.bigint();
    for (const s of slots) cache.get(s);
    times.push(Number(process.hrtime.bigint() - t) / N / 1000);
    gc();
    const m1 = process.memoryUsage();
    heap = (m1.heapUsed - m0.heapUsed) / N;
    if (r === 0) rss = (m1.rss - m0.rss - (m1.heapTotal - m0.heapTotal)) / N;
    cache.clear();
  }
  times.sort((a, b) => a - b);
  console.log(`${name.padEnd(6)} build ${times[1].toFixed(2)} us (median of 3)   V8 heap ${heap.toFixed(0)} B, outside it ${rss.toFixed(0)} B per context (RSS growth beyond V8's heap, first run)`);
}
