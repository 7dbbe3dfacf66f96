// Defects 5 and 6 of the long-running review: SA lifetimes are counted and enforced in the
// packet path (shared u64 counters, no lost update across queues; a packet past a hard limit
// is refused; the soft expiry is raised once), and SAs are named by an identity that is never
// reused, so in-flight packets of a deleted SA are never charged to the SA that takes its slot.
import { describe, expect, it } from 'vitest';
import { EspEngine, Xfrm, aeadBackend, applyXfrmLine, type ExpireEvent } from '@xfrm/core';
import { Dataplane } from '@xfrm/workers';
import { udpPacket } from '../core/esp/helpers.js';

const KEY = '0x' + '66'.repeat(16) + '03030303';
const KEY2 = '0x' + '77'.repeat(16) + '04040404';
const SA = (spi: number, extra = '', src = '192.0.2.1', dst = '198.51.100.1', key = KEY) =>
  `ip xfrm state add src ${src} dst ${dst} proto esp spi ${spi} reqid 8 mode tunnel aead 'rfc4106(gcm(aes))' ${key} 128 ${extra}`;
const TMPL = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 8 mode tunnel';
const OUT = `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TMPL}`;
/** 48-byte packets over 250 flows (spread over the queues). */
const packets = (n: number) => Array.from({ length: n }, (_, i) => udpPacket(`10.1.${i % 5}.${i % 250}`, '10.2.0.1', 20));

async function withDataplane(queues: number, body: (dp: Dataplane, expires: ExpireEvent[]) => Promise<void>, opts: { outputSteering?: 'sa' | 'flow' } = {}): Promise<void> {
  const dp = await Dataplane.create({ queues, ...opts });
  const expires: ExpireEvent[] = [];
  dp.on('expire', (e) => expires.push(e));
  try {
    await body(dp, expires);
  } finally {
    await dp.close();
  }
}

describe('lifetimes in the packet path (defect 6)', () => {
  it('packet-hard 10 on 2 queues: exactly 10 packets leave, the soft expiry fires once, then the hard one', async () => {
    await withDataplane(2, async (dp, expires) => {
      await dp.apply(OUT);
      await dp.apply(SA(0x100, 'limit packet-soft 4 packet-hard 10'));
      const results = await dp.process(packets(400));
      expect(results.filter((r) => r.verdict === 'transmitted')).toHaveLength(10);
      const dropped = results.filter((r) => r.verdict === 'dropped').map((r) => r.reason);
      expect(dropped.every((r) => r === 'XfrmOutStateExpired' || r === 'XfrmOutNoStates')).toBe(true);
      await dp.synchronize();
      dp.poll();
      expect(expires.map((e) => [e.hard, e.reason])).toEqual([[false, 'packets'], [true, 'packets']]);
      expect(dp.listStates()).toHaveLength(0);
    });
  });

  it('byte-hard counts exactly across queues: a packet is refused once the bytes before it reach the limit', async () => {
    await withDataplane(2, async (dp) => {
      await dp.apply(OUT);
      await dp.apply(SA(0x101, 'limit byte-soft 500 byte-hard 1000'));
      const results = await dp.process(packets(200));
      // 48 bytes each: 21 packets start below 1000 bytes (0, 48, ..., 960).
      expect(results.filter((r) => r.verdict === 'transmitted')).toHaveLength(21);
    });
  });

  it('the outer SA of a nested bundle is charged and enforced too', async () => {
    await withDataplane(2, async (dp, expires) => {
      await dp.apply(SA(0x200, 'limit packet-hard 1000000')); // inner, 192.0.2.1 -> 198.51.100.1
      await dp.apply(SA(0x201, 'limit packet-hard 7', '192.0.2.99', '198.51.100.99', KEY2)); // outer
      await dp.apply(`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TMPL} tmpl src 192.0.2.99 dst 198.51.100.99 proto esp reqid 8 mode tunnel`);
      const results = await dp.process(packets(50));
      expect(results.filter((r) => r.verdict === 'transmitted')).toHaveLength(7);
      expect(expires.map((e) => [e.state.spi, e.hard, e.reason])).toEqual([[0x201, true, 'packets']]);
      // The outer SA was used up after 7 and deleted; each state counts a packet as it passes
      // it (Linux's xfrm_output), so the inner SA counted at least those 7.
      const usage = dp.stats({ perState: true }).perState!;
      expect(usage.map((s) => s.spi)).toEqual([0x200]);
      expect(usage[0].packets >= 7n).toBe(true);
    });
  });

  it('input: a receiver SA with packet-hard 10 delivers 10 packets, then refuses (XfrmInStateExpired)', async () => {
    const sender = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(sender, SA(0x300));
    applyXfrmLine(sender, OUT);
    const enc = new EspEngine(sender.spd, sender.sad, { backend: aeadBackend('node') });
    const wire = packets(30).map((p) => {
      const out = new Uint8Array(200);
      const n = enc.output(p, 0, p.length, out, 0);
      return out.slice(0, n);
    });
    await withDataplane(2, async (dp, expires) => {
      await dp.apply(SA(0x300, 'replay-window 64 limit packet-hard 10'));
      await dp.apply(`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in ${TMPL}`);
      const results = await dp.process(wire, 'in');
      expect(results.filter((r) => r.verdict === 'transmitted')).toHaveLength(10);
      expect(results.filter((r) => r.reason === 'XfrmInStateExpired' || r.reason === 'XfrmInNoStates')).toHaveLength(20);
      expect(expires.filter((e) => e.hard)).toHaveLength(1);
    });
  });
});

