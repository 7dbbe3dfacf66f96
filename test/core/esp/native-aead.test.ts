// The native backend (OpenSSL through the addon) against the two others as independent
// truths: a three-way cross-check on random packets, sizes, SAs and ESN; tampering; deferred
// (batched) seals, including an SA whose context dies while its packets are queued; and the
// addon's own guards (a job under a freed context wipes its bytes and fails; bad arguments
// are refused, never a crash).
import { describe, expect, it } from 'vitest';
import { EspEngine, aeadBackend, nativeLiveContexts, parseAddress, type AeadBackendName } from '@xfrm/core';
import { loadNative, JOB_OK } from '@xfrm/native';
import { hexOf, pair, udpPacket, type Pair } from './helpers.js';

const ALGS = [
  { alg: "'rfc4106(gcm(aes))'", key: 16, icvs: [64, 96, 128] },
  { alg: "'rfc4106(gcm(aes))'", key: 24, icvs: [128] },
  { alg: "'rfc4106(gcm(aes))'", key: 32, icvs: [64, 128] },
  { alg: "'rfc7539esp(chacha20,poly1305)'", key: 32, icvs: [128] },
];

/** A small seeded generator (xorshift32): failures replay. Fractions in [0, 1) with 24 bits; `u32` for whole 32-bit values. */
function rng(seed: number): (() => number) & { u32: () => number } {
  let s = seed >>> 0 || 1;
  const u32 = () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
  return Object.assign(() => (u32() >>> 8) / (1 << 24), { u32 });
}

function randomSa(r: ReturnType<typeof rng>) {
  const a = ALGS[Math.floor(r() * ALGS.length)];
  const icv = a.icvs[Math.floor(r() * a.icvs.length)];
  const key = '0x' + Array.from({ length: a.key + 4 }, () => Math.floor(r() * 256).toString(16).padStart(2, '0')).join('');
  const esn = r() < 0.5;
  const hi = esn ? r.u32() : 0;
  const lo = Math.floor(r() * 2 ** 31);
  const v6 = r() < 0.5;
  const [src, dst, is, id] = v6 ? ['2001:db8::1', '2001:db8::2', '2001:db8:1::5', '2001:db8:2::4'] : ['192.0.2.1', '198.51.100.1', '10.1.0.5', '10.2.3.4'];
  const encap = !v6 && r() < 0.5 ? 'encap espinudp 4500 4500 0.0.0.0' : '';
  const spi = 0x1000 + Math.floor(r() * 0xffff);
  const seq = esn ? `flag esn replay-oseq-hi ${hi} replay-oseq ${lo}` : `replay-oseq ${lo}`;
  const state = (oseq: string) =>
    `ip xfrm state add src ${src} dst ${dst} proto esp spi ${spi} reqid 7 mode tunnel aead ${a.alg} ${key} ${icv} replay-window 64 ${oseq} ${encap}`;
  const tmpl = `tmpl src ${src} dst ${dst} proto esp reqid 7 mode tunnel`;
  const out = [state(seq), `ip xfrm policy add src ${is} dst ${id} dir out ${tmpl}`];
  // The receiver's window starts where the sender's numbers start (ESN: the high half must be inferred).
  const inn = [state(esn ? `flag esn replay-seq-hi ${hi} replay-seq ${lo}` : `replay-seq ${lo}`), `ip xfrm policy add src ${is} dst ${id} dir in ${tmpl}`];
  return { out, in: inn, is, id, desc: `${a.alg} ${a.key * 8} icv ${icv} ${esn ? 'esn' : ''} ${v6 ? 'v6' : 'v4'} ${encap ? 'natt' : ''}` };
}

