// Two dataplanes back to back: gateway A encrypts on its queues, gateway B decrypts on its
// queues (inbound ESP steered by SPI, so each SA's replay window has one writer), for IPv4
// and IPv6 tunnels and NAT-T, and every packet comes out as it went in. Each side on another
// backend: the native queues' batched seals are opened by node:crypto, and the reverse.
import { describe, expect, it } from 'vitest';
import { type AeadBackendName } from '@xfrm/core';
import { Dataplane } from '@xfrm/workers';
import { hexOf, udpPacket } from '../core/esp/helpers.js';

const KEY = (n: number) => '0x' + n.toString(16).padStart(2, '0').repeat(16) + '0c0d0e0f';
const SAS = [
  { spi: 0x101, reqid: 1, src: '192.0.2.1', dst: '198.51.100.1', inner: ['10.1.0.0/16', '10.2.0.0/16'], extra: '' },
  { spi: 0x102, reqid: 2, src: '192.0.2.1', dst: '198.51.100.1', inner: ['10.3.0.0/16', '10.4.0.0/16'], extra: 'encap espinudp 4500 4500 0.0.0.0' },
  { spi: 0x103, reqid: 3, src: '2001:db8:a::1', dst: '2001:db8:b::1', inner: ['2001:db8:1::/48', '2001:db8:2::/48'], extra: '' },
];

async function gateway(dir: 'out' | 'in', crypto: AeadBackendName): Promise<Dataplane> {
  const dp = await Dataplane.create({ queues: 2, crypto });
  for (const s of SAS) {
    await dp.apply(
      `ip xfrm state add src ${s.src} dst ${s.dst} proto esp spi ${s.spi} reqid ${s.reqid} mode tunnel aead 'rfc4106(gcm(aes))' ${KEY(s.reqid)} 128 replay-window 1024 ${s.extra}`,
    );
    await dp.apply(`ip xfrm policy add src ${s.inner[0]} dst ${s.inner[1]} dir ${dir} tmpl src ${s.src} dst ${s.dst} proto esp reqid ${s.reqid} mode tunnel`);
  }
  return dp;
}

describe.each([
  ['native', 'node'],
  ['node', 'native'],
] as const)('two dataplanes back to back (A on %s, B on %s)', (ca, cb) => {
  it('A encrypts, B decrypts on its queues: 3000 packets over IPv4, NAT-T and IPv6 tunnels come out intact', async () => {
    const a = await gateway('out', ca);
    const b = await gateway('in', cb);
    try {
      const packets = Array.from({ length: 3000 }, (_, i) => {
        const k = i % 3;
        const host = i % 200;
        if (k === 0) return udpPacket(`10.1.0.${host}`, `10.2.0.${host}`, i % 300);
        if (k === 1) return udpPacket(`10.3.0.${host}`, `10.4.0.${host}`, i % 300);
        return udpPacket(`2001:db8:1::${host.toString(16)}`, `2001:db8:2::${host.toString(16)}`, i % 300);
      });
      const sent = await a.process(packets, 'out');
      expect(sent.every((r) => r.verdict === 'transmitted')).toBe(true);
      const got = await b.process(sent.map((r) => r.data!), 'in');
      expect(got.map((r) => r.verdict)).toEqual(packets.map(() => 'transmitted'));
      got.forEach((r, i) => expect(hexOf(r.data!)).toBe(hexOf(packets[i])));
      // Inbound ESP was steered by SPI: each SA's packets were all handled by one queue of B.
      for (const s of SAS) {
        const queues = new Set(got.filter((_, i) => i % 3 === SAS.indexOf(s)).map((r) => r.queue));
        expect(queues.size).toBe(1);
      }
      // Replaying everything is refused, by the replay windows on B's queues.
      const again = await b.process(sent.map((r) => r.data!), 'in');
      expect(again.every((r) => r.verdict === 'dropped' && r.reason === 'XfrmInStateSeqError')).toBe(true);
      expect(b.stats().drops.XfrmInStateSeqError).toBe(3000);
    } finally {
      await a.close();
      await b.close();
    }
  });
});
