/**
 * IPv4 and IPv6 headers: parsing a packet into a flow (ports, or ICMP type and code, past
 * IPv6 extension headers), the IPv4 header checksum, and building the outer header of a
 * tunnel. Plain functions over byte arrays, no allocation; errors are return values.
 */
import { WordView, wireWord } from './word-view.js';

/** The word view outer headers are written through (word-view.ts). */
const header = new WordView();

/** IP protocol numbers used here. */
export const IPPROTO = {
  HOPOPTS: 0,
  ICMP: 1,
  IPIP: 4,
  TCP: 6,
  UDP: 17,
  IPV6: 41,
  ROUTING: 43,
  FRAGMENT: 44,
  ESP: 50,
  AH: 51,
  ICMPV6: 58,
  NONE: 59,
  DSTOPTS: 60,
  SCTP: 132,
  MOBILITY: 135,
} as const;

/** The UDP port of ESP-in-UDP (RFC 3948). */
export const NATT_PORT = 4500;

/** What {@link parseIp} found. */
export interface IpInfo {
  /** 4 or 6; 0 when the packet is malformed. */
  family: number;
  /** Length of the IP header including IPv6 extension headers (offset of the transport header). */
  headerLength: number;
  /** Offset (from the packet start) of the next-header byte that names the transport protocol. */
  protoField: number;
  /** Transport protocol. */
  proto: number;
  /** Total length the IP header claims. */
  totalLength: number;
  /** True for an IPv4 fragment that is not the first, or an IPv6 one past offset 0. */
  laterFragment: boolean;
}

/** A reusable result object for {@link parseIp}. */
export function newIpInfo(): IpInfo {
  return { family: 0, headerLength: 0, protoField: 0, proto: 0, totalLength: 0, laterFragment: false };
}

function be16(b: Uint8Array, o: number): number {
  return (b[o] << 8) | b[o + 1];
}


/**
 * Parse the IP header of `b[off .. off+len)` into `info`. Returns false (family 0) for a
 * packet too short, of another version, or whose lengths do not fit.
 */
export function parseIp(b: Uint8Array, off: number, len: number, info: IpInfo): boolean {
  info.family = 0;
  if (len < 20) return false;
  const version = b[off] >> 4;
  if (version === 4) {
    const ihl = (b[off] & 15) * 4;
    const total = be16(b, off + 2);
    if (ihl < 20 || total < ihl || total > len) return false;
    info.headerLength = ihl;
    info.protoField = 9;
    info.proto = b[off + 9];
    info.totalLength = total;
    info.laterFragment = (be16(b, off + 6) & 0x1fff) !== 0;
    info.family = 4;
    return true;
  }
  return version === 6 && parseIp6(b, off, len, info);
}

/** {@link parseIp} of an IPv6 packet, past its extension headers (out of line, so the IPv4 path inlines). */
function parseIp6(b: Uint8Array, off: number, len: number, info: IpInfo): boolean {
  if (len < 40) return false;
  const total = 40 + be16(b, off + 4);
  if (total > len) return false;
  let proto = b[off + 6];
  let field = 6;
  let pos = 40;
  let later = false;
  // Skip extension headers up to the transport header (at most 8, against loops of options).
  for (let n = 0; n < 8; n++) {
    if (proto === IPPROTO.HOPOPTS || proto === IPPROTO.ROUTING || proto === IPPROTO.DSTOPTS || proto === IPPROTO.MOBILITY) {
      if (pos + 8 > total) return false;
      field = pos;
      proto = b[off + pos];
      pos += (b[off + pos + 1] + 1) * 8;
    } else if (proto === IPPROTO.FRAGMENT) {
      if (pos + 8 > total) return false;
      later = (be16(b, off + pos + 2) & 0xfff8) !== 0;
      field = pos;
      proto = b[off + pos];
      pos += 8;
    } else if (proto === IPPROTO.AH) {
      if (pos + 8 > total) return false;
      field = pos;
      proto = b[off + pos];
      pos += (b[off + pos + 1] + 2) * 4;
    } else {
      break;
    }
  }
  if (pos > total) return false;
  info.headerLength = pos;
  info.protoField = field;
  info.proto = proto;
  info.totalLength = total;
  info.laterFragment = later;
  info.family = 6;
  return true;
}

