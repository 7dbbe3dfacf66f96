/**
 * AEAD contexts on `node:crypto` (OpenSSL). OpenSSL has no public way to keep a cipher
 * context across IVs from Node, so the per-SA part is a KeyObject (the key imported once);
 * OpenSSL still runs its (AES-NI, cheap) key expansion per packet.
 */
import { createCipheriv, createDecipheriv, createSecretKey, type KeyObject } from 'node:crypto';
import { type AeadBackend, type AeadCipher, type AeadContext } from './aead.js';

function algorithm(cipher: AeadCipher, keyLen: number): string {
  return cipher === 'chacha20-poly1305' ? 'chacha20-poly1305' : `aes-${keyLen * 8}-gcm`;
}

class NodeAead implements AeadContext {
  private readonly key: KeyObject;
  private readonly alg: string;

  constructor(cipher: AeadCipher, key: Uint8Array) {
    this.alg = algorithm(cipher, key.length);
    this.key = createSecretKey(key);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): void {
    const c = createCipheriv(this.alg as 'aes-128-gcm', this.key, nonce, { authTagLength: icvLen });
    c.setAAD(aad);
    buf.set(c.update(buf.subarray(off, off + len)), off);
    c.final();
    buf.set(c.getAuthTag(), off + len);
  }

  open(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): boolean {
    // OpenSSL checks the (possibly truncated) tag in final(), after update() produced the
    // plaintext: keep that plaintext out of `buf` until the tag has verified.
    const d = createDecipheriv(this.alg as 'aes-128-gcm', this.key, nonce, { authTagLength: icvLen });
    d.setAAD(aad);
    d.setAuthTag(buf.subarray(off + len, off + len + icvLen));
    const plain = d.update(buf.subarray(off, off + len));
    try {
      d.final();
    } catch {
      plain.fill(0);
      return false;
    }
    buf.set(plain, off);
    plain.fill(0);
    return true;
  }

  destroy(): void {
    // A KeyObject cannot be wiped from JS; dropping it lets OpenSSL free (and clear) it.
  }
}

/** The node:crypto backend. */
export const nodeAead: AeadBackend = {
  name: 'node',
  context: (cipher, key) => new NodeAead(cipher, key),
};
