// Flow cache keys (flow-key.ts): the key read from the packet bytes is the key of the packed
// flow the SPD lookup sees (writePacketFlow), and distinct flows never share a key.
import { describe, expect, it } from 'vitest';
import { FLOW_WORDS, newIpInfo, packFlow, parseIp, writePacketFlow, type Flow } from '@xfrm/core';
import { KEY_WORDS, flowKey, keyHash, keyWords, packetKey } from '@xfrm/workers';
import { uint32s } from '../core/xfrm/model-helpers.js';

/** A packet for `f` of `room` transport bytes (fewer than a header's: truncated); `later`: a later IPv4 fragment. */
function packetOf(f: Flow, room: number, later = false): Uint8Array {
  const v4 = f.family === 4;
  const h = v4 ? 20 : 40;
  const p = new Uint8Array(h + room);
  if (v4) {
    p[0] = 0x45;
    p[2] = p.length >> 8;
    p[3] = p.length & 0xff;
    if (later) p[7] = 1; // fragment offset 8
    p[8] = 64;
    p[9] = f.proto;
    for (let b = 0; b < 4; b++) {
      p[12 + b] = f.src.words[0] >>> (24 - 8 * b);
      p[16 + b] = f.dst.words[0] >>> (24 - 8 * b);
    }
  } else {
    p[0] = 0x60;
    p[4] = room >> 8;
    p[5] = room & 0xff;
    p[6] = f.proto;
    p[7] = 64;
    for (let w = 0; w < 4; w++) {
      for (let b = 0; b < 4; b++) {
        p[8 + 4 * w + b] = f.src.words[w] >>> (24 - 8 * b);
        p[24 + 4 * w + b] = f.dst.words[w] >>> (24 - 8 * b);
      }
    }
  }
  const icmp = f.proto === 1 || f.proto === 58;
  const t = [f.sport >> 8, f.sport & 0xff, f.dport >> 8, f.dport & 0xff];
  const bytes = icmp ? [f.sport, f.dport] : t;
  for (let i = 0; i < Math.min(room, bytes.length); i++) p[h + i] = bytes[i];
  return p;
}

const keyOfFlow = (flow: Int32Array) => {
  const key = new Int32Array(KEY_WORDS);
  flowKey(flow, 0, key);
  return Array.from(key.subarray(0, keyWords(key[0])));
};

describe('flow cache keys', () => {
  it('the key read from a packet is the key of the packed flow of that packet: v4 and v6, ports, ICMP, other protocols, truncated, fragments', () => {
    const rnd = uint32s(18);
    const info = newIpInfo();
    const flow = new Int32Array(FLOW_WORDS);
    const key = new Int32Array(KEY_WORDS);
    for (let n = 0; n < 2000; n++) {
      const family = rnd() % 2 === 0 ? 4 : 6;
      const proto = [6, 17, 132, 33, 1, 58, 50, 47][rnd() % 8];
      const address = () => ({ family, words: family === 4 ? [rnd() | 0, 0, 0, 0] : [rnd() | 0, rnd() | 0, rnd() | 0, rnd() | 0] }) as Flow['src'];
      const icmp = proto === 1 || proto === 58;
      const f: Flow = { family, src: address(), dst: address(), proto, sport: icmp ? rnd() & 0xff : rnd() & 0xffff, dport: icmp ? rnd() & 0xff : rnd() & 0xffff };
      const room = [0, 1, 2, 3, 4, 8, 40][rnd() % 7];
      const p = packetOf(f, room, family === 4 && rnd() % 5 === 0);
      expect(parseIp(p, 0, p.length, info)).toBe(true);
      writePacketFlow(p, 0, info, flow, 0);
      packetKey(p, 0, info, key);
      expect(Array.from(key.subarray(0, keyWords(key[0]))), `packet ${n}`).toEqual(keyOfFlow(flow));
    }
  });

  it('flows that differ in any one field have different keys, and a key takes 4 words for IPv4 and 10 for IPv6', () => {
    const v4: Flow = { family: 4, src: { family: 4, words: [0x0a000001, 0, 0, 0] }, dst: { family: 4, words: [0x0a000002, 0, 0, 0] }, proto: 17, sport: 1000, dport: 53 };
    const v6: Flow = { family: 6, src: { family: 6, words: [0x20010db8, 0, 0, 1] }, dst: { family: 6, words: [0x20010db8, 0, 0, 2] }, proto: 17, sport: 1000, dport: 53 };
    const variants = (f: Flow): Flow[] => [
      f,
      { ...f, src: { ...f.src, words: f.src.words.map((w, i) => (i === 3 && f.family === 6 ? w ^ 1 : i === 0 ? w ^ 1 : w)) } },
      { ...f, dst: { ...f.dst, words: f.dst.words.map((w, i) => (i === 0 ? w ^ 0x80000000 : w)) } },
      { ...f, proto: 6 },
      { ...f, sport: 1001 },
      { ...f, dport: 54 },
      { ...f, sport: 53, dport: 1000 }, // ports swapped
      { ...f, sport: 0xffff },
    ];
    const keys = [...variants(v4), ...variants(v6)].map((f) => JSON.stringify(keyOfFlow(packFlow(f))));
    expect(new Set(keys).size).toBe(keys.length);
    expect(keyOfFlow(packFlow(v4))).toHaveLength(4);
    expect(keyOfFlow(packFlow(v6))).toHaveLength(10);
  });

  it('the key hash: keys that differ in one word never collide, under any seed; the seed moves every hash; both halves spread', () => {
    const rnd = uint32s(19);
    const key = new Int32Array(KEY_WORDS);
    for (let n = 0; n < 20000; n++) {
      const words = n % 2 === 0 ? 4 : KEY_WORDS;
      for (let w = 0; w < words; w++) key[w] = rnd() | 0;
      const seed = rnd() | 0;
      const h = keyHash(key, words, seed);
      expect(h | 0).toBe(h); // an int32: a uint32 of 2^31 or more would be boxed on the packet path
      const w = rnd() % words;
      const old = key[w];
      key[w] = old ^ (1 << rnd() % 32);
      expect(keyHash(key, words, seed)).not.toBe(h);
      key[w] = old;
      expect(keyHash(key, words, seed ^ (1 << rnd() % 32))).not.toBe(h);
    }
    // 1,024 flows that differ in one port only (the bench's and a scanner's shape), into 256
    // buckets by the low 8 bits of each half (the flow cache's two sets come from the halves):
    // 4 a bucket on average, and none holds more than 16.
    for (const shift of [0, 16]) {
      const buckets = new Int32Array(256);
      for (let p = 0; p < 1024; p++) {
        key.set([4 | (17 << 8), 0x0a000001, 0x0a000002, (1000 << 16) | p]);
        buckets[(keyHash(key, 4, 12345) >>> shift) & 255]++;
      }
      expect(Math.max(...buckets)).toBeLessThanOrEqual(16);
    }
  });
});

