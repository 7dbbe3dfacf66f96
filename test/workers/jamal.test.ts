// Jamal's test case at CI scale, on real queue workers: traffic through 2 queues while the
// control thread adds and deletes states and policies without pause, in the talk's three
// modes. Invariants:
// - every packet submitted comes back once: transmitted, passed, or dropped under a named reason;
// - no packet submitted after `await deleteState(x)` resolved is encrypted with x;
// - every encrypted packet decrypts back to its input, with a state of the reqid its policy requires;
// - ESP sequence numbers are unique per SA;
// - and all of that still holds when a queue worker is killed mid-run and replaced.
import { describe, expect, it } from 'vitest';
import { DROP_REASONS, EspEngine, Xfrm, aeadBackend, getWord, applyXfrmLine } from '@xfrm/core';
import { Dataplane, type PacketResult } from '@xfrm/workers';
import { hexOf, udpPacket } from '../core/esp/helpers.js';
import { prng } from '../core/xfrm/model-helpers.js';

const GW_A = '192.0.2.1';
const GW_B = '198.51.100.1';
const KEY = (spi: number) => '0x' + (spi & 0xff).toString(16).padStart(2, '0').repeat(16) + '0a0b0c0d';
const TMPL = (reqid: number) => `tmpl src ${GW_A} dst ${GW_B} proto esp reqid ${reqid} mode tunnel`;

interface Mode {
  name: string;
  /** Flows: source and destination of flow i, and the reqid its policy requires. */
  flows: number;
  flow(i: number): { src: string; dst: string; reqid: number };
  /** Configuration lines before traffic. */
  setup(h: Harness): Promise<void>;
  /** One churn step: delete and add. */
  churn(h: Harness, step: number): Promise<void>;
}

class Harness {
  readonly rx = Xfrm.create({ heap: { maxBytes: 1 << 28 } });
  readonly decrypt: EspEngine;
  nextSpi = 0x1000;
  /** SPI -> reqid, for every state ever added. */
  readonly reqidOf = new Map<number, number>();
  /** SPI -> number of deletions completed when its own deletion resolved. */
  readonly deletedAt = new Map<number, number>();
  deletions = 0;
  /** Live SPIs per reqid, oldest first. */
  readonly live = new Map<number, number[]>();

  constructor(readonly dp: Dataplane) {
    applyXfrmLine(this.rx, `ip xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir in tmpl src ${GW_A} dst ${GW_B} proto esp mode tunnel`);
    this.decrypt = new EspEngine(this.rx.spd, this.rx.sad, { backend: aeadBackend('node') });
  }

  async addState(reqid: number): Promise<number> {
    const spi = this.nextSpi++;
    const line = `ip xfrm state add src ${GW_A} dst ${GW_B} proto esp spi ${spi} reqid ${reqid} mode tunnel aead 'rfc4106(gcm(aes))' ${KEY(spi)} 128`;
    applyXfrmLine(this.dp.xfrm, line);
    applyXfrmLine(this.rx, line); // the receiver keeps every state, to decrypt late packets
    this.reqidOf.set(spi, reqid);
    const l = this.live.get(reqid) ?? [];
    l.push(spi);
    this.live.set(reqid, l);
    return spi;
  }

  async deleteOldest(reqid: number): Promise<void> {
    const spi = this.live.get(reqid)?.shift();
    if (spi === undefined) return;
    await this.dp.deleteState({ family: 4, words: [0xc6336401 | 0, 0, 0, 0] }, spi);
    this.deletions++;
    this.deletedAt.set(spi, this.deletions);
  }
}

