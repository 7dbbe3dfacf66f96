// The SPSC packet ring across two real threads: every packet arrives once, in order, intact,
// through wrap-around, full rings, batching, and a consumer that parks and is woken.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { PacketRing, SLOT_HEADER } from '@xfrm/workers';

describe('PacketRing', () => {
  it('carries 200k packets between threads in order and intact, parking when idle', async () => {
    const rx = PacketRing.create(64, 256);
    const tx = PacketRing.create(64, 256);
    const stats = new Int32Array(new SharedArrayBuffer(16));
    const count = 200_000;
    const w = new Worker(new URL('./ring-consumer.mjs', import.meta.url), { workerData: { rx: rx.buffer, tx: tx.buffer, stats: stats.buffer, count } });
    const exited = new Promise((resolve, reject) => w.on('exit', resolve).on('error', reject));
    const packet = new Uint8Array(256);
    let sent = 0;
    let echoed = 0;
    let bad = 0;
    while (echoed < count) {
      let k = 0;
      const burst = sent % 5000 < 10 ? 1 : 32; // now and then a trickle, so the consumer parks
      for (; k < Math.min(rx.free(), burst) && sent + k < count; k++) {
        const seq = sent + k;
        const len = (seq % 200) + 1;
        for (let i = 0; i < len; i++) packet[i] = (seq + i) & 0xff;
        rx.put(k, packet, 0, len, 0, seq, 0);
      }
      if (k > 0) rx.publish(k);
      sent += k;
      const n = tx.available();
      for (let j = 0; j < n; j++) if (tx.i32[(tx.ready(j) >> 2) + 2] !== echoed + j) bad++;
      tx.release(n);
      echoed += n;
      if (k === 0 && n === 0) await new Promise((r) => setImmediate(r));
      if (sent % 20_000 === 0 && k > 0) await new Promise((r) => setTimeout(r, 2)); // idle: let it park
    }
    await exited;
    expect({ bad, errors: stats[1], done: stats[3], received: stats[0] }).toEqual({ bad: 0, errors: 0, done: 1, received: count });
    expect(stats[2]).toBeGreaterThan(0); // it did park, and was woken
    expect(SLOT_HEADER).toBe(24);
  });

  it('refuses bad geometry', () => {
    expect(() => PacketRing.create(100, 256)).toThrow(RangeError);
    expect(() => PacketRing.create(64, 100)).toThrow(RangeError);
  });

  it('a wake-up between the check and the sleep is not lost: park returns at once once the bell moved (defect 9)', () => {
    const ring = PacketRing.create(4, 64);
    for (const move of [() => ring.wake(), () => ring.publish(1), () => ring.release(0)]) {
      const bell = ring.bell(); // the sleeper reads the bell, finds nothing to do ...
      move(); // ... a stop request, a packet or free room arrives before it sleeps ...
      expect(ring.park(bell, 5_000)).toBe('not-equal'); // ... and it does not sleep.
    }
  });
});
