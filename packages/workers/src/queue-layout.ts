/**
 * What a queue worker and the control thread share besides the tables: the control words,
 * the per-queue counters, and the codes of a transmit slot's metadata.
 *
 * Control words (Int32Array, one 64-byte line per queue after line 0):
 *   line 0: [stop, go]                              written by the control thread (go: start generating)
 *   line 1+q: [stall, kill, ready, starts]         ready/starts by the worker (Atomics),
 *                                                   stall and kill by the control thread (tests)
 * Counters (Float64Array, one line of COUNTER_LINE per queue): written only by that queue's
 * worker with plain stores after each batch; the control thread reads them for statistics
 * (a figure may be one batch old, never torn in practice on 64-bit hosts; exact after close).
 */
import { DROP_REASONS } from '@xfrm/core';

export const CTRL_LINE = 16;
export const CTRL_STOP = 0;
export const CTRL_GO = 1;
/** Test hook: milliseconds the worker is to hang, online, without reporting (a stuck queue). */
export const Q_STALL = 0;
export const Q_KILL = 1;
export const Q_READY = 2;
export const Q_STARTS = 3;

/** Counter fields of a queue's line. */
export const C_PACKETS = 0;
/** Verdicts (C_TRANSMITTED to C_DUMMY, one per packet) and the bytes the packets came in with. */
export const C_TRANSMITTED = 1;
export const C_PASSED = 2;
export const C_DROPPED = 3;
/** RFC 4303 dummy packets (next header 59): authenticated and discarded, not dropped. */
export const C_DUMMY = 4;
export const C_BYTES = 5;
export const C_BATCHES = 6;
export const C_CACHE_HITS = 7;
export const C_CACHE_MISSES = 8;
export const C_CACHE_USED = 9;
export const C_CACHE_CAPACITY = 10;
export const C_PARKS = 11;
/** Table lookups: flow-cache probes, SPD lookups, SAD lookups (one each, whatever they probe). */
export const C_LOOKUPS = 12;
/** With `measureOrder`: the largest distance a packet left behind its SA's highest sequence number sent. */
export const C_ORDER_MAX = 13;
/** A gateway queue (queue-io.ts): ESP its socket did not take (send buffer full), clear packets its TUN queue did not take. */
export const C_SOCKET_FULL = 14;
export const C_TUN_FULL = 15;
/** Flow cache hits checked against shared memory (something they depend on had changed: change-epoch.ts). */
export const C_CACHE_CHECKS = 16;
export const C_DROPS = 17; // DROP_REASONS.length counters from here
/** Histogram of batch latency: bucket floor(3 * log2(ns)), HIST_BUCKETS of them. */
export const C_HIST = C_DROPS + DROP_REASONS.length;
export const HIST_BUCKETS = 96;
/**
 * With `measureOrder`: how far behind its SA's highest sequence number already sent each packet
 * left, bucket 0 for in order, else 1 + floor(log2(distance)) (so a window W, a power of two,
 * drops the packets of buckets > log2(W)).
 */
export const C_ORDER = C_HIST + HIST_BUCKETS;
export const ORDER_BUCKETS = 33;
export const COUNTER_LINE = C_ORDER + ORDER_BUCKETS;

/** The order bucket of a distance behind the highest sent. */
export function orderBucket(behind: number): number {
  return behind <= 0 ? 0 : 32 - Math.clz32(behind);
}

/** The histogram bucket of a latency in nanoseconds. */
export function histBucket(ns: number): number {
  return ns <= 1 ? 0 : Math.min(HIST_BUCKETS - 1, Math.floor(3 * Math.log2(ns)));
}

/** Upper bound (ns) of a histogram bucket. */
export function histUpper(bucket: number): number {
  return 2 ** ((bucket + 1) / 3);
}

/** Transmit slot meta0: the verdict in the low byte, the drop reason above it. */
export const V_TRANSMITTED = 0;
export const V_PASSED = 1;
export const V_DROPPED = 2;
export const V_DUMMY = 3;

/** Receive slot meta0: the direction of the packet. */
export const DIR_OUTPUT = 0;
export const DIR_INPUT = 1;

/**
 * An ACQUIRE, encoded in a transmit slot's data (int32 words): a dropped packet's (its data is
 * just this), or a per-queue one (a `cpu-acquire` policy) after a transmitted packet's ESP,
 * flagged by V_ACQUIRE in the slot's meta0.
 */
export const ACQUIRE_WORDS = 16; // family, dst[4], src[4], proto, reqid, mode, policy, template, present, queue + 1 (0: none)
/** Transmit slot meta0 flag: an ACQUIRE follows the packet's bytes. */
export const V_ACQUIRE = 1 << 30;

/** The latency (ns) under which a share `p` of the histogram's batches fall (a bucket's upper bound). */
export function histPercentile(hist: ArrayLike<number>, p: number): number {
  let total = 0;
  for (let i = 0; i < hist.length; i++) total += hist[i];
  if (total === 0) return 0;
  let seen = 0;
  for (let i = 0; i < hist.length; i++) {
    seen += hist[i];
    if (seen >= p * total) return histUpper(i);
  }
  return histUpper(hist.length - 1);
}
