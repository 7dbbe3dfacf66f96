/**
 * The Dataplane: an Xfrm control plane plus one worker thread per queue (run through piscina),
 * each queue a receive ring and a transmit ring in shared memory. This thread owns every
 * write to the tables, steers packets into the rings, drains results, accounts SA lifetimes,
 * raises ACQUIREs, runs the timers, and replaces a queue worker that dies.
 *
 * Shared memory owned here: the tables (Xfrm's heap), the rings (this thread produces on rx
 * and consumes on tx), the notice rings (this thread consumes), the control words and
 * counters (queue-layout.ts). SA lifetimes are counted by the queues in the SAs' runtime
 * blocks; this thread turns their notices into expiries (on every poll and every 100 ms).
 */
import { EventEmitter } from 'node:events';
import { isIP } from 'node:net';
import { Piscina } from 'piscina';
import {
  AEAD_BACKENDS,
  DROP_REASONS,
  Xfrm,
  aeadBackend,
  defaultAeadBackendName,
  type AeadBackendName,
  formatAddress,
  type Address,
  type DropReason,
  type Family,
  type FormatOptions,
  type Mode,
  type Policy,
  type PolicyDir,
  type PolicySpec,
  type State,
  type StateSpec,
  applyXfrmLine,
} from '@xfrm/core';
import { openGatewayIo, type GatewayIo, type GatewayIoOptions } from './gateway-io.js';
import { NoticeRing } from './notice-ring.js';
import { PacketRing, SLOT_HEADER } from './packet-ring.js';
import * as L from './queue-layout.js';
import { type QueueTask } from './queue-worker.js';
import { Steering } from './steering.js';

/** Options for {@link Dataplane.create}. */
export interface DataplaneOptions {
  /** Queue worker threads. Default 2. */
  queues?: number;
  capacities?: {
    /** Most states at once. Default 2^20. */
    states?: number;
    /** Most policies at once. Default 2^20. */
    policies?: number;
    /** Largest the shared heap may grow to. Default 4 GiB. */
    heapBytes?: number;
  };
  /**
   * AEAD implementation. Default native where the addon was built (OpenSSL, seals batched),
   * else noble. 'native' where the addon is missing throws NativeUnavailableError, saying why.
   */
  crypto?: AeadBackendName;
  /** Slots per ring (a power of two). Default 1024. */
  ringSlots?: number;
  /**
   * Bytes per ring slot (a multiple of 16): the slot header (24 bytes) plus the largest
   * packet *after* encapsulation, which adds up to 77 bytes (IPv6 outer header, UDP, ESP
   * header, IV, padding, ICV) per tunnel. Default: from `mtu`.
   */
  slotBytes?: number;
  /**
   * The largest plain packet the dataplane must carry (bytes). Slots are sized so that it
   * still fits once encapsulated in two nested tunnels. Default 1500 (slots of 1680 bytes).
   */
  mtu?: number;
  /**
   * How outbound packets given to submit()/process() are spread over the queues. 'sa' (the
   * default): by their SA, so each SA's packets are encrypted by one queue in submission order
   * and leave in sequence order (Linux before per-CPU SAs; one tunnel then runs on one queue).
   * 'flow': by a hash of the flow, as RSS, for per-queue SAs (`pcpu-num`), which keep order
   * per queue while one tunnel uses every queue.
   */
  outputSteering?: 'sa' | 'flow';
  /** Flow cache entries per queue (a power of two). Default 4096. */
  flowCacheSize?: number;
  /** Packets a worker takes per batch (between quiescent reports). Default 32. */
  batch?: number;
  /**
   * Longest an awaited control call (a delete, a flush, `apply`, `synchronize`) waits for the
   * queues to pass a quiescent point (ms); past it the call rejects with a StalledReaderError
   * naming the queues (the change itself is made). Default 30 000.
   */
  graceTimeoutMs?: number;
  /** A queue that has not reported for this long while work waits for it is reported stalled (ms). Default 2000. */
  stallMs?: number;
  /**
   * Longest an idle queue sleeps before it looks again (ms). Wake-ups never depend on it
   * (every publish, release, stop and kill rings the queue's doorbell); it is a safety net.
   * Default 1000.
   */
  parkTimeoutMs?: number;
  /** Accept cipher_null states (benchmarks only). */
  allowNullCipher?: boolean;
  acquireTimeoutMs?: number;
  /** Turn optimisations back off, for measuring what they buy (dataplane-bench --ablate). */
  ablate?: {
    /** Full SPD and SAD lookup for every packet. */
    flowCache?: boolean;
    /** A JS Map keyed by the flow string instead of the flow cache (a speed baseline, without churn). */
    mapClassifier?: boolean;
    /** Cipher context built for every packet. */
    cryptoContexts?: boolean;
    /** An atomic add and sub per packet per state held. */
    refcount?: boolean;
    /** Policies in one ordered list (list-spd). */
    linearSpd?: boolean;
    /** Every change stales every bundle (flush). */
    flush?: boolean;
    /** Randomness drawn when each SA is added (eager-iv). */
    eagerIv?: boolean;
  };
  /**
   * Benchmarks: each queue makes its own traffic from `templates[q]` (`counts[q]` packets of
   * `size` bytes, output direction) once {@link Dataplane.go} is called, instead of serving
   * its receive ring.
   */
  generate?: { templates: SharedArrayBuffer[]; counts: number[]; size: number; measureOrder?: boolean };
  /**
   * A gateway (needs the native addon): each queue serves its own queue of TUN device
   * `io.tun` and its own ESP-in-UDP socket on `io.local`:`io.port` (the kernel steers inbound
   * ESP to a queue by SPI), instead of its rings; `process()` and `submit()` are then refused.
   * SAs are sent in UDP only (`encap espinudp`).
   */
  io?: GatewayIoOptions;
}