/**
 * The transport ports of a parsed packet as one word, source port in the high half and
 * destination port in the low (the first four bytes of a TCP, UDP, SCTP or DCCP header as
 * they are on the wire); ICMP type and code in their place; 0 for a later fragment or a
 * truncated transport header, as in Linux.
 */
export function packetPorts(b: Uint8Array, off: number, info: IpInfo): number {
  if (info.laterFragment) return 0;
  const p = info.proto;
  const t = off + info.headerLength;
  const room = info.totalLength - info.headerLength;
  if ((p === IPPROTO.TCP || p === IPPROTO.UDP || p === IPPROTO.SCTP || p === 33) && room >= 4) return getWord(b, t);
  if ((p === IPPROTO.ICMP || p === IPPROTO.ICMPV6) && room >= 2) return (b[t] << 16) | b[t + 1];
  return 0;
}

/**
 * Write the packed flow (selector.ts: family, src, dst, proto, sport, dport) of a parsed
 * packet at `flow[f]` (ports as {@link packetPorts} finds them).
 */
export function writePacketFlow(b: Uint8Array, off: number, info: IpInfo, flow: Int32Array, f: number): void {
  flow[f] = info.family;
  if (info.family === 4) {
    flow[f + 1] = getWord(b, off + 12);
    flow[f + 2] = flow[f + 3] = flow[f + 4] = 0;
    flow[f + 5] = getWord(b, off + 16);
    flow[f + 6] = flow[f + 7] = flow[f + 8] = 0;
  } else {
    for (let w = 0; w < 4; w++) {
      flow[f + 1 + w] = getWord(b, off + 8 + 4 * w);
      flow[f + 5 + w] = getWord(b, off + 24 + 4 * w);
    }
  }
  flow[f + 9] = info.proto;
  const ports = packetPorts(b, off, info);
  flow[f + 10] = ports >>> 16;
  flow[f + 11] = ports & 0xffff;
}

