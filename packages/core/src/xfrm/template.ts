/**
 * Templates: what SA a flow matching a policy needs (Linux `struct xfrm_tmpl`). A policy
 * holds up to {@link MAX_TEMPLATES}; resolved in order, they give the states of a bundle.
 */
import { type Address, type Family } from './address.js';

/** ESP, the only IPsec protocol this dataplane implements. */
export const IPPROTO_ESP = 50;
/** Most templates in one policy (Linux XFRM_MAX_DEPTH). */
export const MAX_TEMPLATES = 6;

/** Encapsulation mode of a template or state. */
export type Mode = 'transport' | 'tunnel';
/** Mode numbers as packed in shared records. */
export const MODE_NUMBER: Readonly<Record<Mode, number>> = { transport: 0, tunnel: 1 };

/** A template (control-plane form). */
export interface Template {
  /** Family of the template's addresses (the outer family in tunnel mode). */
  readonly family: Family;
  /** Tunnel source; the any address in transport mode (the flow's source is used). */
  readonly src: Address;
  /** Tunnel destination; the any address in transport mode (the flow's destination is used). */
  readonly dst: Address;
  readonly proto: number;
  /** 0 for any SPI. */
  readonly spi: number;
  readonly reqid: number;
  readonly mode: Mode;
  /** `level use`: skipped when no state matches, instead of raising an ACQUIRE. */
  readonly optional: boolean;
}

// Packed template: [head, src, dst, spi, reqid], head = proto | mode << 8 | optional << 9 |
// family << 16; an address is one word for IPv4 (5 words in all), four for IPv6 (11): most
// gateways' templates are IPv4 tunnels, and every policy holds its own.

/** Words per address of the template whose head word is `head`. */
export function templateAddressWords(head: number): number {
  return head >>> 16 === 4 ? 1 : 4;
}

/** Words of a packed template of `family` (4 or 6). */
export function templateWordsFor(family: number): number {
  return family === 4 ? 5 : 11;
}

/** Words of the packed template whose head word is `head` (the next one starts there). */
export function templateWords(head: number): number {
  return templateWordsFor(head >>> 16);
}

/** Word `w` (0..3) of the source (`which` 0) or destination (1) address of the template at `i32[tp]`. */
export function templateAddressWord(i32: Int32Array, tp: number, which: number, w: number): number {
  const aw = templateAddressWords(i32[tp]);
  return w < aw ? i32[tp + 1 + which * aw + w] : 0;
}

/** Is the source (`which` 0) or destination (1) address of the template at `i32[tp]` the any address? */
export function templateAddressAny(i32: Int32Array, tp: number, which: number): boolean {
  const aw = templateAddressWords(i32[tp]);
  let bits = 0;
  for (let w = 0; w < aw; w++) bits |= i32[tp + 1 + which * aw + w];
  return bits === 0;
}

/** The SPI (0: any) of the template at `i32[tp]`. */
export function templateSpi(i32: Int32Array, tp: number): number {
  return i32[tp + 1 + 2 * templateAddressWords(i32[tp])];
}

/** The reqid (0: any) of the template at `i32[tp]`. */
export function templateReqid(i32: Int32Array, tp: number): number {
  return i32[tp + 2 + 2 * templateAddressWords(i32[tp])];
}

/** The template packed at `i32[p]` (the inverse of {@link writeTemplate}). */
export function readTemplate(i32: Int32Array, p: number): Template {
  const head = i32[p];
  const family = (head >>> 16) as Family;
  const word = (which: number) => Object.freeze([0, 1, 2, 3].map((w) => templateAddressWord(i32, p, which, w)) as unknown as readonly [number, number, number, number]);
  return Object.freeze({
    family,
    src: Object.freeze({ family, words: word(0) }),
    dst: Object.freeze({ family, words: word(1) }),
    proto: head & 0xff,
    spi: templateSpi(i32, p) >>> 0,
    reqid: templateReqid(i32, p) >>> 0,
    mode: (head >> 8) & 1 ? 'tunnel' : 'transport',
    optional: ((head >> 9) & 1) === 1,
  });
}

/** Write a packed template at word `p`; returns its length in words. */
export function writeTemplate(i32: Int32Array, p: number, t: Template): number {
  const head = t.proto | (MODE_NUMBER[t.mode] << 8) | ((t.optional ? 1 : 0) << 9) | (t.family << 16);
  const aw = templateAddressWords(head);
  i32[p] = head;
  for (let w = 0; w < aw; w++) {
    i32[p + 1 + w] = t.src.words[w];
    i32[p + 1 + aw + w] = t.dst.words[w];
  }
  i32[p + 1 + 2 * aw] = t.spi;
  i32[p + 2 + 2 * aw] = t.reqid;
  return templateWords(head);
}
