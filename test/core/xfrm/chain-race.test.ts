// Race test of a bydst chain: a reader thread looks states up by SPI on one key while this
// thread adds states at the chain's head and deletes them from its tail without pause. A
// state added before a lookup began, and not yet being deleted, must always be found
// (race/chain-reader.mjs). Catches a head published before its next link (mutation
// chain-head-before-next).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Xfrm, applyXfrmLine } from '@xfrm/core';

const KEY = '0x' + '21'.repeat(16) + '01020304';
const DST = { family: 4, words: [(198 << 24) | (51 << 16) | (100 << 8) | 1, 0, 0, 0] } as const;

describe('a bydst chain under churn, a real reader thread', () => {
  it('never misses a state that was in the chain for the whole lookup', async () => {
    const x = Xfrm.create({ heap: { initialBytes: 1 << 16, maxBytes: 1 << 28 } });
    const add = (spi: number) =>
      applyXfrmLine(x, `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`);
    const ctl = new Int32Array(new SharedArrayBuffer(64));
    const [STOP, NEWEST, OLDEST, MISSES, LOOKUPS, READY] = [0, 1, 2, 3, 4, 5];
    const LIVE = 48;
    let newest = 0x100;
    let oldest = 0x100;
    add(newest);
    Atomics.store(ctl, NEWEST, newest);
    Atomics.store(ctl, OLDEST, oldest);
    const worker = new Worker(new URL('./race/chain-reader.mjs', import.meta.url), { workerData: { xfrm: x.describe(), ctl: ctl.buffer } });
    const exited = new Promise((resolve, reject) => worker.on('exit', resolve).on('error', reject));
    while (Atomics.load(ctl, READY) < 1) await new Promise((r) => setTimeout(r, 5));
    const end = Date.now() + 3000;
    while (Date.now() < end) {
      for (let n = 0; n < 200; n++) {
        add(++newest);
        Atomics.store(ctl, NEWEST, newest); // after the add: readers may look it up
        if (newest - oldest >= LIVE) {
          Atomics.store(ctl, OLDEST, ++oldest); // before the delete: readers stop counting it
          x.deleteState(DST, oldest - 1);
        }
      }
      x.epochs.reclaim();
      await new Promise((r) => setImmediate(r));
    }
    Atomics.store(ctl, STOP, 1);
    await exited;
    expect(Atomics.load(ctl, LOOKUPS)).toBeGreaterThan(10_000);
    expect(Atomics.load(ctl, MISSES)).toBe(0);
  });
});
