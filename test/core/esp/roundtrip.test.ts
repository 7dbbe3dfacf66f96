// Round trips through the whole output and input paths: every mode x family x AEAD x ICV,
// with and without ESP-in-UDP, and ESN; the receiver gets back the exact packet.
import { describe, expect, it } from 'vitest';
import { DROPPED, PASS, aeadBackend, getWord, newIpInfo, parseIp, applyXfrmLine, type AeadBackendName, type SaContext, SaContextCache } from '@xfrm/core';
import { BACKENDS } from '../../fixtures/backends.js';
import { hexOf, pair, udpPacket } from './helpers.js';

const AEADS = [
  { name: 'gcm-128', alg: 'rfc4106(gcm(aes))', key: 16, icvs: [64, 96, 128] },
  { name: 'gcm-256', alg: 'rfc4106(gcm(aes))', key: 32, icvs: [64, 96, 128] },
  { name: 'chacha20-poly1305', alg: 'rfc7539esp(chacha20,poly1305)', key: 32, icvs: [128] },
];
const TUNNELS = [
  { name: '4-in-4', inner: ['10.1.0.1', '10.2.0.1'], outer: ['192.0.2.1', '198.51.100.1'] },
  { name: '6-in-6', inner: ['2001:db8:1::1', '2001:db8:2::1'], outer: ['2001:db8:ffff::1', '2001:db8:eeee::1'] },
  { name: '4-in-6', inner: ['10.1.0.1', '10.2.0.1'], outer: ['2001:db8:ffff::1', '2001:db8:eeee::1'] },
  { name: '6-in-4', inner: ['2001:db8:1::1', '2001:db8:2::1'], outer: ['192.0.2.1', '198.51.100.1'] },
];
const TRANSPORTS = [
  { name: 'IPv4', ends: ['192.0.2.1', '198.51.100.1'], ext: false },
  { name: 'IPv6', ends: ['2001:db8::1', '2001:db8::2'], ext: false },
  { name: 'IPv6 with a destination options header', ends: ['2001:db8::1', '2001:db8::2'], ext: true },
];
const net = (a: string) => (a.includes(':') ? `${a}/128` : `${a}/32`);

function sa(mode: string, src: string, dst: string, aead: (typeof AEADS)[number], icv: number, extra: string) {
  const key = '0x' + '5a'.repeat(aead.key) + 'c0ffee01';
  return `ip xfrm state add src ${src} dst ${dst} proto esp spi 0x1001 reqid 7 mode ${mode} aead '${aead.alg}' ${key} ${icv} ${extra}`;
}

/** Options of the sender's and the receiver's state: plain, NAT-T, or ESN about to cross 2^32. */
const VARIANTS = [
  { name: 'plain', a: '', b: '' },
  { name: 'espinudp', a: 'encap espinudp 4500 4500 ANY', b: 'encap espinudp 4500 4500 ANY' },
  { name: 'esn across 2^32', a: 'replay-window 64 flag esn replay-oseq 0xfffffffe', b: 'replay-window 64 flag esn replay-seq 0xfffffffd' },
];

function tunnelPair(t: (typeof TUNNELS)[number], aead: (typeof AEADS)[number], icv: number, v: (typeof VARIANTS)[number], backend: AeadBackendName) {
  const [is, id] = t.inner;
  const [os, od] = t.outer;
  const any = os.includes(':') ? '::' : '0.0.0.0';
  const tmpl = `tmpl src ${os} dst ${od} proto esp reqid 7 mode tunnel`;
  return pair(
    [sa('tunnel', os, od, aead, icv, v.a.replace('ANY', any)), `ip xfrm policy add src ${net(is)} dst ${net(id)} dir out ${tmpl}`],
    [sa('tunnel', os, od, aead, icv, v.b.replace('ANY', any)), `ip xfrm policy add src ${net(is)} dst ${net(id)} dir in ${tmpl}`],
    aeadBackend(backend),
  );
}

