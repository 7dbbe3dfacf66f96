/**
 * The ESP transform (RFC 4303) with combined-mode algorithms (RFC 4106 AES-GCM, RFC 7634
 * ChaCha20-Poly1305): header, explicit IV, padding, trailer, ICV. Works in place on the
 * caller's buffer; the nonce and AAD scratch are this module's (one packet at a time per
 * thread, as the packet path runs).
 *
 *   [SPI 4][seq 4][IV 8][payload][padding 1,2,3..][pad length 1][next header 1][ICV]
 *   nonce = salt (last 4 bytes of the key material) || IV
 *   AAD   = SPI || seq, or SPI || seq high || seq low with ESN (RFC 4106 section 5, RFC 4304)
 * The IV is the 64-bit sequence number: unique per SA as long as sequence numbers are, and
 * nothing random is drawn for it.
 */
import { copyBytes } from './byte-copy.js';
import { type SaContext } from './sa-context.js';

/** SPI and sequence number. */
export const ESP_HEADER_LENGTH = 8;

const nonce = new Uint8Array(12);
const aad = new Uint8Array(12);
const aad8 = aad.subarray(0, 8);

function put32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

function setAad(sa: SaContext, seqHi: number, seqLo: number): Uint8Array {
  put32(aad, 0, sa.spi);
  if (!sa.esn) {
    put32(aad, 4, seqLo);
    return aad8;
  }
  put32(aad, 4, seqHi);
  put32(aad, 8, seqLo);
  return aad;
}

/** nonce = salt || the IV at b[o + 8] (copied by hand: no view allocated per packet). */
function setNonce(sa: SaContext, b: Uint8Array, o: number): void {
  put32(nonce, 0, sa.salt);
  for (let i = 0; i < 8; i++) nonce[4 + i] = b[o + 8 + i];
}

/** Padding length that brings payload plus the 2-byte trailer to a multiple of 4. */
export function padLength(payloadLength: number): number {
  return (4 - ((payloadLength + 2) & 3)) & 3;
}

/** ESP bytes (header to ICV) for a payload of `payloadLength` bytes. */
export function espLength(sa: SaContext, payloadLength: number): number {
  return ESP_HEADER_LENGTH + sa.ivLen + payloadLength + padLength(payloadLength) + 2 + sa.icvLen;
}

/**
 * Seal an ESP packet at `b[o]` whose payload is `src[so .. so+payloadLength)`, or, without
 * `src`, already at `b[o + 8 + ivLen]`. Writes header, IV (the sequence number unless `iv` is
 * given: published vectors use other IVs), padding, trailer, and encrypts. Returns the ESP
 * length.
 */
export function espSeal(
  sa: SaContext,
  seqHi: number,
  seqLo: number,
  nextHeader: number,
  b: Uint8Array,
  o: number,
  payloadLength: number,
  iv?: Uint8Array,
  src?: Uint8Array,
  so = 0,
): number {
  put32(b, o, sa.spi);
  put32(b, o + 4, seqLo);
  const start = o + ESP_HEADER_LENGTH + sa.ivLen;
  const pad = padLength(payloadLength);
  let t = start + payloadLength;
  for (let i = 1; i <= pad; i++) b[t++] = i;
  b[t++] = pad;
  b[t++] = nextHeader;
  const clear = t - start;
  const aead = sa.aead;
  // The payload's copy: done by the seal's own native call where the backend can (copyIn).
  if (src !== undefined && aead?.copyIn === undefined) copyBytes(b, start, src, so, payloadLength);
  if (aead !== null) {
    if (iv !== undefined) b.set(iv, o + 8);
    else {
      put32(b, o + 8, seqHi);
      put32(b, o + 12, seqLo);
    }
    setNonce(sa, b, o);
    const a = setAad(sa, seqHi, seqLo);
    if (src !== undefined && aead.copyIn !== undefined) aead.copyIn(src, so, b, start, payloadLength); // just before the seal that does it
    aead.seal(nonce, a, b, start, clear, sa.icvLen);
  }
  return ESP_HEADER_LENGTH + sa.ivLen + clear + sa.icvLen;
}

/** Why {@link espOpen} refused a packet. */
export const ESP_BAD_LENGTH = -1;
export const ESP_BAD_ICV = -2;
export const ESP_BAD_TRAILER = -3;

/**
 * Open the ESP packet `src[so .. so+len)` (default: `b[o .. o+len)`, in place) whose full
 * sequence number has high half `seqHi` into `b[o ..]`: verify the ICV, and only then
 * decrypt and check the trailer (padding must be 1, 2, 3, ...). Returns
 * `nextHeader << 16 | payloadLength` (payload at `b[o + 8 + ivLen]`; IP packets are shorter
 * than 64 KiB), or ESP_BAD_LENGTH, ESP_BAD_ICV, ESP_BAD_TRAILER.
 */
export function espOpen(sa: SaContext, seqHi: number, b: Uint8Array, o: number, len: number, src = b, so = o): number {
  const start = o + ESP_HEADER_LENGTH + sa.ivLen;
  const clear = len - ESP_HEADER_LENGTH - sa.ivLen - sa.icvLen;
  if (clear < 2 || (clear & 3) !== 0) return ESP_BAD_LENGTH;
  const aead = sa.aead;
  const copy = src !== b || so !== o;
  if (copy && aead?.copyIn === undefined) copyBytes(b, o, src, so, len);
  if (aead !== null) {
    setNonce(sa, src, so);
    const seqLo = ((src[so + 4] << 24) | (src[so + 5] << 16) | (src[so + 6] << 8) | src[so + 7]) >>> 0;
    const a = setAad(sa, seqHi, seqLo);
    if (copy && aead.copyIn !== undefined) aead.copyIn(src, so, b, o, len); // just before the open that does it
    if (!aead.open(nonce, a, b, start, clear, sa.icvLen)) return ESP_BAD_ICV;
  }
  const pad = b[start + clear - 2];
  if (pad + 2 > clear) return ESP_BAD_TRAILER;
  const payloadLength = clear - 2 - pad;
  for (let i = 1; i <= pad; i++) if (b[start + payloadLength + i - 1] !== i) return ESP_BAD_TRAILER;
  return (b[start + clear - 1] << 16) | payloadLength;
}
