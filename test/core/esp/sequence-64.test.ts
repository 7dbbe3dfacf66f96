// Defect 1 of the long-running review: output sequence numbers are 64-bit values and must
// never pass through a double. Above 2^53 neighbouring numbers collapse in a double, and
// packets would leave with the same IV (= AES-GCM nonce) under one key.
import { describe, expect, it } from 'vitest';
import { DROP, aeadBackend } from '@xfrm/core';
import { pair, udpPacket } from './helpers.js';

const KEY = '0x0102030405060708090a0b0c0d0e0f1011121314';
const lines = (hi: string, lo: string) => [
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 replay-window 64 flag esn replay-oseq-hi ${hi} replay-oseq ${lo}`,
  'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel',
];

describe('64-bit output sequence numbers', () => {
  for (const [hi, lo] of [['0x200000', '0'], ['0xffffffff', '0xfffffff0'], ['0x7fffffff', '0xffffffff']]) {
    it(`starting at ${hi}:${lo}, every packet carries the next number, exactly, as its IV and ESP sequence`, () => {
      const p = pair(lines(hi, lo), [], aeadBackend('noble'));
      const out = new Uint8Array(2048);
      const ivs = new Set<string>();
      let expectHi = BigInt(hi);
      let expectLo = BigInt(lo);
      let sent = 0;
      for (let i = 0; i < 12; i++) {
        if (expectHi === 0xffffffffn && expectLo === 0xffffffffn) break;
        expectLo++;
        if (expectLo === 1n << 32n) { expectLo = 0n; expectHi++; }
        const n = p.out.output(udpPacket('10.1.0.5', '10.2.3.4', 16), 0, 44, out, 0);
        expect(n).toBeGreaterThan(0);
        const esp = 20; // outer IPv4 header
        const seqLo = Buffer.from(out.subarray(esp + 4, esp + 8)).readUInt32BE(0);
        const iv = Buffer.from(out.subarray(esp + 8, esp + 16)).readBigUInt64BE(0);
        expect(BigInt(seqLo)).toBe(expectLo);
        expect(iv).toBe((expectHi << 32n) | expectLo); // IV = the full 64-bit sequence number
        ivs.add(iv.toString(16));
        sent++;
      }
      expect(sent).toBeGreaterThan(0);
      expect(ivs.size).toBe(sent); // no IV twice
      expect(p.a.sad.countersOf(p.a.sad.list()[0])).toMatchObject({ oseqHi: Number(expectHi), oseq: Number(expectLo) });
    });
  }

  it('a 64-bit counter at its last value is exhausted, never wrapped to 0', () => {
    const p = pair(lines('0xffffffff', '0xfffffffe'), [], aeadBackend('noble'));
    const out = new Uint8Array(2048);
    expect(p.out.output(udpPacket('10.1.0.5', '10.2.3.4', 16), 0, 44, out, 0)).toBeGreaterThan(0);
    expect(p.out.output(udpPacket('10.1.0.5', '10.2.3.4', 16), 0, 44, out, 0)).toBeLessThan(0);
    expect(p.out.lastDrop).toBe(DROP.XfrmOutStateSeqError);
    expect(p.a.sad.exhausted(p.a.sad.list()[0])).toBe(true);
  });
});
