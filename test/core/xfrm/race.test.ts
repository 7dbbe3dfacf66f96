// Cross-thread race test of the xfrm tables: real reader threads resolve flows through the
// SPD and SAD, hold bundles across quiescent points and parking, and look SPIs up, while this
// thread adds, updates and deletes states and policies without pause. Freed records are
// poisoned; readers count poisoned reads, records of the wrong SA (a held bundle that still
// validates must name the same SAs), and exceptions (race/xfrm-reader.mjs).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { Xfrm, applyXfrmLine } from '@xfrm/core';

const KEY = '0x' + '21'.repeat(16) + '01020304';
const FLOWS = 48;
const host = (net: number, i: number) => `10.${net}.${i >> 8}.${i & 255}`;
const tmpl = (i: number) => `tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid ${i + 1} mode tunnel`;
const state = (spi: number, reqid: number, extra = '') =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid ${reqid} mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 ${extra}`;

describe('xfrm tables under churn, real reader threads', () => {
  it('no reader sees poison, a wrong SA behind a valid bundle, a wrong record, or an exception', async () => {
    const x = Xfrm.create({ heap: { initialBytes: 1 << 16, maxBytes: 1 << 28 } });
    const ctl = new Int32Array(new SharedArrayBuffer(64));
    const workers = [1, 2].map(
      (r) => new Worker(new URL('./race/xfrm-reader.mjs', import.meta.url), { workerData: { xfrm: x.describe(), ctl: ctl.buffer, flows: FLOWS, seed: 0x2545f491 * r } }),
    );
    const exited = workers.map((w) => new Promise((resolve, reject) => w.on('exit', resolve).on('error', reject)));
    while (Atomics.load(ctl, 5) < workers.length) await new Promise((r) => setTimeout(r, 5));
    const live = Array.from({ length: FLOWS }, () => [] as number[]);
    const policy = new Array<boolean>(FLOWS).fill(false);
    let rng = 0x9e3779b9;
    const rand = (n: number) => {
      rng ^= rng << 13;
      rng ^= rng >>> 17;
      rng ^= rng << 5;
      return (rng >>> 0) % n;
    };
    let ops = 0;
    let nextSpi = 0;
    const end = Date.now() + 6000;
    while (Date.now() < end) {
      for (let n = 0; n < 300; n++, ops++) {
        const i = rand(FLOWS);
        const sel = `src ${host(1, i)}/32 dst ${host(2, i)}/32`;
        switch (rand(6)) {
          case 0: // a new state on the flow's key (shadows the older ones)
            if (live[i].length < 4) {
              const spi = 0x1000 + i * 8 + (nextSpi++ % 8);
              if (!live.some((l) => l.includes(spi))) {
                applyXfrmLine(x, state(spi, i + 1, rand(2) === 0 ? `sel src ${host(1, i)}/32` : ''));
                live[i].push(spi);
              }
            }
            break;
          case 1: // delete the oldest
            if (live[i].length > 0) applyXfrmLine(x, `ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi ${live[i].shift()}`);
            break;
          case 2: // update a state's selector (it may start or stop covering the flow)
            if (live[i].length > 0) {
              const spi = live[i][rand(live[i].length)];
              applyXfrmLine(x, state(spi, i + 1, rand(2) === 0 ? `sel src ${host(1, i)}/32` : `sel src ${host(3, i)}/32`).replace('state add', 'state update'));
            }
            break;
          case 3: // policy added, or replaced by update
            applyXfrmLine(x, `ip xfrm policy ${policy[i] ? 'update' : 'add'} ${sel} dir out priority ${rand(3)} ${tmpl(i)}`);
            policy[i] = true;
            break;
          case 4: // policy deleted
            if (policy[i]) applyXfrmLine(x, `ip xfrm policy delete ${sel} dir out`);
            policy[i] = false;
            break;
          case 5: { // a prefixed policy over many flows comes and goes (other tuple-space groups)
            const prefixed = `src 10.1.0.0/${24 + rand(4)} dst 10.2.0.0/24 dir out`;
            try {
              applyXfrmLine(x, `ip xfrm policy add ${prefixed} priority 9 ${tmpl(i)}`);
            } catch {
              applyXfrmLine(x, `ip xfrm policy delete ${prefixed}`);
            }
            break;
          }
        }
      }
      x.epochs.reclaim();
      await new Promise((r) => setImmediate(r));
      if (rand(8) === 0) {
        // Deletes alone, then quiet: nothing else moves a change count, so a delete that did
        // not would leave readers using its states unchecked after they are freed (poison).
        for (let i = 0; i < FLOWS; i++) {
          if (live[i].length > 0) applyXfrmLine(x, `ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi ${live[i].shift()}`);
        }
        await new Promise((r) => setTimeout(r, 2));
        x.epochs.reclaim();
        await new Promise((r) => setTimeout(r, 2));
      }
    }
    Atomics.store(ctl, 0, 1);
    await Promise.all(exited);
    const [poison, wrong, lookups, heldChecks, errors] = [1, 2, 3, 4, 6].map((w) => Atomics.load(ctl, w));
    expect({ poison, wrong, errors }).toEqual({ poison: 0, wrong: 0, errors: 0 });
    expect(lookups).toBeGreaterThan(10_000);
    expect(heldChecks).toBeGreaterThan(1_000);
    expect(ops).toBeGreaterThan(50_000);
  });
});
