/**
 * Selectors and flows, as Linux `struct xfrm_selector` and `struct flowi` have them: source
 * and destination prefixes, protocol, ports with masks (ICMP type and code ride in the source
 * and destination port fields), family.
 *
 * Both have a packed int32 form: a flow is what the packet path builds per packet (in a
 * scratch Int32Array, no allocation), a selector is written into policy and state records in
 * shared memory. Packed selectors are immutable once published, so matching needs no atomics.
 */
import { anyAddress, formatAddress, maskAddress, maskWord, writeAddressPair, type Address, type Family } from './address.js';

/**
 * A selector (control-plane form). Addresses are kept as given, host bits and all (they are
 * part of a policy's identity, as in Linux); matching masks them to the prefix lengths.
 */
export interface Selector {
  readonly family: Family;
  readonly src: Address;
  readonly srcLen: number;
  readonly dst: Address;
  readonly dstLen: number;
  /** IP protocol number, 0 for any. */
  readonly proto: number;
  readonly sport: number;
  readonly sportMask: number;
  readonly dport: number;
  readonly dportMask: number;
}

/** Packed flow: [family, src[4], dst[4], proto, sport, dport]. */
export const FLOW_WORDS = 12;
/** Packed selector: [family | srcLen << 8 | dstLen << 16 | proto << 24, src[4], dst[4], sport<<16|mask, dport<<16|mask]. */
export const SEL_WORDS = 11;

/** IP protocol numbers the syntax names. */
export const PROTOCOLS: Readonly<Record<string, number>> = {
  icmp: 1,
  tcp: 6,
  udp: 17,
  dccp: 33,
  gre: 47,
  esp: 50,
  ah: 51,
  'ipv6-icmp': 58,
  sctp: 132,
  'mobility-header': 135,
};

/** True for protocols whose type and code ride in the port fields. */
export function isIcmp(proto: number): boolean {
  return proto === 1 || proto === 58;
}

/** The selector that matches every packet of a family. */
export function anySelector(family: Family): Selector {
  return {
    family,
    src: anyAddress(family),
    srcLen: 0,
    dst: anyAddress(family),
    dstLen: 0,
    proto: 0,
    sport: 0,
    sportMask: 0,
    dport: 0,
    dportMask: 0,
  };
}

/** A selector with its addresses masked to their prefix lengths (host bits dropped). */
export function makeSelector(s: Selector): Selector {
  return { ...s, src: maskAddress(s.src, s.srcLen), dst: maskAddress(s.dst, s.dstLen) };
}

/** A string that is equal for equal selectors (the identity of a policy within a dir). */
export function selectorKey(s: Selector): string {
  return `${s.family}|${formatAddress(s.src)}/${s.srcLen}|${formatAddress(s.dst)}/${s.dstLen}|${s.proto}|${s.sport}/${s.sportMask}|${s.dport}/${s.dportMask}`;
}

/** Write a packed selector at word `p`. */
export function writeSelector(i32: Int32Array, p: number, s: Selector): void {
  i32[p] = s.family | (s.srcLen << 8) | (s.dstLen << 16) | (s.proto << 24);
  writeAddressPair(i32, p + 1, s.src, s.dst);
  i32[p + 9] = (s.sport << 16) | s.sportMask;
  i32[p + 10] = (s.dport << 16) | s.dportMask;
}

/** Is the selector packed at `i32[p]` the any selector (of its family)? */
export function selectorIsAny(i32: Int32Array, p: number): boolean {
  let bits = i32[p] >>> 8; // lengths and proto; the family is not part of it
  for (let w = 1; w < SEL_WORDS; w++) bits |= i32[p + w];
  return bits === 0;
}

/** The selector packed at `i32[p]` (the inverse of {@link writeSelector}). */
export function readSelector(i32: Int32Array, p: number): Selector {
  const head = i32[p];
  const family = (head & 0xff) as Family;
  const word = (w: number) => [i32[w], i32[w + 1], i32[w + 2], i32[w + 3]] as const;
  return {
    family,
    src: { family, words: word(p + 1) },
    srcLen: (head >>> 8) & 0xff,
    dst: { family, words: word(p + 5) },
    dstLen: (head >>> 16) & 0xff,
    proto: head >>> 24,
    sport: i32[p + 9] >>> 16,
    sportMask: i32[p + 9] & 0xffff,
    dport: i32[p + 10] >>> 16,
    dportMask: i32[p + 10] & 0xffff,
  };
}

/** Does the packed selector at `i32[p]` match the packed flow at `flow[f]`? */
export function selectorMatches(i32: Int32Array, p: number, flow: Int32Array, f: number): boolean {
  const head = i32[p];
  if ((head & 0xff) !== flow[f]) return false;
  const srcLen = (head >>> 8) & 0xff;
  const dstLen = (head >>> 16) & 0xff;
  for (let w = 0; w < 4; w++) {
    if (maskWord(flow[f + 1 + w] ^ i32[p + 1 + w], w, srcLen) !== 0) return false;
    if (maskWord(flow[f + 5 + w] ^ i32[p + 5 + w], w, dstLen) !== 0) return false;
  }
  const proto = head >>> 24;
  if (proto !== 0 && proto !== flow[f + 9]) return false;
  const sp = i32[p + 9];
  const dp = i32[p + 10];
  return ((flow[f + 10] ^ (sp >>> 16)) & sp & 0xffff) === 0 && ((flow[f + 11] ^ (dp >>> 16)) & dp & 0xffff) === 0;
}

/** A flow (control-plane form), for tests and tools. */
export interface Flow {
  readonly family: Family;
  readonly src: Address;
  readonly dst: Address;
  readonly proto: number;
  /** Source port, or ICMP type. */
  readonly sport: number;
  /** Destination port, or ICMP code. */
  readonly dport: number;
}

/** Pack a flow at `out[f]`. */
export function writeFlow(out: Int32Array, f: number, flow: Flow): void {
  out[f] = flow.family;
  writeAddressPair(out, f + 1, flow.src, flow.dst);
  out[f + 9] = flow.proto;
  out[f + 10] = flow.sport;
  out[f + 11] = flow.dport;
}

/** Pack a flow into a new array. */
export function packFlow(flow: Flow): Int32Array {
  const out = new Int32Array(FLOW_WORDS);
  writeFlow(out, 0, flow);
  return out;
}
