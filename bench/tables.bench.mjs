// The shared hash table at 1k / 100k / 1M entries: lookup hit and miss, insert, delete.
// Keys are IPv4 5-tuples packed in 4 int32 words; lookups go in random order so that a big
// table is measured out of cache, as a gateway sees it.
import { HashTable, SharedHeap } from '@xfrm/core';
import { measure, xorshift } from './harness.mjs';

const KEY_WORDS = 4;
const BATCH = 1024;

function makeKeys(n, rnd) {
  const keys = new Int32Array(n * KEY_WORDS);
  for (let i = 0; i < n; i++) {
    keys[i * KEY_WORDS] = 0x0a000000 | (rnd() & 0xffffff); // src 10.x.y.z
    keys[i * KEY_WORDS + 1] = i; // dst: unique per key
    keys[i * KEY_WORDS + 2] = rnd() | 0; // ports
    keys[i * KEY_WORDS + 3] = 17; // proto
  }
  return keys;
}

export async function tablesBench(opts, sizes = [1_000, 100_000, 1_000_000]) {
  const rows = [];
  for (const size of sizes) {
    const rnd = xorshift(size);
    const heap = SharedHeap.create({ maxBytes: 2 ** 31 });
    const table = HashTable.create(heap, { retire: (free) => free() }, { keyWords: KEY_WORDS, capacity: size });
    const present = makeKeys(size, rnd);
    for (let i = 0; i < size; i++) table.insert(present, i * KEY_WORDS, i);
    const absent = makeKeys(BATCH, rnd).map((w, i) => (i % KEY_WORDS === 1 ? -1 - w : w)); // dsts never used
    const order = Uint32Array.from({ length: BATCH * 16 }, () => rnd() % size);
    let cursor = 0;
    let sink = 0;
    const fresh = makeKeys(BATCH, rnd).map((w, i) => (i % KEY_WORDS === 1 ? w + size : w));
    const insertAll = () => {
      for (let i = 0; i < BATCH; i++) table.insert(fresh, i * KEY_WORDS, size + i);
    };
    const deleteAll = () => {
      for (let i = 0; i < BATCH; i++) table.delete(fresh, i * KEY_WORDS);
    };
    rows.push(
      ...(await measure(
        [
          {
            name: `${size} entries: lookup hit`,
            batch: BATCH,
            fn: () => {
              for (let i = 0; i < BATCH; i++) sink += table.lookup(present, order[(cursor + i) % order.length] * KEY_WORDS);
              cursor = (cursor + BATCH) % order.length;
            },
          },
          {
            name: `${size} entries: lookup miss`,
            batch: BATCH,
            fn: () => {
              for (let i = 0; i < BATCH; i++) sink += table.lookup(absent, i * KEY_WORDS);
            },
          },
          { name: `${size} entries: insert`, batch: BATCH, fn: insertAll, afterEach: deleteAll },
          { name: `${size} entries: delete`, batch: BATCH, fn: deleteAll, beforeEach: insertAll },
        ],
        opts,
      )),
    );
    if (sink === 0.5) console.log(sink);
  }
  return rows;
}
