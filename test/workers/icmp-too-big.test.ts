// The gateway's ICMP answers to packets too big for the path (icmp-too-big.ts), checked
// field by field and with an independent Internet checksum: IPv4 with DF gets "fragmentation
// needed" quoting its header and 8 bytes, IPv6 gets "packet too big" (never below 1280)
// quoting what fits 1280 bytes, and IPv4 without DF or an ICMP error gets nothing.
import { describe, expect, it } from 'vitest';
import { writeTooBig } from '../../packages/workers/dist/icmp-too-big.js';
import { udpPacket } from '../core/esp/helpers.js';

/** One's-complement sum over 16-bit words: 0xffff when a checksummed region verifies. */
function sum16(b: Uint8Array, from: number, to: number, start = 0): number {
  let s = start;
  for (let i = from; i < to; i += 2) s += (b[i] << 8) | (i + 1 < to ? b[i + 1] : 0);
  while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
  return s;
}

describe('ICMP too-big answers', () => {
  it('IPv4 with DF: fragmentation needed from the destination to the source, the MTU, the header and 8 bytes quoted', () => {
    const p = udpPacket('10.1.0.5', '10.2.0.9', 1472, { df: true });
    const out = new Uint8Array(2048);
    const n = writeTooBig(p, p.length, 1438, out);
    expect(n).toBe(20 + 8 + 28);
    expect(sum16(out, 0, 20)).toBe(0xffff);
    expect([...out.subarray(12, 16)].join('.')).toBe('10.2.0.9');
    expect([...out.subarray(16, 20)].join('.')).toBe('10.1.0.5');
    expect([out[9], out[20], out[21]]).toEqual([1, 3, 4]);
    expect((out[26] << 8) | out[27]).toBe(1438);
    expect(sum16(out, 20, n)).toBe(0xffff);
    expect(Buffer.from(out.subarray(28, n)).equals(Buffer.from(p.subarray(0, 28)))).toBe(true);
  });

  it('IPv6: packet too big with the MTU (at least 1280), as much of the packet as fits 1280 bytes, checksum over the pseudo-header', () => {
    const p = udpPacket('fd00:1::5', 'fd00:2::9', 1452);
    const out = new Uint8Array(2048);
    for (const [mtu, want] of [[1418, 1418], [1100, 1280]]) {
      const n = writeTooBig(p, p.length, mtu, out);
      expect(n).toBe(1280);
      expect([out[6], out[40], out[41]]).toEqual([58, 2, 0]);
      expect(Buffer.from(out.subarray(8, 24)).equals(Buffer.from(p.subarray(24, 40)))).toBe(true);
      expect(new DataView(out.buffer).getUint32(44)).toBe(want);
      let pseudo = 0;
      for (let i = 8; i < 40; i += 2) pseudo += (out[i] << 8) | out[i + 1];
      expect(sum16(out, 40, n, pseudo + (n - 40) + 58)).toBe(0xffff);
      expect(Buffer.from(out.subarray(48, n)).equals(Buffer.from(p.subarray(0, 1232)))).toBe(true);
    }
  });

  it('nothing for IPv4 without DF (the outer packet is fragmented instead) or for an ICMP error', () => {
    const out = new Uint8Array(2048);
    const p = udpPacket('10.1.0.5', '10.2.0.9', 1472);
    expect(writeTooBig(p, p.length, 1438, out)).toBe(0);
    const icmp = udpPacket('10.1.0.5', '10.2.0.9', 1472, { df: true });
    icmp[9] = 1;
    icmp[20] = 3; // destination unreachable
    expect(writeTooBig(icmp, icmp.length, 1438, out)).toBe(0);
    icmp[20] = 8; // an echo request is answered
    expect(writeTooBig(icmp, icmp.length, 1438, out)).toBeGreaterThan(0);
  });
});
