/**
 * The scenarios of dataplane-bench: what tables they build, what traffic they send, and what
 * one control-plane operation (an add or a delete) is while traffic runs. Tunnel mode between
 * two IPv4 gateways; flows are UDP, IPv4 or (`--family 6`) IPv6: an IPv4 address w of the
 * IPv4 plan is 2001:db8::w (a /L prefix a /96+L), so both families run the same plan.
 */
import {
  anySelector,
  makeSelector,
  putWord,
  setIpv4Checksum,
  setUdp6Checksum,
  type Address,
  type Algorithm,
  type PolicySpec,
  type StateSpec,
  type Template,
  type Xfrm,
} from '@xfrm/core';
import { type BenchArgs, type Cipher } from './bench-args.js';

const GW_A = 0xc0000201 | 0; // 192.0.2.1
const GW_B = 0xc6336401 | 0; // 198.51.100.1
const SRC_NET = 0x0a000000; // 10.0.0.0
const DST_NET = 0xac100000; // 172.16.0.0

const v4 = (w: number): Address => ({ family: 4, words: [w | 0, 0, 0, 0] });
/** The inner traffic's IPv6 addresses: 2001:db8::w for the IPv4 plan's w. */
const V6_PREFIX = 0x20010db8;
const v6 = (w: number): Address => ({ family: 6, words: [V6_PREFIX, 0, 0, w | 0] });

/** One flow: addresses (as uint32) and source port. */
export interface FlowSpec {
  src: number;
  dst: number;
  sport: number;
}

/** A scenario, instantiated for a set of arguments. */
export interface ScenarioPlan {
  /** Build the tables; returns heap bytes per state and per policy. */
  setup(x: Xfrm): { bytesPerState: number; bytesPerPolicy: number };
  /** Control-plane operation number n (an add or a delete). */
  op(x: Xfrm, n: number): void;
  /** Flow j of the traffic. */
  flow(j: number): FlowSpec;
}

function algorithm(cipher: Cipher, spi: number): Algorithm {
  const key = (n: number) => Uint8Array.from({ length: n }, (_, i) => (spi * 31 + i * 7) & 0xff);
  switch (cipher) {
    case 'null':
      return { name: 'cipher_null', key: new Uint8Array(0), icvBits: 0 };
    case 'aes-gcm-128':
      return { name: 'rfc4106(gcm(aes))', key: key(20), icvBits: 128 };
    case 'aes-gcm-256':
      return { name: 'rfc4106(gcm(aes))', key: key(36), icvBits: 128 };
    case 'chacha20-poly1305':
      return { name: 'rfc7539esp(chacha20,poly1305)', key: key(36), icvBits: 128 };
  }
}

function template(reqid: number): Template {
  return { family: 4, src: v4(GW_A), dst: v4(GW_B), proto: 50, spi: 0, reqid, mode: 'tunnel', optional: false };
}

function policy(src: number, srcLen: number, dst: number, dstLen: number, reqid: number, family: 4 | 6, priority = 0): PolicySpec {
  const selector =
    family === 4
      ? makeSelector({ ...anySelector(4), src: v4(src), srcLen, dst: v4(dst), dstLen })
      : makeSelector({ ...anySelector(6), src: v6(src), srcLen: 96 + srcLen, dst: v6(dst), dstLen: 96 + dstLen });
  return {
    dir: 'out',
    selector,
    priority,
    templates: reqid > 0 ? [template(reqid)] : [],
  };
}

