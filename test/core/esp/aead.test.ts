// The AEAD backends against the AEAD inputs and outputs published with the ESP vectors
// (draft-mcgrew-gcm-test-01, RFC 7634): every backend, both directions, and truncated ICVs.
import { describe, expect, it } from 'vitest';
import { aeadBackend, type AeadCipher } from '@xfrm/core';
import { BACKENDS } from '../../fixtures/backends.js';
import { hex, loadVectors, supported, toHex } from '../../fixtures/vectors.js';

const vectors = [...loadVectors('draft-mcgrew-gcm-test-01.json'), ...loadVectors('rfc7634-appendix-a.json')].filter((v) => v.aead);
const usable = vectors.filter(supported);
const skipped = vectors.filter((v) => !supported(v)).map((v) => `${v.id} (${v.sa.encr_alg})`);

describe.each(BACKENDS)('AEAD backend %s', (name) => {
  const backend = aeadBackend(name);
  const cipher = (alg: string): AeadCipher => (alg === 'aes-gcm-16' ? 'aes-gcm' : 'chacha20-poly1305');

  it('skips only algorithms outside the mission, and says which', () => {
    expect(skipped).toEqual(['draft-mcgrew-gcm-test-01/case-15 (null-aes-gmac)']);
    expect(usable.length).toBe(17);
  });

  for (const v of usable) {
    it(`${v.id}: seal gives the published ciphertext and tag; open recovers the plaintext`, () => {
      const a = v.aead!;
      const ctx = backend.context(cipher(v.sa.encr_alg), hex(v.sa.encr_key));
      const pt = hex(a.plaintext);
      const buf = new Uint8Array(pt.length + 16 + 1).subarray(1); // misaligned on purpose
      buf.set(pt);
      ctx.seal(hex(a.nonce), hex(a.aad), buf, 0, pt.length, 16);
      expect(toHex(buf.subarray(0, pt.length + 16))).toBe(a.ciphertext_and_tag);
      expect(ctx.open(hex(a.nonce), hex(a.aad), buf, 0, pt.length, 16)).toBe(true);
      expect(toHex(buf.subarray(0, pt.length))).toBe(a.plaintext);
      // Any flipped bit of the tag or ciphertext fails, and nothing is decrypted.
      ctx.seal(hex(a.nonce), hex(a.aad), buf, 0, pt.length, 16);
      buf[pt.length + 3] ^= 0x10;
      const before = toHex(buf);
      expect(ctx.open(hex(a.nonce), hex(a.aad), buf, 0, pt.length, 16)).toBe(false);
      expect(toHex(buf)).toBe(before);
      ctx.destroy();
    });
  }

  it('truncated GCM ICVs (8 and 12 bytes) are the prefix of the full tag and verify', () => {
    const v = usable[1];
    const a = v.aead!;
    const ctx = backend.context('aes-gcm', hex(v.sa.encr_key));
    for (const icv of [8, 12]) {
      const pt = hex(a.plaintext);
      const buf = new Uint8Array(pt.length + icv);
      buf.set(pt);
      ctx.seal(hex(a.nonce), hex(a.aad), buf, 0, pt.length, icv);
      expect(toHex(buf)).toBe(a.ciphertext_and_tag.slice(0, (pt.length + icv) * 2));
      expect(ctx.open(hex(a.nonce), hex(a.aad), buf, 0, pt.length, icv)).toBe(true);
      expect(toHex(buf.subarray(0, pt.length))).toBe(a.plaintext);
      buf[pt.length] ^= 1;
      expect(ctx.open(hex(a.nonce), hex(a.aad), buf, 0, pt.length, icv)).toBe(false);
    }
  });
});
