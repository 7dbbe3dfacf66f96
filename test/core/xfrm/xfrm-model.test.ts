import { describe, expect, it } from 'vitest';
import {
  EpochReader,
  S_KEY,
  Xfrm,
  XfrmError,
  anySelector,
  makeSelector,
  type Algorithm,
  type ExpireEvent,
  type Flow,
  type Acquire,
  type StateSpec,
  type Template,
} from '@xfrm/core';
import { addr } from './model-helpers.js';

const gcm = (): Algorithm => ({ name: 'rfc4106(gcm(aes))', key: new Uint8Array(20).fill(7), icvBits: 128 });

function tunnel(src: string, dst: string, reqid: number, optional = false): Template {
  return { family: addr(src).family, src: addr(src), dst: addr(dst), proto: 50, spi: 0, reqid, mode: 'tunnel', optional };
}

function sa(src: string, dst: string, spi: number, reqid: number, extra: Partial<StateSpec> = {}): StateSpec {
  return { src: addr(src), dst: addr(dst), spi, reqid, mode: 'tunnel', algorithm: gcm(), ...extra };
}

const net = (a: string, len: number) => ({ a: addr(a), len });
function selector(src: ReturnType<typeof net>, dst: ReturnType<typeof net>, proto = 0) {
  return makeSelector({ ...anySelector(src.a.family), src: src.a, srcLen: src.len, dst: dst.a, dstLen: dst.len, proto });
}

const flow: Flow = { family: 4, src: addr('10.1.0.5'), dst: addr('10.2.0.9'), proto: 6, sport: 1234, dport: 80 };

function setup(clock = { t: 1_000_000 }) {
  const x = Xfrm.create({ heap: { maxBytes: 1 << 28 }, now: () => clock.t });
  const events: { acquire: Acquire[]; expire: ExpireEvent[] } = { acquire: [], expire: [] };
  x.on('acquire', (a) => events.acquire.push(a));
  x.on('expire', (e) => events.expire.push(e));
  x.addPolicy({
    dir: 'out',
    selector: selector(net('10.1.0.0', 16), net('10.2.0.0', 16)),
    templates: [tunnel('192.0.2.1', '198.51.100.1', 1)],
  });
  return { x, events, clock };
}

describe('state database', () => {
  it('refuses a second state with the same (dst, spi, proto), changing nothing', () => {
    const { x } = setup();
    x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    expect(() => x.addState(sa('192.0.2.9', '198.51.100.1', 0x100, 7))).toThrow(/state exists: dst 198.51.100.1 spi 0x00000100/);
    expect(x.sad.size).toBe(1);
    expect(x.sad.get(addr('198.51.100.1'), 0x100)?.reqid).toBe(1);
  });

  it('finds states by spi from the shared tables', () => {
    const { x } = setup();
    const s = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    const slot = x.sad.byspi(4, Int32Array.from(s.dst.words), 0, 0x100, 50);
    expect(x.sad.stateAt(slot)).toEqual(s); // built from the record: the SAD keeps no State objects
    expect(x.sad.byspi(4, Int32Array.from(s.dst.words), 0, 0x101, 50)).toBe(-1);
  });

  it('wipes the key when the state dies, and refuses cipher_null unless allowed', async () => {
    const { x } = setup();
    const s = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    const slot = x.sad.slotOf(s);
    const keyAt = x.sad.field(slot, S_KEY) * 4;
    expect(x.sad.heap.u8.subarray(keyAt, keyAt + 20)).toEqual(s.algorithm.key);
    const gone = x.deleteState(s.dst, s.spi);
    expect(gone.algorithm.key.every((b) => b === 0)).toBe(true); // the copy the SAD hands back
    await x.synchronize();
    expect(x.sad.heap.u8.subarray(keyAt, keyAt + 20).every((b) => b === 0xde || b === 0xad || b === 0xbe || b === 0xef)).toBe(true); // poisoned
    const nul: Algorithm = { name: 'cipher_null', key: new Uint8Array(0), icvBits: 0 };
    expect(() => x.addState(sa('192.0.2.1', '198.51.100.1', 0x200, 1, { algorithm: nul }))).toThrow(/benchmarks only/);
    const bench = Xfrm.create({ heap: { maxBytes: 1 << 26 }, allowNullCipher: true });
    expect(bench.addState(sa('192.0.2.1', '198.51.100.1', 0x200, 1, { algorithm: nul })).algorithm.name).toBe('cipher_null');
  });

  it('update keeps sequence counters and changes only what it may', () => {
    const { x } = setup();
    const s = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1, { replay: { oseq: 41 } }));
    const slot = x.sad.slotOf(s);
    expect(x.sad.nextOutputSeq(slot)).toBe(42);
    const u = x.updateState(sa('192.0.2.1', '198.51.100.1', 0x100, 1, { limits: { hardPackets: 10 } }));
    expect(u.limits.hardPackets).toBe(10n);
    expect(x.sad.nextOutputSeq(x.sad.slotOf(u))).toBe(43); // no sequence number handed out twice
    expect(() => x.updateState(sa('192.0.2.1', '198.51.100.1', 0x100, 2))).toThrow(XfrmError);
    expect(() => x.updateState(sa('192.0.2.1', '198.51.100.1', 0x999, 1))).toThrow(/no state/);
  });
});

