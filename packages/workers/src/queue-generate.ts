/**
 * Benchmark mode of a queue (dataplane-bench): the queue makes its own traffic, as a NIC
 * queue receives it, cycling through `count` packets of `size` bytes in `templates`, through
 * the same output path; results are counted, not kept. Waits for the control thread's go.
 *
 * Shared memory: as QueuePath; reads the templates (written once before the go); with
 * `measureOrder`, compare-exchanges each SA's sent-top word.
 */
import { PASS, RT_SENT_TOP } from '@xfrm/core';
import { type QueuePath } from './queue-path.js';
import * as L from './queue-layout.js';

/** The benchmark's traffic for one queue. */
export interface GenerateTask {
  templates: SharedArrayBuffer;
  count: number;
  size: number;
  /**
   * After each batch, record how far each packet's sequence number is behind the highest its
   * SA has sent on any queue (as a gateway sending the batch would put them on the wire).
   * Costs a shared compare-exchange per packet.
   */
  measureOrder?: boolean;
}

/** Words of an SA runtime block that recordOrder reads (up to the sent-top word). */
const L_RT_END = RT_SENT_TOP + 1;

/** Serve the benchmark's traffic until told to stop. */
export function generate(q: QueuePath, g: GenerateTask, batch: number): { packets: number } {
  const { control, counters, c, engine, seals } = q;
  q.reader.offline();
  while (Atomics.load(control, L.CTRL_GO) === 0 && !q.stopping) Atomics.wait(control, L.CTRL_GO, 0, 1000);
  q.reader.online();
  const templates = new Uint8Array(g.templates);
  const views = Array.from({ length: g.count }, (_, i) => templates.subarray(i * g.size, (i + 1) * g.size));
  // One output slot per packet of a batch, as a transmit ring has: deferred seals need their own bytes.
  const slotBytes = g.size + 512;
  const area = new Uint8Array(batch * slotBytes);
  const outs = Array.from({ length: batch }, (_, k) => area.subarray(k * slotBytes, (k + 1) * slotBytes));
  if (seals !== undefined) {
    seals.bind(area, templates);
    seals.onFailed = () => q.uncountTransmitted();
  }
  const sentSeq = new Int32Array(batch);
  const sentRt = new Int32Array(batch);
  let next = 0;
  while (!q.stopping) {
    const started = performance.now();
    let sent = 0;
    for (let k = 0; k < batch; k++) {
      const r = q.output(views[next], g.size, outs[k]);
      next = next + 1 === g.count ? 0 : next + 1;
      q.count(r >= 0 ? L.C_TRANSMITTED : r === PASS ? L.C_PASSED : L.C_DROPPED, g.size);
      if (g.measureOrder && r >= 0 && engine.usedCount > 0) {
        sentSeq[sent] = engine.firstSeqLo | 0;
        sentRt[sent++] = engine.firstRuntime;
      }
    }
    seals?.flush();
    for (let k = 0; k < sent; k++) recordOrder(q, sentRt[k], sentSeq[k]); // the batch leaves now, in order
    q.reader.quiescent();
    q.publishCounters(batch, (performance.now() - started) * 1e6);
  }
  return q.finish();

  /** A packet of the SA whose runtime block is at `rt` left with sequence number `seq`: how far behind the SA's highest? */
  function recordOrder(q: QueuePath, rt: number, seq: number): void {
    const i32 = q.heap.cover(rt + L_RT_END);
    let top = Atomics.load(i32, rt + RT_SENT_TOP);
    while (((seq - top) | 0) > 0) {
      const seen = Atomics.compareExchange(i32, rt + RT_SENT_TOP, top, seq);
      if (seen === top) return void counters[c + L.C_ORDER]++; // the new highest: in order
      top = seen;
    }
    const behind = (top - seq) | 0;
    counters[c + L.C_ORDER + L.orderBucket(behind)]++;
    if (behind > counters[c + L.C_ORDER_MAX]) counters[c + L.C_ORDER_MAX] = behind;
  }
}
