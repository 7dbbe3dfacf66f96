// Defects of the long-running review at the Dataplane's level: what breaks only after hours
// of traffic (counters that wrap) or at the edges of the queue protocol.
import { describe, expect, it } from 'vitest';
import { Dataplane } from '@xfrm/workers';
import { udpPacket } from '../core/esp/helpers.js';

const KEY = '0x' + '55'.repeat(16) + '02020202';
const POLICY = 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 8 mode tunnel';
const STATE = (spi: number, extra = '') =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 8 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 ${extra}`;
const packets = (n: number, dst = '10.2.0.1') => Array.from({ length: n }, (_, i) => udpPacket(`10.1.0.${i % 250}`, dst, 20));

/** Reject if `p` takes longer than `ms` (a hang is the failure these tests look for). */
function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: no answer in ${ms} ms`)), ms).unref())]);
}

describe('long-running dataplane', () => {
  it('submission numbers wrap past 2^31 without losing a result (defect 7)', async () => {
    const dp = await Dataplane.create({ queues: 1 });
    try {
      await dp.apply(POLICY);
      await dp.apply(STATE(0x77));
      // As after 2^31 - 100 packets on this queue (hours at today's rate).
      const internals = dp as unknown as { nextId: number[]; expectId: number[] };
      internals.nextId[0] = 2 ** 31 - 100;
      internals.expectId[0] = 2 ** 31 - 100;
      const results = await within(dp.process(packets(300)), 10_000, 'process() across the wrap');
      expect(results).toHaveLength(300);
      expect(results.every((r) => r.verdict === 'transmitted')).toBe(true);
      expect(new Set(results.map((r) => r.id)).size).toBe(300);
      expect(results.some((r) => r.id < 0)).toBe(true); // the numbers did cross the wrap
    } finally {
      await dp.close();
    }
  });

  it('packets no policy covers are charged to no SA, with or without the flow cache (defect 12)', async () => {
    for (const flowCache of [true, false]) {
      const dp = await Dataplane.create({ queues: 2, ablate: { flowCache: !flowCache } });
      try {
        await dp.apply(POLICY);
        await dp.apply(STATE(0x77, 'limit packet-hard 100'));
        const mixed = Array.from({ length: 1050 }, (_, i) =>
          i % 21 === 0 ? udpPacket(`10.1.0.${i % 250}`, '10.2.0.1', 20) : udpPacket(`10.1.0.${i % 250}`, '10.9.0.1', 20),
        );
        for (let round = 0; round < 3; round++) {
          const results = await dp.process(mixed);
          const passed = results.filter((r) => r.verdict === 'passed');
          expect(passed).toHaveLength(1000);
          expect(passed.every((r) => r.sa === undefined)).toBe(true);
          expect(results.filter((r) => r.verdict === 'transmitted')).toHaveLength(round < 2 ? 50 : 0);
        }
        // 100 protected packets used the SA up (hard limit): it died of that, not of clear text.
        expect(dp.stats().results.transmitted).toBe(100);
        expect(dp.listStates()).toHaveLength(0);
      } finally {
        await dp.close();
      }
    }
  });

  it('a queue whose transmit ring is full sleeps until results are taken, instead of spinning (defect 9)', async () => {
    const dp = await Dataplane.create({ queues: 1, ringSlots: 64 });
    try {
      await dp.apply(POLICY);
      await dp.apply(STATE(0x77));
      expect(dp.submit(packets(64))).toBe(64); // fills the transmit ring; nobody polls
      while (dp.stats().queues[0].packets < 64) await new Promise((r) => setTimeout(r, 5));
      expect(dp.submit(packets(64))).toBe(64); // now waiting on a full transmit ring
      const parks = dp.stats().queues[0].parks;
      await new Promise((r) => setTimeout(r, 300));
      // Parked on the transmit side: a few wake-ups at most (a spinning queue parks ~10^5 times here).
      expect(dp.stats().queues[0].parks - parks).toBeLessThan(10);
      const got = [];
      while (got.length < 128) got.push(...dp.poll());
      expect(got.every((r) => r.verdict === 'transmitted')).toBe(true);
    } finally {
      await dp.close();
    }
  });

  it("stop is never lost between a queue's last check and its sleep (defect 9)", async () => {
    // With the safety timeout out of the way, a lost wake-up is a hang, not a one-second delay.
    for (let i = 0; i < 20; i++) {
      const dp = await Dataplane.create({ queues: 2, parkTimeoutMs: 600_000 });
      await dp.process(packets(4));
      await within(dp.close(), 10_000, `close() #${i}`);
    }
  });
});

describe('reclamation with live queues (defect 10)', () => {
  it('a stuck queue is reported (event and stat), awaited calls reject instead of hanging, then all recovers', async () => {
    const dp = await Dataplane.create({ queues: 2, graceTimeoutMs: 300, stallMs: 500 });
    const stalls: { queue: number }[] = [];
    dp.on('stall', (s) => stalls.push(s));
    try {
      await dp.apply(POLICY);
      await dp.apply(STATE(0x77));
      dp.stallQueue(1, 6000);
      const control = (dp as unknown as { control: Int32Array }).control;
      while (Atomics.load(control, 32) !== 0) await new Promise((r) => setTimeout(r, 1)); // queue 1 took it: stuck now, online
      await expect(dp.apply(STATE(0x78))).rejects.toThrow(/stalled/);
      await within((async () => { while (stalls.length === 0) await new Promise((r) => setTimeout(r, 50)); })(), 5000, 'stall event');
      expect(stalls).toEqual([expect.objectContaining({ queue: 1 })]);
      expect(dp.stats().stalls).toEqual({ total: 1, now: [1] });
      await within(
        (async () => {
          while (dp.stats().stalls.now.length > 0) {
            await new Promise((r) => setTimeout(r, 200));
            await dp.synchronize().catch(() => undefined);
          }
        })(),
        10_000,
        'recovery',
      );
      await dp.synchronize();
      expect((await dp.process(packets(20))).every((r) => r.verdict === 'transmitted')).toBe(true);
    } finally {
      await dp.close();
    }
  });

  it('queue workers killed again and again leak no epoch line', async () => {
    const dp = await Dataplane.create({ queues: 2 });
    try {
      for (let i = 0; i < 70; i++) {
        dp.killQueue(i % 2);
        while (dp.stats().restarts <= i) await new Promise((r) => setTimeout(r, 2));
        await dp.ready();
      }
      expect(dp.xfrm.epochs.registered).toBe(2);
      await dp.apply(POLICY);
      await dp.apply(STATE(0x77));
      expect((await dp.process(packets(50))).every((r) => r.verdict === 'transmitted')).toBe(true);
    } finally {
      await dp.close();
    }
  });
});