/** Plan the scenario of `a`. */
export function planScenario(a: BenchArgs): ScenarioPlan {
  let nextSpi = 0x1000;
  const live = new Map<number, number[]>(); // reqid -> SPIs, oldest first
  const addState = (x: Xfrm, reqid: number, pcpuNum?: number) => {
    const spi = nextSpi++;
    const spec: StateSpec = { src: v4(GW_A), dst: v4(GW_B), spi, reqid, mode: 'tunnel', algorithm: algorithm(a.cipher, spi), pcpuNum };
    x.addState(spec);
    const l = live.get(reqid) ?? [];
    l.push(spi);
    live.set(reqid, l);
  };
  const deleteOldest = (x: Xfrm, reqid: number) => {
    const spi = live.get(reqid)?.shift();
    if (spi !== undefined) x.deleteState(v4(GW_B), spi);
  };
  const measure = (x: Xfrm, fn: () => number) => {
    const before = x.heap.bytesInUse;
    const n = fn();
    return n === 0 ? 0 : (x.heap.bytesInUse - before) / n;
  };
  /**
   * Prefixed policies for other networks (11/8 to 200/8): searched, never matching the
   * traffic. Nine prefix-length pairs (16, 24, 32 each way); the k-th policy of a pair puts
   * k's two bytes in the second octets, so every masked pair is distinct up to 65,536 per pair
   * (bench-args.ts caps --prefixed below 9 x 65,536).
   */
  const prefixed = (x: Xfrm) => {
    const lens = [16, 24, 32];
    for (let i = 0; i < a.prefixed; i++) {
      const pair = i % 9;
      const k = Math.floor(i / 9);
      x.addPolicy(policy((11 << 24) | ((k & 255) << 16), lens[pair % 3], (200 << 24) | (((k >> 8) & 255) << 16), lens[Math.floor(pair / 3)], 0, a.family));
    }
    return a.prefixed;
  };

  const single = a.scenario === 'one-policy-many-states' || a.scenario === 'crypto';
  if (single) {
    const states = a.scenario === 'crypto' ? (a.perQueueSas ? a.queues : 1) : a.states;
    return {
      setup(x) {
        const bytesPerPolicy = measure(x, () => (x.addPolicy(policy(SRC_NET, 8, DST_NET, 12, 1, a.family)), 1 + prefixed(x)));
        const bytesPerState = measure(x, () => {
          for (let i = 0; i < states; i++) addState(x, 1, a.perQueueSas ? i : undefined);
          return states;
        });
        return { bytesPerState, bytesPerPolicy };
      },
      op(x, n) {
        // Add a state (it shadows all the others), then delete the oldest.
        if (n % 2 === 0) addState(x, 1);
        else deleteOldest(x, 1);
      },
      flow: (j) => ({ src: SRC_NET + (j % 0xffffff), dst: DST_NET + (j % 0xfffff), sport: 1024 + (j % 50000) }),
    };
  }
  const policies = a.policies;
  const perPolicy = a.scenario === 'many-policies-many-states' ? Math.max(1, Math.round(a.states / policies)) : 1;
  const host = (p: number) => ({ src: SRC_NET + p, dst: DST_NET + p });
  return {
    setup(x) {
      const bytesPerPolicy = measure(x, () => {
        for (let p = 0; p < policies; p++) x.addPolicy(policy(host(p).src, 32, host(p).dst, 32, p + 1, a.family));
        return policies + prefixed(x);
      });
      const bytesPerState = measure(x, () => {
        for (let p = 0; p < policies; p++) for (let s = 0; s < perPolicy; s++) addState(x, p + 1);
        return policies * perPolicy;
      });
      return { bytesPerState, bytesPerPolicy };
    },
    op(x, n) {
      if (a.scenario === 'many-policies-many-states') {
        // Add a state to a policy (shadowing its others), then delete that policy's oldest.
        const p = Math.floor(n / 2) % policies;
        if (n % 2 === 0) addState(x, p + 1);
        else deleteOldest(x, p + 1);
        return;
      }
      // Replace a policy and its state: delete the state, the policy, add both back.
      const p = Math.floor(n / 4) % policies;
      const h = host(p);
      switch (n % 4) {
        case 0:
          deleteOldest(x, p + 1);
          break;
        case 1: {
          const pol = x.spd.find('out', policy(h.src, 32, h.dst, 32, p + 1, a.family).selector);
          if (pol) x.deletePolicy(pol.index);
          break;
        }
        case 2:
          x.addPolicy(policy(h.src, 32, h.dst, 32, p + 1, a.family));
          break;
        default:
          addState(x, p + 1);
      }
    },
    flow: (j) => ({ ...host(j % policies), sport: 1024 + (Math.floor(j / policies) % 50000) }),
  };
}

/** A UDP packet of `size` bytes for a flow, IPv4 or (`family` 6) IPv6 (what a queue's traffic generator sends). */
export function flowPacket(f: FlowSpec, size: number, out: Uint8Array, off: number, family: 4 | 6 = 4): void {
  const p = out.subarray(off, off + size);
  p.fill(0);
  const h = family === 4 ? 20 : 40;
  if (family === 4) {
    p[0] = 0x45;
    p[2] = size >> 8;
    p[3] = size & 0xff;
    p[6] = 0x40;
    p[8] = 64;
    p[9] = 17;
    putWord(p, 12, f.src);
    putWord(p, 16, f.dst);
    setIpv4Checksum(p, 0);
  } else {
    p[0] = 0x60;
    p[4] = (size - 40) >> 8;
    p[5] = (size - 40) & 0xff;
    p[6] = 17;
    p[7] = 64;
    for (const [at, w] of [[8, f.src], [24, f.dst]]) {
      putWord(p, at, V6_PREFIX);
      putWord(p, at + 12, w);
    }
  }
  p[h] = f.sport >> 8;
  p[h + 1] = f.sport & 0xff;
  p[h + 2] = 0;
  p[h + 3] = 53;
  p[h + 4] = (size - h) >> 8;
  p[h + 5] = (size - h) & 0xff;
  if (family === 6) setUdp6Checksum(p, 0, h, size - h); // required over IPv6 (RFC 8200)
}
