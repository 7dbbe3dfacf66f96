// ESP against the published vectors in test/fixtures/vectors: whole packets (DPDK, RFC 7634)
// through the real input path, and the ESP transform on the draft-mcgrew payloads; with every
// backends. Encryption is compared byte for byte wherever the vector uses the RFC's default
// padding, decryption always. Algorithms outside the mission are skipped by name, and counted.
import { describe, expect, it } from 'vitest';
import { EspEngine, Xfrm, aeadBackend, espOpen, espSeal, formatAddress, padLength, type Address, applyXfrmLine, type AeadBackendName } from '@xfrm/core';
import { BACKENDS } from '../../fixtures/backends.js';
import { hex, loadVectors, supported, toHex, type Vector } from '../../fixtures/vectors.js';

const all = [...loadVectors('dpdk-ipsec.json'), ...loadVectors('rfc7634-appendix-a.json'), ...loadVectors('draft-mcgrew-gcm-test-01.json')];
// SPI 0 is reserved (RFC 4303 section 2.1) and refused by the SAD; the AEAD test covers this case.
const RESERVED_SPI = all.filter((v) => parseInt(v.sa.spi, 16) === 0).map((v) => v.id);
const usable = all.filter((v) => supported(v) && !RESERVED_SPI.includes(v.id));

function aeadName(v: Vector): string {
  return v.sa.encr_alg === 'aes-gcm-16' ? 'rfc4106(gcm(aes))' : 'rfc7539esp(chacha20,poly1305)';
}

function outerAddresses(p: Uint8Array): [Address, Address] {
  const v4 = p[0] >> 4 === 4;
  const word = (o: number) => ((p[o] << 24) | (p[o + 1] << 16) | (p[o + 2] << 8) | p[o + 3]) | 0;
  const at = (o: number): Address =>
    v4 ? { family: 4, words: [word(o), 0, 0, 0] } : { family: 6, words: [word(o), word(o + 4), word(o + 8), word(o + 12)] };
  return v4 ? [at(12), at(16)] : [at(8), at(24)];
}

/** An Xfrm holding the vector's SA (and, for whole packets, an inbound policy it satisfies). */
function setup(v: Vector, backend: AeadBackendName) {
  const x = Xfrm.create({ heap: { maxBytes: 1 << 24 } });
  const key = `0x${v.sa.encr_key}${v.sa.salt}`;
  const esn = v.sa.esn ? 'replay-window 64 flag esn' : '';
  let src = '192.0.2.1';
  let dst = '192.0.2.2';
  if (v.esp_packet) [src, dst] = outerAddresses(hex(v.esp_packet)).map(formatAddress);
  const mode = v.sa.mode ?? 'tunnel';
  applyXfrmLine(x, `ip xfrm state add src ${src} dst ${dst} proto esp spi 0x${v.sa.spi} mode ${mode} aead '${aeadName(v)}' ${key} ${v.sa.icv_len * 8} ${esn}`);
  if (v.inner_packet) {
    const any = hex(v.inner_packet)[0] >> 4 === 4 ? '0.0.0.0/0' : '::/0';
    applyXfrmLine(x, `ip xfrm policy add src ${any} dst ${any} dir in tmpl src ${src} dst ${dst} proto esp mode ${mode}`);
  }
  const engine = new EspEngine(x.spd, x.sad, { backend: aeadBackend(backend) });
  const slot = x.sad.slotOf(x.sad.list()[0]);
  return { x, engine, sa: engine.contexts.get(slot) };
}

describe('vector coverage', () => {
  it('skips only algorithms outside the mission, each named', () => {
    const skipped = all.filter((v) => !supported(v)).map((v) => v.sa.encr_alg + (v.sa.integ_alg ? '+' + v.sa.integ_alg : ''));
    expect(new Set(skipped)).toEqual(
      new Set([
        'aes-ccm-16', 'aes-cbc', 'aes-cbc+hmac-md5-96', 'aes-cbc+hmac-sha2-256-128', 'aes-cbc+hmac-sha2-384-192', 'aes-cbc+hmac-sha2-512-256',
        '3des-cbc+hmac-sha2-256-128', '3des-cbc+hmac-sha2-384-192', '3des-cbc+hmac-sha2-512-256', 'des-cbc+hmac-sha2-256-128',
        'des-cbc+hmac-sha2-384-192', 'des-cbc+hmac-sha2-512-256', 'aes-ctr+hmac-sha2-256-128', 'aes-ctr+hmac-sha2-384-192',
        'aes-ctr+hmac-sha2-512-256', 'null+aes-xcbc-mac-96', 'null-aes-gmac',
      ]),
    );
    expect(skipped.length).toBe(20);
    expect(RESERVED_SPI).toEqual(['draft-mcgrew-gcm-test-01/case-04']);
    expect(usable.length).toBe(21);
  });
});

describe.each(BACKENDS)('published ESP vectors (%s backend)', (backend) => {
  for (const v of usable) {
    const seqHi = parseInt(v.seq_hi, 16);
    const seqLo = parseInt(v.seq_lo, 16);
    if (v.kind === 'full-packet') {
      it(`${v.id}: the input path recovers the inner packet`, () => {
        const { engine } = setup(v, backend);
        const pkt = hex(v.esp_packet!);
        const out = new Uint8Array(pkt.length);
        const n = engine.input(pkt, 0, pkt.length, out, 0);
        if (v.expect === 'icv_fail') {
          expect(engine.lastDrop).toBeGreaterThanOrEqual(0);
          return;
        }
        expect(n, `dropped under ${engine.lastDrop}`).toBe(hex(v.inner_packet!).length);
        expect(toHex(out.subarray(0, n))).toBe(v.inner_packet);
      });
      it(`${v.id}: encryption gives the published packet byte for byte`, () => {
        const { sa } = setup(v, backend);
        const inner = hex(v.inner_packet!);
        const outer = hex(v.derived.outer_header!);
        const expected = hex(v.esp_packet!);
        expect(v.derived.padding_is_minimal && v.derived.padding_is_default_1_to_n).toBe(true);
        const out = new Uint8Array(expected.length);
        out.set(outer);
        out.set(inner, outer.length + 16);
        const nh = inner[0] >> 4 === 4 ? 4 : 41;
        const len = espSeal(sa, seqHi, seqLo, nh, out, outer.length, inner.length, hex(v.iv));
        expect(outer.length + len).toBe(expected.length);
        expect(toHex(out)).toBe(v.esp_packet);
      });
    } else {
      it(`${v.id}: ESP payload decrypts and re-encrypts exactly`, () => {
        const { sa } = setup(v, backend);
        const esp = hex(v.esp);
        const r = espOpen(sa, seqHi, esp, 0, esp.length);
        expect(r).toBeGreaterThanOrEqual(0);
        const payload = hex(v.derived.payload as string);
        expect(r & 0xffff).toBe(payload.length);
        expect(r >>> 16).toBe(v.derived.next_header);
        expect(toHex(esp.subarray(16, 16 + payload.length))).toBe(v.derived.payload);
        if (padLength(payload.length) === v.derived.pad_len) {
          const again = new Uint8Array(hex(v.esp).length);
          again.set(payload, 16);
          espSeal(sa, seqHi, seqLo, v.derived.next_header!, again, 0, payload.length, hex(v.iv));
          expect(toHex(again)).toBe(v.esp);
        }
      });
    }
  }
});
