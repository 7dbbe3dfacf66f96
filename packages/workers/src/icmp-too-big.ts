/**
 * A gateway's answer to a packet too big for the path once encapsulated: ICMP "fragmentation
 * needed" (type 3 code 4, RFC 1191) for IPv4 with DF, ICMPv6 "packet too big" (RFC 8201)
 * for IPv6, carrying the MTU the inner packet must fit, and as much of the packet as RFC 792
 * / RFC 4443 ask for. It goes back into the TUN device, so the sender's path MTU discovery
 * learns the tunnel's MTU. The answer comes from the packet's destination address (the only
 * address of the far side the gateway knows; hosts check the quoted header, not the source).
 * Thread-local; the caller's buffers.
 */
import { setIpv4Checksum } from '@xfrm/core';

const ICMP = 1;
const ICMPV6 = 58;
/** IPv6's minimum MTU: a packet-too-big message fits it, and never asks for less (RFC 8201). */
const IPV6_MIN_MTU = 1280;

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >> 8;
  b[o + 1] = v & 0xff;
}

/** The Internet checksum of b[from .. to) with `sum` already added (the pseudo-header). */
function checksum(b: Uint8Array, from: number, to: number, sum: number): number {
  let i = from;
  for (; i + 1 < to; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < to) sum += b[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** True for an ICMP error, which is never answered with another (RFC 1122 3.2.2, RFC 4443 2.4). */
function isIcmpError(p: Uint8Array, len: number): boolean {
  if (p[0] >> 4 === 4) {
    const h = (p[0] & 15) * 4;
    return p[9] === ICMP && len > h && [3, 4, 5, 11, 12].includes(p[h]);
  }
  return p[6] === ICMPV6 && len > 40 && p[40] < 128;
}

/**
 * Write into `out` the ICMP answer to the packet `p` (`len` bytes), which would leave the
 * tunnel larger than the path allows; `mtu` is the largest packet that fits. Returns its
 * length, or 0 when there is nothing to answer (IPv4 without DF: the encapsulated packet is
 * fragmented instead; an ICMP error).
 */
export function writeTooBig(p: Uint8Array, len: number, mtu: number, out: Uint8Array): number {
  if (len < 20 || isIcmpError(p, len)) return 0;
  if (p[0] >> 4 === 4) {
    if ((p[6] & 0x40) === 0) return 0;
    const quoted = Math.min(len, (p[0] & 15) * 4 + 8); // the header and 8 bytes (RFC 792)
    const total = 20 + 8 + quoted;
    out.fill(0, 0, 28);
    out[0] = 0x45;
    put16(out, 2, total);
    out[8] = 64;
    out[9] = ICMP;
    out.set(p.subarray(16, 20), 12); // from the packet's destination
    out.set(p.subarray(12, 16), 16); // to its source
    setIpv4Checksum(out, 0);
    out[20] = 3;
    out[21] = 4;
    put16(out, 26, Math.max(68, mtu));
    out.set(p.subarray(0, quoted), 28);
    put16(out, 22, checksum(out, 20, total, 0));
    return total;
  }
  if (len < 40) return 0;
  const quoted = Math.min(len, IPV6_MIN_MTU - 48); // as much as fits the minimum MTU (RFC 4443)
  const total = 40 + 8 + quoted;
  out.fill(0, 0, 48);
  out[0] = 0x60;
  put16(out, 4, 8 + quoted);
  out[6] = ICMPV6;
  out[7] = 64;
  out.set(p.subarray(24, 40), 8);
  out.set(p.subarray(8, 24), 24);
  out[40] = 2; // packet too big
  const m = Math.max(IPV6_MIN_MTU, mtu);
  put16(out, 44, m >>> 16);
  put16(out, 46, m & 0xffff);
  out.set(p.subarray(0, quoted), 48);
  let pseudo = 8 + quoted + ICMPV6;
  for (let i = 8; i < 40; i += 2) pseudo += (out[i] << 8) | out[i + 1];
  put16(out, 42, checksum(out, 40, total, pseudo));
  return total;
}