describe('native backend', () => {
  it('three-way cross-check: native = node = noble, byte for byte, on 60 random SAs and 600 random packets; each opens the others', () => {
    const r = rng(0x5eed);
    for (let s = 0; s < 60; s++) {
      const sa = randomSa(r);
      const pairs = Object.fromEntries((['native', 'node', 'noble'] as AeadBackendName[]).map((b) => [b, pair(sa.out, sa.in, aeadBackend(b))])) as Record<AeadBackendName, Pair>;
      for (let k = 0; k < 10; k++) {
        const packet = udpPacket(sa.is, sa.id, Math.floor(r() * 1400));
        const wire = (['native', 'node', 'noble'] as const).map((b) => {
          const out = new Uint8Array(2048);
          const n = pairs[b].out.output(packet, 0, packet.length, out, 0);
          expect(n, `${sa.desc}: ${b} dropped ${pairs[b].out.lastDrop}`).toBeGreaterThan(0);
          return out.subarray(0, n);
        });
        expect(hexOf(wire[0]), sa.desc).toBe(hexOf(wire[1]));
        expect(hexOf(wire[2]), sa.desc).toBe(hexOf(wire[1]));
        // Each receiver opens the packet its neighbour's sender made (replay windows differ per receiver).
        (['native', 'node', 'noble'] as const).forEach((b, i) => {
          const back = new Uint8Array(2048);
          const m = pairs[b].in.input(wire[(i + 1) % 3], 0, wire[0].length, back, 0);
          expect(m, `${sa.desc}: ${b} input dropped ${pairs[b].in.lastDrop}`).toBe(packet.length);
          expect(hexOf(back.subarray(0, m))).toBe(hexOf(packet));
        });
      }
    }
  });

  it('a flipped bit anywhere in the ESP packet is refused, and the plaintext never reaches the output buffer', () => {
    const r = rng(77);
    for (let s = 0; s < 10; s++) {
      const sa = randomSa(r);
      const p = pair(sa.out, sa.in, aeadBackend('native'));
      const packet = udpPacket(sa.is, sa.id, 200);
      const wire = new Uint8Array(2048);
      const n = p.out.output(packet, 0, packet.length, wire, 0);
      const esp = sa.desc.includes('v6') ? 40 : sa.desc.includes('natt') ? 28 : 20;
      for (let k = 0; k < 20; k++) {
        const bad = wire.slice(0, n);
        const at = esp + 8 + Math.floor(r() * (n - esp - 8)); // past SPI and sequence number
        bad[at] ^= 1 << Math.floor(r() * 8);
        const back = new Uint8Array(2048);
        expect(p.in.input(bad, 0, n, back, 0)).toBeLessThan(0);
        expect(p.in.drops[p.in.lastDrop]).toBeGreaterThan(0);
        // What reached the output buffer is at most the (public) ciphertext: no inner header.
        expect(hexOf(back).includes(hexOf(packet.subarray(0, 20)))).toBe(false);
      }
    }
  });
});

describe('native job filling', () => {
  it('a nonce and AAD at any alignment (by bytes) seal as word-aligned ones do (by words), switching back and forth', () => {
    const ctx = aeadBackend('native').context('aes-gcm', new Uint8Array(16).fill(5));
    const ref = aeadBackend('node').context('aes-gcm', new Uint8Array(16).fill(5));
    const store = new Uint8Array(64);
    for (let round = 0; round < 4; round++) {
      const at = round % 2 === 0 ? 0 : 1 + round; // aligned, then not
      const nonce = store.subarray(at, at + 12).fill(round + 1);
      const aad = store.subarray(at + 20, at + 28).fill(round + 9);
      const [a, b] = [new Uint8Array(64 + 16).fill(7), new Uint8Array(64 + 16).fill(7)];
      ctx.seal(nonce, aad, a, 0, 64, 16);
      ref.seal(nonce.slice(), aad.slice(), b, 0, 64, 16);
      expect(hexOf(a)).toBe(hexOf(b));
    }
    ctx.destroy();
  });
});