/** What became of a submitted packet. */
export interface PacketResult {
  readonly queue: number;
  /** Per-queue submission number: an int32 that wraps (compare with `(a - b) | 0`). */
  readonly id: number;
  readonly verdict: 'transmitted' | 'passed' | 'dropped' | 'dummy';
  readonly reason?: DropReason;
  /** The packet to send on (ESP on output, the inner packet on input, the original if passed). */
  readonly data?: Uint8Array;
  /**
   * The identity ({@link State.serial}) of the (first) state used, or undefined if none.
   * Never reused, so it names the right SA even after that SA was deleted or updated.
   */
  readonly sa: bigint | undefined;
}

/** Per-queue statistics. */
export interface QueueStats {
  readonly queue: number;
  readonly packets: number;
  readonly transmitted: number;
  readonly passed: number;
  readonly dropped: number;
  /** RFC 4303 dummy packets received (authenticated, then discarded: not drops). */
  readonly dummy: number;
  /** Flow-cache probes, SPD and SAD lookups. */
  readonly lookups: number;
  /** Batch latency histogram (queue-layout.ts histBucket), and its percentiles. */
  readonly latencyHistogram: number[];
  readonly batchLatencyNs: { p50: number; p99: number };
  readonly bytes: number;
  readonly batches: number;
  /** Flow cache hits, misses, hits checked against the shared tables (something they depend on changed), entries used, capacity. */
  readonly flowCache: { hits: number; misses: number; checks: number; used: number; capacity: number };
  readonly parks: number;
  readonly starts: number;
  /**
   * A gateway queue's packets that went through ESP but were not taken by the device (counted
   * as transmitted too): ESP the UDP socket refused (send buffer full), clear packets the TUN
   * queue refused. What the kernel drops before a queue sees it is in its own counters
   * (`ip -s link show TUN` tx dropped, /proc/net/snmp Udp RcvbufErrors).
   */
  readonly io: { socketFull: number; tunFull: number };
  /**
   * With `generate.measureOrder`: how far behind its SA's highest sequence number sent each
   * packet left (histogram: bucket 0 in order, else 1 + floor(log2(distance))) and the largest.
   */
  readonly order: { histogram: number[]; maxBehind: number };
  readonly drops: Partial<Record<DropReason, number>>;
}

/** What the queues counted for one SA. */
export interface StateUsage {
  readonly spi: number;
  readonly dst: string;
  readonly reqid: number;
  readonly serial: bigint;
  readonly bytes: bigint;
  readonly packets: bigint;
}

/** Statistics of the whole dataplane. */
export interface DataplaneStats {
  readonly submitted: number;
  readonly results: { transmitted: number; passed: number; dropped: number; dummy: number };
  readonly drops: Partial<Record<DropReason, number>>;
  readonly queues: QueueStats[];
  readonly restarts: number;
  /** Stall episodes seen (see the `stall` event), and the queues stalled now. */
  readonly stalls: { total: number; now: number[] };
  readonly states: number;
  readonly policies: number;
  /**
   * Per SA: what the queues counted for it (lifetime usage, u64); only when asked for
   * (`stats({ perState: { offset, limit } })`): a gateway with a million SAs would pay for
   * the whole list on every call otherwise.
   */
  readonly perState?: StateUsage[];
}

/** A queue that stopped reporting quiescent states while work waited for it (a stuck worker). */
export interface StallEvent {
  readonly queue: number;
  /** How long it has not reported (ms), at least `stallMs`. */
  readonly ms: number;
}

