// The SAD's and SPD's control sides without a JS object per SA or policy (issue 16): the u64
// index against a Map, the rows' reuse of numbers, and States and Policies rebuilt from
// records equal to what was added, through updates, deletes and flushes, checked against a
// plain model.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeadlineQueue, U64Index, StateRows, Xfrm, anySelector, applyXfrmLine, packFlow, makeSelector, u64OfWords, type Policy, type PolicySpec, type StateSpec } from '@xfrm/core';
import { addr, prng } from './model-helpers.js';

describe('U64Index (u64 serial -> SA number)', () => {
  it('agrees with a Map through random sets and deletes, across resizes and wrapped probe runs', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.boolean(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }), fc.nat(1 << 20)), { maxLength: 600 }),
        (ops) => {
          const index = new U64Index();
          const model = new Map<bigint, number>();
          for (const [add, serial, n] of ops) {
            if (add && !model.has(serial)) {
              index.set(serial, n);
              model.set(serial, n);
            } else {
              expect(index.delete(serial)).toBe(model.delete(serial));
            }
            expect(index.size).toBe(model.size);
          }
          for (const [serial, n] of model) expect(index.get(serial)).toBe(n);
          for (const [, serial] of ops) if (!model.has(serial)) expect(index.get(serial)).toBe(-1);
        },
      ),
      { numRuns: 200 },
    );
  });

  it('keeps every entry findable while a dense run of sequential serials is deleted in random order', () => {
    const index = new U64Index();
    const serials = Array.from({ length: 20_000 }, (_, i) => (BigInt(i) << 32n) | 0xfffffff0n); // high words differ
    serials.forEach((s, i) => index.set(s, i));
    const order = serials.map((_, i) => i).sort((a, b) => ((a * 7919) % 20_011) - ((b * 7919) % 20_011));
    const gone = new Set<number>();
    for (const [k, i] of order.entries()) {
      expect(index.delete(serials[i])).toBe(true);
      gone.add(i);
      if (k % 997 === 0) for (let j = 0; j < serials.length; j++) expect(index.get(serials[j])).toBe(gone.has(j) ? -1 : j);
    }
    expect(index.size).toBe(0);
  });
});

describe('DeadlineQueue', () => {
  it('pops what is due, earliest first, as a sorted list would, through growth and shrinking', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.tuple(fc.constant('push' as const), fc.integer({ min: 0, max: 1e6 }), fc.nat(1 << 30)), fc.tuple(fc.constant('pop' as const), fc.integer({ min: 0, max: 1e6 }), fc.constant(0))), { maxLength: 400 }), (ops) => {
        const q = new DeadlineQueue();
        let model: [number, number][] = [];
        for (const [op, t, key] of ops) {
          if (op === 'push') {
            q.push(t, key);
            model.push([t, key]);
          } else {
            const due = model.filter(([at]) => at <= t).sort((a, b) => a[0] - b[0]);
            model = model.filter(([at]) => at > t);
            const got = q.popDue(t);
            expect(got.length).toBe(due.length);
            // Equal times may come out in any order: compare the times, and the keys as sets.
            expect(new Set(got)).toEqual(new Set(due.map(([, k]) => k)));
          }
          expect(q.size).toBe(model.length);
        }
      }),
      { numRuns: 200 },
    );
  });
});

describe('StateRows', () => {
  it('reuses numbers and zeroes a reused row (the columns keep their size for the next fill)', () => {
    const rows = new StateRows();
    const ns = Array.from({ length: 200 }, () => rows.alloc());
    expect(new Set(ns).size).toBe(200);
    rows.addTime[ns[5]] = 123;
    rows.setSettings(ns[5], [0, 60, 0, 0, 0, 0, 0, 0]);
    rows.setSettings(ns[6], [0, 60, 0, 0, 0, 0, 0, 0]);
    expect(rows.setting[ns[5]]).toBe(rows.setting[ns[6]]); // interned: one tuple for both
    expect(rows.settings.size).toBe(2); // with the zero tuple
    rows.release(ns[5]);
    const again = rows.alloc();
    expect(again).toBe(ns[5]);
    expect(rows.addTime[again]).toBe(0);
    expect(rows.setting[again]).toBe(0);
    expect(rows.settings.size).toBe(2); // ns[6] still holds it
    rows.release(ns[6]);
    expect(rows.settings.size).toBe(1); // the last reference gone
    for (const n of ns) if (n !== ns[6]) rows.release(n);
    expect(rows.live).toBe(0);
    const again200 = Array.from({ length: 200 }, () => rows.alloc());
    expect(new Set(again200)).toEqual(new Set(ns)); // the same numbers, no new rows
    expect(rows.end).toBe(200);
  });
});

