/**
 * Benchmark mode of a queue (dataplane-bench): the queue makes its own traffic, as a NIC
 * queue receives it, cycling through `count` packets of `size` bytes in `templates`, through
 * the same output path; results are counted, not kept. Waits for the control thread's go.
 *
 * Shared memory: as QueuePath; reads the templates (written once before the go); with
 * `sentTops`, compare-exchanges each SA's word there (by SA number; every queue does).
 */
import { type QueuePath } from './queue-path.js';
import * as L from './queue-layout.js';

/** The benchmark's traffic for one queue. */
export interface GenerateTask {
  templates: SharedArrayBuffer;
  count: number;
  size: number;
  /**
   * After each batch, record how far each packet's sequence number is behind the highest its
   * SA has sent on any queue (as a gateway sending the batch would put them on the wire):
   * per SA number, the low 32 bits of the SA's serial (a reused number starts afresh) and of
   * its highest sent sequence number, in one u64 word shared by the queues (measurement only:
   * kept out of the SAs' runtime blocks, which every SA would pay for). Costs a shared
   * compare-exchange per packet.
   */
  sentTops?: SharedArrayBuffer;
}

/** Serve the benchmark's traffic until told to stop. */
export function generate(q: QueuePath, g: GenerateTask, batch: number): { packets: number } {
  const { control, counters, c, engine, seals } = q;
  q.reader.offline();
  while (Atomics.load(control, L.CTRL_GO) === 0 && !q.stopping) Atomics.wait(control, L.CTRL_GO, 0, 1000);
  q.reader.online();
  const templates = new Uint8Array(g.templates);
  // One output slot per packet of a batch, as a transmit ring has: deferred seals need their own bytes.
  const slotBytes = g.size + 512;
  const area = new Uint8Array(batch * slotBytes);
  if (seals !== undefined) {
    seals.bind(area, templates);
    seals.onFailed = () => q.uncountTransmitted();
  }
  const sentSeq = new Int32Array(batch);
  const sentSlot = new Int32Array(batch);
  const tops = g.sentTops === undefined ? undefined : new BigUint64Array(g.sentTops);
  let next = 0;
  while (!q.stopping) {
    const started = performance.now();
    let sent = 0;
    for (let k = 0; k < batch; k++) {
      const r = q.output(templates, next * g.size, g.size, area, k * slotBytes);
      next = next + 1 === g.count ? 0 : next + 1;
      q.count(r, g.size);
      if (tops !== undefined && r >= 0 && engine.usedCount > 0) {
        sentSeq[sent] = engine.firstSeqLo | 0;
        sentSlot[sent++] = engine.used[0];
      }
    }
    seals?.flush();
    for (let k = 0; k < sent; k++) recordOrder(tops as BigUint64Array, sentSlot[k], sentSeq[k]); // the batch leaves now, in order
    q.reader.quiescent();
    q.publishCounters(batch, (performance.now() - started) * 1e6);
  }
  return q.finish();

  /** A packet of the SA in `slot` (still in this batch's section) left with sequence number `seq`: how far behind the SA's highest? */
  function recordOrder(tops: BigUint64Array, slot: number, seq: number): void {
    const n = q.sad.saNumber(slot);
    const tag = BigInt.asUintN(32, q.sad.serialOf(slot)) << 32n;
    const mine = tag | BigInt(seq >>> 0);
    let word = Atomics.load(tops, n);
    let top = Number(word & 0xffffffffn) | 0;
    while ((word & ~0xffffffffn) !== tag || ((seq - top) | 0) > 0) {
      const seen = Atomics.compareExchange(tops, n, word, mine);
      if (seen === word) return void counters[c + L.C_ORDER]++; // the SA's new highest: in order
      word = seen;
      top = Number(word & 0xffffffffn) | 0;
    }
    const behind = (top - seq) | 0;
    counters[c + L.C_ORDER + L.orderBucket(behind)]++;
    if (behind > counters[c + L.C_ORDER_MAX]) counters[c + L.C_ORDER_MAX] = behind;
  }
}
