/**
 * Worker entry of the `tables` scenario: one queue's reader. Looks flows up in batches,
 * reports a quiescent state between batches, and writes its counts into its own line of
 * `counts` (read by the control thread after this thread exits).
 */
import { workerData } from 'node:worker_threads';
import { EpochReader, HashTableView, HeapView } from '@xfrm/core';
import { KEY_WORDS, flowKey } from './table-scenario.js';

const heap = HeapView.attach(workerData.heap);
const table = HashTableView.attach(heap, workerData.table);
const reader = EpochReader.register(heap, workerData.epoch);
const control = new Int32Array(workerData.control);
const counts = new Float64Array(workerData.counts);
const line: number = workerData.line;
const keySpace: number = workerData.keySpace;
const BATCH = 256;
const keys = new Int32Array(BATCH * KEY_WORDS);

let rng = (workerData.seed ^ (workerData.queue * 0x9e3779b9)) | 1;
let lookups = 0;
let hits = 0;
reader.online();
Atomics.store(control, workerData.queue + 1, 1);
while (Atomics.load(control, 0) === 0) {
  for (let i = 0; i < BATCH; i++) {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    flowKey(keys, i * KEY_WORDS, (rng >>> 0) % keySpace, workerData.seed);
  }
  for (let i = 0; i < BATCH; i++) if (table.lookup(keys, i * KEY_WORDS) >= 0) hits++;
  lookups += BATCH;
  reader.quiescent();
}
counts[line] = lookups;
counts[line + 1] = hits;
reader.unregister();
