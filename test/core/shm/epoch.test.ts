import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { EpochDomain, EpochReader, SharedHeap } from '@xfrm/core';

const tick = () => new Promise((r) => setTimeout(r, 5));

function setup(maxReaders = 8) {
  const heap = SharedHeap.create();
  return { heap, domain: EpochDomain.create(heap, maxReaders) };
}

describe('EpochDomain (QSBR)', () => {
  it('frees a retired thing only after every online reader reported', () => {
    const { heap, domain } = setup();
    const a = EpochReader.register(heap, domain.describe());
    const b = EpochReader.register(heap, domain.describe());
    a.online();
    b.online();
    let freed = 0;
    domain.retire(() => freed++);
    expect(freed).toBe(0);
    a.quiescent();
    expect(domain.reclaim()).toBe(0);
    b.quiescent();
    expect(domain.reclaim()).toBe(1);
    expect(freed).toBe(1);
  });

  it('an offline reader never delays reclamation', () => {
    const { heap, domain } = setup();
    const parked = EpochReader.register(heap, domain.describe());
    parked.online();
    parked.offline();
    let freed = 0;
    domain.retire(() => freed++);
    expect(domain.reclaim()).toBe(1); // at once when nobody is online (retire reclaims every 256)
    expect(freed).toBe(1);
    const never = EpochReader.register(heap, domain.describe()); // registered, never online
    domain.retire(() => freed++);
    domain.reclaim();
    expect(freed).toBe(2);
    never.unregister();
  });

  it('reclaims by itself every 256 retirements, closures and freers alike, in order', () => {
    const { heap, domain } = setup();
    const a = EpochReader.register(heap, domain.describe());
    a.online();
    const freed: number[] = [];
    const freer = { freeRetired: (x: number, y: number) => freed.push(x * 1000 + y) };
    for (let i = 0; i < 1000; i++) {
      if (i % 2 === 0) domain.retire(() => freed.push(i));
      else domain.retireWith(freer, i, 7);
      a.quiescent(); // the reader moves on after each retirement
    }
    expect(freed.length).toBeGreaterThan(1000 - 256); // the defer queue does not pile up
    expect(domain.pending).toBeLessThan(256);
    domain.reclaim();
    expect(freed).toEqual(Array.from({ length: 1000 }, (_, i) => (i % 2 === 0 ? i : i * 1000 + 7)));
  });

  it('a quiescent report from before the retire does not count', () => {
    const { heap, domain } = setup();
    const a = EpochReader.register(heap, domain.describe());
    a.online();
    a.quiescent();
    let freed = 0;
    domain.retire(() => freed++);
    expect(domain.reclaim()).toBe(0);
    a.quiescent();
    expect(domain.reclaim()).toBe(1);
  });

  it('frees in retirement order as readers pass each point', () => {
    const { heap, domain } = setup();
    const a = EpochReader.register(heap, domain.describe());
    a.online();
    const order: number[] = [];
    domain.retire(() => order.push(1));
    a.quiescent();
    domain.retire(() => order.push(2));
    expect(domain.reclaim()).toBe(1); // what is due: 1, not 2
    expect(order).toEqual([1]);
    a.quiescent();
    expect(domain.reclaim()).toBe(1);
    expect(order).toEqual([1, 2]);
    expect(domain.pending).toBe(0);
  });

  it('synchronize() resolves only after every online reader has reported', async () => {
    const { heap, domain } = setup();
    const readers = [0, 1, 2].map(() => EpochReader.register(heap, domain.describe()));
    for (const r of readers) r.online();
    readers[2].offline();
    let done = false;
    const sync = domain.synchronize().then(() => (done = true));
    await tick();
    expect(done).toBe(false);
    readers[0].quiescent();
    await tick();
    expect(done).toBe(false);
    readers[1].quiescent();
    await sync;
    expect(done).toBe(true);
  });

  it('synchronize() waits for a real worker thread, and unregister() releases a dead one', async () => {
    const { heap, domain } = setup();
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const core = new URL('../../../packages/core/dist/index.js', import.meta.url).href;
    const src = `
      import { workerData } from 'node:worker_threads';
      import { HeapView, EpochReader } from '${core}';
      const r = EpochReader.register(HeapView.attach(workerData.heap), workerData.epoch);
      const gate = new Int32Array(workerData.gate);
      r.online();
      Atomics.store(gate, 1, r.id + 1);
      Atomics.notify(gate, 1);
      Atomics.wait(gate, 0, 0); // stays online, reports nothing, until told
      r.quiescent();
      Atomics.wait(gate, 0, 1); // hangs on (online) until terminated`;
    const w = new Worker(new URL(`data:text/javascript,${encodeURIComponent(src)}`), {
      workerData: { heap: heap.describe(), epoch: domain.describe(), gate: gate.buffer },
    });
    while (Atomics.load(gate, 1) === 0) await tick();
    let done = false;
    const sync = domain.synchronize().then(() => (done = true));
    for (let i = 0; i < 10; i++) await tick();
    expect(done).toBe(false);
    Atomics.store(gate, 0, 1);
    Atomics.notify(gate, 0);
    await sync;
    // The worker now sits online without reporting; once it is killed, the control thread
    // takes its line back and reclamation goes on.
    let freed = 0;
    domain.retire(() => freed++);
    await w.terminate();
    expect(domain.reclaim()).toBe(0);
    domain.unregister(Atomics.load(gate, 1) - 1);
    expect(domain.reclaim()).toBe(1);
    expect(freed).toBe(1);
  });

  it('refuses more readers than it has lines for', () => {
    const { heap, domain } = setup(2);
    EpochReader.register(heap, domain.describe());
    EpochReader.register(heap, domain.describe());
    expect(() => EpochReader.register(heap, domain.describe())).toThrow(/full/);
    expect(() => domain.unregister(5)).toThrow(RangeError);
  });
});
