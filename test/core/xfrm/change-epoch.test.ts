// A reader's ChangeEpoch: it must move, at the reader's next section, after every change that
// can stale a cached bundle or SA context (else a queue keeps using what it cached: a deleted
// SA, a shadowed one, a policy that no longer applies), and only then.
import { describe, expect, it } from 'vitest';
import {
  ChangeEpoch,
  DIR_NUMBER,
  EpochReader,
  SaContextCache,
  Xfrm,
  aeadBackend,
  applyXfrmLine,
  newBundleScratch,
  packFlow,
  resolveInto,
} from '@xfrm/core';
import { FlowCache } from '@xfrm/workers';
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

  it('a flow cache entry is checked once per epoch: skipped within it, checked (and found stale) in the next', () => {
    const { x, reader, changes: c } = setup();
    applyXfrmLine(x, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TUNNEL}`);
    applyXfrmLine(x, state(0x10));
    const flow = packFlow({ family: 4, src: addr('10.1.0.1'), dst: addr('10.2.0.1'), proto: 17, sport: 1, dport: 2 });
    const cache = new FlowCache(16);
    const s = newBundleScratch();
    let e = c.current();
    const i = cache.install(OUT, flow, resolveInto(x.spd, x.sad, OUT, flow, 0, s), s, e);
    reader.quiescent();
    e = c.current();
    expect(cache.lookup(x.spd, x.sad, OUT, flow, e)).toBe(i);
    applyXfrmLine(x, 'ip xfrm state delete dst 198.51.100.1 proto esp spi 0x10');
    // The rest of this section still sees what it saw when it began (no shared read at all).
    expect(cache.lookup(x.spd, x.sad, OUT, flow, c.current())).toBe(i);
    reader.quiescent(); // the record may be freed once every reader is past here
    expect(cache.lookup(x.spd, x.sad, OUT, flow, c.current())).toBe(-1);
    expect(cache.lookup(x.spd, x.sad, OUT, flow)).toBe(-1); // and with no epoch, every lookup checks
  });

  it('an SA context is checked once per epoch, and a dead state has none in the next', () => {
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
