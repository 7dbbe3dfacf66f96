// A race-test reader: looks keys up in a tight loop while the writer churns, reports a
// quiescent state between batches, and counts every invariant violation with Atomics.
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
  Atomics.add(ctl, CTL.LOOKUPS, BATCH);
  Atomics.add(ctl, CTL.HITS, hits);
  reader.quiescent();
}
reader.unregister();
