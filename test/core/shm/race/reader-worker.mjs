// A race-test reader: looks keys up in a tight loop while the writer churns, scans buckets
// of the live bucket array (every live bucket's key must be its record's key: a bucket
// published before its key is filled is caught here, not by lookups), reports a quiescent
// state between batches, and counts every invariant violation with Atomics.
import { workerData } from 'node:worker_threads';
import { ArenaView, EpochReader, HashTableView, HeapView, POISON } from '@xfrm/core';
import { CTL, checkRecord, fillKey } from './race-layout.mjs';

const { heap: heapDesc, table: tableDesc, arena: arenaDesc, epoch, ctl: ctlBuf, presence: presenceBuf, keys, seed } =
  workerData;
const heap = HeapView.attach(heapDesc);
const table = HashTableView.attach(heap, tableDesc);
const arena = ArenaView.attach(heap, arenaDesc);
const ctl = new Int32Array(ctlBuf);
const presence = new Int32Array(presenceBuf);
const key = new Int32Array(table.keyWords);
const reader = EpochReader.register(heap, epoch);
const BATCH = 128;
const SCAN = 64;
const want = new Int32Array(table.keyWords);

/**
 * Scan SCAN buckets of the table's current bucket array from a random place (layout of
 * hash-table.ts: header [bucketArray, keyWords, seed], array [capacity, 0, buckets], bucket
 * [ref, hash, key]): every live bucket must hold the key of the record it names.
 */
function scan(start) {
  const base = tableDesc.offset;
  const arr = Atomics.load(heap.cover(base + 3), base);
  const cap = heap.cover(arr + 2)[arr];
  const stride = table.keyWords + 2;
  const i32 = heap.cover(arr + 2 + cap * stride);
  for (let n = 0; n < SCAN; n++) {
    const b = arr + 2 + ((start + n) & (cap - 1)) * stride;
    const ref = Atomics.load(i32, b);
    if (ref <= 0) continue;
    if (ref - 1 >= arena.capacity) {
      Atomics.add(ctl, CTL.POISON_SEEN, 1);
      continue;
    }
    const p = arena.payload(ref - 1);
    const k = heap.i32[p];
    if (k === POISON) {
      Atomics.add(ctl, CTL.POISON_SEEN, 1);
      continue;
    }
    fillKey(want, k, table.keyWords);
    for (let w = 0; w < table.keyWords; w++) {
      if (i32[b + 2 + w] !== want[w]) {
        Atomics.add(ctl, CTL.WRONG_RECORD, 1);
        break;
      }
    }
  }
}

let rng = seed | 1;
reader.online();
Atomics.add(ctl, CTL.READY, 1);
while (Atomics.load(ctl, CTL.STOP) === 0) {
  let hits = 0;
  for (let n = 0; n < BATCH; n++) {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    const k = (rng >>> 0) % keys;
    fillKey(key, k, table.keyWords);
    // presence[k] is odd while k is in the table; it moves after insert and before delete.
    const before = Atomics.load(presence, k);
    try {
      const slot = table.lookup(key, 0);
      if (slot < -1 || slot >= arena.capacity) {
        Atomics.add(ctl, CTL.POISON_SEEN, 1);
      } else if (slot >= 0) {
        hits++;
        const p = arena.payload(slot);
        const bad = checkRecord(heap.i32, p, k, POISON);
        if (bad !== 0) Atomics.add(ctl, bad, 1);
      } else if ((before & 1) === 1 && Atomics.load(presence, k) === before) {
        Atomics.add(ctl, CTL.MISSED, 1);
      }
    } catch {
      // Only freed memory read as offsets can throw (an index out of range).
      Atomics.add(ctl, CTL.POISON_SEEN, 1);
    }
  }
  try {
    scan(rng >>> 0);
  } catch {
    Atomics.add(ctl, CTL.POISON_SEEN, 1);
  }
  Atomics.add(ctl, CTL.LOOKUPS, BATCH);
  Atomics.add(ctl, CTL.HITS, hits);
  reader.quiescent();
}
reader.unregister();
