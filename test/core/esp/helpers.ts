// Builders for ESP tests: packets, and a sender/receiver pair of Xfrm instances configured
// with mirrored `ip xfrm` lines.
import { EspEngine, Xfrm, applyXfrmLine, setIpv4Checksum, type AeadBackend } from '@xfrm/core';

/** A UDP packet of `payload` bytes from src to dst (IPv4 or IPv6 by the address text). */
export function udpPacket(src: string, dst: string, payload: number, opts: { tos?: number; df?: boolean; ext?: boolean } = {}): Uint8Array {
  const v6 = src.includes(':');
  const addr = (a: string) =>
    v6 ? Buffer.from(expand6(a), 'hex') : Buffer.from(a.split('.').map(Number));
  const body = new Uint8Array(8 + payload);
  body[0] = 0x30; body[1] = 0x39; // sport 12345
  body[2] = 0x00; body[3] = 0x35; // dport 53
  body[4] = (8 + payload) >> 8; body[5] = (8 + payload) & 0xff;
  for (let i = 0; i < payload; i++) body[8 + i] = (i * 7 + 3) & 0xff;
  if (!v6) {
    const p = new Uint8Array(20 + body.length);
    p[0] = 0x45; p[1] = opts.tos ?? 0;
    p[2] = p.length >> 8; p[3] = p.length & 0xff;
    p[4] = 0x12; p[5] = 0x34; p[6] = opts.df ? 0x40 : 0; p[8] = 63; p[9] = 17;
    p.set(addr(src), 12); p.set(addr(dst), 16);
    setIpv4Checksum(p, 0);
    p.set(body, 20);
    return p;
  }
  const ext = opts.ext ? 8 : 0; // one destination options header
  const p = new Uint8Array(40 + ext + body.length);
  const tc = opts.tos ?? 0;
  p[0] = 0x60 | (tc >> 4); p[1] = (tc & 15) << 4;
  const plen = ext + body.length;
  p[4] = plen >> 8; p[5] = plen & 0xff;
  p[6] = opts.ext ? 60 : 17; p[7] = 63;
  p.set(addr(src), 8); p.set(addr(dst), 24);
  if (opts.ext) { p[40] = 17; p[41] = 0; p[42] = 1; p[43] = 4; } // PadN option fills the 8 bytes
  p.set(body, 40 + ext);
  return p;
}

function expand6(a: string): string {
  const [head, tail = ''] = a.split('::');
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const groups = [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  return groups.map((g) => g.padStart(4, '0')).join('');
}

export interface Pair {
  a: Xfrm;
  b: Xfrm;
  out: EspEngine;
  in: EspEngine;
}

/** Two Xfrm instances: `a` gets `aLines`, `b` gets `bLines`; engines for a's output and b's input. */
export function pair(aLines: string[], bLines: string[], backend?: AeadBackend, allowNullCipher = false): Pair {
  const a = Xfrm.create({ heap: { maxBytes: 1 << 26 }, allowNullCipher });
  const b = Xfrm.create({ heap: { maxBytes: 1 << 26 }, allowNullCipher });
  for (const l of aLines) applyXfrmLine(a, l);
  for (const l of bLines) applyXfrmLine(b, l);
  return { a, b, out: new EspEngine(a.spd, a.sad, { backend }), in: new EspEngine(b.spd, b.sad, { backend }) };
}

export const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');
