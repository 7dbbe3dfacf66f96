/**
 * A queue worker (run by piscina, one long task per queue): attaches the shared tables,
 * registers in the epoch domain, and serves its receive ring until told to stop, the way a
 * CPU serves a NIC queue. Per batch: take packets, run them through the flow cache and ESP,
 * put the results on the transmit ring, release the receive slots, report a quiescent state.
 * An idle queue goes offline in the epoch domain and parks in Atomics.wait (no CPU). The same
 * task runs the benchmark's own traffic instead (queue-generate.ts), or a gateway's TUN and
 * UDP I/O (queue-io.ts).
 *
 * Shared memory: as QueuePath (tables, SA runtime blocks, notices, counters, control words),
 * plus its rings' producer/consumer indexes.
 * Packet bytes are read in place from the receive slot and written once into the transmit
 * slot; per-slot views are made once, so nothing is allocated per packet on a cache hit.
 */
import { DROP, DUMMY, PASS, copyBytes, type AcquireRequest } from '@xfrm/core';
import { PacketRing, SLOT_HEADER } from './packet-ring.js';
import { generate, type GenerateTask } from './queue-generate.js';
import { serveIo, type IoTask } from './queue-io.js';
import * as L from './queue-layout.js';
import { QueuePath, type QueueBase } from './queue-path.js';

/** What the control thread hands a queue worker. */
export interface QueueTask extends QueueBase {
  rx: SharedArrayBuffer;
  tx: SharedArrayBuffer;
  /** Benchmarks: the queue makes its own traffic instead of serving its receive ring. */
  generate?: GenerateTask;
  /** A gateway: the queue serves its TUN queue and ESP-in-UDP socket instead of its rings. */
  io?: IoTask;
}

export default function serveQueue(t: QueueTask): { packets: number } {
  const q = new QueuePath(t);
  const { engine, seals, control, counters, c, line, reader } = q;
  const rx = new PacketRing(t.rx);
  const tx = new PacketRing(t.tx);
  const acquireWords = new Int32Array(L.ACQUIRE_WORDS);
  const acquireBytes = new Uint8Array(acquireWords.buffer);

  /** A deferred seal failed (never seen; its bytes were wiped): the packet in slot k is dropped, not sent. */
  const sealFailed = (k: number) => {
    const tw = tx.pending(k) >> 2;
    if ((tx.i32[tw + 1] & 0xff) !== L.V_TRANSMITTED) return;
    tx.i32[tw] = 0;
    tx.i32[tw + 1] = L.V_DROPPED | (DROP.XfrmOutStateProtoError << 8);
    q.uncountTransmitted();
  };

  let lastSweep = 0;
  if (seals !== undefined) {
    seals.bind(tx.u8, rx.u8); // rx slots are released only after the flush
    seals.onFailed = sealFailed;
  }
  reader.online();
  Atomics.store(control, line + L.Q_READY, 1);
  if (t.generate !== undefined) return generate(q, t.generate, t.batch);
  if (t.io !== undefined) return serveIo(q, t.io, t.batch);
  for (;;) {
    // Doorbells first, then what they announce: a change after these reads moves a bell.
    const rxBell = rx.bell();
    const txBell = tx.bell();
    if (q.stopping) break;
    q.testHooks();
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
      const len = rx.i32[ro >> 2];
      const dir = rx.i32[(ro >> 2) + 1];
      const id = rx.i32[(ro >> 2) + 2];
      const to = tx.pending(k);
      // The rings' bytes whole, with the packets' offsets: no view per slot, and copies go by words (byte-copy.ts).
      const data = rx.u8;
      const io = ro + SLOT_HEADER;
      const out = tx.u8;
      const oo = to + SLOT_HEADER;
      engine.acquire = undefined;
      if (seals !== undefined) seals.tag = k;
      let r: number;
      if (len > rx.maxPacket) {
        r = engine.drop(dir === L.DIR_INPUT ? DROP.XfrmInBufferError : DROP.XfrmOutTooBig); // larger than a ring slot
      } else {
        r = dir === L.DIR_INPUT ? engine.input(data, io, len, out, oo) : q.output(data, io, len, out, oo);
      }
      let verdict: number;
      let outLen = 0;
      if (r >= 0) {
        verdict = L.V_TRANSMITTED;
        outLen = r;
        if (q.queueAcquire !== undefined && r + L.ACQUIRE_WORDS * 4 <= tx.maxPacket) {
          encodeAcquire(q.queueAcquire, out, oo + r);
          verdict |= L.V_ACQUIRE;
        }
      } else if (r === PASS) {
        verdict = L.V_PASSED;
        copyBytes(out, oo, data, io, len);
        outLen = len;
      } else if (r === DUMMY) {
        verdict = L.V_DUMMY;
      } else {
        verdict = L.V_DROPPED | (engine.lastDrop << 8);
        const a = engine.acquire as AcquireRequest | undefined; // set by the call above
        if (a !== undefined) {
          encodeAcquire(a, out, oo);
          outLen = L.ACQUIRE_WORDS * 4;
        }
      }
      q.count(r, len);
      const tw = to >> 2;
      tx.i32[tw] = outLen;
      tx.i32[tw + 1] = verdict;
      tx.i32[tw + 2] = id;
      // The SA's never-reused identity (u64 at byte 16), copied by halves: no BigInt a packet.
      if (engine.usedCount > 0) q.sad.serialWords(engine.used[0], tx.i32, tw + 4);
      else tx.i32[tw + 4] = tx.i32[tw + 5] = 0;
    }
    seals?.flush();
    // Counters and notices first: whoever sees these results sees the figures that include them.
    q.publishCounters(n, (performance.now() - started) * 1e6);
    tx.publish(n);
    rx.release(n);
    reader.quiescent();
  }
  return q.finish();

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
}
