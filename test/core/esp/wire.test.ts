// Defect 11 of the long-running review: what ESP puts on the wire, checked the way an
// independent decoder would. Over IPv6 a UDP checksum of 0 is forbidden (RFC 8200 8.1;
// RFC 3948 allows 0 only over IPv4), and a 6in6 tunnel copies the inner flow label as Linux
// does (RFC 6437: flows stay distinguishable for ECMP).
import { describe, expect, it } from 'vitest';
import { aeadBackend, ipv4Checksum, newIpInfo, parseIp, writeOuterHeader } from '@xfrm/core';
import { pair, udpPacket } from './helpers.js';
import { uint32s } from '../xfrm/model-helpers.js';

const KEY = '0x' + '5a'.repeat(16) + 'c0ffee01';
const state = (mode: string, src: string, dst: string, extra: string) =>
  `ip xfrm state add src ${src} dst ${dst} proto esp spi 0x1001 reqid 7 mode ${mode} aead 'rfc4106(gcm(aes))' ${KEY} 128 ${extra}`;

/** The Internet checksum over an IPv6 pseudo-header and the UDP datagram; 0xffff (or 0) when it verifies. */
function udp6Verifies(p: Uint8Array, udpAt: number, udpLen: number): boolean {
  let sum = 0;
  for (let i = 8; i < 40; i += 2) sum += (p[i] << 8) | p[i + 1]; // source and destination
  sum += udpLen + 17;
  for (let i = 0; i < udpLen; i += 2) sum += (p[udpAt + i] << 8) | (i + 1 < udpLen ? p[udpAt + i + 1] : 0);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return sum === 0xffff;
}

function send(aLines: string[], bLines: string[], packet: Uint8Array): { wire: Uint8Array; back: Uint8Array } {
  const p = pair(aLines, bLines, aeadBackend('noble'));
  const wire = new Uint8Array(4096);
  const n = p.out.output(packet, 0, packet.length, wire, 0);
  expect(n, `output dropped: ${p.out.lastDrop}`).toBeGreaterThan(0);
  const back = new Uint8Array(4096);
  const m = p.in.input(wire, 0, n, back, 0);
  expect(m, `input dropped: ${p.in.lastDrop}`).toBe(packet.length);
  return { wire: wire.subarray(0, n), back: back.subarray(0, m) };
}

