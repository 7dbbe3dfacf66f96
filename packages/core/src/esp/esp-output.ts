/**
 * ESP output for one SA: tunnel mode (4-in-4, 6-in-6, 4-in-6, 6-in-4) and transport mode,
 * optionally in UDP (RFC 3948: checksum zero over IPv4; computed over IPv6, where RFC 8200
 * forbids zero). The outer header follows packet.ts writeOuterHeader (TTL 64, DSCP/ECN per
 * RFC 6040, DF copied from an IPv4 inner header and set for IPv6, IPv4 id from the sequence
 * number, the inner flow label copied in 6in6 as Linux does). Thread-local; no allocation.
 */
import { espLength, espSeal } from './esp.js';
import { copyBytes } from './byte-copy.js';
import { IPPROTO, encapsulatedTos, flowLabelOf, parseIp, setIpv4Checksum, setUdp6Checksum, tosOf, writeOuterHeader, writeOuterHeader4, type IpInfo } from './packet.js';
import { type SaContext } from './sa-context.js';

const UDP_HEADER = 8;
/** {@link espEncapsulate}: the packet would be too big once encapsulated. */
export const ESP_TOO_BIG = -2;

function put16(b: Uint8Array, o: number, v: number): void {
  b[o] = v >> 8;
  b[o + 1] = v & 0xff;
}

function writeUdp(b: Uint8Array, o: number, sa: SaContext, espLen: number): void {
  put16(b, o, sa.encapSport);
  put16(b, o + 2, sa.encapDport);
  put16(b, o + 4, UDP_HEADER + espLen);
  put16(b, o + 6, 0); // RFC 3948: checksum zero over IPv4 (IPv6: setUdp6Checksum once the header is written)
}

/**
 * Encapsulate the IP packet `inp[io .. io+ilen)` with `sa` into `out[oo ..]`, using sequence
 * number seqHi:seqLo. Returns the length written, -1 when the packet cannot be sent in this
 * mode (malformed), or ESP_TOO_BIG when the result would not fit `out` or 64 KiB.
 */
export function espEncapsulate(
  sa: SaContext,
  seqHi: number,
  seqLo: number,
  inp: Uint8Array,
  io: number,
  ilen: number,
  out: Uint8Array,
  oo: number,
  info: IpInfo,
  parsed = false,
): number {
  if (!parsed && !parseIp(inp, io, ilen, info)) return -1; // `parsed`: info already describes inp[io ..]
  ilen = info.totalLength; // ignore link-layer padding after the packet
  const udp = sa.encapDport !== 0 ? UDP_HEADER : 0;
  const proto = udp !== 0 ? IPPROTO.UDP : IPPROTO.ESP;
  if (sa.tunnel) {
    const outer = sa.family === 4 ? 20 : 40;
    const total = outer + udp + espLength(sa, ilen);
    if (total > 65535 || oo + total > out.length) return ESP_TOO_BIG;
    const e = oo + outer + udp;
    const espLen = espSeal(sa, seqHi, seqLo, info.family === 4 ? IPPROTO.IPIP : IPPROTO.IPV6, out, e, ilen, undefined, inp, io);
    if (udp !== 0) writeUdp(out, oo + outer, sa, espLen);
    const df = info.family === 4 ? (inp[io + 6] & 0x40) !== 0 : true;
    const tos = encapsulatedTos(tosOf(inp, io));
    if (sa.family === 4) writeOuterHeader4(out, oo, sa.src4, sa.dst4, udp + espLen, proto, tos, df, seqLo);
    else writeOuterHeader(out, oo, 6, sa.addresses, 0, sa.addresses, 4, udp + espLen, proto, tos, df, seqLo, info.family === 6 ? flowLabelOf(inp, io) : 0);
    if (udp !== 0 && sa.family === 6) setUdp6Checksum(out, oo, oo + outer, udp + espLen);
    return total;
  }
  // Transport: the IP header (with any IPv6 extension headers) stays; ESP goes before the payload.
  const h = info.headerLength;
  const payload = ilen - h;
  const total = h + udp + espLength(sa, payload);
  if (total > 65535 || oo + total > out.length) return ESP_TOO_BIG;
  copyBytes(out, oo, inp, io, h);
  const e = oo + h + udp;
  const espLen = espSeal(sa, seqHi, seqLo, info.proto, out, e, payload, undefined, inp, io + h);
  if (udp !== 0) writeUdp(out, oo + h, sa, espLen);
  out[oo + info.protoField] = proto;
  if (info.family === 4) {
    put16(out, oo + 2, total);
    setIpv4Checksum(out, oo);
  } else {
    put16(out, oo + 4, total - 40);
    if (udp !== 0) setUdp6Checksum(out, oo, oo + h, udp + espLen);
  }
  return total;
}
