// SAD control operations at scale (issue 16): add N states (each its own bydst key, replay
// window 64, AES-GCM-128, no readers attached), flush them, and do it again, printing the
// time of each step, the process RSS, the control thread's JS heap and the shared heap (in
// use, and its high-water mark: what a second fill adds to it shows whether freed memory is
// reused). Usage: node --expose-gc bench/state-scale.mjs [N=1000000] [rounds=2]
import os from 'node:os';
import { Xfrm } from '@xfrm/core';

const N = Number(process.argv[2] ?? 1_000_000);
const rounds = Number(process.argv[3] ?? 2);
const gc = globalThis.gc ?? (() => {});
const v4 = (n) => ({ family: 4, words: [n | 0, 0, 0, 0] }); // an IPv4 address is word 0
const x = Xfrm.create({ heap: { maxBytes: 2 ** 32 }, stateCapacity: Math.max(1 << 20, 2 ** Math.ceil(Math.log2(N + 1))), policyCapacity: 1 << 16 });
const heap = x.sad.heap;
const key = new Uint8Array(20).fill(7);
const mb = (b) => (b / 2 ** 20).toFixed(0);
function memory() {
  gc();
  gc();
  const m = process.memoryUsage();
  return `RSS ${mb(m.rss)} MB | JS heap ${mb(m.heapUsed)} MB, malloc'd array buffers ${mb(m.arrayBuffers)} MB | shared heap in use ${mb(heap.bytesInUse)} MB, high-water ${mb(heap.highWater)} MB`;
}
const seconds = (t) => ((performance.now() - t) / 1000).toFixed(2);

console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}; N = ${N.toLocaleString('en-US')}`);
console.log(`start: ${memory()}`);
for (let round = 1; round <= rounds; round++) {
  let t = performance.now();
  for (let i = 0; i < N; i++) {
    x.addState({
      src: v4(0xc0000201), dst: v4(0x0a000000 + i), spi: 0x1000 + i, reqid: 1 + (i % 1000), mode: 'tunnel',
      algorithm: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 }, replayWindow: 64,
    });
  }
  console.log(`fill ${round}: add ${seconds(t)} s | ${memory()}`);
  t = performance.now();
  const n = x.flushStates();
  if (n !== N) throw new Error(`flushed ${n}, not ${N}`);
  console.log(`fill ${round}: flush ${seconds(t)} s | ${memory()}`);
}
