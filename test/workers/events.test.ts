// The Dataplane's control-plane events and statistics with live queues: ACQUIREs raised by
// the queues reach the key manager once per outstanding SA; lifetimes are accounted from
// what the queues processed, and a hard limit kills the SA.
import { once } from 'node:events';
import { describe, expect, it } from 'vitest';
import { type Acquire, type ExpireEvent, type MonitorEvent } from '@xfrm/core';
import { Dataplane } from '@xfrm/workers';
import { udpPacket } from '../core/esp/helpers.js';

const KEY = '0x' + '55'.repeat(16) + '02020202';
const POLICY = 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 8 mode tunnel';
const STATE = (spi: number, extra = '') =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 8 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 ${extra}`;
const packets = (n: number) => Array.from({ length: n }, (_, i) => udpPacket(`10.1.0.${i % 250}`, '10.2.0.1', 20));

describe('Dataplane events and statistics', () => {
  it('raises one ACQUIRE for many packets that need the same SA, then uses the SA once added', async () => {
    const dp = await Dataplane.create({ queues: 2 });
    const acquires: Acquire[] = [];
    const monitor: MonitorEvent[] = [];
    dp.on('acquire', (a) => acquires.push(a));
    dp.on('monitor', (m) => monitor.push(m));
    await dp.apply(POLICY);
    const first = await dp.process(packets(100));
    expect(first.every((r) => r.verdict === 'dropped' && r.reason === 'XfrmOutNoStates')).toBe(true);
    expect(acquires.length).toBe(1);
    expect(acquires[0]).toMatchObject({ reqid: 8, mode: 'tunnel' });
    expect(dp.xfrm.acquires.list()[0].merged).toBe(100);
    await dp.apply(STATE(0x77));
    const second = await dp.process(packets(50));
    expect(second.every((r) => r.verdict === 'transmitted')).toBe(true);
    expect(monitor.map((m) => `${m.kind} ${m.op}`)).toEqual(['policy add', 'state add']);
    const s = dp.stats();
    expect(s.results).toMatchObject({ transmitted: 50, dropped: 100 });
    expect(s.drops.XfrmOutNoStates).toBe(100);
    expect(dp.stats({ perState: true }).perState).toEqual([{ spi: 0x77, dst: '198.51.100.1', reqid: 8, serial: dp.listStates()[0].serial, bytes: 50n * 48n, packets: 50n }]);
    expect(s.queues.reduce((a, q) => a + q.packets, 0)).toBe(150);
    await dp.close();
  });

  it('a hard packet limit, reached by traffic on the queues, expires and removes the SA', async () => {
    const dp = await Dataplane.create({ queues: 2 });
    await dp.apply(POLICY);
    await dp.apply(STATE(0x78, 'limit packet-soft 20 packet-hard 40'));
    const expired: Promise<unknown[]> = once(dp, 'expire');
    const events: ExpireEvent[] = [];
    dp.on('expire', (e) => events.push(e));
    await dp.process(packets(30));
    await expired;
    expect(events.map((e) => e.hard)).toEqual([false]);
    await dp.process(packets(30));
    expect(events.map((e) => [e.hard, e.reason])).toEqual([
      [false, 'packets'],
      [true, 'packets'],
    ]);
    expect(dp.listStates()).toEqual([]);
    const after = await dp.process(packets(5));
    expect(after.every((r) => r.reason === 'XfrmOutNoStates')).toBe(true);
    await dp.close();
  });
});