describe('States rebuilt from records', () => {
  // Key lengths, ICVs, algorithms and windows at their bounds: they share one record word.
  const key = (b: number) => Uint8Array.from({ length: b % 7 === 3 ? 36 : 20 }, (_, i) => (b + i) & 0xff);
  const ALG = ['rfc4106(gcm(aes))', 'rfc4106(gcm(aes))', 'rfc7539esp(chacha20,poly1305)'] as const;
  const spec = (i: number): StateSpec => ({
    dst: addr(i % 2 ? `2001:db8::${(i + 1).toString(16)}` : `198.51.100.${(i % 250) + 1}`),
    src: addr(i % 2 ? '2001:db8:ffff::1' : '203.0.113.250'),
    spi: (0x80000000 + i) >>> 0, // high bit set: read back unsigned
    reqid: (0xfffffff0 + (i % 8)) >>> 0,
    mode: i % 3 ? 'tunnel' : 'transport',
    algorithm: i % 7 === 3 && i % 2 ? { name: ALG[2], key: key(i), icvBits: 128 } : { name: ALG[0], key: key(i), icvBits: [64, 96, 128][i % 3] },
    replayWindow: [0, 64, 4096, 32, 1][i % 5],
    esn: i % 4 === 1 && i % 5 !== 0,
    replay: i % 5 === 0 ? { oseq: i, seq: 7 } : undefined,
    limits: i % 2 ? { hardBytes: 2n ** 64n - 2n, softPackets: i, softAddSeconds: 30 + i, hardUseSeconds: 90 } : undefined,
    encap: i % 3 === 2 ? { type: 'espinudp', sport: 4500, dport: 40000 + i, oa: addr(i % 2 ? (i % 4 === 1 ? '::' : '2001:db8::99') : i % 4 === 0 ? '0.0.0.0' : '100.64.0.9') } : undefined,
    selector:
      i % 4 === 2 // an extras block: the selector (and the NAT-OA above) out of line
        ? makeSelector({ ...anySelector(i % 2 ? 6 : 4), src: addr(i % 2 ? '2001:db8:1::' : '10.1.0.0'), srcLen: i % 2 ? 48 : 16, proto: 17, sport: 53, sportMask: 0xffff })
        : undefined,
    pcpuNum: i % 6 === 5 ? i % 4 : undefined,
  });

  it('equal what add returned, through updates, deletes, number reuse and a flush', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    const model = new Map<number, ReturnType<Xfrm['addState']>>();
    for (let i = 0; i < 300; i++) model.set(i, x.addState(spec(i)));
    for (let i = 0; i < 300; i += 3) {
      x.deleteState(model.get(i)!.dst, model.get(i)!.spi);
      model.delete(i);
    }
    for (let i = 1; i < 300; i += 6) model.set(i, x.updateState({ ...spec(i), limits: { hardPackets: 1000 + i } }));
    for (let i = 300; i < 400; i++) model.set(i, x.addState(spec(i))); // numbers of the deleted reused
    const listed = x.sad.list();
    expect(x.sad.list(17, 40)).toEqual(listed.slice(17, 40)); // a page builds only its States
    expect(x.sad.list(listed.length - 3)).toEqual(listed.slice(-3));
    expect(listed).toEqual([...model.keys()].sort((a, b) => Number(model.get(a)!.serial - model.get(b)!.serial)).map((i) => model.get(i)));
    for (const s of model.values()) {
      expect(x.sad.get(s.dst, s.spi)).toEqual(s);
      expect(x.sad.stateBySerial(s.serial)).toEqual(s);
      expect(x.sad.stateAt(x.sad.slotOf(s))).toEqual(s);
    }
    expect(x.sad.size).toBe(model.size);
    expect(x.flushStates()).toBe(model.size);
    expect(x.sad.list()).toEqual([]);
    for (const s of model.values()) expect(x.sad.stateBySerial(s.serial)).toBeUndefined();
  });
});