/** Run traffic with churn; returns what the invariants need. */
async function run(mode: Mode, opts: { packets: number; kill?: boolean }) {
  const dp = await Dataplane.create({ queues: 2, crypto: 'node', ringSlots: 256, flowCacheSize: 1024 });
  const h = new Harness(dp);
  await mode.setup(h);
  const r = prng(7);
  const sent = new Map<string, { packet: Uint8Array; reqid: number; epoch: number }>();
  const results: PacketResult[] = [];
  const seqs = new Set<string>();
  let submitted = 0;
  let step = 0;
  let killed = false;
  while (submitted < opts.packets || results.length < submitted) {
    if (submitted < opts.packets) {
      const batch = Array.from({ length: 64 }, () => {
        const i = Math.floor(r() * mode.flows);
        const f = mode.flow(i);
        return { packet: udpPacket(f.src, f.dst, 16 + (i % 64)), reqid: f.reqid };
      });
      const tickets: { queue: number; id: number }[] = [];
      const taken = dp.submit(batch.map((b) => b.packet), 'out', tickets);
      for (let k = 0; k < taken; k++) sent.set(`${tickets[k].queue}:${tickets[k].id}`, { ...batch[k], epoch: h.deletions });
      submitted += taken;
    }
    results.push(...dp.poll());
    await mode.churn(h, step++);
    if (opts.kill && !killed && submitted > opts.packets / 3) {
      dp.killQueue(0);
      killed = true;
    }
    await new Promise((res) => setImmediate(res));
  }
  const stats = dp.stats();
  await dp.close();
  return { dp, h, sent, results, stats, seqs, steps: step };
}

function check(out: Awaited<ReturnType<typeof run>>, allowed: string[], restarts = 0) {
  const { h, sent, results, stats, seqs } = out;
  // No queue worker died on its own (a crash is replaced silently, so it must be looked for).
  expect(stats.restarts).toBe(restarts);
  // Every packet submitted is accounted for, once.
  expect(results.length).toBe(stats.submitted);
  expect(new Set(results.map((x) => `${x.queue}:${x.id}`)).size).toBe(results.length);
  const verdicts: Record<string, number> = {};
  const back = new Uint8Array(4096);
  for (const res of results) {
    const s = sent.get(`${res.queue}:${res.id}`)!;
    expect(s).toBeDefined();
    const key = res.verdict === 'dropped' ? `dropped:${res.reason}` : res.verdict;
    verdicts[key] = (verdicts[key] ?? 0) + 1;
    if (res.verdict === 'dropped') {
      expect(DROP_REASONS).toContain(res.reason);
      expect(allowed).toContain(key);
      continue;
    }
    if (res.verdict === 'passed') {
      expect(allowed).toContain('passed');
      continue;
    }
    const esp = res.data!;
    const spi = getWord(esp, 20) >>> 0;
    const seq = getWord(esp, 24) >>> 0;
    // Sequence numbers unique per SA.
    expect(seqs.has(`${spi}:${seq}`)).toBe(false);
    seqs.add(`${spi}:${seq}`);
    // The state its policy required.
    expect(h.reqidOf.get(spi)).toBe(s.reqid);
    // Not encrypted with a state whose deletion had resolved before the packet was submitted.
    const deleted = h.deletedAt.get(spi);
    if (deleted !== undefined) expect(s.epoch).toBeLessThan(deleted);
    // Decrypts back to its input.
    const n = h.decrypt.input(esp, 0, esp.length, back, 0);
    expect(n, `decrypt dropped: ${DROP_REASONS[h.decrypt.lastDrop]}`).toBe(s.packet.length);
    expect(hexOf(back.subarray(0, n))).toBe(hexOf(s.packet));
  }
  return verdicts;
}

const oneHost = (i: number) => `10.1.${(i >> 8) & 0xff}.${i & 0xff}`;
const peer = (i: number) => `10.2.${(i >> 8) & 0xff}.${i & 0xff}`;

const ONE_POLICY_MANY_STATES: Mode = {
  name: 'one policy, many states',
  flows: 500,
  flow: (i) => ({ src: oneHost(i), dst: peer(i), reqid: 1 }),
  async setup(h) {
    await h.dp.apply(`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TMPL(1)}`);
    for (let i = 0; i < 100; i++) await h.addState(1);
  },
  async churn(h) {
    await h.addState(1); // shadows every state before it
    await h.deleteOldest(1);
  },
};

