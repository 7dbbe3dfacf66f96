// Defects 2 and 3 of the long-running review, at the xfrm layer:
// - `state update` must invalidate cached bundles exactly as add and delete do: an update may
//   change which flows a state covers, so it moves the shadow generation of its bydst key;
// - every shared read must be covered by the reader's fixed-length heap view: a view that
//   predates every structure it then reads (a queue worker attached before the tables grew)
//   must still read them all, with the same answers as the writer's own view.
import { describe, expect, it } from 'vitest';
import {
  EpochReader,
  HeapView,
  PolicyDbView,
  S_CHAIN,
  StateDbView,
  Xfrm,
  applyXfrmLine,
  bundleValid,
  newBundleScratch,
  newPolicyGenerations,
  packFlow,
  resolveBundle,
  resolveInto,
  type Flow,
  type PolicyGenerations,
} from '@xfrm/core';
import { FlowCache, KEY_WORDS, flowKey } from '@xfrm/workers';
import { addr, prng } from './model-helpers.js';

const KEY = '0x' + '11'.repeat(16) + '01020304';
const STATE = (spi: number, sel: string) =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 ${sel}`;
const POLICY = 'ip xfrm policy add src 10.0.0.0/8 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel';
const OUT = 1;
const flow = (src: string): Int32Array =>
  packFlow({ family: 4, src: addr(src), dst: addr('10.2.0.9'), proto: 17, sport: 1000, dport: 53 } satisfies Flow);

describe('state update invalidates like add and delete (defect 3)', () => {
  it('an update that makes a newer state cover a flow stales the bundle of the older one', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, POLICY);
    applyXfrmLine(x, STATE(0x10, '')); // older, any selector
    applyXfrmLine(x, STATE(0x11, 'sel src 10.9.0.0/16')); // newer, not for 10.1.0.5
    const f = flow('10.1.0.5');
    const r = resolveBundle(x.spd, x.sad, OUT, f, 0);
    expect(r.kind).toBe('bundle');
    if (r.kind !== 'bundle') return;
    expect(x.sad.stateAt(r.bundle.states[0])?.spi).toBe(0x10);
    applyXfrmLine(x, STATE(0x11, 'sel src 10.1.0.0/16').replace('state add', 'state update'));
    const fresh = resolveBundle(x.spd, x.sad, OUT, f, 0);
    expect(fresh.kind === 'bundle' && x.sad.stateAt(fresh.bundle.states[0])?.spi).toBe(0x11);
    expect(bundleValid(x.spd, x.sad, r.bundle)).toBe(false);
  });

  it('an update of the state in use stales its bundles too; an unrelated key is untouched', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, POLICY);
    applyXfrmLine(x, 'ip xfrm policy add src 10.3.0.0/16 dst 10.4.0.0/16 dir out tmpl src 192.0.2.7 dst 198.51.100.7 proto esp reqid 7 mode tunnel');
    applyXfrmLine(x, STATE(0x10, ''));
    applyXfrmLine(x, `ip xfrm state add src 192.0.2.7 dst 198.51.100.7 proto esp spi 0x70 reqid 7 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`);
    const a = resolveBundle(x.spd, x.sad, OUT, flow('10.1.0.5'), 0);
    const other = resolveBundle(x.spd, x.sad, OUT, packFlow({ family: 4, src: addr('10.3.0.1'), dst: addr('10.4.0.1'), proto: 17, sport: 1, dport: 2 }), 0);
    if (a.kind !== 'bundle' || other.kind !== 'bundle') throw new Error('no bundles');
    applyXfrmLine(x, STATE(0x10, 'sel src 10.9.0.0/16').replace('state add', 'state update'));
    expect(bundleValid(x.spd, x.sad, a.bundle)).toBe(false);
    expect(bundleValid(x.spd, x.sad, other.bundle)).toBe(true);
  });
});

describe('readers cover every shared read (defect 2)', () => {
  it('a view attached before the tables grew reads policies, states, chains and bundles like the writer', () => {
    const x = Xfrm.create({ heap: { initialBytes: 1 << 16, maxBytes: 1 << 28 } });
    // The reader's view: made now, over the heap as it is before anything below exists.
    const heap = HeapView.attach(x.heap.describe());
    const before = heap.i32.length;
    const desc = x.describe();
    const spd = PolicyDbView.attach(heap, desc.spd);
    const sad = StateDbView.attach(heap, desc.sad);
    // Policies of many prefix-length groups (each group's header and array allocated later,
    // some from free blocks inside the old view, some past it), states on many bydst keys.
    const sel = (i: number) => `src 10.${i % 250}.${i >> 8}.0/${24 + (i % 9)} dst 10.2.0.0/${8 + (i % 17)}`;
    for (let i = 0; i < 400; i++) {
      applyXfrmLine(x, `ip xfrm policy add ${sel(i)} dir out priority ${i} tmpl src 192.0.2.${1 + (i % 50)} dst 198.51.100.1 proto esp reqid ${1 + (i % 50)} mode tunnel`);
      if (i % 3 === 0) applyXfrmLine(x, `ip xfrm policy delete ${sel(i)} dir out`);
    }
    for (let i = 0; i < 50; i++) {
      applyXfrmLine(x, `ip xfrm state add src 192.0.2.${1 + i} dst 198.51.100.1 proto esp spi ${0x1000 + i} reqid ${1 + i} mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`);
    }
    expect(x.heap.i32.length).toBeGreaterThan(before); // the heap did grow past the reader's view
    // Sharper still: a view that covers nothing but the heap's first words, so that every read
    // the lookups make must be covered first (an uncovered plain read gives undefined, an
    // uncovered Atomics access throws).
    const shrink = () => {
      heap.i32 = new Int32Array(heap.buffer, 0, 2);
      heap.u8 = new Uint8Array(heap.buffer, 0, 8);
    };
    for (let i = 0; i < 200; i++) {
      const f = flow(`10.${i % 250}.${i >> 8}.5`);
      const mine = resolveBundle(x.spd, x.sad, OUT, f, 0);
      shrink();
      const theirs = resolveBundle(spd, sad, OUT, f, 0);
      expect(theirs).toEqual(mine);
      if (theirs.kind === 'bundle') {
        shrink();
        expect(bundleValid(spd, sad, theirs.bundle)).toBe(true);
      }
    }
    const dst = addr('198.51.100.1').words;
    for (let i = 0; i < 50; i++) {
      const want = x.sad.byspi(4, Int32Array.from(dst), 0, 0x1000 + i, 50);
      shrink();
      expect(sad.byspi(4, Int32Array.from(dst), 0, 0x1000 + i, 50)).toBe(want);
    }
  });
});

/** A flow cache entry for the packed flow, and whether a lookup (which checks it: no ChangeEpoch) finds it stale now. */
function cached(x: Xfrm, f: Int32Array): { stale: () => boolean } {
  const cache = new FlowCache(16);
  const key = new Int32Array(KEY_WORDS);
  flowKey(f, 0, key);
  const s = newBundleScratch();
  const i = cache.install(OUT, key, resolveInto(x.spd, x.sad, OUT, f, 0, s), s);
  expect(cache.lookup(x.spd, x.sad, OUT, key)).toBe(i);
  return { stale: () => cache.lookup(x.spd, x.sad, OUT, key) < 0 };
}

describe('generations never come back (defect 8)', () => {
  it('a bundle stays stale when its state genid moves by exactly 2^32 (32-bit equality would see it unchanged)', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, POLICY);
    applyXfrmLine(x, STATE(0x10, ''));
    const r = resolveBundle(x.spd, x.sad, OUT, flow('10.1.0.5'), 0);
    if (r.kind !== 'bundle') throw new Error('no bundle');
    const cache = cached(x, flow('10.1.0.5'));
    const g = r.bundle.genids[0];
    // As after 2^32 record writes elsewhere: the next genid is g + 2^32.
    (x.sad as unknown as { genids: bigint }).genids = g + 2n ** 32n - 1n;
    const reader = EpochReader.register(x.heap, x.epochs.describe());
    reader.online(); // a queue still in its batch: the dead record is not freed yet
    applyXfrmLine(x, 'ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x10');
    expect(x.sad.genid(r.bundle.states[0])).toBe(g + 2n ** 32n);
    expect(bundleValid(x.spd, x.sad, r.bundle)).toBe(false);
    expect(cache.stale()).toBe(true); // the flow cache compares the genid's halves: both
    reader.unregister();
  });

  it('the policy generation and the shadow generations go on past 2^32', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, POLICY);
    applyXfrmLine(x, STATE(0x10, ''));
    const r = resolveBundle(x.spd, x.sad, OUT, flow('10.1.0.5'), 0);
    if (r.kind !== 'bundle') throw new Error('no bundle');
    const cache = cached(x, flow('10.1.0.5'));
    // Move both generations by 2^32 - 1 behind the tables' back, then one real change each.
    const u64 = x.heap.u64;
    const chainWord = x.heap.i32[x.sad.field(r.bundle.states[0], S_CHAIN)] >> 1;
    Atomics.add(u64, chainWord, 2n ** 32n - 1n);
    applyXfrmLine(x, STATE(0x11, 'sel src 10.9.0.0/16')); // a state add on the same key moves the chain once more
    expect(x.sad.chainGenOf(r.bundle.states[0])).toBe(r.bundle.chains[0] + 2n ** 32n);
    expect(bundleValid(x.spd, x.sad, r.bundle)).toBe(false);
    expect(cache.stale()).toBe(true);
    const g = x.spd.generation(OUT);
    for (let i = 0; i < 3; i++) applyXfrmLine(x, `ip xfrm policy add src 10.7.${i}.0/24 dst 10.8.0.0/16 dir out`);
    expect(x.spd.generation(OUT)).toBe(g + 3n);
  });
});

// Issue 13: a change invalidates only the cached answers it can affect, and every cached
// answer that still validates is the one a fresh lookup gives.
describe('narrow invalidation', () => {
  const FLOWS = 32;
  const pairFlow = (i: number) => packFlow({ family: 4, src: addr(`10.1.0.${i}`), dst: addr(`10.2.0.${i}`), proto: 17, sport: 1000 + i, dport: 53 });
  type Cached = { r: ReturnType<typeof resolveBundle>; g: PolicyGenerations };

  function cache(x: Xfrm, i: number): Cached {
    const g = x.spd.readGenerations(OUT, pairFlow(i), 0, newPolicyGenerations());
    return { g, r: resolveBundle(x.spd, x.sad, OUT, pairFlow(i), 0) };
  }
  function valid(x: Xfrm, c: Cached): boolean {
    if (c.r.kind === 'acquire') return false; // never cached (asked again), as the flow cache does
    if (c.r.kind === 'bundle') return bundleValid(x.spd, x.sad, c.r.bundle);
    return x.spd.generationsHold(OUT, c.g.generationWords, 0, c.g.pairWord);
  }
  const answer = (r: ReturnType<typeof resolveBundle>) =>
    r.kind === 'bundle' ? `bundle ${r.bundle.policy} ${[...r.bundle.states].join(',')}` : r.kind === 'block' ? `block ${r.policy}` : r.kind;

  it('under random churn of every kind, a cached answer that validates is the fresh answer', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 27 } });
    const reader = EpochReader.register(x.heap, x.epochs.describe());
    reader.online(); // records retired by the churn stay readable (as in a live dataplane) until it reports
    const rand = prng(13);
    const states: number[][] = Array.from({ length: 4 }, () => []);
    const cached: (Cached | undefined)[] = [];
    let checked = 0;
    let spi = 0x100;
    for (let step = 0; step < 6000; step++) {
      const i = Math.floor(rand() * FLOWS);
      const reqid = 1 + Math.floor(rand() * 4);
      const precise = `src 10.1.0.${i}/32 dst 10.2.0.${i}/32`;
      const tmplLine = `tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid ${reqid} mode tunnel`;
      const act = rand() < 0.2 ? 'action block' : tmplLine;
      const op = Math.floor(rand() * 8);
      try {
        if (op === 0) applyXfrmLine(x, `ip xfrm policy add ${precise} dir out priority ${Math.floor(rand() * 3)} ${act}`);
        else if (op === 1) applyXfrmLine(x, `ip xfrm policy update ${precise} dir out priority ${Math.floor(rand() * 3)} ${act}`);
        else if (op === 2) applyXfrmLine(x, `ip xfrm policy delete ${precise} dir out`);
        else if (op === 3) applyXfrmLine(x, `ip xfrm policy add src 10.1.0.0/${27 + Math.floor(rand() * 3)} dst 10.2.0.0/24 dir out priority 1 ${act}`);
        else if (op === 4) applyXfrmLine(x, `ip xfrm policy delete src 10.1.0.0/${27 + Math.floor(rand() * 3)} dst 10.2.0.0/24 dir out`);
        else if (op === 5) {
          const sel = rand() < 0.5 ? '' : `sel src 10.1.0.${i}/32`;
          applyXfrmLine(x, STATE(spi, sel).replace('reqid 1', `reqid ${reqid}`));
          states[reqid - 1].push(spi++);
        } else if (op === 6 && states[reqid - 1].length > 0) {
          const s = states[reqid - 1][Math.floor(rand() * states[reqid - 1].length)];
          applyXfrmLine(x, STATE(s, rand() < 0.5 ? '' : `sel src 10.1.0.${i}/32`).replace('reqid 1', `reqid ${reqid}`).replace('state add', 'state update'));
        } else if (op === 7 && states[reqid - 1].length > 0) {
          applyXfrmLine(x, `ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi ${states[reqid - 1].shift()}`);
        }
      } catch {
        // exists / does not exist: nothing changed
      }
      if (step % 64 === 63) {
        reader.quiescent();
        x.epochs.reclaim();
      }
      for (let f = 0; f < FLOWS; f++) {
        const c = cached[f];
        if (c !== undefined && valid(x, c)) {
          expect(answer(c.r), `flow ${f} at step ${step}`).toBe(answer(resolveBundle(x.spd, x.sad, OUT, pairFlow(f), 0)));
          checked++;
        } else {
          cached[f] = cache(x, f);
        }
      }
    }
    expect(checked).toBeGreaterThan(50_000); // most answers stayed valid across most changes
    reader.unregister();
  });

  it('a precise policy change for one host pair leaves the other flows cached answers valid', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 5 tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
    applyXfrmLine(x, STATE(0x10, ''));
    const all = Array.from({ length: FLOWS }, (_, i) => cache(x, i));
    expect(all.every((c) => c.r.kind === 'bundle' && valid(x, c))).toBe(true);
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.5/32 dst 10.2.0.5/32 dir out priority 1 action block');
    all.forEach((c, i) => {
      // Only flow 5, and any flow that happens to share its pair generation word (1 in 4096), went stale.
      expect(valid(x, c)).toBe(i !== 5 && c.g.pairWord !== all[5].g.pairWord);
    });
    expect(resolveBundle(x.spd, x.sad, OUT, pairFlow(5), 0).kind).toBe('block');
    // A prefixed change may affect any flow: all go stale.
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/24 dir out priority 9 action block');
    expect(all.some((c) => valid(x, c))).toBe(false);
  });
});
