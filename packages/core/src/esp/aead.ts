/**
 * The AEAD interface ESP uses; the backends that implement it (the native addon on Node's
 * OpenSSL, the default where it was built; `node:crypto`; `@noble/ciphers`, pure JS, the
 * fallback) are chosen by `aeadBackend()` in aead-backend.ts. A context is built once per SA (key schedule,
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
  /**
   * Where present (native): the next seal() or open() on this thread first copies
   * `src[from .. from+len)` to `buf[to ..]`, in the same call into native code (V8 copies
   * between shared buffers whose addresses differ mod 8 byte by byte). Callers without it copy
   * themselves.
   */
  copyIn?(src: Uint8Array, from: number, buf: Uint8Array, to: number, len: number): void;
}

/** AEADs by the cipher they run (ESP's salt is not part of the key here). */
export type AeadCipher = 'aes-gcm' | 'chacha20-poly1305';

/** Backends by name. */
export type AeadBackendName = 'native' | 'node' | 'noble';

/** A crypto implementation. */
export interface AeadBackend {
  readonly name: AeadBackendName;
  /** Build a context for `key` (the cipher key without ESP's salt; the caller wipes it after: copy what you keep). */
  context(cipher: AeadCipher, key: Uint8Array): AeadContext;
  /** Seal batching, where the backend has it (native). */
  readonly batch?: SealBatch;
}

/**
 * Deferred seals (one crossing into native code per batch instead of per packet). While
 * `deferring`, a seal into the bound buffer is queued, tagged with `tag`; `flush()` runs the
 * queue and must come before anything reads those packets. A context is never freed with its
 * seals queued (its destroy() flushes first).
 */
export interface SealBatch {
  /**
   * The buffer whose seals may be deferred (a transmit ring's bytes), and the one their
   * payloads are copied from (a receive ring's bytes; it must not change before the flush).
   */
  bind(bytes: Uint8Array, source?: Uint8Array): void;
  deferring: boolean;
  /** The caller's mark for the seals queued next (the packet's place in its batch). */
  tag: number;
  /** Called with the tag of a queued seal that failed (its bytes were wiped): the packet must not be sent. */
  onFailed: ((tag: number) => void) | undefined;
  /** Seals queued. */
  readonly pending: number;
  /** Run the queued seals; returns how many failed. */
  flush(): number;
}

/** Constant-time comparison of `n` bytes. */
export function equalBytes(a: Uint8Array, ao: number, b: Uint8Array, bo: number, n: number): boolean {
  let diff = 0;
  for (let i = 0; i < n; i++) diff |= a[ao + i] ^ b[bo + i];
  return diff === 0;
}