describe('bundles and generation counts', () => {
  it('rule shadowing: a state added later is used by new packets of an existing flow', () => {
    const { x } = setup();
    const a = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    const first = x.resolve('out', flow);
    expect(first.states).toEqual([a]);
    expect(x.bundleValid(first.bundle!)).toBe(true);
    const b = x.addState(sa('192.0.2.1', '198.51.100.1', 0x200, 1));
    expect(x.bundleValid(first.bundle!)).toBe(false); // the old bundle may be shadowed
    expect(x.resolve('out', flow).states).toEqual([b]);
  });

  it('an unrelated state does not invalidate a bundle', () => {
    const { x } = setup();
    x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    const r = x.resolve('out', flow);
    x.addState(sa('192.0.2.1', '198.51.100.1', 0x300, 2)); // other reqid
    x.addState(sa('192.0.2.7', '198.51.100.1', 0x301, 1)); // other src
    expect(x.bundleValid(r.bundle!)).toBe(true);
  });

  it('no bundle built from a deleted state or policy is valid once the delete returns', () => {
    const { x } = setup();
    // A queue in the middle of a batch: the deleted record stays readable (not yet freed),
    // so only the genid tells the bundle it is stale.
    const queue = EpochReader.register(x.heap, x.epochs.describe());
    queue.online();
    const a = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    const r1 = x.resolve('out', flow);
    x.deleteState(a.dst, a.spi);
    expect(x.bundleValid(r1.bundle!)).toBe(false);
    queue.unregister();
    x.addState(sa('192.0.2.1', '198.51.100.1', 0x101, 1));
    const r2 = x.resolve('out', flow);
    expect(x.bundleValid(r2.bundle!)).toBe(true);
    x.deletePolicy(r2.policy!.index);
    expect(x.bundleValid(r2.bundle!)).toBe(false);
    expect(x.resolve('out', flow).policy).toBeUndefined();
  });

  it('priority decides between prefixed and precise policies; the first inserted wins a tie; block blocks', () => {
    const { x } = setup(); // out 10.1/16 -> 10.2/16, priority 0
    const prefixed = x.spd.list('out')[0];
    x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    const precise = x.addPolicy({ dir: 'out', selector: selector(net('10.1.0.5', 32), net('10.2.0.9', 32)), priority: 10 });
    expect(x.resolve('out', flow).policy).toEqual(prefixed); // a better prefixed policy trumps a precise one
    x.updatePolicy({ ...precise, priority: 0 });
    expect(x.resolve('out', flow).policy).toEqual(prefixed); // equal priority: inserted first wins
    x.updatePolicy({ ...prefixed, priority: 1 });
    const r = x.resolve('out', flow);
    expect(r.policy?.index).toBe(precise.index);
    expect(r.states).toEqual([]); // the precise policy has no templates: plain pass
    x.updatePolicy({ ...precise, priority: 0, action: 'block' });
    const blocked = x.resolve('out', flow);
    expect(blocked.policy?.action).toBe('block');
    expect(blocked.bundle).toBeUndefined();
  });

  it('chains tunnel templates: each continues from the previous endpoints', () => {
    const clock = { t: 0 };
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 }, now: () => clock.t });
    x.addPolicy({
      dir: 'out',
      selector: anySelector(4),
      templates: [tunnel('192.0.2.1', '198.51.100.1', 1), tunnel('203.0.113.1', '203.0.113.2', 2)],
    });
    const inner = x.addState(sa('192.0.2.1', '198.51.100.1', 0x10, 1));
    const outer = x.addState(sa('203.0.113.1', '203.0.113.2', 0x20, 2));
    expect(x.resolve('out', flow).states).toEqual([inner, outer]);
  });

  it('transport templates use the flow addresses; optional templates are skipped', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    const transport: Template = { family: 4, src: addr('0.0.0.0'), dst: addr('0.0.0.0'), proto: 50, spi: 0, reqid: 5, mode: 'transport', optional: false };
    x.addPolicy({ dir: 'out', selector: anySelector(4), templates: [tunnel('192.0.2.1', '198.51.100.1', 9, true), transport] });
    const s = x.addState({ src: flow.src, dst: flow.dst, spi: 0x55, reqid: 5, mode: 'transport', algorithm: gcm() });
    const r = x.resolve('out', flow);
    expect(r.states).toEqual([s]);
  });
});

