/**
 * The `tables` scenario of dataplane-bench: Jamal's test at the table level. Reader threads
 * (one per queue) look up flows in the shared hash table in a tight loop while the control
 * thread adds and deletes entries at the asked rate. Until the packet path exists, this is
 * what the bench measures.
 *
 * Shared memory: the table lives in a SharedHeap written only by this (control) thread;
 * readers attach read-only views. `control` words: [stop, ready[queue]...]; stop is written
 * here, ready by each reader (Atomics). `counts` has one 64-byte line per reader, written
 * only by that reader with plain float64 stores and read here only after the reader has
 * exited (thread exit orders them), so no count can be torn.
 */
import { Worker } from 'node:worker_threads';
import { EpochDomain, HashTable, RecordArena, SharedHeap } from '@xfrm/core';

/** Parameters of a tables run. */
export interface TableScenarioParams {
  queues: number;
  entries: number;
  churn: number;
  duration: number;
  seed: number;
}

/** What a tables run measured. */
export interface TableScenarioResult {
  scenario: 'tables';
  params: TableScenarioParams;
  lookupsPerSecond: number;
  perQueue: { queue: number; lookupsPerSecond: number }[];
  nsPerLookup: number;
  hitRate: number;
  control: { requestedOpsPerSecond: number; achievedOpsPerSecond: number };
  memory: { heapBytes: number; bytesPerEntry: number };
}

/** Key words of the flows: an IPv4 5-tuple. */
export const KEY_WORDS = 4;
const LINE = 8; // float64 counts per reader line: [lookups, hits]

/** Write flow `i` of the run's key space into key[off..]. Readers and writer agree on it. */
export function flowKey(key: Int32Array, off: number, i: number, seed: number): void {
  key[off] = 0x0a000000 | (Math.imul(i, 0x9e3779b1) >>> 8); // src 10.x.y.z
  key[off + 1] = 0xc0a80000 | (i & 0xffff); // dst 192.168.x.y
  key[off + 2] = (i >>> 16) ^ seed; // ports
  key[off + 3] = 17;
}

/** Run the scenario; `onTick` is called about every 200 ms with the fraction done. */
export async function runTableScenario(
  p: TableScenarioParams,
  onTick: (fraction: number) => void = () => {},
): Promise<TableScenarioResult> {
  const heap = SharedHeap.create({ maxBytes: 2 ** 32 });
  const domain = EpochDomain.create(heap, p.queues);
  const keySpace = p.entries * 2; // half present at any time, so lookups hit and miss
  const arena = RecordArena.create(heap, { recordWords: 2, capacity: keySpace * 2 });
  const table = HashTable.create(heap, domain, { keyWords: KEY_WORDS, capacity: p.entries });
  const key = new Int32Array(KEY_WORDS);
  const present = new Uint8Array(keySpace);
  for (let i = 0; i < p.entries; i++) {
    const k = i * 2;
    flowKey(key, 0, k, p.seed);
    table.insert(key, 0, arena.alloc());
    present[k] = 1;
  }
  const control = new Int32Array(new SharedArrayBuffer(4 * (p.queues + 1)));
  const counts = new Float64Array(new SharedArrayBuffer(8 * LINE * p.queues));
  const workers = Array.from(
    { length: p.queues },
    (_, q) =>
      new Worker(new URL('./table-reader.js', import.meta.url), {
        workerData: {
          heap: heap.describe(),
          table: table.describe(),
          epoch: domain.describe(),
          control: control.buffer,
          counts: counts.buffer,
          line: LINE * q,
          keySpace,
          seed: p.seed,
          queue: q,
        },
      }),
  );
  const exited = workers.map((w) => new Promise((resolve, reject) => w.on('exit', resolve).on('error', reject)));
  while (workers.some((_, q) => Atomics.load(control, q + 1) === 0)) {
    await new Promise((r) => setTimeout(r, 1));
  }

  const start = performance.now();
  const end = start + p.duration * 1000;
  let ops = 0;
  let rng = p.seed | 1;
  let lastTick = start;
  for (let now = start; now < end; now = performance.now()) {
    // Churn: delete a present flow and add an absent one, paced to the asked rate.
    const due = p.churn > 0 ? Math.floor(((now - start) / 1000) * p.churn) : 0;
    while (ops < due) {
      rng ^= rng << 13;
      rng ^= rng >>> 17;
      rng ^= rng << 5;
      const k = (rng >>> 0) % keySpace;
      flowKey(key, 0, k, p.seed);
      if (present[k]) {
        arena.retire(table.delete(key, 0), domain);
        present[k] = 0;
      } else {
        table.insert(key, 0, arena.alloc());
        present[k] = 1;
      }
      ops++;
    }
    domain.reclaim();
    if (now - lastTick > 200) {
      onTick((now - start) / (p.duration * 1000));
      lastTick = now;
    }
    await new Promise((r) => setTimeout(r, 1));
  }
  const seconds = (performance.now() - start) / 1000;
  Atomics.store(control, 0, 1); // stop
  await Promise.all(exited);

  const perQueue = workers.map((_, q) => ({
    queue: q,
    lookups: counts[LINE * q],
    hits: counts[LINE * q + 1],
  }));
  const lookups = perQueue.reduce((a, q) => a + q.lookups, 0);
  const hits = perQueue.reduce((a, q) => a + q.hits, 0);
  return {
    scenario: 'tables',
    params: p,
    lookupsPerSecond: lookups / seconds,
    perQueue: perQueue.map((q) => ({ queue: q.queue, lookupsPerSecond: q.lookups / seconds })),
    nsPerLookup: lookups > 0 ? (seconds * 1e9 * p.queues) / lookups : 0,
    hitRate: lookups > 0 ? hits / lookups : 0,
    control: { requestedOpsPerSecond: p.churn, achievedOpsPerSecond: ops / seconds },
    memory: { heapBytes: heap.bytesInUse, bytesPerEntry: (table.bytes + arena.bytes) / Math.max(1, table.size) },
  };
}
