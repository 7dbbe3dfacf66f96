// Consumer side of test/workers/ring.test.ts: takes numbered packets from one ring, checks
// order and contents, echoes them on another ring, and parks when idle.
import { workerData } from 'node:worker_threads';
import { PacketRing, SLOT_HEADER } from '@xfrm/workers';

const rx = new PacketRing(workerData.rx);
const tx = new PacketRing(workerData.tx);
const stats = new Int32Array(workerData.stats); // [expected next, errors, parks, done]
let expected = 0;
while (expected < workerData.count) {
  const rxBell = rx.bell();
  const txBell = tx.bell();
  const available = rx.available();
  const n = Math.min(available, tx.free(), 16);
  if (n === 0) {
    Atomics.add(stats, 2, 1);
    if (available === 0) rx.park(rxBell, 1000);
    else tx.park(txBell, 1000);
    continue;
  }
  for (let k = 0; k < n; k++) {
    const o = rx.ready(k);
    const len = rx.i32[o >> 2];
    const seq = rx.i32[(o >> 2) + 2];
    let ok = seq === expected && len === (seq % 200) + 1;
    for (let i = 0; i < len && ok; i++) ok = rx.u8[o + SLOT_HEADER + i] === ((seq + i) & 0xff);
    if (!ok) Atomics.add(stats, 1, 1);
    tx.put(k, rx.u8, o + SLOT_HEADER, len, 0, seq, 0);
    expected++;
  }
  tx.publish(n);
  rx.release(n);
  Atomics.store(stats, 0, expected);
}
Atomics.store(stats, 3, 1);
