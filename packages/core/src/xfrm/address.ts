/**
 * IPv4 and IPv6 addresses as four int32 words in network order (IPv4 in the first word,
 * the rest zero), the form every table key and record in shared memory uses.
 */

/** Address family: 4 for IPv4, 6 for IPv6. */
export type Family = 4 | 6;

/** An address: its family and four words, most significant first. */
export interface Address {
  readonly family: Family;
  readonly words: readonly [number, number, number, number];
}

/** Bits in an address of the family. */
export function addressBits(family: Family): number {
  return family === 4 ? 32 : 128;
}

/** The all-zero address of a family (`0.0.0.0`, `::`). */
export function anyAddress(family: Family): Address {
  return { family, words: [0, 0, 0, 0] };
}

/** True for the all-zero address. */
export function isAnyAddress(a: Address): boolean {
  return a.words.every((w) => w === 0);
}

function parseIPv4(text: string): number | null {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  if (!m) return null;
  let v = 0;
  for (let i = 1; i <= 4; i++) {
    const octet = Number(m[i]);
    if (octet > 255 || (m[i].length > 1 && m[i][0] === '0')) return null;
    v = v * 256 + octet;
  }
  return v | 0;
}

function parseIPv6(text: string): number[] | null {
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (part: string): number[] | null => {
    if (part === '') return [];
    const out: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const p = pieces[i];
      if (i === pieces.length - 1 && p.includes('.')) {
        const v4 = parseIPv4(p);
        if (v4 === null) return null;
        out.push(v4 >>> 16, v4 & 0xffff);
      } else if (/^[0-9a-fA-F]{1,4}$/.test(p)) {
        out.push(parseInt(p, 16));
      } else {
        return null;
      }
    }
    return out;
  };
  const head = groups(halves[0]);
  const tail = halves.length === 2 ? groups(halves[1]) : [];
  if (head === null || tail === null) return null;
  const missing = 8 - head.length - tail.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return null;
  const all = [...head, ...new Array<number>(halves.length === 2 ? missing : 0).fill(0), ...tail];
  return [0, 1, 2, 3].map((i) => ((all[2 * i] << 16) | all[2 * i + 1]) | 0);
}

/** Parse an IPv4 or IPv6 address; null when it is neither. */
export function parseAddress(text: string): Address | null {
  const v4 = parseIPv4(text);
  if (v4 !== null) return { family: 4, words: [v4, 0, 0, 0] };
  const v6 = text.includes(':') ? parseIPv6(text) : null;
  return v6 === null ? null : { family: 6, words: v6 as unknown as Address['words'] };
}

/** Format an address: dotted quad, or RFC 5952 text for IPv6. */
export function formatAddress(a: Address): string {
  if (a.family === 4) {
    const v = a.words[0] >>> 0;
    return `${v >>> 24}.${(v >>> 16) & 255}.${(v >>> 8) & 255}.${v & 255}`;
  }
  const g = a.words.flatMap((w) => [(w >>> 16) & 0xffff, w & 0xffff]);
  // Longest run of two or more zero groups becomes '::' (the first such run on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j > i ? j : i + 1;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  return best < 0 ? hex(g) : `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** The word `w` (index 0..3) of an address with only its first `plen` bits kept. */
export function maskWord(w: number, index: number, plen: number): number {
  const keep = plen - index * 32;
  if (keep >= 32) return w;
  if (keep <= 0) return 0;
  return w & ~(-1 >>> keep);
}

/** The address with only its first `plen` bits kept. */
export function maskAddress(a: Address, plen: number): Address {
  return { family: a.family, words: a.words.map((w, i) => maskWord(w, i, plen)) as unknown as Address['words'] };
}

/** Pack `src` at words p..p+3 and `dst` at p+4..p+7 (selectors, flows, templates). */
export function writeAddressPair(i32: Int32Array, p: number, src: Address, dst: Address): void {
  for (let w = 0; w < 4; w++) {
    i32[p + w] = src.words[w];
    i32[p + 4 + w] = dst.words[w];
  }
}

/** True when two addresses are the same (words compared as 32-bit patterns: signed or not). */
export function sameAddress(a: Address, b: Address): boolean {
  return a.family === b.family && a.words.every((w, i) => (w | 0) === (b.words[i] | 0));
}
