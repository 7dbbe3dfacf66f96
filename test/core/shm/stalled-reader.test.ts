// Defect 10 of the long-running review: reclamation under a reader that is alive but stuck.
// The token is u64 (as DPDK's), the defer queue is bounded, a stall is detectable, a grace
// period can be awaited with a timeout, and the writer refuses changes (leaving the tables
// as they were) rather than grow without end.
import { describe, expect, it } from 'vitest';
import { EpochDomain, EpochReader, SharedHeap, StalledReaderError, Xfrm, XfrmError, applyXfrmLine } from '@xfrm/core';

const KEY = '0x' + '11'.repeat(16) + '01020304';
const STATE = (spi: number) => `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`;

describe('a stalled reader', () => {
  it('makes synchronize() reject after its timeout, naming the reader', async () => {
    const heap = SharedHeap.create();
    const domain = EpochDomain.create(heap, 4);
    const ok = EpochReader.register(heap, domain.describe());
    const stuck = EpochReader.register(heap, domain.describe());
    ok.online();
    stuck.online(); // and never reports again
    const waiting = domain.synchronize({ timeoutMs: 100 });
    ok.quiescent();
    await expect(waiting).rejects.toThrow(StalledReaderError);
    const second = domain.synchronize({ timeoutMs: 50 });
    ok.quiescent();
    await expect(second).rejects.toMatchObject({ readers: [stuck.id] });
    const third = domain.synchronize({ timeoutMs: 1000 });
    ok.quiescent();
    stuck.quiescent(); // reports again: the grace period ends
    await third;
  });

  it('is reported by stalled() once it has not reported for the threshold while work waits', () => {
    const heap = SharedHeap.create();
    const domain = EpochDomain.create(heap, 4);
    const stuck = EpochReader.register(heap, domain.describe());
    const idle = EpochReader.register(heap, domain.describe());
    stuck.online();
    idle.online();
    expect(domain.stalled(1000, 500)).toEqual([]); // first sight
    idle.offline();
    expect(domain.stalled(1600, 500)).toEqual([]); // nothing waits for either yet
    domain.retire(() => undefined);
    expect(domain.stalled(1700, 500)).toEqual([stuck.id]); // the retirement waits for it
    stuck.quiescent();
    expect(domain.stalled(1800, 500)).toEqual([]);
  });

  it('bounds the defer queue: changes are refused with EAGAIN, tables unchanged, until it reports', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 }, maxPending: 200 });
    const stuck = EpochReader.register(x.heap, x.epochs.describe());
    stuck.online();
    let refused: unknown;
    let added = 0;
    for (let i = 0; i < 1000 && refused === undefined; i++) {
      try {
        applyXfrmLine(x, STATE(0x1000 + i));
        applyXfrmLine(x, `ip xfrm state delete src 192.0.2.1 dst 198.51.100.1 proto esp spi ${0x1000 + i}`);
        added++;
      } catch (e) {
        refused = e;
      }
    }
    expect(refused).toBeInstanceOf(XfrmError);
    expect((refused as XfrmError).code).toBe('EAGAIN');
    expect(x.epochs.pending).toBeLessThanOrEqual(200);
    expect(x.sad.size).toBe(0); // the refused add left nothing behind
    expect(added).toBeGreaterThan(10);
    stuck.quiescent();
    applyXfrmLine(x, STATE(0x9999)); // room again
    expect(x.epochs.pending).toBeLessThan(10);
  });

  it('tokens go on past 2^32 (u64), and reclamation with them', () => {
    const heap = SharedHeap.create();
    const domain = EpochDomain.create(heap, 2);
    const base = domain.describe().offset;
    Atomics.store(heap.u64, base >> 1, 2n ** 32n - 3n);
    const r = EpochReader.register(heap, domain.describe());
    r.online();
    let freed = 0;
    for (let i = 0; i < 8; i++) domain.retire(() => freed++);
    expect(freed).toBe(0);
    expect(Atomics.load(heap.u64, base >> 1)).toBeGreaterThan(2n ** 32n);
    r.quiescent();
    expect(domain.reclaim()).toBe(8);
  });
});
