// A bydst chain race-test reader: looks up, by SPI, states that the control thread added
// before the lookup began and has not started to delete, on one bydst key that the control
// thread keeps adding to (at the head) and deleting from (at the tail). Every such lookup
// must find its state: a record made a head before its next is set, or a chain cut on a
// delete, would hide the older states. Counts misses with Atomics.
import { workerData } from 'node:worker_threads';
import { EpochReader, HeapView, StateDbView, packFlow } from '@xfrm/core';

const { xfrm, ctl: ctlBuf } = workerData;
const ctl = new Int32Array(ctlBuf);
const [STOP, NEWEST, OLDEST, MISSES, LOOKUPS, READY] = [0, 1, 2, 3, 4, 5];
const heap = HeapView.attach(xfrm.heap);
const sad = StateDbView.attach(heap, xfrm.sad);
const reader = EpochReader.register(heap, xfrm.epochs);
const dst = Int32Array.of((198 << 24) | (51 << 16) | (100 << 8) | 1, 0, 0, 0);
const src = Int32Array.of((192 << 24) | (0 << 16) | (2 << 8) | 1, 0, 0, 0);
const flow = packFlow({ family: 4, src: { family: 4, words: [0, 0, 0, 0] }, dst: { family: 4, words: [0, 0, 0, 0] }, proto: 17, sport: 1, dport: 1 });

reader.online();
Atomics.add(ctl, READY, 1);
let rng = 0x2545f491;
let lookups = 0;
while (Atomics.load(ctl, STOP) === 0) {
  for (let n = 0; n < 64; n++) {
    const newest = Atomics.load(ctl, NEWEST);
    const oldest = Atomics.load(ctl, OLDEST);
    if (newest < oldest) continue;
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    // Mostly the older half of the chain: what a broken link at the head would hide.
    const spi = oldest + ((rng >>> 0) % (newest - oldest + 1));
    const slot = sad.bydst(4, dst, 0, src, 0, 1, 50, 1, spi, flow, 0);
    // A miss counts only if the state was still not being deleted after the lookup.
    if (slot < 0 && spi >= Atomics.load(ctl, OLDEST)) Atomics.add(ctl, MISSES, 1);
    lookups++;
  }
  reader.quiescent();
}
reader.offline();
Atomics.add(ctl, LOOKUPS, lookups);
