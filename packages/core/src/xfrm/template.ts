/**
 * Templates: what SA a flow matching a policy needs (Linux `struct xfrm_tmpl`). A policy
 * holds up to {@link MAX_TEMPLATES}; resolved in order, they give the states of a bundle.
 */
import { writeAddressPair, type Address, type Family } from './address.js';

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

/** Packed template: [family, src[4], dst[4], proto | mode << 8 | optional << 9, spi, reqid]. */
export const TMPL_WORDS = 12;

/** The template packed at `i32[p]` (the inverse of {@link writeTemplate}). */
export function readTemplate(i32: Int32Array, p: number): Template {
  const family = i32[p] as Family;
  const word = (w: number) => Object.freeze([i32[w], i32[w + 1], i32[w + 2], i32[w + 3]] as const);
  const flags = i32[p + 9];
  return Object.freeze({
    family,
    src: Object.freeze({ family, words: word(p + 1) }),
    dst: Object.freeze({ family, words: word(p + 5) }),
    proto: flags & 0xff,
    spi: i32[p + 10] >>> 0,
    reqid: i32[p + 11] >>> 0,
    mode: (flags >> 8) & 1 ? 'tunnel' : 'transport',
    optional: ((flags >> 9) & 1) === 1,
  });
}

/** Write a packed template at word `p`. */
export function writeTemplate(i32: Int32Array, p: number, t: Template): void {
  i32[p] = t.family;
  writeAddressPair(i32, p + 1, t.src, t.dst);
  i32[p + 9] = t.proto | (MODE_NUMBER[t.mode] << 8) | ((t.optional ? 1 : 0) << 9);
  i32[p + 10] = t.spi;
  i32[p + 11] = t.reqid;
}
