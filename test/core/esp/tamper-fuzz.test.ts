// Hostile input: every single-bit flip of an ESP packet is refused and counted, with no
// plaintext released; replays are refused; and 200k random and mutated packets never make the
// input path throw, each ending accepted or under exactly one named drop reason.
import { describe, expect, it } from 'vitest';
import { DROPPED, DROP, DROP_REASONS, DUMMY, PASS } from '@xfrm/core';
import { prng } from '../xfrm/model-helpers.js';
import { hexOf, pair, udpPacket } from './helpers.js';

const KEY = '0x' + '11'.repeat(16) + 'cafebabe';
function tunnel(extra = '') {
  const sa = `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x2001 reqid 3 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 replay-window 64 ${extra}`;
  const tmpl = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 3 mode tunnel';
  return pair(
    [sa, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${tmpl}`],
    [sa, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in ${tmpl}`],
  );
}

function contains(hay: Uint8Array, needle: Uint8Array): boolean {
  return Buffer.from(hay).includes(Buffer.from(needle));
}

describe('tampering and replay', () => {
  it('flipping any single bit of SPI, sequence number, IV, ciphertext or ICV is refused and counted', () => {
    const p = tunnel();
    const inner = udpPacket('10.1.0.1', '10.2.0.1', 48);
    const wire = new Uint8Array(300);
    const n = p.out.output(inner, 0, inner.length, wire, 0);
    const secret = inner.subarray(28, 28 + 48); // the UDP payload
    const out = new Uint8Array(300);
    let refused = 0;
    for (let bit = 20 * 8; bit < n * 8; bit++) {
      const t = wire.slice(0, n);
      t[bit >> 3] ^= 0x80 >> (bit & 7);
      out.fill(0);
      const before = p.in.drops.reduce((a, b) => a + b, 0);
      expect(p.in.input(t, 0, n, out, 0)).toBe(DROPPED);
      expect(p.in.drops.reduce((a, b) => a + b, 0)).toBe(before + 1);
      expect([DROP.XfrmInNoStates, DROP.XfrmInStateProtoError, DROP.XfrmInStateSeqError]).toContain(p.in.lastDrop);
      expect(contains(out, secret)).toBe(false);
      refused++;
    }
    expect(refused).toBe((n - 20) * 8);
    // The window did not move: the genuine packet still goes through, once.
    expect(p.in.input(wire, 0, n, out, 0)).toBe(inner.length);
    expect(hexOf(out.subarray(0, inner.length))).toBe(hexOf(inner));
    expect(p.in.input(wire, 0, n, out, 0)).toBe(DROPPED);
    expect(p.in.lastDrop).toBe(DROP.XfrmInStateSeqError);
  });

  it('packets behind the window are refused; reordered ones inside it are taken once', () => {
    const p = tunnel();
    const inner = udpPacket('10.1.0.1', '10.2.0.1', 10);
    const sent = Array.from({ length: 100 }, () => {
      const w = new Uint8Array(200);
      return w.subarray(0, p.out.output(inner, 0, inner.length, w, 0));
    });
    const out = new Uint8Array(200);
    expect(p.in.input(sent[99], 0, sent[99].length, out, 0)).toBe(inner.length); // seq 100
    expect(p.in.input(sent[50], 0, sent[50].length, out, 0)).toBe(inner.length); // seq 51: inside the window of 64
    expect(p.in.input(sent[50], 0, sent[50].length, out, 0)).toBe(DROPPED); // again: replay
    expect(p.in.input(sent[10], 0, sent[10].length, out, 0)).toBe(DROPPED); // seq 11: behind the window
    expect(p.in.drops[DROP.XfrmInStateSeqError]).toBe(2);
  });
});

describe('fuzzing the input path', () => {
  it('200k random and mutated packets: no exception, each accepted or under exactly one drop reason', () => {
    const p = tunnel();
    const natt = tunnel('encap espinudp 4500 4500 0.0.0.0');
    const r = prng(99);
    const byte = () => Math.floor(r() * 256);
    const seeds: Uint8Array[] = [];
    for (const [q, v6] of [[p, false], [natt, false]] as const) {
      for (let i = 0; i < 20; i++) {
        const inner = udpPacket(v6 ? '2001:db8::1' : '10.1.0.1', v6 ? '2001:db8::2' : '10.2.0.1', i * 13);
        const w = new Uint8Array(400);
        seeds.push(w.slice(0, q.out.output(inner, 0, inner.length, w, 0)));
      }
    }
    const out = new Uint8Array(70_000);
    const outcomes: Record<string, number> = {};
    const engines = [p.in, natt.in];
    for (let i = 0; i < 200_000; i++) {
      let pkt: Uint8Array;
      const kind = r();
      if (kind < 0.25) {
        pkt = Uint8Array.from({ length: Math.floor(r() * 120) }, byte); // noise
      } else if (kind < 0.45) {
        pkt = seeds[Math.floor(r() * seeds.length)].slice(); // a real packet, one bit flipped
        pkt[Math.floor(r() * pkt.length)] ^= 1 << Math.floor(r() * 8);
      } else if (kind < 0.65) {
        const s = seeds[Math.floor(r() * seeds.length)];
        pkt = s.slice(0, Math.floor(r() * s.length)); // truncated
      } else if (kind < 0.8) {
        pkt = seeds[Math.floor(r() * seeds.length)].slice(); // several bytes rewritten
        for (let k = 0; k < 1 + Math.floor(r() * 6); k++) pkt[Math.floor(r() * pkt.length)] = byte();
      } else {
        pkt = seeds[Math.floor(r() * seeds.length)]; // as sent (replays after the first time)
      }
      const e = engines[i & 1];
      const before = e.drops.reduce((a, b) => a + b, 0);
      const res = e.input(pkt, 0, pkt.length, out, 0);
      const after = e.drops.reduce((a, b) => a + b, 0);
      expect(after - before).toBe(res === DROPPED ? 1 : 0);
      const key = res >= 0 ? 'delivered' : res === PASS ? 'pass' : res === DUMMY ? 'dummy' : DROP_REASONS[e.lastDrop];
      outcomes[key] = (outcomes[key] ?? 0) + 1;
    }
    expect(Object.values(outcomes).reduce((a, b) => a + b, 0)).toBe(200_000);
    expect(outcomes.delivered).toBeGreaterThan(0);
    expect(outcomes.XfrmInStateProtoError).toBeGreaterThan(1000);
    expect(outcomes.XfrmInHdrError).toBeGreaterThan(1000);
  });
});