describe('ESP on the wire', () => {
  for (const mode of ['tunnel', 'transport']) {
    it(`IPv6 ${mode} NAT-T: the UDP checksum is computed and verifies`, () => {
      const [os, od] = mode === 'tunnel' ? ['2001:db8::1', '2001:db8::2'] : ['2001:db8:1::5', '2001:db8:2::4'];
      const [is, id] = mode === 'tunnel' ? ['2001:db8:1::5', '2001:db8:2::4'] : [os, od];
      const tmpl = `tmpl src ${os} dst ${od} proto esp reqid 7 mode ${mode}`;
      const { wire } = send(
        [state(mode, os, od, 'encap espinudp 4500 4500 ::'), `ip xfrm policy add src ${is}/128 dst ${id}/128 dir out ${tmpl}`],
        [state(mode, os, od, 'encap espinudp 4500 4500 ::'), `ip xfrm policy add src ${is}/128 dst ${id}/128 dir in ${tmpl}`],
        udpPacket(is, id, 33),
      );
      const info = newIpInfo();
      expect(parseIp(wire, 0, wire.length, info)).toBe(true);
      expect(info.proto).toBe(17);
      const udp = info.headerLength;
      const udpLen = (wire[udp + 4] << 8) | wire[udp + 5];
      expect((wire[udp + 6] << 8) | wire[udp + 7]).not.toBe(0);
      expect(udp6Verifies(wire, udp, udpLen)).toBe(true);
    });
  }

  it('IPv4 NAT-T keeps the UDP checksum at 0 (RFC 3948)', () => {
    const tmpl = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 7 mode tunnel';
    const { wire } = send(
      [state('tunnel', '192.0.2.1', '198.51.100.1', 'encap espinudp 4500 4500 0.0.0.0'), `ip xfrm policy add src 10.1.0.5/32 dst 10.2.3.4/32 dir out ${tmpl}`],
      [state('tunnel', '192.0.2.1', '198.51.100.1', 'encap espinudp 4500 4500 0.0.0.0'), `ip xfrm policy add src 10.1.0.5/32 dst 10.2.3.4/32 dir in ${tmpl}`],
      udpPacket('10.1.0.5', '10.2.3.4', 33),
    );
    expect((wire[26] << 8) | wire[27]).toBe(0);
  });

  it('the IPv4 outer header checksum verifies, whatever the addresses, TOS, DF, id and length', () => {
    // Written from the values, not read back: check it the way a receiver does (RFC 1071).
    const b = new Uint8Array(20);
    const rand = uint32s(0x12345678);
    const verifies = () => {
      let sum = 0;
      for (let i = 0; i < 20; i += 2) sum += (b[i] << 8) | b[i + 1];
      while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
      return sum === 0xffff;
    };
    const ones = Int32Array.of(-1);
    const check = () => {
      expect(verifies(), `header ${Buffer.from(b).toString('hex')}`).toBe(true);
      expect((b[10] << 8) | b[11]).toBe(ipv4Checksum(b, 0, 20)); // and equals the byte-wise sum
    };
    // Every id with every other word at its largest: the sums whose first fold carries again.
    for (let id = 0; id < 0x10000; id++) {
      writeOuterHeader(b, 0, 4, ones, 0, ones, 0, 65515, 50, 0xff, true, id);
      if (!verifies()) check();
    }
    for (let n = 0; n < 2000; n++) {
      writeOuterHeader(b, 0, 4, Int32Array.of(rand() | 0), 0, Int32Array.of(rand() | 0), 0, rand() % 65516, n & 1 ? 50 : 17, rand() & 0xff, (n & 2) !== 0, rand());
      check();
    }
  });

  it('the IPv4 outer header says the same field by field, written by words (aligned) or by bytes (misaligned)', () => {
    const rand = uint32s(0x9e3779b9);
    const buf = new Uint8Array(new SharedArrayBuffer(64));
    for (let n = 0; n < 500; n++) {
      const [src, dst, len, tos, id, df, proto] = [rand() | 0, rand() | 0, rand() % 65516, rand() & 0xff, rand(), (n & 1) === 1, n & 2 ? 50 : 17];
      for (const off of [4, 1, 2, 3]) {
        buf.fill(0xee);
        expect(writeOuterHeader(buf, off, 4, Int32Array.of(src), 0, Int32Array.of(dst), 0, len, proto, tos, df, id)).toBe(20);
        const h = buf.subarray(off, off + 20);
        const at = `offset ${off}: ${Buffer.from(h).toString('hex')}`;
        const word = (o: number) => ((h[o] << 24) | (h[o + 1] << 16) | (h[o + 2] << 8) | h[o + 3]) | 0;
        expect([h[0], h[1], (h[2] << 8) | h[3], (h[4] << 8) | h[5], h[6], h[7], h[8], h[9]], at).toEqual([0x45, tos, 20 + len, id & 0xffff, df ? 0x40 : 0, 0, 64, proto]);
        expect([word(12), word(16)], at).toEqual([src, dst]);
        expect((h[10] << 8) | h[11], at).toBe(ipv4Checksum(h, 0, 20));
        expect(buf[off - 1], at).toBe(0xee); // nothing written outside the header
        expect(buf[off + 20], at).toBe(0xee);
      }
    }
  });

  it('a 6in6 tunnel copies the inner flow label to the outer header; 4in6 leaves it 0', () => {
    const tmpl6 = 'tmpl src 2001:db8::1 dst 2001:db8::2 proto esp reqid 7 mode tunnel';
    const inner = udpPacket('2001:db8:1::5', '2001:db8:2::4', 20);
    inner[1] |= 0x0a; // flow label 0xabcde
    inner[2] = 0xbc;
    inner[3] = 0xde;
    const lines = (dir: string) => [state('tunnel', '2001:db8::1', '2001:db8::2', ''), `ip xfrm policy add src ::/0 dst ::/0 dir ${dir} ${tmpl6}`];
    const { wire, back } = send(lines('out'), lines('in'), inner);
    const label = (b: Uint8Array) => ((b[1] & 0x0f) << 16) | (b[2] << 8) | b[3];
    expect(label(wire)).toBe(0xabcde);
    expect(label(back)).toBe(0xabcde);
    const four = udpPacket('10.1.0.5', '10.2.3.4', 20);
    const lines4 = (dir: string) => [state('tunnel', '2001:db8::1', '2001:db8::2', ''), `ip xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir ${dir} ${tmpl6}`];
    expect(label(send(lines4('out'), lines4('in'), four).wire)).toBe(0);
  });
});
