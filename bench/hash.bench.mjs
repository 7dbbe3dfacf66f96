// The seeded hash on the real key shapes: JS XXH32 over int32 words (what the tables use)
// against xxhash-wasm's XXH32 over the same key's bytes.
import xxhash from 'xxhash-wasm';
import { xxh32Words } from '@xfrm/core';
import { measure, xorshift } from './harness.mjs';

const SHAPES = [
  { name: 'IPv4 5-tuple', bytes: 13 },
  { name: 'SA id (dst, spi, proto)', bytes: 21 },
  { name: 'IPv6 5-tuple', bytes: 37 },
];
const BATCH = 1024;

export async function hashBench(opts) {
  const { h32Raw } = await xxhash();
  const rnd = xorshift(7);
  const tasks = [];
  let sink = 0;
  for (const shape of SHAPES) {
    const words = Math.ceil(shape.bytes / 4);
    const keys = new Int32Array(BATCH * words).map(() => rnd() | 0);
    const bytes = new Uint8Array(keys.buffer);
    tasks.push({
      name: `${shape.name}: JS xxh32Words (${words} words)`,
      batch: BATCH,
      fn: () => {
        for (let i = 0; i < BATCH; i++) sink ^= xxh32Words(keys, i * words, words, 0x1234);
      },
    });
    tasks.push({
      name: `${shape.name}: xxhash-wasm h32Raw (${shape.bytes} bytes)`,
      batch: BATCH,
      fn: () => {
        for (let i = 0; i < BATCH; i++) sink ^= h32Raw(bytes.subarray(i * words * 4, i * words * 4 + shape.bytes), 0x1234);
      },
    });
  }
  const rows = await measure(tasks, opts);
  if (sink === 0.5) console.log(sink); // keep the results alive
  return rows;
}