/**
 * A multi-queue IPsec dataplane. Emits `acquire`, `expire` and `monitor` (see Xfrm), and
 * `stall` (StallEvent) once each time a queue stops reporting while reclamation waits for it.
 */
export class Dataplane extends EventEmitter {
  private readonly rx: PacketRing[];
  private readonly tx: PacketRing[];
  private readonly notices: NoticeRing[];
  private readonly noticeTimer: NodeJS.Timeout;
  private readonly control: Int32Array;
  private readonly counters: Float64Array;
  /** `generate.measureOrder`: each SA's highest sent sequence number (low half), by SA number. */
  private readonly sentTops: SharedArrayBuffer | undefined;
  /** The refcount ablation's counts, by SA number. */
  private readonly refcounts: SharedArrayBuffer | undefined;
  private readonly nextId: number[];
  private readonly expectId: number[];
  private readonly steering: Steering;
  private readonly running: Promise<void>[] = [];
  private readonly timer: NodeJS.Timeout;
  private readonly pending = new Map<string, (r: PacketResult) => void>();
  private closing = false;
  private submitted = 0;
  private readonly totals = { transmitted: 0, passed: 0, dropped: 0, dummy: 0 };
  private restarts = 0;
  /** Each queue's epoch reader line, claimed here so that a worker dying at any point leaks none. */
  private readonly readers: number[];
  private stallsTotal = 0;
  /** Why a queue worker died before it ever served: create() fails with it instead of restarting forever. */
  private startFailure: Error | undefined;
  private readonly startFailures: number[];
  private stalledNow = new Set<number>();

  private constructor(
    /** The control plane: tables, events, lifetimes. */
    readonly xfrm: Xfrm,
    private readonly pool: Piscina,
    private readonly opts: Required<Pick<DataplaneOptions, 'queues' | 'crypto' | 'flowCacheSize' | 'batch'>> & DataplaneOptions,
    ringSlots: number,
    slotBytes: number,
    /** A gateway's TUN queues and sockets (the `io` option). */
    readonly gatewayIo: GatewayIo | undefined,
  ) {
    super();
    const q = opts.queues;
    this.rx = Array.from({ length: q }, () => PacketRing.create(ringSlots, slotBytes));
    this.tx = Array.from({ length: q }, () => PacketRing.create(ringSlots, slotBytes));
    this.notices = Array.from({ length: q }, () => NoticeRing.create());
    this.control = new Int32Array(new SharedArrayBuffer(4 * L.CTRL_LINE * (q + 1)));
    this.counters = new Float64Array(new SharedArrayBuffer(8 * L.COUNTER_LINE * q));
    // SA numbers stay below the SAD's record capacity (every SA has a live record).
    this.sentTops = opts.generate?.measureOrder ? new SharedArrayBuffer(8 * xfrm.sad.arena.capacity) : undefined;
    this.refcounts = opts.ablate?.refcount ? new SharedArrayBuffer(4 * xfrm.sad.arena.capacity) : undefined;
    this.nextId = new Array<number>(q).fill(0);
    this.expectId = new Array<number>(q).fill(0);
    this.steering = new Steering(q, opts.outputSteering === 'flow' ? undefined : xfrm);
    this.readers = Array.from({ length: q }, () => xfrm.epochs.claim());
    this.startFailures = new Array<number>(q).fill(0);
    for (const e of ['acquire', 'expire', 'monitor']) xfrm.on(e, (v) => this.emit(e, v));
    this.timer = setInterval(() => {
      this.xfrm.tick();
      this.watchStalls();
    }, 1000);
    this.timer.unref();
    this.noticeTimer = setInterval(() => this.takeNotices(), 100);
    this.noticeTimer.unref();
  }

