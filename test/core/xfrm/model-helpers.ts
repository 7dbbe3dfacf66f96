// Shared by the xfrm model tests: a seeded PRNG and small pools of addresses, so that random
// policies overlap and random flows hit them.
import { parseAddress, makeSelector, type Address, type Family, type Flow, type Selector } from '@xfrm/core';

/** Seeded xorshift32: uint32s. */
export function uint32s(seed: number): () => number {
  let s = seed | 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}

/** Seeded floats in [0, 1), from {@link uint32s}. */
export function prng(seed: number): () => number {
  const next = uint32s(seed);
  return () => next() / 2 ** 32;
}

export function addr(text: string): Address {
  const a = parseAddress(text);
  if (a === null) throw new Error(`bad address ${text}`);
  return a;
}

export function pick<T>(rnd: () => number, xs: readonly T[]): T {
  return xs[Math.floor(rnd() * xs.length)];
}

/** An address from a small pool of the family (many collisions on purpose). */
export function poolAddress(rnd: () => number, family: Family, spread = 4): Address {
  const a = Math.floor(rnd() * spread);
  const b = Math.floor(rnd() * spread);
  return family === 4 ? addr(`10.${a}.${b}.${Math.floor(rnd() * spread)}`) : addr(`2001:db8:${a}::${b}:${Math.floor(rnd() * spread)}`);
}

const PORTED = [6, 17];

export function randomSelector(rnd: () => number, family: Family, precise: boolean, spread = 4): Selector {
  const lens = family === 4 ? [0, 8, 16, 24, 30, 32] : [0, 32, 48, 64, 112, 128];
  const full = family === 4 ? 32 : 128;
  const proto = pick(rnd, [0, 0, 6, 17, family === 4 ? 1 : 58]);
  const port = (): [number, number] =>
    PORTED.includes(proto) && rnd() < 0.5 ? [pick(rnd, [53, 80, 443]), 0xffff] : [0, 0];
  const icmp = proto === 1 || proto === 58;
  const [sport, sportMask] = icmp && rnd() < 0.5 ? [pick(rnd, [0, 8, 128]), 0xffff] : port();
  let [dport, dportMask] = icmp && rnd() < 0.5 ? [0, 0xffff] : port();
  if (proto === 0 && rnd() < 0.3) [dport, dportMask] = [pick(rnd, [53, 80, 443]), 0xffff]; // ports without a protocol (Linux matches any)
  // Host bits kept half the time: they are part of the policy's identity, and masked for matching.
  const keep = rnd() < 0.5 ? (s: Selector) => s : makeSelector;
  return keep({
    family,
    src: poolAddress(rnd, family, spread),
    srcLen: precise ? full : pick(rnd, lens),
    dst: poolAddress(rnd, family, spread),
    dstLen: precise ? full : pick(rnd, lens),
    proto,
    sport: icmp ? sport : sport,
    sportMask,
    dport,
    dportMask,
  });
}

export function randomFlow(rnd: () => number, family: Family, spread = 4): Flow {
  const proto = pick(rnd, [6, 17, family === 4 ? 1 : 58, 50]);
  const icmp = proto === 1 || proto === 58;
  return {
    family,
    src: poolAddress(rnd, family, spread),
    dst: poolAddress(rnd, family, spread),
    proto,
    sport: icmp ? pick(rnd, [0, 8, 128]) : pick(rnd, [53, 80, 443, 1234]),
    dport: icmp ? pick(rnd, [0, 1]) : pick(rnd, [53, 80, 443, 1234]),
  };
}

/** Reference selector match: the obvious bit-by-bit reading of Linux's xfrm_selector_match. */
export function referenceMatch(s: Selector, f: Flow): boolean {
  if (s.family !== f.family) return false;
  // Whole words must be equal; in the last, partial word the bits above the cut must be.
  const prefixOk = (a: Address, b: Address, len: number) => {
    let w = 0;
    for (; (w + 1) * 32 <= len; w++) if (a.words[w] !== b.words[w]) return false;
    const rest = len - w * 32;
    return rest === 0 || (a.words[w] ^ b.words[w]) >>> (32 - rest) === 0;
  };
  return (
    prefixOk(s.src, f.src, s.srcLen) &&
    prefixOk(s.dst, f.dst, s.dstLen) &&
    (s.proto === 0 || s.proto === f.proto) &&
    ((f.sport ^ s.sport) & s.sportMask) === 0 &&
    ((f.dport ^ s.dport) & s.dportMask) === 0
  );
}
