// Cross-thread race tests: real worker threads look keys up while this thread inserts,
// deletes, grows and rebuilds the table without pause. Freed memory is poisoned; readers
// count every poisoned read, wrong record and missed key in shared memory (race/).
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { EpochDomain, HashTable, RecordArena, SharedHeap, type Reclaimer } from '@xfrm/core';
import { CTL, RECORD_WORDS, fillKey, fillRecord } from './race/race-layout.mjs';

interface RaceOptions {
  keyWords: number;
  keys: number;
  readers: number;
  durationMs: number;
  /** Negative control: free retired memory at once, without a grace period. */
  broken?: boolean;
}

interface RaceResult {
  poisonSeen: number;
  missed: number;
  wrongRecord: number;
  lookups: number;
  hits: number;
  writerOps: number;
  rebuilds: number;
  maxCapacity: number;
  minCapacity: number;
  pendingAfter: number;
}

const failures = (ctl: Int32Array) =>
  Atomics.load(ctl, CTL.POISON_SEEN) + Atomics.load(ctl, CTL.MISSED) + Atomics.load(ctl, CTL.WRONG_RECORD);

async function race(o: RaceOptions): Promise<RaceResult> {
  const heap = SharedHeap.create({ initialBytes: 1 << 16, maxBytes: 1 << 28 });
  const domain = EpochDomain.create(heap, 8);
  const reclaimer: Reclaimer = o.broken ? { retire: (free) => free() } : domain;
  const arena = RecordArena.create(heap, { recordWords: RECORD_WORDS, capacity: o.keys * 4, chunkRecords: 256 });
  const table = HashTable.create(heap, reclaimer, { keyWords: o.keyWords });
  const ctl = new Int32Array(new SharedArrayBuffer(CTL.WORDS * 4));
  const presence = new Int32Array(new SharedArrayBuffer(o.keys * 4));
  const workers = Array.from(
    { length: o.readers },
    (_, r) =>
      new Worker(new URL('./race/reader-worker.mjs', import.meta.url), {
        workerData: {
          heap: heap.describe(),
          table: table.describe(),
          arena: arena.describe(),
          epoch: domain.describe(),
          ctl: ctl.buffer,
          presence: presence.buffer,
          keys: o.keys,
          seed: 0x1234567 * (r + 1),
        },
      }),
  );
  const exited = workers.map((w) => new Promise((resolve, reject) => w.on('exit', resolve).on('error', reject)));
  while (Atomics.load(ctl, CTL.READY) < o.readers) await new Promise((r) => setTimeout(r, 5));

  const key = new Int32Array(o.keyWords);
  let rng = 0x9e3779b9;
  const rand = () => {
    rng ^= rng << 13;
    rng ^= rng >>> 17;
    rng ^= rng << 5;
    return (rng >>> 0) / 2 ** 32;
  };
  let ops = 0;
  let growing = true;
  let maxCapacity = 0;
  let minCapacity = Infinity;
  const end = Date.now() + o.durationMs;
  while (Date.now() < end && !(o.broken && failures(ctl) > 0)) {
    // Bursts of synchronous churn; between bursts, let the event loop breathe.
    for (let n = 0; n < 2000; n++, ops++) {
      const k = Math.floor(rand() * o.keys);
      fillKey(key, k, o.keyWords);
      const present = (presence[k] & 1) === 1;
      // Phases: fill to 90% then drain to 5%, so the table grows and shrinks again and again.
      const pDelete = growing ? 0.2 : 0.9;
      if (!present && rand() >= pDelete) {
        // Back-pressure, as a control plane needs it: when retired records have not been freed
        // yet (readers descheduled on a busy machine), wait a grace period before allocating.
        if (arena.live >= arena.capacity - 1) await domain.synchronize();
        const slot = arena.alloc();
        fillRecord(heap.i32, arena.payload(slot), k);
        table.insert(key, 0, slot);
        Atomics.add(presence, k, 1); // after publish
      } else if (present && rand() < pDelete) {
        Atomics.add(presence, k, 1); // before unlink
        arena.retire(table.delete(key, 0), reclaimer);
      }
      if (growing && table.size > o.keys * 0.9) growing = false;
      if (!growing && table.size < o.keys * 0.05) {
        growing = true;
        table.rebuild(); // shrink and drop tombstones
      }
      maxCapacity = Math.max(maxCapacity, table.capacity);
      minCapacity = Math.min(minCapacity, table.capacity);
    }
    domain.reclaim();
    await new Promise((r) => setImmediate(r));
  }
  Atomics.store(ctl, CTL.STOP, 1);
  await Promise.all(exited);
  domain.reclaim(); // every reader is offline now: all retired memory can go
  return {
    poisonSeen: Atomics.load(ctl, CTL.POISON_SEEN),
    missed: Atomics.load(ctl, CTL.MISSED),
    wrongRecord: Atomics.load(ctl, CTL.WRONG_RECORD),
    lookups: Atomics.load(ctl, CTL.LOOKUPS),
    hits: Atomics.load(ctl, CTL.HITS),
    writerOps: ops,
    rebuilds: table.rebuildCount,
    maxCapacity,
    minCapacity,
    pendingAfter: domain.pending,
  };
}

describe('lock-free table under churn, real reader threads', () => {
  for (const shape of [
    { name: 'IPv6 5-tuple keys (10 words)', keyWords: 10, keys: 4096 },
    { name: 'SA id keys (6 words), larger table', keyWords: 6, keys: 50_000 },
  ]) {
    it(`${shape.name}: no reader sees poison, a wrong record, or misses a present key`, async () => {
      const r = await race({ ...shape, readers: 2, durationMs: 5500 });
      expect({ poison: r.poisonSeen, missed: r.missed, wrong: r.wrongRecord }).toEqual({ poison: 0, missed: 0, wrong: 0 });
      // The run exercised what it claims to: lookups that hit, churn, growth, shrink, rebuilds.
      expect(r.lookups).toBeGreaterThan(100_000);
      expect(r.hits).toBeGreaterThan(1000);
      expect(r.writerOps).toBeGreaterThan(100_000);
      expect(r.rebuilds).toBeGreaterThan(10);
      expect(r.maxCapacity).toBeGreaterThanOrEqual(shape.keys);
      expect(r.minCapacity).toBeLessThanOrEqual(shape.keys / 8);
      expect(r.pendingAfter).toBe(0);
    });
  }

  it('negative control: freeing without a grace period is caught', async () => {
    // Same test, broken reclaim. It stops at the first failure, so it is quick when it works.
    const r = await race({ keyWords: 10, keys: 4096, readers: 2, durationMs: 20_000, broken: true });
    expect(r.poisonSeen + r.missed + r.wrongRecord).toBeGreaterThan(0);
  });
});