describe('native seal batches', () => {
  const KEY = '0x' + '3c'.repeat(16) + '01020304';
  const lines = (dir: string) => [
    `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x2001 reqid 9 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 replay-window 128`,
    `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir ${dir} tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 9 mode tunnel`,
  ];

  /** A sender/receiver pair on native, and a noble sender with the same SA (the expected bytes). */
  function pairs() {
    return { p: pair(lines('out'), lines('in'), aeadBackend('native')), q: pair(lines('out'), [], aeadBackend('noble')) };
  }

  it('queued seals run at flush, in one call, and give the bytes an unbatched engine gives', () => {
    const slot = 2048;
    const area = new Uint8Array(new SharedArrayBuffer(32 * slot));
    const source = new Uint8Array(new SharedArrayBuffer(32 * slot));
    const { p, q } = pairs();
    const engine = new EspEngine(p.a.spd, p.a.sad, { backend: aeadBackend('native'), batchSeals: true });
    const batch = engine.sealBatch!;
    expect(batch).toBeDefined();
    batch.bind(area, source);
    const lens: number[] = [];
    for (let k = 0; k < 32; k++) {
      const packet = udpPacket(`10.1.0.${k}`, '10.2.0.1', 100 + k * 37);
      source.set(packet, k * slot);
      batch.tag = k;
      lens.push(engine.output(source.subarray(k * slot, (k + 1) * slot), 0, packet.length, area.subarray(k * slot, (k + 1) * slot), 0));
      expect(lens[k]).toBeGreaterThan(0);
    }
    expect(batch.pending).toBe(32);
    // Before the flush no payload byte was written (the copy is the job's): the region is still zero.
    expect(area.subarray(36, 36 + 100).every((b) => b === 0)).toBe(true);
    expect(batch.flush()).toBe(0);
    expect(batch.pending).toBe(0);
    for (let k = 0; k < 32; k++) {
      const packet = udpPacket(`10.1.0.${k}`, '10.2.0.1', 100 + k * 37);
      const want = new Uint8Array(slot);
      const n = q.out.output(packet, 0, packet.length, want, 0);
      expect(n).toBe(lens[k]);
      expect(hexOf(area.subarray(k * slot, k * slot + n))).toBe(hexOf(want.subarray(0, n)));
      const back = new Uint8Array(slot);
      expect(p.in.input(area.subarray(k * slot, k * slot + n), 0, n, back, 0)).toBe(packet.length);
      expect(hexOf(back.subarray(0, packet.length))).toBe(hexOf(packet));
    }
    engine.contexts.clear();
  });

  it('an SA whose context dies with seals queued: they run first, under the live key, and the context is freed (no job under a wiped key)', () => {
    const slot = 2048;
    const area = new Uint8Array(new SharedArrayBuffer(8 * slot));
    const source = new Uint8Array(new SharedArrayBuffer(8 * slot));
    const { p } = pairs();
    const engine = new EspEngine(p.a.spd, p.a.sad, { backend: aeadBackend('native'), batchSeals: true });
    const batch = engine.sealBatch!;
    batch.bind(area, source);
    const failed: number[] = [];
    batch.onFailed = (t) => failed.push(t);
    const live = nativeLiveContexts();
    const packet = udpPacket('10.1.0.9', '10.2.0.9', 300);
    const lens: number[] = [];
    for (let k = 0; k < 4; k++) {
      source.set(packet, k * slot);
      lens.push(engine.output(source.subarray(k * slot), 0, packet.length, area.subarray(k * slot), 0));
    }
    expect(nativeLiveContexts()).toBe(live + 1);
    expect(batch.pending).toBe(4);
    // The SA is deleted; the queue's sweep wipes its context while its packets wait.
    p.a.deleteState(parseAddress('198.51.100.1'), 0x2001);
    expect(engine.contexts.sweep()).toBe(1);
    expect(batch.pending).toBe(0);
    expect(nativeLiveContexts()).toBe(live);
    expect(batch.flush()).toBe(0);
    expect(failed).toEqual([]);
    for (let k = 0; k < 4; k++) {
      const back = new Uint8Array(slot);
      expect(p.in.input(area.subarray(k * slot, k * slot + lens[k]), 0, lens[k], back, 0)).toBe(packet.length);
    }
  });
});