describe('ACQUIRE', () => {
  it('asks the key manager once for identical requests, and again after the timeout', () => {
    const { x, events, clock } = setup();
    const r = x.resolve('out', flow);
    expect(r.acquire).toMatchObject({ reqid: 1, mode: 'tunnel', proto: 50 });
    expect(events.acquire.length).toBe(1);
    x.resolve('out', { ...flow, sport: 999 }); // another flow, same SA needed: merged
    expect(events.acquire.length).toBe(1);
    expect(x.acquires.list()[0].merged).toBe(2);
    clock.t += 29_999;
    x.tick();
    expect(x.acquires.size).toBe(1);
    clock.t += 1;
    x.tick();
    expect(x.acquires.size).toBe(0); // expired like a larval state
    x.resolve('out', flow);
    expect(events.acquire.length).toBe(2);
  });

  it('a state that satisfies an ACQUIRE ends it', () => {
    const { x } = setup();
    x.resolve('out', flow);
    expect(x.acquires.size).toBe(1);
    x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1));
    expect(x.acquires.size).toBe(0);
    expect(x.resolve('out', flow).states.length).toBe(1);
  });
});

describe('lifetimes', () => {
  const cases = [
    { kind: 'bytes', limits: { softBytes: 1000, hardBytes: 2000 }, soft: (x: Xfrm, s: any) => x.account(s, 1000, 1), hard: (x: Xfrm, s: any) => x.account(s, 1000, 1) },
    { kind: 'packets', limits: { softPackets: 3, hardPackets: 5 }, soft: (x: Xfrm, s: any) => x.account(s, 10, 3), hard: (x: Xfrm, s: any) => x.account(s, 10, 2) },
    { kind: 'add time', limits: { softAddSeconds: 10, hardAddSeconds: 20 }, soft: (x: Xfrm, _s: any, c: any) => { c.t += 10_000; x.tick(); }, hard: (x: Xfrm, _s: any, c: any) => { c.t += 10_000; x.tick(); } },
    {
      kind: 'use time',
      limits: { softUseSeconds: 5, hardUseSeconds: 8 },
      soft: (x: Xfrm, s: any, c: any) => { c.t += 100_000; x.tick(); x.account(s, 1, 1); c.t += 5_000; x.tick(); },
      hard: (x: Xfrm, _s: any, c: any) => { c.t += 3_000; x.tick(); },
    },
  ] as const;
  for (const k of cases) {
    it(`${k.kind}: soft limit gives expire(hard: false) once, hard limit deletes the state`, () => {
      const { x, events, clock } = setup();
      const s = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1, { limits: k.limits }));
      k.soft(x, s, clock);
      expect(events.expire.map((e) => e.hard)).toEqual([false]);
      x.tick();
      expect(events.expire.length).toBe(1); // soft fires once
      expect(x.sad.size).toBe(1);
      k.hard(x, s, clock);
      expect(events.expire.map((e) => e.hard)).toEqual([false, true]);
      expect(x.sad.size).toBe(0);
    });
  }

  it('output sequence exhaustion without ESN is a hard expiry', () => {
    const { x, events } = setup();
    const s = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1, { replay: { oseq: 0xfffffffe } }));
    const slot = x.sad.slotOf(s);
    expect(x.sad.nextOutputSeq(slot)).toBe(0xffffffff);
    expect(x.sad.nextOutputSeq(slot)).toBe(-1); // never wraps
    expect(x.sad.nextOutputSeq(slot)).toBe(-1);
    x.account(s, 0, 0);
    expect(events.expire).toEqual([{ state: s, hard: true, reason: 'sequence' }]);
    expect(x.sad.size).toBe(0);
  });

  it('with ESN the output sequence number goes on past 2^32', () => {
    const { x } = setup();
    const s = x.addState(sa('192.0.2.1', '198.51.100.1', 0x100, 1, { esn: true, replayWindow: 64, replay: { oseq: 0xffffffff, oseqHi: 0 } }));
    const slot = x.sad.slotOf(s);
    expect([x.sad.nextOutputSeq(slot), x.sad.outSeqHi]).toEqual([0, 1]);
    expect([x.sad.nextOutputSeq(slot), x.sad.outSeqHi]).toEqual([1, 1]);
    expect(x.sad.countersOf(s)).toMatchObject({ oseq: 1, oseqHi: 1 });
  });
});
