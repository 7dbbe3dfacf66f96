// A packet whose bundle was resolved just before an `ip xfrm state update` (in the same
// read-side section, as a queue's packet is) leaves with the updated SA, as it would with
// Linux's update in place; once the SA is deleted, it is dropped.
import { describe, expect, it } from 'vitest';
import { DIR_NUMBER, DROP, DROPPED, EspEngine, FLOW_WORDS, S_NEXT_DST, Xfrm, chainNext, aeadBackend, applyXfrmLine, newBundleScratch, newIpInfo, parseIp, resolveInto, writePacketFlow } from '@xfrm/core';
import { udpPacket } from './helpers.js';

const KEY = '0x' + '66'.repeat(16) + '03030303';
const SA = (verb: string, extra = '') =>
  `ip xfrm state ${verb} src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x900 reqid 9 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 ${extra}`;
const OUT = 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 9 mode tunnel';
const PACKET = udpPacket('10.1.0.1', '10.2.0.1', 20);

/** Resolve the packet's bundle, let `change` run, then encapsulate with what was resolved. */
function resolvedThen(change: (x: Xfrm) => void): { x: Xfrm; engine: EspEngine; r: number; before: bigint } {
  const x = Xfrm.create({ heap: { maxBytes: 1 << 24 } });
  applyXfrmLine(x, OUT);
  applyXfrmLine(x, SA('add'));
  const before = x.sad.list()[0].serial;
  const engine = new EspEngine(x.spd, x.sad, { backend: aeadBackend('node') });
  const info = newIpInfo();
  const flow = new Int32Array(FLOW_WORDS);
  expect(parseIp(PACKET, 0, PACKET.length, info)).toBe(true);
  writePacketFlow(PACKET, 0, info, flow, 0);
  const s = newBundleScratch();
  resolveInto(x.spd, x.sad, DIR_NUMBER.out, flow, 0, s);
  expect(s.count).toBe(1);
  change(x);
  const r = engine.encapsulate(s.states, PACKET, 0, PACKET.length, new Uint8Array(2048), 0, 0, s.count, info);
  return { x, engine, r, before };
}

describe('a state changed between lookup and encapsulation', () => {
  it('updated: the packet leaves with the new record, charged to the SA', () => {
    const { x, engine, r, before } = resolvedThen((x) => applyXfrmLine(x, SA('update', 'limit packet-soft 1000')));
    expect(r).toBeGreaterThan(0);
    expect(engine.drops.reduce((a, b) => a + b, 0)).toBe(0);
    const now = x.sad.list()[0];
    expect(now.serial).toBe(before);
    expect(engine.used[0]).toBe(x.sad.slotOf(now)); // the new record
    expect(x.usage(now)).toMatchObject({ packets: 1n });
    expect(x.sad.countersOf(now).oseq).toBe(1);
  });

  it('deleted: the packet is dropped (XfrmOutStateExpired)', () => {
    const { engine, r } = resolvedThen((x) => applyXfrmLine(x, 'ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x900'));
    expect(r).toBe(DROPPED);
    expect(engine.drops[DROP.XfrmOutStateExpired]).toBe(1);
  });

  it('deleted, and another SA added with the same key: the packet is not sent with an SA of another identity', () => {
    const { engine, r } = resolvedThen((x) => {
      applyXfrmLine(x, 'ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x900');
      applyXfrmLine(x, SA('add'));
    });
    expect(r).toBe(DROPPED);
    expect(engine.drops[DROP.XfrmOutStateExpired]).toBe(1);
  });

  it('a lookup standing on the record an update replaces walks on to its replacement, not past it', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 24 } });
    applyXfrmLine(x, SA('add'));
    applyXfrmLine(x, SA('add').replace('spi 0x900', 'spi 0x901')); // same bydst key: the chain is 0x901, 0x900
    const slotOf = (spi: number) => x.sad.slotOf(x.sad.list().find((st) => st.spi === spi)!);
    const old = slotOf(0x901);
    expect(chainNext(x.heap, x.sad.arena, old, S_NEXT_DST)).toBe(slotOf(0x900));
    applyXfrmLine(x, SA('update', 'limit packet-soft 1000').replace('spi 0x900', 'spi 0x901'));
    // A reader that read `old` before the update and finds it dead now goes on from it.
    expect(chainNext(x.heap, x.sad.arena, old, S_NEXT_DST)).toBe(slotOf(0x901));
  });
});
