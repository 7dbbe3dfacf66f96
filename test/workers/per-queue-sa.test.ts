// Issue 15: per-queue SAs (with outputSteering 'flow', so that one tunnel's flows use every queue) (RFC 9611 per-resource Child SAs; Linux 6.13's pcpu-num, with the
// dataplane's queues as the resources). Each queue has its own SA and sequence space for the
// same traffic, so nothing reorders within an SA and a peer with a small replay window (32,
// strongSwan's default) drops nothing; a queue without its own SA uses the fallback SA.
import { describe, expect, it } from 'vitest';
import { Dataplane, type PacketResult } from '@xfrm/workers';
import { udpPacket } from '../core/esp/helpers.js';

const KEY = (n: number) => '0x' + n.toString(16).padStart(2, '0').repeat(16) + '0c0d0e0f';
const state = (spi: number, extra: string) =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY(spi & 0xff)} 128 ${extra}`;
const policy = (dir: string) => `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir ${dir} tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel`;
const packets = (n: number) => Array.from({ length: n }, (_, i) => udpPacket(`10.1.${(i >> 8) & 255}.${i & 255}`, '10.2.0.1', 20 + (i % 50)));

/** How many packets a peer with `window` would refuse as replays, receiving `sent` in this order (per SPI). */
function peerDrops(sent: PacketResult[], window: number): number {
  const top = new Map<number, number>();
  const seen = new Map<number, Set<number>>();
  let drops = 0;
  for (const r of sent) {
    const b = Buffer.from(r.data!);
    const spi = b.readUInt32BE(20);
    const seq = b.readUInt32BE(24);
    const t = top.get(spi) ?? 0;
    const s = seen.get(spi) ?? new Set<number>();
    if (seq + window <= t || s.has(seq)) drops++;
    else {
      s.add(seq);
      if (seq > t) top.set(spi, seq);
    }
    seen.set(spi, s);
  }
  return drops;
}

describe('per-queue SAs (pcpu-num)', () => {
  it('each queue uses its own SA: no SA is shared, no reordering within an SA, a window-32 peer drops nothing', async () => {
    const a = await Dataplane.create({ queues: 2, crypto: 'node', outputSteering: 'flow' });
    const b = await Dataplane.create({ queues: 2, crypto: 'node', outputSteering: 'flow' });
    try {
      for (const [spi, q] of [[0x100, 0], [0x101, 1]]) {
        await a.apply(state(spi, `pcpu-num ${q}`));
        await b.apply(state(spi, 'replay-window 32'));
      }
      await a.apply(policy('out'));
      await b.apply(policy('in'));
      const sent = await a.process(packets(6000));
      expect(sent.every((r) => r.verdict === 'transmitted')).toBe(true);
      const serialOf = new Map(a.listStates().map((s) => [s.pcpuNum, s.serial]));
      for (const r of sent) expect(r.sa).toBe(serialOf.get(r.queue));
      expect(new Set(sent.map((r) => r.queue)).size).toBe(2);
      expect(peerDrops(sent, 32)).toBe(0);
      const got = await b.process(sent.map((r) => r.data!), 'in');
      expect(got.filter((r) => r.verdict !== 'transmitted')).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });

  it('a queue without its own SA uses the fallback (no pcpu-num); deleting its SA falls back', async () => {
    const a = await Dataplane.create({ queues: 2, crypto: 'node', outputSteering: 'flow' });
    try {
      await a.apply(state(0x200, ''));
      await a.apply(state(0x201, 'pcpu-num 0'));
      await a.apply(policy('out'));
      const spiOf = (r: PacketResult) => Buffer.from(r.data!).readUInt32BE(20);
      const first = await a.process(packets(400));
      for (const r of first) expect(spiOf(r)).toBe(r.queue === 0 ? 0x201 : 0x200);
      await a.apply('ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x201');
      const second = await a.process(packets(400));
      expect(second.every((r) => spiOf(r) === 0x200)).toBe(true);
      expect(a.xfrm.sad.list().map((s) => s.pcpuNum)).toEqual([undefined]);
      const listed = await a.apply('ip xfrm state list');
      expect(listed).not.toContain('pcpu-num');
    } finally {
      await a.close();
    }
  });

  it('pcpu-num is parsed, printed and parsed back; states bound to no queue serve the control thread', async () => {
    const a = await Dataplane.create({ queues: 1 });
    try {
      await a.apply(state(0x300, 'pcpu-num 5'));
      const listed = await a.apply('ip xfrm state list');
      expect(listed).toContain('\tpcpu-num 5');
      await a.apply(policy('out'));
      const flow = { family: 4 as const, src: { family: 4 as const, words: [0x0a010001, 0, 0, 0] }, dst: { family: 4 as const, words: [0x0a020001, 0, 0, 0] }, proto: 17, sport: 1, dport: 2 };
      expect(a.xfrm.resolve('out', flow).acquire).toBeDefined(); // queue 5's SA is no one else's
      expect(a.xfrm.resolve('out', flow, 5).states.map((s) => s.spi)).toEqual([0x300]);
    } finally {
      await a.close();
    }
  });
});

describe('per-queue ACQUIREs (flag cpu-acquire)', () => {
  it('a queue on the fallback SA asks for its own, naming itself, once; its own SA then takes over', async () => {
    const a = await Dataplane.create({ queues: 2, crypto: 'node', outputSteering: 'flow' });
    const acquires: { pcpuNum?: number; reqid: number }[] = [];
    a.on('acquire', (x) => acquires.push(x));
    try {
      await a.apply(state(0x400, '')); // the fallback
      await a.apply(`${policy('out')} flag cpu-acquire`);
      expect(await a.apply('ip xfrm policy list')).toContain('flag cpu-acquire');
      const spiOf = (r: PacketResult) => Buffer.from(r.data!).readUInt32BE(20);
      const first = await a.process(packets(400));
      expect(first.every((r) => r.verdict === 'transmitted' && spiOf(r) === 0x400)).toBe(true);
      // The queues' counters agree: a packet that carries an ACQUIRE is still counted as sent.
      const counted = a.stats().queues;
      expect(counted.reduce((n, q) => n + q.transmitted, 0)).toBe(400);
      expect(counted.reduce((n, q) => n + q.dropped, 0)).toBe(0);
      expect(acquires.map((x) => x.pcpuNum).sort()).toEqual([0, 1]); // one per queue, merged
      expect(a.xfrm.acquires.list().every((x) => x.merged > 1)).toBe(true);
      await a.apply(state(0x401, 'pcpu-num 1'));
      expect(a.xfrm.acquires.list().map((x) => x.pcpuNum)).toEqual([0]); // queue 1's is satisfied
      const second = await a.process(packets(400));
      for (const r of second) expect(spiOf(r)).toBe(r.queue === 1 ? 0x401 : 0x400);
    } finally {
      await a.close();
    }
  });

  it('without the flag no per-queue ACQUIRE is raised; with no SA at all the ACQUIRE names no queue (as Linux)', async () => {
    const a = await Dataplane.create({ queues: 2 });
    const acquires: { pcpuNum?: number }[] = [];
    a.on('acquire', (x) => acquires.push(x));
    try {
      await a.apply(policy('out'));
      await a.process(packets(50));
      expect(acquires).toHaveLength(1);
      expect(acquires[0].pcpuNum).toBeUndefined();
      await a.apply(state(0x500, ''));
      await a.process(packets(50));
      expect(acquires).toHaveLength(1);
    } finally {
      await a.close();
    }
  });
});

describe('one SA for every queue (outputSteering sa, the default)', () => {
  it('its packets leave in sequence order under churn: peers with windows of 32 and 64 drop nothing', async () => {
    const a = await Dataplane.create({ queues: 2, crypto: 'node' });
    const b = await Dataplane.create({ queues: 2, crypto: 'node' });
    try {
      await a.apply(state(0x600, ''));
      await a.apply(state(0x601, '').replace('reqid 1', 'reqid 2'));
      await b.apply(state(0x600, 'replay-window 32'));
      await b.apply(state(0x601, 'replay-window 32').replace('reqid 1', 'reqid 2'));
      await a.apply(policy('out'));
      await a.apply('ip xfrm policy add src 10.3.0.0/16 dst 10.4.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 2 mode tunnel');
      await b.apply(policy('in'));
      await b.apply('ip xfrm policy add src 10.3.0.0/16 dst 10.4.0.0/16 dir in tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 2 mode tunnel');
      const sent: PacketResult[] = [];
      for (let round = 0; round < 10; round++) {
        // Churn elsewhere in the tables while the tunnels carry traffic.
        await a.apply(`ip xfrm policy add src 10.9.${round}.0/24 dst 10.8.0.0/16 dir out action block`);
        const mix = packets(600).map((p, i) => (i % 3 === 0 ? udpPacket(`10.3.0.${i & 255}`, '10.4.0.1', 30) : p));
        sent.push(...(await a.process(mix)));
        await a.apply(`ip xfrm policy delete src 10.9.${round}.0/24 dst 10.8.0.0/16 dir out`);
      }
      expect(sent.every((r) => r.verdict === 'transmitted')).toBe(true);
      expect(new Set(sent.map((r) => r.queue)).size).toBe(2); // the two SAs may use different queues: each SA one
      for (const spi of [0x600, 0x601]) {
        expect(new Set(sent.filter((r) => Buffer.from(r.data!).readUInt32BE(20) === spi).map((r) => r.queue)).size).toBe(1);
      }
      expect(peerDrops(sent, 32)).toBe(0);
      expect(peerDrops(sent, 64)).toBe(0);
      const got = await b.process(sent.map((r) => r.data!), 'in');
      expect(got.filter((r) => r.verdict !== 'transmitted')).toEqual([]);
    } finally {
      await a.close();
      await b.close();
    }
  });
});

