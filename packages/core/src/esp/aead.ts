/**
 * The AEAD interface ESP uses; the backends that implement it (`@noble/ciphers`, pure JS, the
 * default, and `node:crypto`, OpenSSL) are chosen by `aeadBackend()` in aead-backend.ts. A context is built once per SA (key schedule,
 * GHASH tables) and used for every packet of that SA (the talk's "ESP Bogosity": per-packet
 * key setup is waste). Contexts are per thread; they hold key material, and `destroy()`
 * wipes what can be wiped.
 */

/** An AEAD transform bound to one key. */
export interface AeadContext {
  /**
   * Encrypt `buf[off .. off+len)` in place under the 12-byte `nonce` and `aad`, and write the
   * first `icvLen` bytes of the tag at `buf[off+len ..]`.
   */
  seal(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): void;
  /**
   * Check the `icvLen`-byte tag at `buf[off+len ..]` over the ciphertext `buf[off .. off+len)`;
   * only if it verifies, decrypt in place and return true. On false nothing was decrypted.
   */
  open(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): boolean;
  /** Wipe key material held by the context. */
  destroy(): void;
}

/** AEADs by the cipher they run (ESP's salt is not part of the key here). */
export type AeadCipher = 'aes-gcm' | 'chacha20-poly1305';

/** A crypto implementation. */
export interface AeadBackend {
  readonly name: 'noble' | 'node';
  /** Build a context for `key` (the cipher key without ESP's salt). */
  context(cipher: AeadCipher, key: Uint8Array): AeadContext;
}

/** Constant-time comparison of `n` bytes. */
export function equalBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= a[ao + i] ^ b[bo + i];
  return diff === 0;
}