describe('Policies rebuilt from records', () => {
  const spec = (i: number): PolicySpec => {
    const v6 = i % 2 === 1;
    const host = (n: number) => addr(v6 ? `2001:db8:${n.toString(16)}::${(i + 1).toString(16)}` : `10.${n}.${(i >> 8) & 255}.${i & 255}`);
    const bits = v6 ? 128 : 32;
    // Templates are packed by family (an IPv4 one in 5 words, an IPv6 one in 11): mix them.
    const t4 = { family: 4, src: addr('192.0.2.1'), dst: addr('198.51.100.1'), proto: 50, spi: i % 2 ? 0 : (0x80000000 + i) >>> 0, reqid: (0xfffffff0 + (i % 8)) >>> 0, mode: i % 2 ? 'tunnel' : 'transport', optional: i % 5 === 1 } as const;
    const t6 = { family: 6, src: addr('2001:db8:ff::1'), dst: addr(`2001:db8:ff::${(i + 2).toString(16)}`), proto: 50, spi: (0x90000000 + i) >>> 0, reqid: i + 1, mode: 'tunnel', optional: i % 3 === 0 } as const;
    return {
      dir: (['in', 'out', 'fwd'] as const)[i % 3],
      selector: makeSelector({ ...anySelector(v6 ? 6 : 4), src: host(1), srcLen: i % 5 === 0 ? bits - 8 : bits, dst: host(2), dstLen: bits, proto: i % 4 === 0 ? 6 : 0, dport: i % 4 === 0 ? 443 : 0, dportMask: i % 4 === 0 ? 0xffff : 0 }),
      priority: (0xfffffff0 + (i % 16)) >>> 0,
      action: i % 7 === 6 ? 'block' : 'allow',
      cpuAcquire: i % 3 === 1,
      templates: i % 7 === 6 ? [] : i % 4 === 3 ? [t4, t6, { ...t4, reqid: 7 }] : i % 4 === 1 ? [t6] : [t4],
    };
  };

  it('equal what add returned, found by index, selector and slot, through updates, deletes and a flush', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    const model = new Map<number, Policy>();
    for (let i = 0; i < 300; i++) {
      const p = x.addPolicy(spec(i));
      model.set(p.index, p);
    }
    expect(() => x.addPolicy(spec(7))).toThrow(/exists/);
    let k = 0;
    for (const p of [...model.values()]) {
      if (k++ % 3 === 0) {
        x.deletePolicy(p.index);
        model.delete(p.index);
      } else if (k % 5 === 0) {
        const u = x.updatePolicy({ ...p, priority: 5, action: 'block' });
        expect(u.index).toBe(p.index);
        model.set(u.index, u);
      }
    }
    for (const p of model.values()) {
      expect(x.spd.get(p.index)).toEqual(p);
      expect(x.spd.find(p.dir, p.selector)).toEqual(p);
    }
    for (const slot of x.spd.slots()) expect(model.get(x.spd.policyAt(slot)!.index)).toEqual(x.spd.policyAt(slot));
    expect(x.spd.list().map((p) => p.index).sort()).toEqual([...model.keys()].sort());
    expect(x.spd.size).toBe(model.size);
    expect(x.flushPolicies('out')).toBe([...model.values()].filter((p) => p.dir === 'out').length);
    expect(x.flushPolicies()).toBe([...model.values()].filter((p) => p.dir !== 'out').length);
    for (const p of model.values()) expect(x.spd.get(p.index)).toBeUndefined();
  });
});

describe('bydst entries through churn (one thread, retirements freed as soon as they may be)', () => {
  it('every live state is found on its key, and an emptied key leaves no entry behind', () => {
    // The race test's control operations without readers: freed records are poisoned within
    // 256 retirements, so a table entry that still points at a freed record's key is caught.
    // (It caught one: the last state's bydst entry was deleted after its record was retired,
    // comparing the key against freed words, and stayed behind.)
    const KEY = '0x' + '21'.repeat(16) + '01020304';
    const FLOWS = 48;
    const gen = new Int32Array(2);
    const dst = Int32Array.of((198 << 24) | (51 << 16) | (100 << 8) | 1, 0, 0, 0);
    const src = Int32Array.of((192 << 24) | (2 << 8) | 1, 0, 0, 0);
    const add = (spi: number, reqid: number, extra: string) =>
      `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid ${reqid} mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 ${extra}`;
    const x = Xfrm.create({ heap: { initialBytes: 1 << 16, maxBytes: 1 << 28 } });
    const live = Array.from({ length: FLOWS }, () => [] as number[]);
    const rnd = prng(0x9e3779b8);
    const rand = (n: number) => Math.floor(rnd() * n);
    let nextSpi = 0;
    for (let op = 0; op < 20_000; op++) {
      const i = rand(FLOWS);
      const kind = rand(3);
      if (kind === 0 && live[i].length < 4) {
        const spi = 0x1000 + i * 8 + (nextSpi++ % 8);
        if (!live.some((l) => l.includes(spi))) {
          applyXfrmLine(x, add(spi, i + 1, rand(2) === 0 ? `sel src 10.1.0.${i}/32` : ''));
          live[i].push(spi);
        }
      } else if (kind === 1 && live[i].length > 0) {
        applyXfrmLine(x, `ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi ${live[i].shift()}`);
      } else if (kind === 2 && live[i].length > 0) {
        const spi = live[i][rand(live[i].length)];
        applyXfrmLine(x, add(spi, i + 1, `sel src 10.1.0.${i}/${rand(2) === 0 ? 32 : 24}`).replace('state add', 'state update')); // still the key's flow
      }
      if (op % 50 === 0) {
        for (let k = 0; k < FLOWS; k++) {
          // A live key is found (its generation is not 0), and its states on it by SPI.
          x.sad.chainGenInto(4, dst, 0, src, 0, k + 1, 50, 1, gen, 0);
          expect(u64OfWords(gen, 0) !== 0n).toBe(live[k].length > 0);
          const any = packFlow({ family: 4, src: addr(`10.1.0.${k}`), dst: addr('10.2.0.1'), proto: 17, sport: 1, dport: 2 });
          for (const spi of live[k]) expect(x.sad.bydst(4, dst, 0, src, 0, k + 1, 50, 1, spi, any, 0)).not.toBe(-1);
        }
      }
    }
    for (let k = 0; k < FLOWS; k++) for (const spi of live[k]) x.deleteState(addr('198.51.100.1'), spi);
    const bydst = (x.sad as unknown as { dsts: { table: { size: number } } }).dsts.table;
    expect(bydst.size).toBe(0); // every emptied key took its entry with it
  });
});