describe('native seal failures', () => {
  it('a queued seal that fails (its context freed behind the batch) is wiped and reported by its tag', () => {
    const KEY = '0x' + '6b'.repeat(16) + '01020304';
    const lines = [
      `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x3001 reqid 4 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`,
      'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 4 mode tunnel',
    ];
    const p = pair(lines, []);
    const engine = new EspEngine(p.a.spd, p.a.sad, { backend: aeadBackend('native'), batchSeals: true });
    const batch = engine.sealBatch!;
    const slot = 2048;
    const area = new Uint8Array(new SharedArrayBuffer(4 * slot));
    const source = new Uint8Array(new SharedArrayBuffer(4 * slot));
    batch.bind(area, source);
    const failed: number[] = [];
    batch.onFailed = (tag) => failed.push(tag);
    const packet = udpPacket('10.1.0.1', '10.2.0.1', 200);
    for (let k = 0; k < 3; k++) {
      source.set(packet, k * slot);
      batch.tag = 10 + k;
      expect(engine.output(source.subarray(k * slot), 0, packet.length, area.subarray(k * slot), 0)).toBeGreaterThan(0);
    }
    // Free the SA's native context without the flush NativeAead.destroy would do first.
    const ctx = engine.contexts.get(engine.used[0]).aead as unknown as { index: number; generation: number }; // the SA the packets used
    expect(loadNative()!.destroy(ctx.index, ctx.generation)).toBe(true);
    expect(batch.flush()).toBe(3);
    expect(failed).toEqual([10, 11, 12]);
    // Payloads wiped (zeros where the ciphertext or plaintext would be), headers as written.
    for (let k = 0; k < 3; k++) expect(area.subarray(k * slot + 36, k * slot + 36 + 200).every((b) => b === 0)).toBe(true);
  });
});

describe('native addon guards', () => {
  const addon = loadNative()!;

  it('a job under a freed context fails and wipes its bytes: no plaintext is left to be sent', () => {
    const [index, gen] = addon.create(0, new Uint8Array(16).fill(7));
    expect(addon.destroy(index, gen)).toBe(true);
    expect(addon.destroy(index, gen)).toBe(false); // stale handle
    const jobs = new Int32Array(addon.JOB_WORDS * 2);
    addon.bindJobs(jobs);
    const buf = new Uint8Array(256).fill(0xaa);
    jobs.set([index, gen, 1, 0, 16, 100, 16, 8]);
    expect(addon.run1(buf)).not.toBe(JOB_OK);
    expect(buf.subarray(16, 132).every((b) => b === 0)).toBe(true);
    expect(buf[15]).toBe(0xaa);
    expect(buf[132]).toBe(0xaa);
  });

  it('out-of-range jobs and bad arguments are refused without touching memory', () => {
    const [index, gen] = addon.create(1, new Uint8Array(32).fill(1));
    const jobs = new Int32Array(addon.JOB_WORDS * 2);
    addon.bindJobs(jobs);
    const buf = new Uint8Array(64).fill(0x55);
    for (const [off, len, icv] of [[0, 60, 16], [-1, 10, 16], [0, 10, 17], [0, 10, 8], [0, 70000, 16]]) {
      jobs.set([index, gen, 1, 0, off, len, icv, 8]);
      expect(addon.run1(buf), `${off} ${len} ${icv}`).toBeLessThan(0);
    }
    expect(buf.every((b) => b === 0x55 || b === 0)).toBe(true);
    jobs.set([index, gen, 1, 0, 0, 16, 16, 8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1000, 0, 16]); // copy from beyond the source
    expect(addon.run1(buf, new Uint8Array(32))).toBeLessThan(0);
    expect(() => addon.bindBuffer(16, buf)).toThrow(/id below 16/);
    expect(() => addon.run(0, 3)).toThrow(/inside the bound job area/);
    expect(() => addon.create(0, new Uint8Array(15))).toThrow(/cipher and key length/);
    expect(() => addon.create(1, new Uint8Array(16))).toThrow(/cipher and key length/);
    addon.destroy(index, gen);
  });
});