  /** Start a dataplane: tables, rings, and one worker per queue (resolves once all serve). */
  static async create(options: DataplaneOptions = {}): Promise<Dataplane> {
    checkOptions(options);
    const queues = options.queues ?? 2;
    const opts = { ...options, queues, crypto: options.crypto ?? defaultAeadBackendName(), flowCacheSize: options.flowCacheSize ?? 4096, batch: options.batch ?? 32 };
    const xfrm = Xfrm.create({
      ablate: { linearSpd: options.ablate?.linearSpd, flush: options.ablate?.flush, eagerIv: options.ablate?.eagerIv },
      heap: { maxBytes: options.capacities?.heapBytes ?? 2 ** 32 },
      maxReaders: 64,
      stateCapacity: options.capacities?.states ?? 1 << 20,
      lifetimeShares: queues, // each queue counts SA lifetimes in its own share: no locked add a packet
      policyCapacity: options.capacities?.policies ?? 1 << 20,
      allowNullCipher: options.allowNullCipher,
      acquireTimeoutMs: options.acquireTimeoutMs,
    });
    const pool = new Piscina({
      filename: new URL('./queue-worker.js', import.meta.url).href,
      minThreads: queues,
      maxThreads: queues,
      concurrentTasksPerWorker: 1,
      idleTimeout: 2 ** 31 - 1,
    });
    let gatewayIo: GatewayIo | undefined;
    try {
      gatewayIo = options.io === undefined ? undefined : openGatewayIo(options.io, queues);
    } catch (e) {
      await pool.destroy();
      throw e;
    }
    const dp = new Dataplane(xfrm, pool, opts, options.ringSlots ?? 1024, options.slotBytes ?? slotBytesFor(options.mtu ?? 1500), gatewayIo);
    gatewayIo?.startKeepalives(xfrm);
    for (let q = 0; q < queues; q++) dp.serve(q);
    try {
      await dp.ready();
    } catch (e) {
      await dp.close();
      throw e;
    }
    return dp;
  }

  /** Number of queues. */
  get queues(): number {
    return this.opts.queues;
  }

  // ---- control API (the tables change here only) ----

  /** Throw if the dataplane was closed: nothing after close() may look as if it worked. */
  private open(what: string): void {
    if (this.closing) throw new Error(`${what}: the dataplane is closed`);
  }

  /** Refuse packet submission on a gateway (its queues are fed by the TUN device and the socket). */
  private fedByRings(what: string): void {
    this.open(what);
    if (this.gatewayIo !== undefined) throw new Error(`${what}: this dataplane is a gateway (io): its queues read the TUN device and the UDP socket, not submitted packets`);
  }

  addState(spec: StateSpec): State {
    this.open('addState');
    return this.xfrm.addState(spec);
  }

  updateState(spec: StateSpec): State {
    this.open('updateState');
    return this.xfrm.updateState(spec);
  }

  /** Delete a state; resolves once no queue can still use it. */
  async deleteState(dst: Address, spi: number, proto?: number): Promise<State> {
    this.open('deleteState');
    const s = this.xfrm.deleteState(dst, spi, proto);
    await this.synchronize();
    return s;
  }

  getState(dst: Address, spi: number, proto?: number): State | undefined {
    return this.xfrm.sad.get(dst, spi, proto);
  }

  listStates(): State[] {
    return this.xfrm.sad.list();
  }

  async flushStates(proto?: number): Promise<number> {
    this.open('flushStates');
    const n = this.xfrm.flushStates(proto);
    await this.synchronize();
    return n;
  }

  addPolicy(spec: PolicySpec): Policy {
    this.open('addPolicy');
    return this.xfrm.addPolicy(spec);
  }

  updatePolicy(spec: PolicySpec): Policy {
    this.open('updatePolicy');
    return this.xfrm.updatePolicy(spec);
  }

  /** Delete a policy; resolves once no queue can still use it. */
  async deletePolicy(index: number): Promise<Policy> {
    this.open('deletePolicy');
    const p = this.xfrm.deletePolicy(index);
    await this.synchronize();
    return p;
  }

  getPolicy(index: number): Policy | undefined {
    return this.xfrm.spd.get(index);
  }

  listPolicies(dir?: PolicyDir): Policy[] {
    return this.xfrm.spd.list(dir);
  }

  async flushPolicies(dir?: PolicyDir): Promise<number> {
    this.open('flushPolicies');
    const n = this.xfrm.flushPolicies(dir);
    await this.synchronize();
    return n;
  }

  /** Run an `ip xfrm ...` line; resolves (with what it prints) once the queues see the change. */
  async apply(line: string, opts?: FormatOptions): Promise<string> {
    this.open('apply');
    if (typeof line !== 'string') throw new TypeError(`apply: an 'ip xfrm ...' line (a string) is needed, got ${describeValue(line)}`);
    const out = applyXfrmLine(this.xfrm, line, opts);
    await this.synchronize();
    return out;
  }

  /** Resolve after a grace period: every queue has passed a quiescent point (or is parked). */
  synchronize(): Promise<void> {
    return this.xfrm.synchronize({ timeoutMs: this.opts.graceTimeoutMs ?? 30_000 });
  }

  // ---- packets ----