const MANY_POLICIES: Mode = {
  name: 'many policies',
  flows: 1000,
  flow: (i) => ({ src: oneHost(i), dst: peer(i), reqid: 100 + i }),
  async setup(h) {
    for (let i = 0; i < 1000; i++) {
      applyXfrmLine(h.dp.xfrm, `ip xfrm policy add src ${oneHost(i)}/32 dst ${peer(i)}/32 dir out ${TMPL(100 + i)}`);
      await h.addState(100 + i);
    }
    await h.dp.synchronize();
  },
  async churn(h, step) {
    // Replace a policy (update) and its state: add the new state first, then delete the old.
    const i = (step * 37) % 1000;
    await h.dp.apply(`ip xfrm policy update src ${oneHost(i)}/32 dst ${peer(i)}/32 dir out priority ${step % 3} ${TMPL(100 + i)}`);
    await h.addState(100 + i);
    await h.deleteOldest(100 + i);
  },
};

const MANY_POLICIES_MANY_STATES: Mode = {
  name: 'many policies, several states each',
  flows: 800,
  flow: (i) => ({ src: oneHost(i), dst: peer(i), reqid: 1000 + (i % 200) }),
  async setup(h) {
    for (let i = 0; i < 800; i++) applyXfrmLine(h.dp.xfrm, `ip xfrm policy add src ${oneHost(i)}/32 dst ${peer(i)}/32 dir out ${TMPL(1000 + (i % 200))}`);
    for (let p = 0; p < 200; p++) for (let s = 0; s < 4; s++) await h.addState(1000 + p);
    await h.dp.synchronize();
  },
  async churn(h, step) {
    const p = (step * 13) % 200;
    await h.addState(1000 + p);
    await h.deleteOldest(1000 + p);
    if (step % 5 === 0) await h.dp.apply(`ip xfrm policy delete src ${oneHost(p)}/32 dst ${peer(p)}/32 dir out`);
    if (step % 5 === 0) await h.dp.apply(`ip xfrm policy add src ${oneHost(p)}/32 dst ${peer(p)}/32 dir out ${TMPL(1000 + p)}`);
  },
};

describe("Jamal's test case on real queue workers", () => {
  it('one policy, many states: traffic keeps flowing while states are added and deleted', async () => {
    const out = await run(ONE_POLICY_MANY_STATES, { packets: 20000 });
    const v = check(out, []);
    expect(v.transmitted).toBe(out.stats.submitted);
    expect(out.h.deletions).toBeGreaterThan(20);
    expect(out.stats.queues.every((q) => q.packets > 0)).toBe(true);
  });

  it('many policies: policies and states replaced under traffic', async () => {
    const out = await run(MANY_POLICIES, { packets: 20000 });
    const v = check(out, []);
    expect(v.transmitted).toBe(out.stats.submitted);
    expect(out.h.deletions).toBeGreaterThan(20);
  });

  it('many policies, several states each: policies deleted and re-added under traffic', async () => {
    const out = await run(MANY_POLICIES_MANY_STATES, { packets: 20000 });
    // While a policy is deleted and not yet back, its flows pass in the clear: the SPD says so.
    const v = check(out, ['passed']);
    expect(v.transmitted).toBeGreaterThan(4000);
    expect(out.h.deletions).toBeGreaterThan(20);
  });

  it('a queue worker killed mid-run is replaced; nothing is lost or reused', async () => {
    const out = await run(ONE_POLICY_MANY_STATES, { packets: 20000, kill: true });
    const v = check(out, [], 1);
    expect(out.stats.restarts).toBe(1);
    expect(out.stats.queues[0].starts).toBe(2);
    expect(v.transmitted).toBe(out.stats.submitted);
  });
});

