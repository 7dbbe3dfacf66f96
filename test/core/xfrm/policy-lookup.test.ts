// SPD lookup against a brute-force reference: scan every policy; lowest priority wins; the
// earliest inserted breaks ties. Random policy sets mix precise and prefixed entries,
// overlapping prefixes, ports, protocols, equal priorities, IPv4 and IPv6, and change
// (deletes, updates) between rounds of lookups.
import { describe, expect, it } from 'vitest';
import { DIR_NUMBER, DIRS, PolicyDb, SharedHeap, EpochDomain, packFlow, type Policy, type PolicyDir } from '@xfrm/core';
import { pick, prng, randomFlow, randomSelector, referenceMatch } from './model-helpers.js';

interface RefPolicy {
  policy: Policy;
  order: number;
}

function reference(ref: Map<number, RefPolicy>, dir: PolicyDir, flow: ReturnType<typeof randomFlow>): number | undefined {
  let best: RefPolicy | undefined;
  for (const r of ref.values()) {
    if (r.policy.dir !== dir || r.policy.selector.family !== flow.family) continue;
    if (!referenceMatch(r.policy.selector, flow)) continue;
    if (best === undefined || r.policy.priority < best.policy.priority || (r.policy.priority === best.policy.priority && r.order < best.order)) {
      best = r;
    }
  }
  return best?.policy.index;
}

function run(seed: number, policies: number, preciseShare: number, lookups: number, spread: number, linear = false): number {
  const rnd = prng(seed);
  const heap = SharedHeap.create({ maxBytes: 2 ** 31 });
  const spd = PolicyDb.create(heap, EpochDomain.create(heap, 4), { linear });
  const ref = new Map<number, RefPolicy>();
  let order = 0;
  const add = () => {
    const family = rnd() < 0.5 ? 4 : 6;
    const spec = {
      dir: pick(rnd, DIRS),
      selector: randomSelector(rnd, family, rnd() < preciseShare, spread),
      priority: pick(rnd, [0, 1, 2, 100, 0xffffffff]),
      action: rnd() < 0.1 ? ('block' as const) : ('allow' as const),
    };
    const before = spd.find(spec.dir, spec.selector);
    if (before !== undefined) {
      // Same selector: replaced, index kept; with the same priority it keeps its place among
      // equal priorities (the kernel replaces in place), else it goes behind them.
      const p = spd.update(spec);
      const kept = before.priority === p.priority ? ref.get(p.index)!.order : ++order;
      ref.set(p.index, { policy: p, order: kept });
    } else {
      const p = spd.add(spec);
      ref.set(p.index, { policy: p, order: ++order });
    }
  };
  for (let i = 0; i < policies; i++) add();
  let checked = 0;
  for (let round = 0; round < 4; round++) {
    for (let i = 0; i < lookups / 4; i++) {
      const dir = pick(rnd, DIRS);
      const flow = randomFlow(rnd, rnd() < 0.5 ? 4 : 6, spread);
      const slot = spd.lookup(DIR_NUMBER[dir], packFlow(flow), 0);
      const got = slot < 0 ? undefined : spd.policyAt(slot)?.index;
      expect(got, `round ${round} lookup ${i}`).toBe(reference(ref, dir, flow));
      checked++;
    }
    // Churn: delete a tenth, add as many again.
    const indexes = [...ref.keys()];
    for (let i = 0; i < policies / 10; i++) {
      const index = pick(rnd, indexes);
      if (!ref.has(index)) continue;
      spd.delete(index);
      ref.delete(index);
    }
    for (let i = 0; i < policies / 10; i++) add();
    expect(spd.size).toBe(ref.size);
  }
  return checked;
}

describe('SPD lookup agrees with a brute-force scan', () => {
  it('on small dense sets (many overlaps and ties), 80k lookups', () => {
    let n = 0;
    for (let seed = 1; seed <= 40; seed++) n += run(seed, 60, 0.3, 2000, 3);
    expect(n).toBe(80_000);
  });

  it('on a 12k-policy set, mostly precise, 16k lookups', () => {
    expect(run(4242, 12_000, 0.8, 16_000, 16)).toBe(16_000);
  });

  it('the list-spd ablation (one ordered list) gives the same answers, 20k lookups', () => {
    let n = 0;
    for (let seed = 100; seed < 110; seed++) n += run(seed, 80, 0.3, 2000, 3, true);
    expect(n).toBe(20_000);
  });

  it('on a 2k-policy prefixed set, 20k lookups', () => {
    expect(run(777, 2000, 0, 20_000, 6)).toBe(20_000);
  });
});