  /**
   * Steer packets into the queues' receive rings. Returns how many of them, from the first,
   * were taken (a full ring takes no more; submit the rest later). `dir` is 'out' for the
   * output path (plain in, ESP out) and 'in' for the input path. If `tickets` is given, the
   * (queue, id) of each taken packet is pushed on it: its result will carry the same pair.
   */
  submit(packets: readonly Uint8Array[], dir: 'out' | 'in' = 'out', tickets?: { queue: number; id: number }[]): number {
    this.fedByRings('submit');
    checkPackets('submit', packets, dir);
    const d = dir === 'in' ? L.DIR_INPUT : L.DIR_OUTPUT;
    const counts = new Array<number>(this.queues).fill(0);
    const free = this.rx.map((r) => r.free());
    let taken = 0;
    for (const p of packets) {
      const q = d === L.DIR_OUTPUT ? this.steering.queueOfOutput(p, 0, p.length) : this.steering.queueOf(p, 0, p.length);
      if (counts[q] >= free[q]) break;
      const ring = this.rx[q];
      const k = counts[q]++;
      const id = this.nextId[q];
      this.nextId[q] = (id + 1) | 0; // int32, as the ring carries it: wraps, compared wrap-safe
      tickets?.push({ queue: q, id });
      ring.put(k, p, 0, Math.min(p.length, ring.maxPacket), d, id, 0);
      if (p.length > ring.maxPacket) ring.i32[ring.pending(k) >> 2] = p.length; // its queue drops it, counted
      taken++;
    }
    counts.forEach((n, q) => n > 0 && this.rx[q].publish(n));
    this.submitted += taken;
    return taken;
  }

  /** Take the results waiting on the transmit rings (at most `max`). */
  poll(max = Infinity): PacketResult[] {
    const out: PacketResult[] = [];
    for (let q = 0; q < this.queues && out.length < max; q++) {
      const ring = this.tx[q];
      const n = Math.min(ring.available(), max - out.length);
      for (let k = 0; k < n; k++) {
        const o = ring.ready(k);
        const w = o >> 2;
        const len = ring.i32[w];
        const meta = ring.i32[w + 1];
        const id = ring.i32[w + 2];
        const serial = ring.u64[(o >> 3) + 2];
        const sa = serial === 0n ? undefined : serial;
        // Processed twice by a worker that died between publish and release. Ids are int32 and
        // wrap (2^31 packets is hours on one queue): compare by signed difference.
        if (((id - this.expectId[q]) | 0) < 0) continue;
        this.expectId[q] = (id + 1) | 0;
        const v = meta & 0xff;
        const data = ring.u8.slice(o + SLOT_HEADER, o + SLOT_HEADER + len);
        let r: PacketResult;
        if (v === L.V_DROPPED) {
          const reason = DROP_REASONS[meta >> 8];
          r = { queue: q, id, verdict: 'dropped', reason, sa };
          this.totals.dropped++;
          if (len === L.ACQUIRE_WORDS * 4) this.raiseAcquire(new Int32Array(data.buffer, data.byteOffset, L.ACQUIRE_WORDS));
        } else if (v === L.V_DUMMY) {
          r = { queue: q, id, verdict: 'dummy', sa };
          this.totals.dummy++;
        } else {
          r = { queue: q, id, verdict: v === L.V_TRANSMITTED ? 'transmitted' : 'passed', data, sa };
          if (v === L.V_TRANSMITTED) this.totals.transmitted++;
          else this.totals.passed++;
          if ((meta & L.V_ACQUIRE) !== 0) {
            // Sent on a fallback SA; the queue asks for its own (after the packet's bytes).
            const words = ring.u8.slice(o + SLOT_HEADER + len, o + SLOT_HEADER + len + L.ACQUIRE_WORDS * 4);
            this.raiseAcquire(new Int32Array(words.buffer, 0, L.ACQUIRE_WORDS));
          }
        }
        out.push(r);
        this.pending.get(`${q}:${id}`)?.(r);
      }
      ring.release(n);
    }
    this.takeNotices();
    return out;
  }

  /** Submit packets and resolve with their results, in submission order. */
  async process(packets: readonly Uint8Array[], dir: 'out' | 'in' = 'out'): Promise<PacketResult[]> {
    this.fedByRings('process');
    checkPackets('process', packets, dir);
    const results: PacketResult[] = [];
    const waits: Promise<void>[] = [];
    let next = 0;
    while (next < packets.length) {
      const tickets: { queue: number; id: number }[] = [];
      const taken = this.submit(packets.slice(next, next + 256), dir, tickets);
      for (let i = 0; i < taken; i++) {
        const key = `${tickets[i].queue}:${tickets[i].id}`;
        const slot = next + i;
        waits.push(new Promise((resolve) => this.pending.set(key, (r) => ((results[slot] = r), this.pending.delete(key), resolve()))));
      }
      next += taken;
      this.poll();
      if (taken === 0) await new Promise((r) => setImmediate(r));
    }
    while (this.pending.size > 0) {
      if (this.closing) throw new Error('process: the dataplane was closed before every result came back');
      this.poll();
      if (this.pending.size > 0) await new Promise((r) => setTimeout(r, 0));
    }
    await Promise.all(waits);
    return results;
  }