describe('use-time limits through the packet path', () => {
  it("the queues report an SA's first use only where a use-time limit needs it", async () => {
    await withDataplane(2, async (dp) => {
      await dp.apply(OUT);
      await dp.apply(SA(0x600, 'limit time-use-soft 100'));
      await dp.apply(SA(0x601).replace('reqid 8', 'reqid 9'));
      await dp.apply('ip xfrm policy add src 10.3.0.0/16 dst 10.4.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 9 mode tunnel');
      expect(dp.xfrm.usage(dp.getState(dp.listStates()[0].dst, 0x600)!)!.useTime).toBe(0);
      await dp.process([...packets(10), udpPacket('10.3.0.1', '10.4.0.1', 20)]);
      const used = (spi: number) => dp.xfrm.usage(dp.getState(dp.listStates()[0].dst, spi)!)!;
      expect(used(0x600).useTime).toBeGreaterThan(0); // armed: its use-time limit now runs
      expect(used(0x601).packets).toBe(1n); // counted, but nobody needed to hear of its first use
    });
  });
});

describe('SA identity (defect 5)', () => {
  it('results name the SA that carried them, even after it is deleted and its slot taken by another', async () => {
    await withDataplane(1, async (dp) => {
      await dp.apply(OUT);
      await dp.apply(SA(0x400));
      const a = dp.listStates()[0];
      const tickets: { queue: number; id: number }[] = [];
      expect(dp.submit(packets(200), 'out', tickets)).toBe(200);
      while (dp.stats().queues[0].packets < 200) await new Promise((r) => setTimeout(r, 2)); // processed, not yet polled
      await dp.deleteState(a.dst, a.spi); // grace period: the slot is free again
      await dp.apply(SA(0x401)); // takes the freed slot (LIFO free list)
      const b = dp.listStates()[0];
      expect(b.serial).not.toBe(a.serial);
      const results = dp.poll();
      expect(results).toHaveLength(200);
      expect(results.every((r) => r.sa === a.serial)).toBe(true);
      expect(dp.stats({ perState: true }).perState!).toEqual([expect.objectContaining({ spi: 0x401, packets: 0n, bytes: 0n })]);
    });
  });

  it('two queues count an SA without limits each in a share of its own: exact totals, and readings that never go backwards', async () => {
    await withDataplane(2, async (dp) => {
      await dp.apply(OUT);
      await dp.apply(SA(0x600));
      const flows = packets(250);
      const N = 20000;
      const transmitted = [0, 0];
      let sent = 0;
      let got = 0;
      let last = { packets: 0n, bytes: 0n };
      while (got < N) {
        if (sent < N) sent += dp.submit(flows.slice(0, Math.min(flows.length, N - sent)));
        for (const r of dp.poll()) {
          got++;
          if (r.verdict === 'transmitted') transmitted[r.queue]++;
        }
        // Read while both queues count: a torn, lost or doubled share would show here.
        const u = dp.stats({ perState: true }).perState![0];
        if (u.packets < last.packets || u.bytes < last.bytes || u.packets > BigInt(sent) || u.bytes > BigInt(sent * 48)) {
          expect.fail(`usage went from ${last.packets}/${last.bytes} to ${u.packets}/${u.bytes} with ${sent} packets sent`);
        }
        last = u;
        await new Promise((r) => setImmediate(r));
      }
      expect(transmitted[0] + transmitted[1]).toBe(N);
      expect(transmitted[0] > 0 && transmitted[1] > 0).toBe(true); // both shares were written
      expect(dp.stats({ perState: true }).perState![0]).toMatchObject({ packets: BigInt(N), bytes: BigInt(N * 48) });
    }, { outputSteering: 'flow' }); // one SA on both queues
  });

  it('an SA updated while new flows keep arriving drops no packet: each one leaves, charged to the SA', async () => {
    await withDataplane(2, async (dp) => {
      await dp.apply(OUT);
      await dp.apply(SA(0x700));
      const serial = dp.listStates()[0].serial;
      const results: ReturnType<Dataplane['poll']> = [];
      const total = 20 * 250;
      for (let round = 0; round < 20; round++) {
        // New flows each round: every packet misses its queue's flow cache and resolves while the update goes on.
        const fresh = Array.from({ length: 250 }, (_, i) => udpPacket(`10.1.${10 + round}.${i}`, '10.2.0.1', 20));
        const updates: Promise<string>[] = [];
        for (let sent = 0, k = 0; sent < fresh.length; k++) {
          sent += dp.submit(fresh.slice(sent));
          // Updated while the queues hold packets just submitted (the change is made at the call).
          if (k % 4 === 0) updates.push(dp.apply(SA(0x700, `limit packet-soft ${1_000_000 + round * 100 + k}`).replace('state add', 'state update')));
          results.push(...dp.poll());
          if (sent < fresh.length) await new Promise((r) => setImmediate(r));
        }
        await Promise.all(updates);
      }
      while (results.length < total) {
        results.push(...dp.poll());
        await new Promise((r) => setImmediate(r));
      }
      expect(results.filter((r) => r.verdict !== 'transmitted' || r.sa !== serial).map((r) => [r.verdict, r.reason, r.sa])).toEqual([]);
      expect(dp.stats({ perState: true }).perState![0].packets).toBe(BigInt(total));
    });
  });

  it('an update keeps the identity and the counters: in-flight packets stay charged to the SA', async () => {
    await withDataplane(2, async (dp) => {
      await dp.apply(OUT);
      await dp.apply(SA(0x500));
      const before = dp.listStates()[0];
      expect(dp.submit(packets(100))).toBe(100);
      await dp.apply(SA(0x500, 'limit packet-soft 1000000').replace('state add', 'state update'));
      const after = dp.listStates()[0];
      expect(after.serial).toBe(before.serial);
      const results: ReturnType<Dataplane['poll']> = [];
      while (results.length < 100) results.push(...dp.poll());
      expect(results.filter((r) => r.sa !== before.serial).map((r) => [r.verdict, r.reason, r.sa])).toEqual([]);
      expect(dp.stats({ perState: true }).perState![0].packets).toBe(100n);
    });
  });
});
