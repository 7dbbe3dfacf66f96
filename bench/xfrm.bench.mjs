// The xfrm model's tables: SPD lookup by tuple space search against the linear list Linux
// used before (one list sorted by priority, first match wins), on the same records in the
// same run; SAD add and delete with many states installed.
import {
  PolicyDb, StateDb, SharedHeap, P_SEL, selectorMatches, makeSelector, anySelector, packFlow,
} from '@xfrm/core';
import { measure, xorshift } from './harness.mjs';

const now = { retire: (free) => free() };
const v4 = (n) => ({ family: 4, words: [n | 0, 0, 0, 0] });
const TMPL = [{ family: 4, src: v4(0xc0000201), dst: v4(0xc6336401), proto: 50, spi: 0, reqid: 1, mode: 'tunnel', optional: false }];

/** The "before" design: every policy of a direction in one list, by priority then age. */
function linearList(spd, sorted) {
  return (flow) => {
    for (let i = 0; i < sorted.length; i++) {
      const p = spd.field(sorted[i], 0);
      if (selectorMatches(spd.heap.i32, p + P_SEL, flow, 0)) return sorted[i];
    }
    return -1;
  };
}

function buildSpd(n, prefixed, rnd) {
  const heap = SharedHeap.create({ maxBytes: 2 ** 32 });
  const spd = PolicyDb.create(heap, now, { capacity: n + 16 });
  const lens = [8, 16, 24];
  const flows = [];
  for (let i = 0; i < n; i++) {
    const src = 0x0a000000 | (rnd() & 0xffffff);
    const dst = prefixed ? 0x0a000000 | (rnd() & 0xffffff) : 0xac100000 + i;
    const sel = makeSelector({
      ...anySelector(4),
      src: v4(src),
      dst: v4(dst),
      srcLen: prefixed ? lens[i % 3] : 32,
      dstLen: prefixed ? lens[Math.floor(i / 3) % 3] : 32,
    });
    if (spd.find('out', sel)) continue;
    spd.add({ dir: 'out', selector: sel, priority: rnd() % 16, templates: TMPL });
    if (flows.length < 4096) flows.push(packFlow({ family: 4, src: v4(src), dst: v4(dst), proto: 6, sport: 1000, dport: 80 }));
  }
  return { spd, flows };
}

export async function policyBench(opts, quick) {
  const rows = [];
  const cases = [
    ...(quick ? [10, 10_000] : [10, 10_000, 1_000_000]).map((n) => ({ n, prefixed: false })),
    ...[10, 1_000, 10_000].map((n) => ({ n, prefixed: true })),
  ];
  for (const { n, prefixed } of cases) {
    const rnd = xorshift(n + (prefixed ? 7 : 0));
    const { spd, flows } = buildSpd(n, prefixed, rnd);
    const linear = linearList(spd, spd.slots('out'));
    const label = `${n} ${prefixed ? 'prefixed' : 'precise'} (${spd.groupCount('out')} prefix-length pairs)`;
    let sink = 0;
    let k = 0;
    const batch = 256;
    const linBatch = Math.max(1, Math.min(256, Math.floor(20_000 / n)));
    rows.push(
      ...(await measure(
        [
          {
            name: `${label}: tuple space lookup`,
            batch,
            fn: () => {
              for (let i = 0; i < batch; i++) sink += spd.lookup(1, flows[k++ % flows.length], 0);
            },
          },
          {
            name: `${label}: linear list lookup`,
            batch: linBatch,
            fn: () => {
              for (let i = 0; i < linBatch; i++) sink += linear(flows[k++ % flows.length]);
            },
          },
        ],
        opts,
      )),
    );
    if (sink === 0.5) console.log(sink);
  }
  return rows;
}

const GCM = { name: 'rfc4106(gcm(aes))', key: new Uint8Array(20), icvBits: 128 };

export async function stateBench(opts, quick) {
  const n = quick ? 100_000 : 1_000_000;
  const heap = SharedHeap.create({ maxBytes: 2 ** 32 });
  const sad = StateDb.create(heap, now, { capacity: n + 4096 });
  const spec = (i) => ({ src: v4(0xc0000201), dst: v4(0xc6000000 + (i >>> 12)), spi: 0x1000 + i, reqid: i & 0xfff, mode: 'tunnel', algorithm: GCM });
  for (let i = 0; i < n; i++) sad.add(spec(i));
  const BATCH = 1024;
  const fresh = Array.from({ length: BATCH }, (_, i) => spec(n + i));
  const addAll = () => fresh.forEach((s) => sad.add(s));
  const delAll = () => fresh.forEach((s) => sad.delete(s.dst, s.spi));
  return measure(
    [
      { name: `${n} states installed: state add`, batch: BATCH, fn: addAll, afterEach: delAll },
      { name: `${n} states installed: state delete`, batch: BATCH, fn: delAll, beforeEach: addAll },
    ],
    opts,
  );
}