function roundTrip(p: ReturnType<typeof pair>, packet: Uint8Array, expectUdp: boolean) {
  const wire = new Uint8Array(70_000);
  const n = p.out.output(packet, 0, packet.length, wire, 0);
  expect(n, `output dropped: ${p.out.lastDrop}`).toBeGreaterThan(0);
  const info = newIpInfo();
  expect(parseIp(wire, 0, n, info)).toBe(true);
  expect(info.proto).toBe(expectUdp ? 17 : 50); // past any IPv6 extension headers
  const back = new Uint8Array(70_000);
  const m = p.in.input(wire, 0, n, back, 0);
  expect(m, `input dropped: ${p.in.lastDrop}`).toBe(packet.length);
  expect(hexOf(back.subarray(0, m))).toBe(hexOf(packet));
  return wire.subarray(0, n);
}

describe.each(BACKENDS)('ESP round trips (%s backend)', (backend) => {
  for (const t of TUNNELS)
    for (const a of AEADS)
      for (const icv of a.icvs)
        for (const v of VARIANTS) {
          it(`tunnel ${t.name} ${a.name} ICV ${icv} ${v.name}`, () => {
            const p = tunnelPair(t, a, icv, v, backend);
            for (const size of [0, 1, 2, 3, 64, 1400]) {
              const pkt = udpPacket(t.inner[0], t.inner[1], size, { tos: 0xb9, df: true });
              const wire = roundTrip(p, pkt, v.name === 'espinudp');
              if (t.outer[0].includes('.')) {
                expect(wire[8]).toBe(64); // TTL
                expect(wire[1]).toBe(0xb9); // DSCP and ECN copied (ECT(1))
              }
            }
          });
        }

  for (const t of TRANSPORTS)
    for (const a of AEADS)
      for (const icv of a.icvs) {
        it(`transport ${t.name} ${a.name} ICV ${icv}`, () => {
          const [s, d] = t.ends;
          const tmpl = `tmpl proto esp reqid 7 mode transport`;
          const p = pair(
            [sa('transport', s, d, a, icv, ''), `ip xfrm policy add src ${net(s)} dst ${net(d)} dir out ${tmpl}`],
            [sa('transport', s, d, a, icv, ''), `ip xfrm policy add src ${net(s)} dst ${net(d)} dir in ${tmpl}`],
            aeadBackend(backend),
          );
          for (const size of [0, 5, 1000]) roundTrip(p, udpPacket(s, d, size, { ext: t.ext }), false);
        });
      }
});

