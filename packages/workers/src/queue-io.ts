/**
 * A gateway queue: the queue's own TUN queue and ESP-in-UDP socket instead of rings, the way
 * a CPU serves its NIC queue. Per round: clear packets from the TUN queue go through the
 * output path and leave as ESP over UDP (one sendmmsg); ESP from the socket (steered to this
 * queue by SPI, so each SA's replay window has one writer) goes through the input path and
 * the clear packets are written to the TUN queue. Nothing per packet crosses to the control
 * thread; statistics stay in the queue's counter line. An idle queue goes offline in the
 * epoch domain and sleeps in poll() (woken by traffic, or by its timeout to see a stop).
 *
 * Shared memory: as QueuePath. The packet buffers are this thread's own (plain
 * ArrayBuffers, so V8's byte-wise copy of unaligned shared memory never applies).
 */
import { DROP } from '@xfrm/core';
import { requireNative, type NativeIo } from '@xfrm/native';
import { writeTooBig } from './icmp-too-big.js';
import * as L from './queue-layout.js';
import { type QueuePath } from './queue-path.js';

/** The queue's I/O: file descriptors opened by the control thread (gateway-io.ts). */
export interface IoTask {
  tunFd: number;
  udpFd: number;
  /** Bytes per packet buffer: the TUN MTU plus encapsulation, rounded up. */
  slotBytes: number;
  /** The largest outer packet the path takes: bigger ones are answered with ICMP (icmp-too-big.ts). */
  pathMtu: number;
}

/** Longest sleep of an idle queue before it looks at the stop word (ms). */
const IDLE_WAIT_MS = 50;
const UDP = 17;

/** Serve the queue's TUN queue and socket until told to stop. */
export function serveIo(q: QueuePath, t: IoTask, batch: number): { packets: number } {
  const io: NativeIo = requireNative('a gateway queue');
  const { engine, seals, reader } = q;
  const slot = t.slotBytes;
  const area = (n: number) => new Uint8Array(n * slot);
  const views = (a: Uint8Array) => Array.from({ length: batch }, (_, k) => a.subarray(k * slot, (k + 1) * slot));
  const clearIn = area(batch); // from the TUN queue
  const espOut = area(batch); // to the socket
  const espIn = area(batch); // from the socket
  const clearOut = area(batch); // to the TUN queue
  const tooBig = area(batch); // ICMP answers to packets too big for the path, back into the TUN queue
  // Views per slot only for the rare ICMP answer; the packet path takes the areas with offsets (byte-copy.ts).
  const [clearInV, tooBigV] = [clearIn, tooBig].map(views);
  const inLengths = new Int32Array(batch);
  const offsets = new Int32Array(batch);
  const lengths = new Int32Array(batch);
  const fds = Int32Array.of(t.tunFd, t.udpFd);
  const verdicts = new Int8Array(batch); // output verdicts, for a deferred seal that fails
  const tooBigOffsets = new Int32Array(batch);
  const tooBigLengths = new Int32Array(batch);
  if (seals !== undefined) {
    seals.bind(espOut, clearIn);
    seals.onFailed = (k) => {
      if (verdicts[k] !== 1) return; // already not sent (and counted so)
      verdicts[k] = -1;
      q.uncountTransmitted();
    };
  }
  let lastSweep = 0;
  let tooBigs = 0;

  while (!q.stopping) {
    q.testHooks();
    const started = performance.now();
    // Out: TUN -> ESP -> UDP.
    const nOut = io.tunRead(t.tunFd, clearIn, slot, batch, inLengths);
    for (let k = 0; k < nOut; k++) {
      if (seals !== undefined) seals.tag = k;
      const len = inLengths[k];
      const at = k * slot;
      let r = q.output(clearIn, at, len, espOut, at);
      if (r >= 0 && (espOut[at] >> 4 === 4 ? espOut[at + 9] : espOut[at + 6]) !== UDP) r = engine.drop(DROP.XfrmOutStateModeError); // this gateway sends ESP in UDP only
      verdicts[k] = r >= 0 ? 1 : 0;
      offsets[k] = at;
      lengths[k] = r >= 0 ? r : 0;
      q.count(r, len); // PASS: no policy, nowhere to send it in clear
      if (r > t.pathMtu) {
        const n = writeTooBig(clearInV[k], len, t.pathMtu - (r - len), tooBigV[tooBigs]);
        if (n > 0) {
          // Not sent: the sender learns the tunnel's MTU and sends smaller packets. (Without DF the outer packet is fragmented.)
          verdicts[k] = 0;
          q.uncountTransmitted(DROP.XfrmOutTooBig);
          tooBigOffsets[tooBigs] = tooBigs * slot;
          tooBigLengths[tooBigs++] = n;
        }
      }
    }
    seals?.flush();
    if (tooBigs > 0) {
      io.tunWrite(t.tunFd, tooBig, tooBigOffsets, tooBigLengths, tooBigs);
      tooBigs = 0;
    }
    if (nOut > 0) {
      for (let k = 0; k < nOut; k++) if (verdicts[k] !== 1) lengths[k] = 0; // skipped by udpSend (counted as taken)
      q.counters[q.c + L.C_SOCKET_FULL] += nOut - io.udpSend(t.udpFd, espOut, offsets, lengths, nOut);
    }
    // In: UDP -> ESP -> TUN.
    const nIn = io.udpRecv(t.udpFd, espIn, slot, batch, inLengths);
    let m = 0;
    for (let k = 0; k < nIn; k++) {
      const len = inLengths[k];
      const r = len < 0 ? engine.drop(DROP.XfrmInBufferError) : engine.input(espIn, k * slot, len, clearOut, k * slot);
      if (r >= 0) {
        offsets[m] = k * slot;
        lengths[m++] = r;
      }
      // PASS here is IKE (non-ESP marker) or a NAT-T keepalive: no key manager in this process takes them.
      q.count(r, Math.max(len, 0));
    }
    if (m > 0) q.counters[q.c + L.C_TUN_FULL] += m - io.tunWrite(t.tunFd, clearOut, offsets, lengths, m);
    const n = nOut + nIn;
    if (n > 0) {
      q.publishCounters(n, (performance.now() - started) * 1e6);
      reader.quiescent();
      continue;
    }
    // Idle: wipe dead SAs' contexts now and then, then sleep offline until traffic or a stop.
    if (started - lastSweep >= 100) {
      engine.contexts.sweep();
      lastSweep = started;
    }
    reader.offline();
    q.counters[q.c + L.C_PARKS]++;
    io.wait(fds, IDLE_WAIT_MS);
    reader.online();
  }
  return q.finish();
}
