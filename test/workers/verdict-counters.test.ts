// A queue's verdict counters: every packet is counted once, under transmitted, passed, dropped
// or dummy, and what a queue counts as dropped is what its drop reasons add up to (an RFC 4303
// dummy packet is authenticated and discarded: it is not a drop).
import { describe, expect, it } from 'vitest';
import { EspEngine, Xfrm, aeadBackend, applyXfrmLine, espSeal, setIpv4Checksum } from '@xfrm/core';
import { Dataplane } from '@xfrm/workers';
import { udpPacket } from '../core/esp/helpers.js';

const KEY = '0x' + '66'.repeat(16) + '03030303';
const SA = `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x310 reqid 8 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 replay-window 64`;
const TMPL = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 8 mode tunnel';

describe('verdict counters', () => {
  it('a dummy packet is counted as a dummy, and each queue counts as dropped what its drop reasons add up to', async () => {
    const sender = Xfrm.create({ heap: { maxBytes: 1 << 24 } });
    applyXfrmLine(sender, SA);
    applyXfrmLine(sender, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TMPL}`);
    const enc = new EspEngine(sender.spd, sender.sad, { backend: aeadBackend('node') });
    const esp = new Uint8Array(200);
    const clear = udpPacket('10.1.0.1', '10.2.0.1', 20);
    const good = esp.slice(0, enc.output(clear, 0, clear.length, esp, 0));
    const tampered = esp.slice(0, enc.output(clear, 0, clear.length, esp, 0)); // sequence number 2
    tampered[tampered.length - 1] ^= 1;
    // A dummy: ESP whose next header is 59 and whose payload is empty, sealed with the SA's key.
    const dummy = new Uint8Array(20 + 16 + 4 + 16);
    dummy.set([0x45, 0, 0, dummy.length, 0, 0, 0, 0, 64, 50, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1]);
    setIpv4Checksum(dummy, 0);
    espSeal(enc.contexts.get(sender.sad.slotOf(sender.sad.list()[0])), 0, 3, 59, dummy, 20, 0); // sequence number 3
    const garbage = Uint8Array.of(0x45, 0, 0, 10);

    const dp = await Dataplane.create({ queues: 2, crypto: 'node' });
    try {
      await dp.apply(SA);
      await dp.apply(`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in ${TMPL}`);
      const results = await dp.process([good, dummy, tampered, garbage], 'in');
      expect(results.map((r) => [r.verdict, r.reason])).toEqual([
        ['transmitted', undefined],
        ['dummy', undefined],
        ['dropped', 'XfrmInStateProtoError'],
        ['dropped', 'XfrmInHdrError'],
      ]);
      const queues = dp.stats().queues;
      const sum = (f: (q: (typeof queues)[number]) => number) => queues.reduce((a, q) => a + f(q), 0);
      expect([sum((q) => q.transmitted), sum((q) => q.passed), sum((q) => q.dropped), sum((q) => q.dummy)]).toEqual([1, 0, 2, 1]);
      for (const q of queues) expect(q.dropped).toBe(Object.values(q.drops).reduce((a, n) => a + (n ?? 0), 0));
    } finally {
      await dp.close();
    }
  });
});
