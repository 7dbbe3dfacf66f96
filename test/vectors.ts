// Loads the published ESP vectors from ../shared/vectors (see its README).
import { readFileSync } from 'node:fs';

export interface Vector {
  id: string;
  kind: 'full-packet' | 'aead-esp-payload';
  expect: 'valid' | 'icv_fail';
  sa: {
    spi: string;
    mode: 'tunnel' | 'transport' | null;
    encr_alg: string;
    encr_key: string;
    salt: string;
    integ_alg: string | null;
    icv_len: number;
    esn: boolean;
    udp_encap: { sport: number; dport: number } | null;
  };
  seq: string;
  seq_hi: string;
  seq_lo: string;
  iv: string;
  esp: string;
  esp_packet: string | null;
  inner_packet: string | null;
  aead?: { nonce: string; aad: string; plaintext: string; ciphertext_and_tag: string };
  derived: Record<string, unknown> & { outer_header?: string; padding_is_minimal?: boolean; padding_is_default_1_to_n?: boolean; next_header?: number };
}

const dir = new URL('../../shared/vectors/', import.meta.url);

export function loadVectors(file: string): Vector[] {
  return JSON.parse(readFileSync(new URL(file, dir), 'utf8')).vectors;
}

export const hex = (s: string): Uint8Array => Uint8Array.from(Buffer.from(s, 'hex'));
export const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

/** The algorithms this dataplane implements; others are skipped, and counted. */
export function supported(v: Vector): boolean {
  return (v.sa.encr_alg === 'aes-gcm-16' || v.sa.encr_alg === 'chacha20-poly1305') && v.sa.integ_alg === null;
}
