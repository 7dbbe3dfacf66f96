/**
 * A queue worker (run by piscina, one long task per queue): attaches the shared tables,
 * registers in the epoch domain, and serves its receive ring until told to stop, the way a
 * CPU serves a NIC queue. Per batch: take packets, run them through the flow cache and ESP,
 * put the results on the transmit ring, release the receive slots, report a quiescent state.
 * An idle queue goes offline in the epoch domain and parks in Atomics.wait (no CPU).
 *
 * Shared memory: reads the SPD and SAD lock-free; writes SA runtime blocks (EspEngine), its
 * rings' producer/consumer indexes, its notice ring (the producer side), its own control
 * words and counter line (queue-layout.ts).
 * Packet bytes are read in place from the receive slot and written once into the transmit
 * slot; per-slot views are made once, so nothing is allocated per packet on a cache hit.
 */
import {
  EpochReader,
  EspEngine,
  FLOW_WORDS,
  HeapView,
  PolicyDbView,
  StateDbView,
  aeadBackend,
  newIpInfo,
  parseIp,
  newBundleScratch,
  resolveInto,
  RESOLVED_ACQUIRE,
  RESOLVED_BLOCK,
  RESOLVED_BUNDLE,
  writePacketFlow,
  DROP,
  DUMMY,
  PASS,
  MAX_TEMPLATES,
  S_REFCNT,
  RT_SENT_TOP,
  type AcquireRequest,
  type AeadBackendName,
  type XfrmDescription,
} from '@xfrm/core';
import { CACHED_BLOCK, CACHED_NONE, FlowCache } from './flow-cache.js';
import { NoticeRing } from './notice-ring.js';
import { PacketRing, SLOT_HEADER } from './packet-ring.js';
import * as L from './queue-layout.js';

/** What the control thread hands a queue worker. */
export interface QueueTask {
  queue: number;
  xfrm: XfrmDescription;
  rx: SharedArrayBuffer;
  tx: SharedArrayBuffer;
  control: SharedArrayBuffer;
  counters: SharedArrayBuffer;
  /** Lifetime notices to the control thread (notice-ring.ts). */
  notices: SharedArrayBuffer;
  /** The epoch reader line the control thread claimed for this queue. */
  reader: number;
  flowCacheSize: number;
  backend: AeadBackendName;
  batch: number;
  /** Safety-net timeout of an idle queue's sleep (ms). */
  parkTimeoutMs: number;
  /** Ablations (dataplane-bench --ablate): full lookup per packet, cipher context per packet, refcounts. */
  noFlowCache?: boolean;
  /**
   * Baseline (dataplane-bench --ablate map-classifier): a JS Map keyed by the flow as a string,
   * as a typical Node gateway would write it, instead of the flow cache. It has no
   * invalidation, so it is only a speed baseline, without churn.
   */
  mapClassifier?: boolean;
  perPacketSetup?: boolean;
  refcount?: boolean;
  /**
   * Benchmarks: the queue makes its own traffic, as a NIC queue receives it, cycling through
   * `count` packets of `size` bytes in `templates` (output direction); results are counted,
   * not kept.
   */
  generate?: { templates: SharedArrayBuffer; count: number; size: number };
  /**
   * Benchmarks: after each generated batch, record how far each packet's sequence number is
   * behind the highest its SA has sent on any queue (as a gateway sending the batch would
   * put them on the wire). Costs a shared compare-exchange per packet.
   */
  measureOrder?: boolean;
}

const OUT = 1;
/** Words of an SA runtime block that recordOrder reads (up to the sent-top word). */
const L_RT_END = RT_SENT_TOP + 1;

