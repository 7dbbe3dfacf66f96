/**
 * A flow cache key: a flow in as few words as it takes, read straight from the packet bytes.
 * The packed flow (selector.ts, 12 words) is what the SPD lookup wants, and only a miss needs
 * it; a hit hashes and compares the key, 4 words for IPv4 and 10 for IPv6:
 *   [family | proto << 8, src (1 or 4 words), dst (1 or 4 words), sport << 16 | dport]
 * Ports are 16 bits and proto 8, so the key is a one-to-one function of the packed flow: two
 * packets have the same key exactly when they have the same flow.
 */
import { getWord, packetPorts, type IpInfo } from '@xfrm/core';

/** Words a key may take (IPv6). */
export const KEY_WORDS = 10;

/** Words of the key that starts with word `head`: 4 for IPv4, 10 for IPv6. */
export function keyWords(head: number): number {
  return (head & 0xff) === 4 ? 4 : KEY_WORDS;
}

/**
 * Seeded hash of the `n`-word key in `key`, as an int32: each word xored into the state, which
 * is multiplied by an odd constant and folded (a bijection per word, so keys that differ in
 * one word never collide), then MurmurHash3's finaliser, so every key bit moves both halves
 * (the flow cache takes its two sets from the two halves). Not XXH32 (core shm/hash.ts): that
 * is three times the bytecode, and V8 would not inline it into the flow cache's probe, whose
 * calls cost a hit ~13 ns (docs/PERFORMANCE.md, "Issue 18, fourth session"). A flood of
 * colliding flows costs no more than a flood of new ones: the cache is bounded either way.
 */
export function keyHash(key: Int32Array, n: number, seed: number): number {
  let h = seed ^ n;
  for (let w = 0; w < n; w++) {
    h = Math.imul(h ^ key[w], 0x9e3779b1);
    h ^= h >>> 16;
  }
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** Write the key of the packet at `b[off ..]`, parsed into `info`, to `key`. */
export function packetKey(b: Uint8Array, off: number, info: IpInfo, key: Int32Array): void {
  key[0] = info.family | (info.proto << 8);
  if (info.family === 4) {
    key[1] = getWord(b, off + 12);
    key[2] = getWord(b, off + 16);
    key[3] = packetPorts(b, off, info);
  } else packetKey6(b, off, info, key);
}

/** {@link packetKey} of an IPv6 packet (out of line, so the IPv4 path inlines). */
function packetKey6(b: Uint8Array, off: number, info: IpInfo, key: Int32Array): void {
  for (let w = 0; w < 4; w++) {
    key[1 + w] = getWord(b, off + 8 + 4 * w);
    key[5 + w] = getWord(b, off + 24 + 4 * w);
  }
  key[9] = packetPorts(b, off, info);
}

/** Write the key of the packed flow at `flow[f]` (selector.ts) to `key`. */
export function flowKey(flow: Int32Array, f: number, key: Int32Array): void {
  const family = flow[f];
  const ports = (flow[f + 10] << 16) | flow[f + 11];
  key[0] = family | (flow[f + 9] << 8);
  if (family === 4) {
    key[1] = flow[f + 1];
    key[2] = flow[f + 5];
    key[3] = ports;
    return;
  }
  for (let w = 1; w < 9; w++) key[w] = flow[f + w];
  key[9] = ports;
}
