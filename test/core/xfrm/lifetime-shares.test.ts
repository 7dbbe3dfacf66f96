// Lifetime shares (sa-runtime.ts): queue q below the SAD's share count counts the packets of
// SAs without count limits in a share only it writes; everything else counts in the shared
// count. Checked against a plain reference (what each engine sent), word by word.
import { describe, expect, it } from 'vitest';
import {
  EspEngine,
  NOTICE_FIRST_USE,
  RT_BITMAP,
  RT_BYTES,
  RT_PACKETS,
  SHARE_WORDS,
  SH_BYTES,
  SH_PACKETS,
  Xfrm,
  aeadBackend,
  applyXfrmLine,
  bitmapWords,
  chargeShare,
  runtimeWords,
  sharesAt,
  S_RUNTIME,
  type State,
} from '@xfrm/core';
import { udpPacket } from '../esp/helpers.js';

const KEY = '0x' + '66'.repeat(16) + '03030303';
const SA = (extra = '') =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x300 reqid 8 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 replay-window 32 ${extra}`;
const OUT = 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 8 mode tunnel';
const PACKET = udpPacket('10.1.0.1', '10.2.0.1', 20); // 48 bytes

function setup(shares: number, extra = ''): { x: Xfrm; state: State; engine: (queue: number) => EspEngine } {
  const x = Xfrm.create({ heap: { maxBytes: 1 << 24 }, lifetimeShares: shares });
  applyXfrmLine(x, OUT);
  applyXfrmLine(x, SA(extra));
  const state = x.sad.list()[0];
  return { x, state, engine: (queue) => new EspEngine(x.spd, x.sad, { backend: aeadBackend('node'), queue }) };
}

/** Send `n` packets through `e`; returns the first-use notices it raised. */
function send(e: EspEngine, n: number): number {
  const out = new Uint8Array(2048);
  for (let k = 0; k < n; k++) expect(e.output(PACKET, 0, PACKET.length, out, 0)).toBeGreaterThan(0);
  let firsts = 0;
  e.takeNotices((_, bits) => (firsts += bits & NOTICE_FIRST_USE));
  return firsts;
}

/** The shared count and each share of the state's runtime block, read word by word. */
function counts(x: Xfrm, state: State): { shared: bigint[]; shares: bigint[][] } {
  const i32 = x.heap.i32;
  const rt = i32[x.sad.field(x.sad.slotOf(state), S_RUNTIME)];
  const u64 = x.heap.u64;
  const first = rt + sharesAt(state.replayWindow);
  return {
    shared: [u64[(rt + RT_BYTES) >> 1], u64[(rt + RT_PACKETS) >> 1]],
    shares: Array.from({ length: x.sad.lifetimeShares }, (_, k) => [u64[(first + k * SHARE_WORDS + SH_BYTES) >> 1], u64[(first + k * SHARE_WORDS + SH_PACKETS) >> 1]]),
  };
}

describe('lifetime shares', () => {
  it('a runtime block puts its shares after the bitmap, 8-byte aligned, 4 words each', () => {
    for (const window of [0, 1, 32, 33, 64, 128, 1024]) {
      const at = sharesAt(window);
      expect(at % 2).toBe(0);
      expect(at).toBeGreaterThanOrEqual(RT_BITMAP + bitmapWords(window));
      expect(at).toBeLessThanOrEqual(RT_BITMAP + bitmapWords(window) + 1);
      for (const shares of [0, 1, 2, 3]) expect(runtimeWords(window, shares)).toBe(at + 4 * shares);
    }
  });

  it('queues below the share count count in their own share, a queue past it and a thread without a queue in the shared count', () => {
    const { x, state, engine } = setup(2);
    const sent = [3, 5, 7, 11]; // queue 0, queue 1, queue 2 (no share of its own), no queue
    [0, 1, 2, -1].forEach((q, k) => send(engine(q), sent[k]));
    const c = counts(x, state);
    expect(c.shares).toEqual([
      [3n * 48n, 3n],
      [5n * 48n, 5n],
    ]);
    expect(c.shared).toEqual([18n * 48n, 18n]);
    expect(x.usage(state)).toMatchObject({ bytes: 26n * 48n, packets: 26n });
  });

  it('the first use is reported once, whichever share or count saw it', () => {
    const { engine } = setup(2, 'limit time-use-soft 1000');
    expect(send(engine(1), 2)).toBe(NOTICE_FIRST_USE);
    expect(send(engine(0), 2)).toBe(0);
    expect(send(engine(5), 2)).toBe(0);
    expect(send(engine(1), 2)).toBe(0);
  });

  it('an SA with count limits counts in the shared count, and its limit includes what its shares counted before an update', () => {
    const { x, state, engine } = setup(2);
    const q0 = engine(0);
    send(q0, 6); // no limits yet: queue 0's share
    applyXfrmLine(x, SA('limit packet-hard 10').replace('state add', 'state update'));
    const out = new Uint8Array(2048);
    const results = Array.from({ length: 8 }, () => q0.output(PACKET, 0, PACKET.length, out, 0));
    expect(results.filter((r) => r > 0)).toHaveLength(4); // 6 + 4 = 10
    const c = counts(x, state);
    expect(c.shares[0]).toEqual([6n * 48n, 6n]);
    expect(c.shared[1]).toBe(4n);
    expect(x.usage(state)).toMatchObject({ packets: 10n });
  });

  it('a share is 64 bits wide: packets carry past 2^32 and bytes past 2^53 exactly', () => {
    const u64 = new BigUint64Array(new SharedArrayBuffer(64));
    const i32 = new Int32Array(u64.buffer);
    const rt = 0;
    const share = 8;
    u64[(share + SH_PACKETS) >> 1] = 2n ** 32n - 1n;
    u64[(share + SH_BYTES) >> 1] = 2n ** 53n - 1n;
    expect(chargeShare(u64, i32, rt, share, 1500)).toBe(0); // not fresh: no first use
    expect(u64[(share + SH_PACKETS) >> 1]).toBe(2n ** 32n);
    expect(u64[(share + SH_BYTES) >> 1]).toBe(2n ** 53n + 1499n);
    u64[(share + SH_PACKETS) >> 1] = 0n;
    u64[(share + SH_BYTES) >> 1] = 2n ** 64n - 10n;
    expect(chargeShare(u64, i32, rt, share, 4000)).toBe(NOTICE_FIRST_USE); // first on any thread; bytes wrap as u64
    expect(u64[(share + SH_BYTES) >> 1]).toBe(3990n);
    expect(chargeShare(u64, i32, rt, share, 64)).toBe(0);
  });
});