export default function serveQueue(t: QueueTask): { packets: number } {
  const heap = HeapView.attach(t.xfrm.heap);
  const spd = PolicyDbView.attach(heap, t.xfrm.spd);
  const sad = StateDbView.attach(heap, t.xfrm.sad);
  const engine = new EspEngine(spd, sad, { backend: aeadBackend(t.backend), perPacketSetup: t.perPacketSetup, queue: t.queue, batchSeals: true });
  // Native backend: the batch's seals run in one call, after the loop, before the batch is published.
  const seals = engine.sealBatch;
  const cache = new FlowCache(t.flowCacheSize);
  const rx = new PacketRing(t.rx);
  const tx = new PacketRing(t.tx);
  const control = new Int32Array(t.control);
  const notices = new NoticeRing(t.notices);
  const notify = (serial: bigint, bits: number) => notices.push(serial, bits);
  const line = L.CTRL_LINE * (1 + t.queue);
  const counters = new Float64Array(t.counters);
  const c = L.COUNTER_LINE * t.queue;
  const reader = EpochReader.attach(heap, t.xfrm.epochs, t.reader); // claimed by the control thread: nothing leaks if we die
  Atomics.add(control, line + L.Q_STARTS, 1);
  // One view per slot, made once: no per-packet allocation.
  const rxViews = Array.from({ length: rx.capacity }, (_, i) => rx.u8.subarray(64 + i * rx.slotBytes + SLOT_HEADER, 64 + (i + 1) * rx.slotBytes));
  const txViews = Array.from({ length: tx.capacity }, (_, i) => tx.u8.subarray(64 + i * tx.slotBytes + SLOT_HEADER, 64 + (i + 1) * tx.slotBytes));
  const flow = new Int32Array(FLOW_WORDS);
  const info = newIpInfo();
  const acquireWords = new Int32Array(L.ACQUIRE_WORDS);
  const acquireBytes = new Uint8Array(acquireWords.buffer);
  const scratch = newBundleScratch(); // resolveInto's result: the flow cache copies what it keeps
  const classifier = new Map<string, Int32Array | null>(); // the map-classifier baseline only
  let packets = 0;
  counters[c + L.C_CACHE_CAPACITY] = cache.capacity;

  let lookups = 0;

  /** A per-queue ACQUIRE the last output() raised while it sent on a fallback SA. */
  let queueAcquire: AcquireRequest | undefined;

  /** Output path with the flow cache in front: returns a result length, PASS or DROPPED. */
  const output = (data: Uint8Array, len: number, out: Uint8Array): number => {
    engine.usedCount = 0; // a cached "no policy" or "block" uses no SA: charge none
    queueAcquire = undefined;
    if (t.noFlowCache) {
      const r = engine.output(data, 0, len, out, 0); // parses and classifies itself
      lookups += 1 + engine.usedCount;
      if (r >= 0) queueAcquire = engine.acquire;
      return r;
    }
    if (!parseIp(data, 0, len, info)) return engine.drop(DROP.XfrmOutError);
    writePacketFlow(data, 0, info, flow, 0);
    if (t.mapClassifier) return mapOutput(data, len, out);
    lookups++;
    let i = cache.lookup(spd, sad, OUT, flow);
    if (i < 0) {
      const kind = resolveInto(spd, sad, OUT, flow, 0, scratch, t.queue); // reads the generations first
      lookups += 1 + scratch.count;
      if (kind === RESOLVED_ACQUIRE) {
        engine.acquire = scratch.acquire;
        return engine.drop(DROP.XfrmOutNoStates);
      }
      if (scratch.acquire !== undefined) {
        // On the fallback SA while this queue's own is asked for: not cached, so every packet
        // asks again (merged on the control thread) until the SA arrives or the ACQUIRE expires.
        queueAcquire = scratch.acquire;
        return engine.encapsulate(scratch.states, data, 0, len, out, 0, 0, scratch.count, info);
      }
      i = cache.install(OUT, flow, kind, scratch);
    }
    const kind = cache.kind(i);
    if (kind === CACHED_NONE) return PASS;
    if (kind === CACHED_BLOCK) return engine.drop(DROP.XfrmOutPolBlock);
    const s = i * MAX_TEMPLATES;
    const n = cache.count(i);
    if (t.refcount) refcount(s, n, 1);
    const r = engine.encapsulate(cache.states, data, 0, len, out, 0, s, n, info);
    if (t.refcount) refcount(s, n, -1);
    return r;
  };

  /** The refcount ablation: what readers would do if they counted references like an accountant. */
  const refcount = (s: number, n: number, by: number) => {
    for (let j = 0; j < n; j++) {
      const at = sad.field(cache.states[s + j], S_REFCNT); // covers the record: read it after
      Atomics.add(heap.i32, at, by);
    }
  };

  const publishCounters = (n: number, elapsedNs: number) => {
    engine.takeNotices(notify);
    // Now and then, wipe the cipher contexts of SAs that died (keys do not outlive their SA here).
    if ((counters[c + L.C_BATCHES] & 1023) === 1023) engine.contexts.sweep();
    packets += n;
    counters[c + L.C_PACKETS] = packets;
    counters[c + L.C_BATCHES]++;
    counters[c + L.C_CACHE_HITS] = cache.hits;
    counters[c + L.C_CACHE_MISSES] = cache.misses;
    counters[c + L.C_CACHE_USED] = cache.used;
    counters[c + L.C_LOOKUPS] = lookups;
    counters[c + L.C_HIST + L.histBucket(elapsedNs)]++;
    for (let d = 0; d < engine.drops.length; d++) counters[c + L.C_DROPS + d] = engine.drops[d];
  };

  /** A deferred seal failed (never seen; its bytes were wiped): the packet in slot k is dropped, not sent. */
  const sealFailed = (k: number) => {
    const tw = tx.pending(k) >> 2;
    if ((tx.i32[tw + 1] & 0xff) !== L.V_TRANSMITTED) return;
    tx.i32[tw] = 0;
    tx.i32[tw + 1] = L.V_DROPPED | (DROP.XfrmOutStateProtoError << 8);
    engine.drops[DROP.XfrmOutStateProtoError]++;
    counters[c + L.C_TRANSMITTED]--;
    counters[c + L.C_DROPPED]++;
  };

  let lastSweep = 0;
  if (seals !== undefined) {
    seals.bind(tx.u8, rx.u8); // rx slots are released only after the flush
    seals.onFailed = sealFailed;
  }
  reader.online();
  Atomics.store(control, line + L.Q_READY, 1);
  if (t.generate !== undefined) return generate(t.generate);
  for (;;) {
    // Doorbells first, then what they announce: a change after these reads moves a bell.
    const rxBell = rx.bell();
    const txBell = tx.bell();
    if (Atomics.load(control, L.CTRL_STOP) !== 0) break;
    if (Atomics.load(control, line + L.Q_KILL) !== 0) {
      Atomics.store(control, line + L.Q_KILL, 0);
      process.exit(1); // test hook: a worker dying mid-run
    }
    const stall = Atomics.exchange(control, line + L.Q_STALL, 0);
    if (stall > 0) Atomics.wait(control, line + L.Q_STALL, 0, stall); // test hook: stuck, online, not reporting
    const available = rx.available();
    const n = Math.min(available, tx.free(), t.batch);
    const started = performance.now();
    if (n === 0) {
      // Idle, or the transmit ring is full: sleep on the ring that must move (the timeout is
      // only a safety net; publish, release, stop and kill all ring the bell). Contexts of
      // dead SAs are wiped before a sleep (at most every 100 ms: a sweep walks every
      // context), so no key outlives its SA in a parked queue for long.
      if (started - lastSweep >= 100) {
        engine.contexts.sweep();
        lastSweep = started;
      }
      reader.offline();
      counters[c + L.C_PARKS]++;
      if (available === 0) rx.park(rxBell, t.parkTimeoutMs);
      else tx.park(txBell, t.parkTimeoutMs);
      reader.online();
      continue;
    }
    for (let k = 0; k < n; k++) {
      const ro = rx.ready(k);
      const rxi = (ro - 64) / rx.slotBytes;
      const len = rx.i32[ro >> 2];
      const dir = rx.i32[(ro >> 2) + 1];
      const id = rx.i32[(ro >> 2) + 2];
      const data = rxViews[rxi];
      const to = tx.pending(k);
      const out = txViews[(to - 64) / tx.slotBytes];
      engine.acquire = undefined;
      if (seals !== undefined) seals.tag = k;
      let r: number;
      if (len > rx.maxPacket) {
        r = engine.drop(dir === L.DIR_INPUT ? DROP.XfrmInBufferError : DROP.XfrmOutTooBig); // larger than a ring slot
      } else {
        r = dir === L.DIR_INPUT ? engine.input(data, 0, len, out, 0) : output(data, len, out);
      }
      let verdict: number;
      let outLen = 0;
      if (r >= 0) {
        verdict = L.V_TRANSMITTED;
        outLen = r;
        if (queueAcquire !== undefined && r + L.ACQUIRE_WORDS * 4 <= tx.maxPacket) {
          encodeAcquire(queueAcquire, out, r);
          verdict |= L.V_ACQUIRE;
        }
      } else if (r === PASS) {
        verdict = L.V_PASSED;
        out.set(data.subarray(0, len));
        outLen = len;
      } else if (r === DUMMY) {
        verdict = L.V_DUMMY;
      } else {
        verdict = L.V_DROPPED | (engine.lastDrop << 8);
        const a = engine.acquire as AcquireRequest | undefined; // set by the call above
        if (a !== undefined) {
          encodeAcquire(a, out, 0);
          outLen = L.ACQUIRE_WORDS * 4;
        }
      }
      counters[c + (verdict === L.V_TRANSMITTED ? L.C_TRANSMITTED : verdict === L.V_PASSED ? L.C_PASSED : L.C_DROPPED)]++;
      const tw = to >> 2;
      tx.i32[tw] = outLen;
      tx.i32[tw + 1] = verdict;
      tx.i32[tw + 2] = id;
      tx.u64[(to >> 3) + 2] = engine.usedCount > 0 ? sad.serialOf(engine.used[0]) : 0n; // the SA's never-reused identity
      counters[c + L.C_BYTES] += len;
    }
    seals?.flush();
    // Counters and notices first: whoever sees these results sees the figures that include them.
    publishCounters(n, (performance.now() - started) * 1e6);
    tx.publish(n);
    rx.release(n);
    reader.quiescent();
  }
  return finish();

  /** Benchmark mode: the queue's own traffic, through the same output path, once told to go. */
  function generate(g: NonNullable<QueueTask['generate']>): { packets: number } {
    reader.offline();
    while (Atomics.load(control, L.CTRL_GO) === 0 && Atomics.load(control, L.CTRL_STOP) === 0) Atomics.wait(control, L.CTRL_GO, 0, 1000);
    reader.online();
    const templates = new Uint8Array(g.templates);
    const views = Array.from({ length: g.count }, (_, i) => templates.subarray(i * g.size, (i + 1) * g.size));
    // One output slot per packet of a batch, as a transmit ring has: deferred seals need their own bytes.
    const slotBytes = g.size + 512;
    const area = new Uint8Array(t.batch * slotBytes);
    const outs = Array.from({ length: t.batch }, (_, k) => area.subarray(k * slotBytes, (k + 1) * slotBytes));
    if (seals !== undefined) {
      seals.bind(area, templates);
      seals.onFailed = () => {
        engine.drops[DROP.XfrmOutStateProtoError]++;
        counters[c + L.C_TRANSMITTED]--;
        counters[c + L.C_DROPPED]++;
      };
    }
    const sentSeq = new Int32Array(t.batch);
    const sentRt = new Int32Array(t.batch);
    let next = 0;
    while (Atomics.load(control, L.CTRL_STOP) === 0) {
      const started = performance.now();
      let sent = 0;
      for (let k = 0; k < t.batch; k++) {
        const r = output(views[next], g.size, outs[k]);
        next = next + 1 === g.count ? 0 : next + 1;
        counters[c + (r >= 0 ? L.C_TRANSMITTED : r === PASS ? L.C_PASSED : L.C_DROPPED)]++;
        counters[c + L.C_BYTES] += g.size;
        if (t.measureOrder && r >= 0 && engine.usedCount > 0) {
          sentSeq[sent] = engine.firstSeqLo | 0;
          sentRt[sent++] = engine.firstRuntime;
        }
      }
      seals?.flush();
      for (let k = 0; k < sent; k++) recordOrder(sentRt[k], sentSeq[k]); // the batch leaves now, in order
      reader.quiescent();
      publishCounters(t.batch, (performance.now() - started) * 1e6);
    }
    return finish();
  }

  /** The Map baseline: classify by a 5-tuple string in a Map, then the same ESP path. */
  function mapOutput(data: Uint8Array, len: number, out: Uint8Array): number {
    lookups++;
    const key = flow.join(',');
    let states = classifier.get(key);
    if (states === undefined) {
      const kind = resolveInto(spd, sad, OUT, flow, 0, scratch, t.queue);
      if (kind === RESOLVED_ACQUIRE) {
        engine.acquire = scratch.acquire;
        return engine.drop(DROP.XfrmOutNoStates);
      }
      states = kind === RESOLVED_BUNDLE ? scratch.states.slice(0, scratch.count) : kind === RESOLVED_BLOCK ? null : new Int32Array(0);
      classifier.set(key, states);
    }
    if (states === null) return engine.drop(DROP.XfrmOutPolBlock);
    return states.length === 0 ? PASS : engine.encapsulate(states, data, 0, len, out, 0, 0, states.length, info);
  }

  /** Write an ACQUIRE as queue-layout.ts ACQUIRE_WORDS at out[at ..]. */
  function encodeAcquire(a: AcquireRequest, out: Uint8Array, at: number): void {
    acquireWords[0] = a.family;
    acquireWords.set(a.dst.words, 1);
    acquireWords.set(a.src.words, 5);
    acquireWords[9] = a.proto;
    acquireWords[10] = a.reqid;
    acquireWords[11] = a.mode === 'tunnel' ? 1 : 0;
    acquireWords[12] = a.policy;
    acquireWords[13] = a.template;
    acquireWords[14] = 1;
    acquireWords[15] = a.pcpuNum === undefined ? 0 : a.pcpuNum + 1;
    out.set(acquireBytes, at);
  }

  /** A packet of the SA whose runtime block is at `rt` left with sequence number `seq`: how far behind the SA's highest? */
  function recordOrder(rt: number, seq: number): void {
    const i32 = heap.cover(rt + L_RT_END);
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

  function finish(): { packets: number } {
    reader.offline(); // the line stays the queue's (the control thread gives it back at close)
    engine.contexts.clear();
    return { packets };
  }
}