  /**
   * Statistics: totals, per queue, drops by reason (cheap: a few words per queue). Per-SA
   * usage only when asked, a page at a time: `stats({ perState: { offset: 0, limit: 100 } })`
   * (in the order SAs were added; `perState: true` for all of them).
   */
  stats(opts: { perState?: boolean | { offset?: number; limit?: number } } = {}): DataplaneStats {
    const queues: QueueStats[] = [];
    const drops: Partial<Record<DropReason, number>> = {};
    for (let q = 0; q < this.queues; q++) {
      const c = this.counters;
      const b = L.COUNTER_LINE * q;
      const qd: Partial<Record<DropReason, number>> = {};
      DROP_REASONS.forEach((r, i) => {
        const v = c[b + L.C_DROPS + i];
        if (v > 0) {
          qd[r] = v;
          drops[r] = (drops[r] ?? 0) + v;
        }
      });
      const hist = Array.from(c.subarray(b + L.C_HIST, b + L.C_HIST + L.HIST_BUCKETS));
      queues.push({
        queue: q,
        packets: c[b + L.C_PACKETS],
        transmitted: c[b + L.C_TRANSMITTED],
        passed: c[b + L.C_PASSED],
        dropped: c[b + L.C_DROPPED],
        dummy: c[b + L.C_DUMMY],
        lookups: c[b + L.C_LOOKUPS],
        latencyHistogram: hist,
        batchLatencyNs: { p50: L.histPercentile(hist, 0.5), p99: L.histPercentile(hist, 0.99) },
        bytes: c[b + L.C_BYTES],
        batches: c[b + L.C_BATCHES],
        flowCache: { hits: c[b + L.C_CACHE_HITS], misses: c[b + L.C_CACHE_MISSES], checks: c[b + L.C_CACHE_CHECKS], used: c[b + L.C_CACHE_USED], capacity: c[b + L.C_CACHE_CAPACITY] },
        parks: c[b + L.C_PARKS],
        io: { socketFull: c[b + L.C_SOCKET_FULL], tunFull: c[b + L.C_TUN_FULL] },
        order: { histogram: Array.from(c.subarray(b + L.C_ORDER, b + L.C_ORDER + L.ORDER_BUCKETS)), maxBehind: c[b + L.C_ORDER_MAX] },
        starts: Atomics.load(this.control, L.CTRL_LINE * (1 + q) + L.Q_STARTS),
        drops: qd,
      });
    }
    return {
      submitted: this.submitted,
      results: { ...this.totals },
      drops,
      queues,
      restarts: this.restarts,
      stalls: { total: this.stallsTotal, now: [...this.stalledNow].sort() },
      states: this.xfrm.sad.size,
      policies: this.xfrm.spd.size,
      perState: opts.perState ? this.stateUsage(opts.perState === true ? {} : opts.perState) : undefined,
    };
  }

  private stateUsage(page: { offset?: number; limit?: number }): StateUsage[] {
    const from = page.offset ?? 0;
    const states = this.xfrm.sad.list(from, page.limit === undefined ? undefined : from + page.limit); // builds the page's States only
    return states.map((s) => {
      const u = this.xfrm.usage(s);
      return { spi: s.spi >>> 0, dst: formatAddress(s.dst), reqid: s.reqid, serial: s.serial, bytes: u?.bytes ?? 0n, packets: u?.packets ?? 0n };
    });
  }

  /** Start the queues' own traffic (with the `generate` option). */
  go(): void {
    Atomics.store(this.control, L.CTRL_GO, 1);
    Atomics.notify(this.control, L.CTRL_GO);
  }

  /** Test hook: make queue `q`'s worker hang for `ms`, online and not reporting (a stuck queue). */
  stallQueue(q: number, ms: number): void {
    Atomics.store(this.control, L.CTRL_LINE * (1 + q) + L.Q_STALL, ms);
    this.rx[q].wake();
  }

  /** Test hook: make queue `q`'s worker exit abruptly at its next batch. */
  killQueue(q: number): void {
    Atomics.store(this.control, L.CTRL_LINE * (1 + q) + L.Q_KILL, 1);
    this.rx[q].wake();
    this.tx[q].wake();
  }

  /** Resolve once every queue worker is attached and serving. */
  async ready(): Promise<void> {
    for (let q = 0; q < this.queues; q++) {
      while (Atomics.load(this.control, L.CTRL_LINE * (1 + q) + L.Q_READY) === 0) {
        if (this.startFailure !== undefined) throw this.startFailure;
        await new Promise((r) => setTimeout(r, 2));
      }
    }
  }