/** The IPv4 header checksum over `b[off .. off+ihl)` (with the checksum field counted as 0). */
export function ipv4Checksum(b: Uint8Array, off: number, ihl: number): number {
  let sum = 0;
  for (let i = 0; i < ihl; i += 2) if (i !== 10) sum += (b[off + i] << 8) | b[off + i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** Store the IPv4 header checksum of the header at `off`. */
export function setIpv4Checksum(b: Uint8Array, off: number): void {
  const c = ipv4Checksum(b, off, (b[off] & 15) * 4);
  b[off + 10] = c >> 8;
  b[off + 11] = c & 0xff;
}

/** ECN bits of the traffic class / TOS of the packet at `off`. */
export function tosOf(b: Uint8Array, off: number): number {
  return b[off] >> 4 === 4 ? b[off + 1] : ((b[off] & 15) << 4) | (b[off + 1] >> 4);
}

/** Set the TOS / traffic class of the packet at `off` (the IPv4 checksum is not updated). */
export function setTos(b: Uint8Array, off: number, tos: number): void {
  if (b[off] >> 4 === 4) b[off + 1] = tos;
  else {
    b[off] = 0x60 | (tos >> 4);
    b[off + 1] = ((tos & 15) << 4) | (b[off + 1] & 15);
  }
}

/** Outer TOS for encapsulation (RFC 6040 normal mode, as Linux): DSCP and ECN copied, CE sent as ECT(0). */
export function encapsulatedTos(inner: number): number {
  return (inner & 3) === 3 ? (inner & ~3) | 2 : inner;
}

/** Inner TOS after decapsulation (RFC 6040): CE on the outer header marks an ECN-capable inner one. */
export function decapsulatedTos(outer: number, inner: number): number {
  return (outer & 3) === 3 && (inner & 3) !== 0 ? inner | 3 : inner;
}

/**
 * Write a tunnel's outer IP header at `b[off]`: family from the state, addresses given as
 * words, `payloadLength` bytes after the header, protocol `proto`. TTL / hop limit 64, DSCP and
 * ECN from the inner packet (RFC 6040), DF copied from an IPv4 inner header and set for an
 * IPv6 one, IPv4 identification `id`, IPv6 flow label 0. Returns the header length.
 */
export function writeOuterHeader(
  b: Uint8Array,
  off: number,
  family: number,
  src: Int32Array,
  s: number,
  dst: Int32Array,
  d: number,
  payloadLength: number,
  proto: number,
  tos: number,
  df: boolean,
  id: number,
  flowLabel = 0,
): number {
  if (family === 4) return writeOuterHeader4(b, off, src[s], dst[d], payloadLength, proto, tos, df, id);
  b[off] = 0x60 | (tos >> 4);
  b[off + 1] = ((tos & 15) << 4) | ((flowLabel >>> 16) & 15);
  b[off + 2] = (flowLabel >>> 8) & 0xff;
  b[off + 3] = flowLabel & 0xff;
  b[off + 4] = payloadLength >> 8;
  b[off + 5] = payloadLength & 0xff;
  b[off + 6] = proto;
  b[off + 7] = 64;
  for (let w = 0; w < 4; w++) {
    putWord(b, off + 8 + 4 * w, src[s + w]);
    putWord(b, off + 24 + 4 * w, dst[d + w]);
  }
  return 40;
}

/**
 * Write a tunnel's outer IPv4 header at `b[off]` (what {@link writeOuterHeader} writes for
 * family 4), with the addresses as words: `a` the source, `z` the destination.
 */
export function writeOuterHeader4(b: Uint8Array, off: number, a: number, z: number, payloadLength: number, proto: number, tos: number, df: boolean, id: number): number {
  const total = 20 + payloadLength;
  // The checksum from the values written (RFC 1071 sum of the ten 16-bit words), not read
  // back from the bytes: this header is written once per packet.
  let sum = ((0x45 << 8) | tos) + total + (id & 0xffff) + (df ? 0x4000 : 0) + ((64 << 8) | proto);
  sum += (a >>> 16) + (a & 0xffff) + (z >>> 16) + (z & 0xffff);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = ~((sum & 0xffff) + (sum >>> 16)) & 0xffff;
  header.of(b);
  const i = header.at(off, 5);
  if (i >= 0) {
    const w = header.words;
    w[i] = wireWord((0x45 << 24) | (tos << 16) | total);
    w[i + 1] = wireWord(((id & 0xffff) << 16) | (df ? 0x4000 : 0));
    w[i + 2] = wireWord((64 << 24) | (proto << 16) | sum);
    w[i + 3] = wireWord(a);
    w[i + 4] = wireWord(z);
    return 20;
  }
  b[off] = 0x45;
  b[off + 1] = tos;
  b[off + 2] = total >> 8;
  b[off + 3] = total & 0xff;
  b[off + 4] = (id >> 8) & 0xff;
  b[off + 5] = id & 0xff;
  b[off + 6] = df ? 0x40 : 0;
  b[off + 7] = 0;
  b[off + 8] = 64;
  b[off + 9] = proto;
  putWord(b, off + 12, a);
  putWord(b, off + 16, z);
  b[off + 10] = sum >> 8;
  b[off + 11] = sum & 0xff;
  return 20;
}

/** The 20-bit flow label of the IPv6 header at `off`. */
export function flowLabelOf(b: Uint8Array, off: number): number {
  return ((b[off + 1] & 15) << 16) | (b[off + 2] << 8) | b[off + 3];
}

/**
 * Store the UDP checksum of the datagram at `b[udp .. udp+len)` carried in the IPv6 header at
 * `ip` (pseudo-header: its source and destination, length, next header 17). RFC 8200 8.1
 * forbids a zero UDP checksum over IPv6, so a computed 0 is sent as 0xffff.
 */
export function setUdp6Checksum(b: Uint8Array, ip: number, udp: number, len: number): void {
  b[udp + 6] = b[udp + 7] = 0;
  let sum = len + 17;
  for (let i = ip + 8; i < ip + 40; i += 2) sum += (b[i] << 8) | b[i + 1];
  const end = udp + len;
  let i = udp;
  for (; i + 1 < end; i += 2) sum += (b[i] << 8) | b[i + 1];
  if (i < end) sum += b[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  const c = ~sum & 0xffff;
  b[udp + 6] = c === 0 ? 0xff : c >> 8;
  b[udp + 7] = c === 0 ? 0xff : c & 0xff;
}

/** Store a 32-bit word big-endian. */
export function putWord(b: Uint8Array, o: number, w: number): void {
  b[o] = w >>> 24;
  b[o + 1] = (w >>> 16) & 0xff;
  b[o + 2] = (w >>> 8) & 0xff;
  b[o + 3] = w & 0xff;
}

/** Read a 32-bit word big-endian (as int32). */
export function getWord(b: Uint8Array, o: number): number {
  return ((b[o] << 24) | (b[o + 1] << 16) | (b[o + 2] << 8) | b[o + 3]) | 0;
}
