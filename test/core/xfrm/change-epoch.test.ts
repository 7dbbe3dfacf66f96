// A reader's ChangeEpoch: it must move, at the reader's next section, after every change that
// can stale a cached bundle or SA context (else a queue keeps using what it cached: a deleted
// SA, a shadowed one, a policy that no longer applies), and only then.
import { describe, expect, it } from 'vitest';
import {
  ALL_SHARDS,
  CHANGE_LOG,
  CHANGE_SHARDS,
  ChangeEpoch,
  DIR_NUMBER,
  EpochReader,
  SaContextCache,
  Xfrm,
  aeadBackend,
  applyXfrmLine,
  newBundleScratch,
  packFlow,
  pairShard,
  resolveBundle,
  resolveInto,
  slotShard,
} from '@xfrm/core';
import { CACHED_BLOCK, FlowCache, KEY_WORDS, flowKey } from '@xfrm/workers';
import { addr } from './model-helpers.js';

const OUT = DIR_NUMBER.out;
const KEY = '0x' + '44'.repeat(16) + '01010101';
const state = (spi: number, extra = '') =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128${extra}`;
const TUNNEL = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel';

function setup() {
  const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
  const reader = EpochReader.register(x.heap, x.epochs.describe());
  reader.online();
  return { x, reader, changes: new ChangeEpoch(reader, x.spd, x.sad) };
}


/** The flow cache key of a packed flow. */
function keyOf(flow: Int32Array): Int32Array {
  const key = new Int32Array(KEY_WORDS);
  flowKey(flow, 0, key);
  return key;
}

describe('ChangeEpoch', () => {
  // Each change runs on tables that already hold a policy of each kind and two states.
  const changes: [string, string][] = [
    ['state add (shadows the key)', state(0x12)],
    ['state add on a new key', `ip xfrm state add src 192.0.2.9 dst 198.51.100.9 proto esp spi 0x20 reqid 2 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`],
    ['state update', `ip xfrm state update src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x10 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 limit packet-hard 1000`],
    ['state delete', 'ip xfrm state delete dst 198.51.100.1 proto esp spi 0x10'],
    ['state flush', 'ip xfrm state flush'],
    ['precise policy add', `ip xfrm policy add src 10.9.0.1/32 dst 10.9.0.2/32 dir out ${TUNNEL}`],
    ['precise policy delete', 'ip xfrm policy delete src 10.1.0.1/32 dst 10.2.0.1/32 dir out'],
    ['prefixed policy add', `ip xfrm policy add src 10.3.0.0/16 dst 10.4.0.0/16 dir out ${TUNNEL}`],
    ['prefixed policy update', `ip xfrm policy update src 10.1.0.0/16 dst 10.2.0.0/16 dir out action block`],
    ['policy flush', 'ip xfrm policy flush'],
  ];

  it.each(changes)('moves at the next section after a %s, not before', (_name, line) => {
    const { x, reader, changes: c } = setup();
    applyXfrmLine(x, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TUNNEL}`);
    applyXfrmLine(x, `ip xfrm policy add src 10.1.0.1/32 dst 10.2.0.1/32 dir out ${TUNNEL}`);
    applyXfrmLine(x, state(0x10));
    applyXfrmLine(x, state(0x11));
    const e = c.current();
    expect(e).toBeGreaterThan(0);
    applyXfrmLine(x, line);
    expect(c.current()).toBe(e); // within the section the reader began before the change
    reader.quiescent();
    expect(c.current()).toBe(e + 1);
    reader.quiescent();
    expect(c.current()).toBe(e + 1); // nothing changed since
    reader.offline();
    reader.online();
    expect(c.current()).toBe(e + 1);
  });

  it('a flow cache entry is checked again only once what it depends on changed, and found stale then', () => {
    const { x, reader, changes: c } = setup();
    applyXfrmLine(x, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TUNNEL}`);
    applyXfrmLine(x, state(0x10));
    const flow = packFlow({ family: 4, src: addr('10.1.0.1'), dst: addr('10.2.0.1'), proto: 17, sport: 1, dport: 2 });
    const cache = new FlowCache(16);
    const s = newBundleScratch();
    c.current();
    const i = cache.install(OUT, keyOf(flow), resolveInto(x.spd, x.sad, OUT, flow, 0, s), s, c);
    reader.quiescent();
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flow), c)).toBe(i);
    expect(cache.checks).toBe(0); // nothing changed: no shared read
    applyXfrmLine(x, 'ip xfrm state delete dst 198.51.100.1 proto esp spi 0x10');
    // The rest of this section still sees what it saw when it began (no shared read at all).
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flow), c)).toBe(i);
    reader.quiescent(); // the record may be freed once every reader is past here
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flow), c)).toBe(-1);
    expect(cache.checks).toBe(1);
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flow))).toBe(-1); // and with no ChangeEpoch, every lookup checks
  });

  it("a state change stales only the entries of its change shards; a precise policy's only those of its pair's shard; any other policy change all", () => {
    const { x, reader, changes: c } = setup();
    const flows = [1, 2].map((n) => packFlow({ family: 4, src: addr(`10.1.0.${n}`), dst: addr(`10.2.0.${n}`), proto: 17, sport: 1, dport: 2 }));
    for (const n of [1, 2]) {
      applyXfrmLine(x, `ip xfrm policy add src 10.1.0.${n}/32 dst 10.2.0.${n}/32 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid ${n} mode tunnel`);
      applyXfrmLine(x, `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${0x10 + n} reqid ${n} mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`);
    }
    const cache = new FlowCache(16);
    const s = newBundleScratch();
    c.current();
    const entries = flows.map((f) => cache.install(OUT, keyOf(f), resolveInto(x.spd, x.sad, OUT, f, 0, s), s, c));
    const [a, b] = flows.map((f) => resolveBundle(x.spd, x.sad, OUT, f, 0)).map((r) => (r.kind === 'bundle' ? r.bundle : undefined)!);
    const shardsOf = (u: typeof a) => [slotShard(u.states[0]), u.chainShards[0]];
    expect(shardsOf(a).filter((k) => shardsOf(b).includes(k))).toEqual([]); // the premise: no shard in common
    applyXfrmLine(x, `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x20 reqid 2 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`); // shadows b's state
    reader.quiescent();
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flows[0]), c)).toBe(entries[0]);
    expect(cache.checks).toBe(0); // a's shards did not change: used unchecked
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flows[1]), c)).toBe(-1); // b's key moved: checked, stale
    expect(cache.checks).toBe(1);
    const other = packFlow({ family: 4, src: addr('10.9.0.1'), dst: addr('10.9.0.2'), proto: 17, sport: 1, dport: 2 });
    const pairShardOf = (f: Int32Array) => pairShard(x.spd.pairWord(OUT, f, 1));
    expect(pairShardOf(other)).not.toBe(pairShardOf(flows[0])); // the premise: another pair shard
    applyXfrmLine(x, 'ip xfrm policy add src 10.9.0.1/32 dst 10.9.0.2/32 dir out action block'); // precise: its pair only
    reader.quiescent();
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flows[0]), c)).toBe(entries[0]);
    expect(cache.checks).toBe(1); // used unchecked
    applyXfrmLine(x, 'ip xfrm policy update src 10.1.0.1/32 dst 10.2.0.1/32 dir out action block'); // precise: flow 0's own pair
    reader.quiescent();
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flows[0]), c)).toBe(-1); // checked: its pair generation moved
    expect(cache.checks).toBe(2);
    const again = cache.install(OUT, keyOf(flows[0]), resolveInto(x.spd, x.sad, OUT, flows[0], 0, s), s, c);
    expect(cache.kind(again)).toBe(CACHED_BLOCK);
    applyXfrmLine(x, 'ip xfrm policy add src 10.9.0.0/24 dst 10.9.1.0/24 dir out action block'); // a prefix: every flow of the direction
    reader.quiescent();
    expect(cache.lookup(x.spd, x.sad, OUT, keyOf(flows[1]), c)).toBe(-1); // checked: the direction's generation moved
    expect(cache.checks).toBe(3);
  });

  it('an SA context is checked once per change of its shard, and a dead state has none after it', () => {
    const { x, reader, changes: c } = setup();
    applyXfrmLine(x, state(0x10));
    const slot = x.sad.slotOf(x.sad.list()[0]);
    const contexts = new SaContextCache(x.sad, aeadBackend('noble'), { changes: c });
    const ctx = contexts.live(slot);
    expect(ctx?.spi).toBe(0x10);
    expect(ctx?.checked).toBe(c.current());
    applyXfrmLine(x, 'ip xfrm state delete dst 198.51.100.1 proto esp spi 0x10');
    expect(contexts.live(slot)).toBe(ctx); // this section: as it began
    reader.quiescent();
    expect(contexts.live(slot)).toBeUndefined();
    const plain = new SaContextCache(x.sad, aeadBackend('noble'));
    expect(plain.live(slot)).toBeUndefined(); // no epoch: checked at once
    contexts.clear();
    plain.clear();
  });
});

describe("ChangeEpoch reading the SAD's change log", () => {
  // A stand-in for the SAD's count and log, so the writer can be made to lap the log at will.
  function stubbed() {
    const log = new Int32Array(CHANGE_LOG);
    let count = 0n;
    let sections = 0;
    let duringRead: (() => void) | undefined;
    const sad = {
      changes: () => count,
      loggedShard(i: number) {
        const f = duringRead;
        duringRead = undefined;
        f?.();
        return log[i];
      },
    };
    const reader = { get sections() { return sections; } };
    const epoch = new ChangeEpoch(reader as never, { changes: () => 0n } as never, sad as never);
    const change = (shard: number) => {
      log[Number(count % BigInt(CHANGE_LOG))] = shard;
      count++;
    };
    const section = () => {
      sections++;
      return epoch.current();
    };
    return { epoch, change, section, lapWhileReading: (f: () => void) => (duringRead = f) };
  }

  it('marks the shards of the changes since the last section, and only those', () => {
    const { epoch, change, section } = stubbed();
    const e0 = section();
    change(7);
    change(CHANGE_SHARDS - 1);
    section();
    expect([7, CHANGE_SHARDS - 1, 8].map((s) => epoch.shardHolds(s, e0))).toEqual([false, false, true]);
  });

  it('just under a log of changes behind, reads them all; a whole log behind, takes every shard as changed', () => {
    const a = stubbed();
    const a0 = a.section();
    a.change(7);
    for (let k = 0; k < CHANGE_LOG - 2; k++) a.change(8);
    a.section();
    expect([7, 8, 9].map((s) => a.epoch.shardHolds(s, a0))).toEqual([false, false, true]);
    const b = stubbed();
    const b0 = b.section();
    b.change(7); // its entry is overwritten by the last change below
    for (let k = 0; k < CHANGE_LOG; k++) b.change(8);
    b.section();
    expect([7, 9].map((s) => b.epoch.shardHolds(s, b0))).toEqual([false, false]);
  });

  it('takes every shard as changed at an entry that names them all (a direction generation of the SPD moved)', () => {
    const { epoch, change, section } = stubbed();
    const e0 = section();
    change(ALL_SHARDS);
    const e1 = section();
    expect([0, 9, CHANGE_SHARDS - 1].map((s) => epoch.shardHolds(s, e0))).toEqual([false, false, false]);
    expect(epoch.shardHolds(9, e1)).toBe(true); // checked after it: holds
  });

  it('takes every shard as changed when the writer laps the log while it is being read', () => {
    const { epoch, change, section, lapWhileReading } = stubbed();
    const e0 = section();
    change(7);
    lapWhileReading(() => {
      for (let k = 0; k < CHANGE_LOG; k++) change(8); // entry of the change to 7 gone: it may have read 8
    });
    section();
    expect(epoch.shardHolds(9, e0)).toBe(false);
  });
});