  /** Stop the queues (after they drain what was submitted), then the threads. */
  async close(): Promise<void> {
    if (this.closing) return;
    while (this.rx.some((r) => r.available() > 0)) {
      this.poll();
      await new Promise((r) => setTimeout(r, 1));
    }
    this.poll();
    this.closing = true;
    clearInterval(this.timer);
    clearInterval(this.noticeTimer);
    Atomics.store(this.control, L.CTRL_STOP, 1);
    Atomics.notify(this.control, L.CTRL_GO);
    for (const r of [...this.rx, ...this.tx]) r.wake();
    await Promise.all(this.running);
    this.poll();
    this.takeNotices();
    await this.pool.destroy();
    this.gatewayIo?.close();
    for (const r of this.readers) this.xfrm.epochs.unregister(r);
    this.xfrm.removeAllListeners();
  }

  /** Run queue q's worker; if it dies, take its epoch line back and start another. */
  private serve(q: number): void {
    const task: QueueTask = {
      queue: q,
      xfrm: this.xfrm.describe(),
      rx: this.rx[q].buffer,
      tx: this.tx[q].buffer,
      control: this.control.buffer as SharedArrayBuffer,
      counters: this.counters.buffer as SharedArrayBuffer,
      notices: this.notices[q].buffer,
      reader: this.readers[q],
      flowCacheSize: this.opts.flowCacheSize,
      backend: this.opts.crypto,
      batch: this.opts.batch,
      parkTimeoutMs: this.opts.parkTimeoutMs ?? 1000,
      noFlowCache: this.opts.ablate?.flowCache,
      mapClassifier: this.opts.ablate?.mapClassifier,
      perPacketSetup: this.opts.ablate?.cryptoContexts,
      refcounts: this.refcounts,
      generate:
        this.opts.generate === undefined
          ? undefined
          : {
              templates: this.opts.generate.templates[q],
              count: this.opts.generate.counts[q],
              size: this.opts.generate.size,
              sentTops: this.sentTops,
            },
      io: this.gatewayIo === undefined ? undefined : { tunFd: this.gatewayIo.tunFds[q], udpFd: this.gatewayIo.udpFds[q], slotBytes: this.gatewayIo.slotBytes, pathMtu: this.gatewayIo.pathMtu },
    };
    const line = L.CTRL_LINE * (1 + q);
    this.running[q] = this.pool.run(task).then(
      () => undefined,
      (e: unknown) => {
        this.xfrm.epochs.offline(this.readers[q]); // it holds nobody up; its replacement takes the line
        const served = Atomics.load(this.control, line + L.Q_READY) !== 0;
        Atomics.store(this.control, line + L.Q_READY, 0);
        this.startFailures[q] = served ? 0 : this.startFailures[q] + 1;
        // A worker that cannot even start (at create(), or three replacements in a row) is not
        // restarted in a loop: create() and ready() fail with its error instead.
        if (this.startFailures[q] > 0 && (Atomics.load(this.control, line + L.Q_STARTS) <= 1 || this.startFailures[q] >= 3)) {
          this.startFailure = new Error(`queue ${q} failed to start: ${(e as Error)?.message ?? String(e)}`);
          return;
        }
        if (this.closing) return;
        this.restarts++;
        this.serve(q);
        return this.running[q];
      },
    );
  }

  /** Report queues that stopped reporting while reclamation waits for them (once per episode). */
  private watchStalls(): void {
    const stallMs = this.opts.stallMs ?? 2000;
    const stalled = new Set(this.xfrm.epochs.stalled(Date.now(), stallMs));
    for (let q = 0; q < this.queues; q++) {
      const now = stalled.has(this.readers[q]);
      if (now && !this.stalledNow.has(q)) {
        this.stallsTotal++;
        this.emit('stall', { queue: q, ms: stallMs } satisfies StallEvent);
      }
      if (now) this.stalledNow.add(q);
      else this.stalledNow.delete(q);
    }
  }

  /** Turn the queues' lifetime notices into expiries (and check every SA if some were lost). */
  private takeNotices(): void {
    let lost = false;
    for (const ring of this.notices) lost = ring.drain((serial, bits) => this.xfrm.notice(serial, bits)) || lost;
    if (lost) this.xfrm.checkAll();
  }

  private raiseAcquire(w: Int32Array): void {
    const family = w[0] as Family;
    const addr = (o: number): Address => ({ family, words: [w[o], w[o + 1], w[o + 2], w[o + 3]] });
    const mode: Mode = w[11] === 1 ? 'tunnel' : 'transport';
    const pcpuNum = w[15] === 0 ? undefined : w[15] - 1;
    this.xfrm.raiseAcquire({ family, dst: addr(1), src: addr(5), proto: w[9], reqid: w[10], mode, policy: w[12], template: w[13], pcpuNum });
  }
}