describe('ESP output details', () => {
  const t = TUNNELS[0];
  it('sequence numbers count up from 1 and the IV is the sequence number; padding is 1, 2, 3', () => {
    const p = tunnelPair(t, AEADS[0], 128, VARIANTS[0], 'noble');
    const wire = new Uint8Array(2000);
    for (let i = 1; i <= 3; i++) {
      const pkt = udpPacket(t.inner[0], t.inner[1], 1);
      const n = p.out.output(pkt, 0, pkt.length, wire, 0);
      expect(getWord(wire, 24) >>> 0).toBe(i); // seq
      expect(getWord(wire, 28)).toBe(0); // IV high
      expect(getWord(wire, 32) >>> 0).toBe(i); // IV low
      expect((n - 20 - 16 - 16) % 4).toBe(0);
    }
  });

  it('a flow without a policy passes; a blocked one is dropped and counted', () => {
    const p = tunnelPair(t, AEADS[0], 128, VARIANTS[0], 'noble');
    const other = udpPacket('10.9.0.1', '10.9.0.2', 10);
    expect(p.out.output(other, 0, other.length, new Uint8Array(100), 0)).toBe(PASS);
    applyXfrmLine(p.a, 'ip xfrm policy add src 10.9.0.1/32 dst 10.9.0.2/32 dir out action block');
    expect(p.out.output(other, 0, other.length, new Uint8Array(100), 0)).toBe(DROPPED);
    expect(p.out.drops[p.out.lastDrop]).toBe(1);
  });

  it('the contexts of SAs that died are wiped by a sweep', () => {
    const p = tunnelPair(t, AEADS[0], 128, VARIANTS[0], 'noble');
    const pkt = udpPacket(t.inner[0], t.inner[1], 10);
    p.out.output(pkt, 0, pkt.length, new Uint8Array(200), 0);
    expect(p.out.contexts.size).toBe(1);
    expect(p.out.contexts.sweep()).toBe(0);
    applyXfrmLine(p.a, 'ip xfrm state flush'); // no reader online here: the record is freed at once
    expect(p.out.contexts.sweep()).toBe(1);
    expect(p.out.contexts.size).toBe(0);
  });

  it('a context is built from the key without leaving a copy behind: the backend is handed the key, then it is wiped', () => {
    const p = tunnelPair(t, AEADS[0], 128, VARIANTS[0], 'noble');
    const seen: Uint8Array[] = [];
    const real = aeadBackend('noble');
    const spy = { ...real, context: (c: Parameters<typeof real.context>[0], key: Uint8Array) => (seen.push(key), real.context(c, key)) };
    const slot = p.a.sad.byspi(4, Int32Array.of(0xc6336401, 0, 0, 0), 0, 0x1001, 50); // 198.51.100.1
    const ctx = new SaContextCache(p.a.sad, spy).live(slot);
    expect(ctx?.salt).toBe(0xc0ffee01 | 0); // the last 4 bytes of the key material
    expect(seen.length).toBe(1);
    expect(seen[0].length).toBe(16);
    expect([...seen[0]]).toEqual(new Array(16).fill(0)); // what the backend was given is zeros now: it copied what it keeps
  });

  it('a context a caller holds (a flow cache entry) is used while live, and asked for again once the cache let it go', () => {
    const p = tunnelPair(t, AEADS[0], 128, VARIANTS[0], 'noble');
    const pkt = udpPacket(t.inner[0], t.inner[1], 40);
    const slot = p.a.sad.byspi(4, Int32Array.of(0xc6336401, 0, 0, 0), 0, 0x1001, 50); // 198.51.100.1
    const held = { contexts: [p.out.contexts.live(slot)], hold(k: number, sa: SaContext) { this.contexts[k] = sa; } };
    const first = held.contexts[0];
    const send = () => {
      const wire = new Uint8Array(200);
      const n = p.out.encapsulate(Int32Array.of(slot), pkt, 0, pkt.length, wire, 0, 0, 1, undefined, held);
      const back = new Uint8Array(200);
      return hexOf(back.subarray(0, p.in.input(wire, 0, n, back, 0)));
    };
    expect(send()).toBe(hexOf(pkt));
    expect(held.contexts[0]).toBe(first); // used as held: not asked for
    p.out.contexts.clear(); // let go, its key wiped: using it now would seal with a zero key
    expect(first?.retired).toBe(true);
    expect(first?.salt).toBe(0);
    expect(send()).toBe(hexOf(pkt));
    expect(held.contexts[0]).not.toBe(first); // asked for again, and the new one held
    expect(held.contexts[0]?.retired).toBe(false);
  });

  it('a template with no state drops under XfrmOutNoStates with the ACQUIRE to raise', () => {
    const p = tunnelPair(t, AEADS[0], 128, VARIANTS[0], 'noble');
    applyXfrmLine(p.a, 'ip xfrm state flush');
    const pkt = udpPacket(t.inner[0], t.inner[1], 10);
    expect(p.out.output(pkt, 0, pkt.length, new Uint8Array(200), 0)).toBe(DROPPED);
    expect(p.out.acquire).toMatchObject({ reqid: 7, mode: 'tunnel' });
  });
});
