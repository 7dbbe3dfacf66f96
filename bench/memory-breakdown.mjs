// Where the bytes of one state and one precise policy go (issue 16, "measure first"): add N
// states (each its own bydst key, replay window 64, AES-GCM-128) and N precise policies to a
// fresh Xfrm, and divide what each structure holds by N: shared records, hash tables at their
// load, runtime blocks, chain blocks, and the control thread's JS heap; RSS beside it.
// Usage: node --expose-gc bench/memory-breakdown.mjs [N=100000] [SHARES=2]
// (SHARES: lifetime shares per SA, one per queue of the Dataplane that would serve them.)
import os from 'node:os';
import { CHAIN_BLOCK_WORDS, Xfrm, anySelector, makeSelector, runtimeWords, templateWordsFor } from '@xfrm/core';

const N = Number(process.argv[2] ?? 100_000);
const SHARES = Number(process.argv[3] ?? 2);
const gc = globalThis.gc ?? (() => {});
const v4 = (n) => ({ family: 4, words: [n | 0, 0, 0, 0] }); // an IPv4 address is word 0
const mem = () => {
  gc();
  gc();
  const m = process.memoryUsage();
  return { js: m.heapUsed, rss: m.rss, ab: controlArrayBytes(x) };
};

/**
 * Bytes of the typed arrays the control side holds (not views of the shared heap), found by
 * walking the Xfrm's objects: large ones are on pages of their own (shm/page-array.ts), which
 * process.memoryUsage().arrayBuffers does not count.
 */
function controlArrayBytes(root) {
  const seen = new Set();
  const buffers = new Set();
  const stack = [root];
  while (stack.length > 0) {
    const o = stack.pop();
    if (o === null || typeof o !== 'object' || seen.has(o)) continue;
    seen.add(o);
    if (ArrayBuffer.isView(o)) {
      if (!(o.buffer instanceof SharedArrayBuffer)) buffers.add(o.buffer);
      continue;
    }
    for (const v of o instanceof Map ? [...o.keys(), ...o.values()] : Array.isArray(o) ? o : Object.values(o)) stack.push(v);
  }
  let bytes = 0;
  for (const b of buffers) bytes += b.byteLength;
  return bytes;
}
const per = (bytes) => (bytes / N).toFixed(0);
const x = Xfrm.create({ heap: { maxBytes: 2 ** 32 }, stateCapacity: 1 << 21, policyCapacity: 1 << 21, lifetimeShares: SHARES });


const heap = x.sad.heap;
const key = new Uint8Array(20).fill(7);
const s0 = mem();
let h0 = heap.bytesInUse;
let t = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  x.addState({
    src: v4(0xc0000201), dst: v4(0x0a000000 + i), spi: 0x1000 + i, reqid: 1 + (i % 1000), mode: 'tunnel',
    algorithm: { name: 'rfc4106(gcm(aes))', key, icvBits: 128 }, replayWindow: 64,
  });
}
const addStateUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
const s1 = mem();
const sad = x.sad;
const stateParts = {
  'records (arena)': sad.arena.bytes,
  'byspi table': sad.spis.bytes,
  'bydst table': sad.dsts.table.bytes,
  'chain blocks (one per bydst key)': sad.dsts.table.size * CHAIN_BLOCK_WORDS * 4,
  [`runtime blocks (window 64, ${SHARES} lifetime shares)`]: N * runtimeWords(64, SHARES) * 4,
};
const stateShared = heap.bytesInUse - h0;

const p0 = mem();
h0 = heap.bytesInUse;
t = process.hrtime.bigint();
for (let i = 0; i < N; i++) {
  x.addPolicy({
    dir: 'out', priority: 1,
    selector: makeSelector({ ...anySelector(4), src: v4(0x0b000000 + i), srcLen: 32, dst: v4(0x0c000000 + i), dstLen: 32 }),
    templates: [{ family: 4, src: v4(0xc0000201), dst: v4(0xc0000202), proto: 50, spi: 0, reqid: 1, mode: 'tunnel', optional: false }],
  });
}
const addPolicyUs = Number(process.hrtime.bigint() - t) / 1e3 / N;
const p1 = mem();
const spd = x.spd;
const groupTables = [...spd.groups.flatMap((g) => [...g.values()])].reduce((n, g) => n + g.chains.table.bytes, 0);
const policyParts = { 'records (arena)': spd.arena.bytes, 'group hash tables': groupTables, 'templates (one IPv4 tunnel a policy, out of line)': N * (templateWordsFor(4) + 1) * 4 }; // 5 words, 6 with the heap's 8-byte rounding
const policyShared = heap.bytesInUse - h0;

console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}; N = ${N.toLocaleString('en-US')}`);
/** One table: the parts, the shared total, the JS heap and RSS between two readings, the time of one add. */
function table(title, parts, shared, before, after, addUs) {
  console.log(`\n| ${title} | bytes |\n| --- | ---: |`);
  for (const [k, v] of Object.entries(parts)) console.log(`| ${k} | ${per(v)} |`);
  console.log(`| **shared heap, all** | **${per(shared)}** |`);
  console.log(`| control thread JS heap | ${per(after.js - before.js)} |`);
  console.log(`| control thread typed arrays (not shared) | ${per(after.ab - before.ab)} |`);
  console.log(`| process RSS | ${per(after.rss - before.rss)} |`);
  console.log(`| add (us) | ${addUs.toFixed(1)} |`);
}
table('per state', stateParts, stateShared, s0, s1, addStateUs);
table('per precise policy', policyParts, policyShared, p0, p1, addPolicyUs);