function describeValue(v: unknown): string {
  return v === null ? 'null' : Array.isArray(v) ? 'an array' : typeof v === 'object' ? 'an object' : `${typeof v} ${String(v).slice(0, 40)}`;
}

/** The packets and direction given to submit() or process(), checked at the boundary. */
function checkPackets(what: string, packets: readonly Uint8Array[], dir: unknown): void {
  if (dir !== 'out' && dir !== 'in') throw new TypeError(`${what}: direction must be 'out' or 'in', got ${describeValue(dir)}`);
  if (!Array.isArray(packets)) throw new TypeError(`${what}: an array of Uint8Array packets is needed, got ${describeValue(packets)}`);
  const bad = packets.findIndex((p) => !(p instanceof Uint8Array));
  if (bad >= 0) throw new TypeError(`${what}: packet ${bad} is not a Uint8Array (${describeValue(packets[bad])})`);
}

const powerOfTwo = (n: unknown, lo: number, hi: number) => typeof n === 'number' && Number.isInteger(n) && n >= lo && n <= hi && (n & (n - 1)) === 0;

/** Every option checked on the control thread, before a thread starts: a bad one is a RangeError naming it. */
function checkOptions(o: DataplaneOptions): void {
  const fail = (name: string, want: string, got: unknown) => {
    throw new RangeError(`Dataplane option ${name} must be ${want}, got ${describeValue(got)}`);
  };
  const int = (name: string, v: unknown, lo: number, hi: number) => {
    if (v !== undefined && !(typeof v === 'number' && Number.isInteger(v) && v >= lo && v <= hi)) fail(name, `a whole number from ${lo} to ${hi}`, v);
  };
  int('queues', o.queues, 1, 64);
  if (o.crypto !== undefined && !AEAD_BACKENDS.includes(o.crypto)) fail('crypto', AEAD_BACKENDS.map((b) => `'${b}'`).join(', '), o.crypto);
  if (o.crypto === 'native') aeadBackend('native'); // throws, saying why, before any worker starts
  if (o.io !== undefined) {
    const io = o.io;
    if (typeof io.tun !== 'string' || !/^[A-Za-z0-9_.-]{1,14}$/.test(io.tun)) fail('io.tun', "a device name of 1 to 14 letters, digits, '_', '.' or '-'", io.tun);
    if (typeof io.local !== 'string' || !isIP(io.local)) fail('io.local', 'an IPv4 or IPv6 address', io.local);
    int('io.port', io.port, 1, 65535);
    int('io.mtu', io.mtu, 576, 9000);
    int('io.keepaliveSeconds', io.keepaliveSeconds, 0, 86400);
    int('io.pathMtu', io.pathMtu, 576, 65535);
  }
  if (o.outputSteering !== undefined && o.outputSteering !== 'sa' && o.outputSteering !== 'flow') fail('outputSteering', "'sa' or 'flow'", o.outputSteering);
  if (o.flowCacheSize !== undefined && !powerOfTwo(o.flowCacheSize, 4, 1 << 24)) fail('flowCacheSize', 'a power of two from 4 to 2^24', o.flowCacheSize);
  if (o.ringSlots !== undefined && !powerOfTwo(o.ringSlots, 2, 1 << 20)) fail('ringSlots', 'a power of two from 2 to 2^20', o.ringSlots);
  if (o.slotBytes !== undefined && !(typeof o.slotBytes === 'number' && o.slotBytes % 16 === 0 && o.slotBytes >= 64 && o.slotBytes <= 1 << 17)) {
    fail('slotBytes', 'a multiple of 16 from 64 to 131072', o.slotBytes);
  }
  int('batch', o.batch, 1, o.ringSlots ?? 1024);
  int('acquireTimeoutMs', o.acquireTimeoutMs, 1, 2 ** 31 - 1);
  int('graceTimeoutMs', o.graceTimeoutMs, 1, 2 ** 31 - 1);
  int('stallMs', o.stallMs, 1, 2 ** 31 - 1);
  int('parkTimeoutMs', o.parkTimeoutMs, 1, 2 ** 31 - 1);
  int('mtu', o.mtu, 68, 65535);
}

/** Slot bytes for packets of up to `mtu` bytes, in two nested tunnels (2 x 77 bytes of ESP), with the slot header; a multiple of 16. */
export function slotBytesFor(mtu: number): number {
  return Math.ceil((mtu + 2 * 77 + SLOT_HEADER) / 16) * 16;
}
