/**
 * One queue's packet path over the shared tables, whatever feeds it (the receive ring, the
 * benchmark's own traffic, a TUN device and a UDP socket): the tables attached, the epoch
 * reader, the flow cache in front of the ESP engine on output, and the queue's counter line,
 * notices and control words.
 *
 * Shared memory: reads the SPD and SAD lock-free (inside the reader's online sections);
 * writes SA runtime blocks (EspEngine), its notice ring (the producer side), its own control
 * words and counter line (queue-layout.ts), and with the refcount ablation the shared counts
 * (`Atomics.add`, any queue; nobody reads them). A cache hit allocates nothing and takes no
 * lock for lifetimes: an SA without count limits is counted in this queue's own lifetime share
 * (sa-runtime.ts chargeShare, plain 64-bit stores); one with limits takes the shared count's
 * atomic adds.
 */
import {
  ChangeEpoch,
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
  PASS,
  DUMMY,
  MAX_TEMPLATES,
  type AcquireRequest,
  type AeadBackendName,
  type HeldContexts,
  type SaContext,
  type SealBatch,
  type XfrmDescription,
} from '@xfrm/core';
import { CACHED_BLOCK, CACHED_NONE, FlowCache } from './flow-cache.js';
import { KEY_WORDS, packetKey } from './flow-key.js';
import { NoticeRing } from './notice-ring.js';
import * as L from './queue-layout.js';

/**
 * The Map baseline's value: a bundle's states and, as a flow cache entry keeps them, their SA
 * contexts (kept without a check: the baseline has no invalidation and is refused with churn).
 */
class MapEntry implements HeldContexts {
  readonly contexts: (SaContext | undefined)[];

  constructor(readonly states: Int32Array) {
    this.contexts = new Array<SaContext | undefined>(states.length).fill(undefined);
  }

  hold(k: number, sa: SaContext): void {
    this.contexts[k] = sa;
  }
}

/** What every queue task carries, whatever feeds the queue. */
export interface QueueBase {
  queue: number;
  xfrm: XfrmDescription;
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
  /**
   * The refcount ablation: one shared int32 reference count per SA number, which this queue
   * raises and drops around every packet (the counts live here, not in every SA's record).
   */
  refcounts?: SharedArrayBuffer;
}

const OUT = 1;
/** How often a busy queue wipes the contexts of dead SAs (ms). */
const SWEEP_MS = 250;

/** A queue's packet path (see the file comment). */
export class QueuePath {
  readonly heap: HeapView;
  readonly spd: PolicyDbView;
  readonly sad: StateDbView;
  readonly engine: EspEngine;
  /** Native backend: the batch's seals, run in one call before the batch leaves. */
  readonly seals: SealBatch | undefined;
  readonly cache: FlowCache;
  readonly control: Int32Array;
  readonly counters: Float64Array;
  /** This queue's counter line and control line. */
  readonly c: number;
  readonly line: number;
  readonly reader: EpochReader;
  /** Whether the tables changed since this queue last checked what it caches (change-epoch.ts). */
  readonly changes: ChangeEpoch;
  /** A per-queue ACQUIRE the last output() raised while it sent on a fallback SA. */
  queueAcquire: AcquireRequest | undefined;
  private readonly notices: NoticeRing;
  private readonly notify: (serial: bigint, bits: number) => void;
  private readonly flow = new Int32Array(FLOW_WORDS);
  private readonly key = new Int32Array(KEY_WORDS);
  private readonly info = newIpInfo();
  private readonly scratch = newBundleScratch(); // resolveInto's result: the flow cache copies what it keeps
  private readonly classifier = new Map<string, MapEntry | null>(); // the map-classifier baseline only
  /** Where cached bundles keep their SA contexts: the flow cache, except under the per-packet-setup ablation. */
  private readonly held: FlowCache | undefined;
  private readonly refs: Int32Array | undefined;
  private lookups = 0;
  private packets = 0;
  /** Verdict and byte counts by counter index (L.C_TRANSMITTED .. L.C_BYTES): kept here, published per batch. */
  private readonly tally = new Float64Array(L.C_BYTES + 1);
  private lastSweep = performance.now();

  constructor(private readonly t: QueueBase) {
    this.heap = HeapView.attach(t.xfrm.heap);
    this.spd = PolicyDbView.attach(this.heap, t.xfrm.spd);
    this.sad = StateDbView.attach(this.heap, t.xfrm.sad);
    this.reader = EpochReader.attach(this.heap, t.xfrm.epochs, t.reader); // claimed by the control thread: nothing leaks if we die
    this.changes = new ChangeEpoch(this.reader, this.spd, this.sad);
    this.engine = new EspEngine(this.spd, this.sad, {
      backend: aeadBackend(t.backend),
      perPacketSetup: t.perPacketSetup,
      queue: t.queue,
      batchSeals: true,
      changes: this.changes,
    });
    this.seals = this.engine.sealBatch;
    this.cache = new FlowCache(t.flowCacheSize);
    this.held = t.perPacketSetup ? undefined : this.cache;
    this.refs = t.refcounts === undefined ? undefined : new Int32Array(t.refcounts);
    this.control = new Int32Array(t.control);
    this.notices = new NoticeRing(t.notices);
    this.notify = (serial, bits) => this.notices.push(serial, bits);
    this.line = L.CTRL_LINE * (1 + t.queue);
    this.counters = new Float64Array(t.counters);
    this.c = L.COUNTER_LINE * t.queue;
    Atomics.add(this.control, this.line + L.Q_STARTS, 1);
    this.counters[this.c + L.C_CACHE_CAPACITY] = this.cache.capacity;
    for (let k = L.C_TRANSMITTED; k <= L.C_BYTES; k++) this.tally[k] = this.counters[this.c + k]; // a restarted queue goes on from its line
  }

  /** True once the control thread asked every queue to stop. */
  get stopping(): boolean {
    return Atomics.load(this.control, L.CTRL_STOP) !== 0;
  }

  /** Test hooks (Dataplane.killQueue, stallQueue): exit abruptly, or hang online without reporting. */
  testHooks(): void {
    const { control, line } = this;
    if (Atomics.load(control, line + L.Q_KILL) !== 0) {
      Atomics.store(control, line + L.Q_KILL, 0);
      process.exit(1); // a worker dying mid-run
    }
    const stall = Atomics.exchange(control, line + L.Q_STALL, 0);
    if (stall > 0) Atomics.wait(control, line + L.Q_STALL, 0, stall); // stuck, online, not reporting
  }

  /**
   * Output path with the flow cache in front, for the packet at `data[io .. io+len)`, written
   * to `out[oo ..]`: returns a result length, PASS or DROPPED. Pass whole areas with offsets,
   * not a view per slot: copies then go by words (byte-copy.ts).
   */
  output(data: Uint8Array, io: number, len: number, out: Uint8Array, oo: number): number {
    const { engine, cache, t } = this;
    engine.usedCount = 0; // a cached "no policy" or "block" uses no SA: charge none
    this.queueAcquire = undefined;
    if (t.noFlowCache) {
      const r = engine.output(data, io, len, out, oo); // parses and classifies itself
      this.lookups += 1 + engine.usedCount;
      if (r >= 0) this.queueAcquire = engine.acquire;
      return r;
    }
    const info = this.info;
    if (!parseIp(data, io, len, info)) return engine.drop(DROP.XfrmOutError);
    if (t.mapClassifier) return this.mapOutput(data, io, len, out, oo);
    this.lookups++;
    packetKey(data, io, info, this.key); // a hit needs no packed flow: only the full lookup does
    let i = cache.lookup(this.spd, this.sad, OUT, this.key, this.changes);
    if (i < 0) {
      writePacketFlow(data, io, info, this.flow, 0);
      const scratch = this.scratch;
      const kind = resolveInto(this.spd, this.sad, OUT, this.flow, 0, scratch, t.queue); // reads the generations first
      this.lookups += 1 + scratch.count;
      if (kind === RESOLVED_ACQUIRE) {
        engine.acquire = scratch.acquire;
        return engine.drop(DROP.XfrmOutNoStates);
      }
      if (scratch.acquire !== undefined) {
        // On the fallback SA while this queue's own is asked for: not cached, so every packet
        // asks again (merged on the control thread) until the SA arrives or the ACQUIRE expires.
        this.queueAcquire = scratch.acquire;
        return engine.encapsulate(scratch.states, data, io, len, out, oo, 0, scratch.count, info);
      }
      i = cache.install(OUT, this.key, kind, scratch, this.changes);
    }
    const kind = cache.kind(i);
    if (kind === CACHED_NONE) return PASS;
    if (kind === CACHED_BLOCK) return engine.drop(DROP.XfrmOutPolBlock);
    const s = i * MAX_TEMPLATES;
    const n = cache.count(i);
    if (this.refs !== undefined) this.refcount(this.refs, s, n, 1);
    const r = engine.encapsulate(cache.states, data, io, len, out, oo, s, n, info, this.held);
    if (this.refs !== undefined) this.refcount(this.refs, s, n, -1);
    return r;
  }

  /** After a batch: hand notices over, publish the counters, now and then wipe dead SAs' contexts. */
  publishCounters(n: number, elapsedNs: number): void {
    const { counters, c, cache, engine } = this;
    engine.takeNotices(this.notify);
    // Now and then, wipe the cipher contexts of SAs that died (keys do not outlive their SA
    // here by more than that): by time, not batches, since a sweep walks every context (at 10k
    // SA changes a second, sweeping every 1,024 batches was 1.8 % of the queue).
    const now = performance.now();
    if (now - this.lastSweep >= SWEEP_MS) {
      engine.contexts.sweep();
      this.lastSweep = now;
    }
    this.packets += n;
    counters[c + L.C_PACKETS] = this.packets;
    const tally = this.tally;
    for (let k = L.C_TRANSMITTED; k <= L.C_BYTES; k++) counters[c + k] = tally[k];
    counters[c + L.C_BATCHES]++;
    counters[c + L.C_CACHE_HITS] = cache.hits;
    counters[c + L.C_CACHE_MISSES] = cache.misses;
    counters[c + L.C_CACHE_CHECKS] = cache.checks;
    counters[c + L.C_CACHE_USED] = cache.used;
    counters[c + L.C_LOOKUPS] = this.lookups;
    counters[c + L.C_HIST + L.histBucket(elapsedNs)]++;
    for (let d = 0; d < engine.drops.length; d++) counters[c + L.C_DROPS + d] = engine.drops[d];
  }

  /** Count the verdict of a packet that came in with `bytes` from its result (a length, PASS, DUMMY or DROPPED). */
  count(result: number, bytes: number): void {
    this.tally[result >= 0 ? L.C_TRANSMITTED : result === PASS ? L.C_PASSED : result === DUMMY ? L.C_DUMMY : L.C_DROPPED]++;
    this.tally[L.C_BYTES] += bytes;
  }

  /** A packet counted as transmitted was not (its deferred seal failed, or it was too big for the path): count it dropped. */
  uncountTransmitted(reason = DROP.XfrmOutStateProtoError): void {
    this.engine.drops[reason]++;
    this.tally[L.C_TRANSMITTED]--;
    this.tally[L.C_DROPPED]++;
  }

  /** Leave: offline in the epoch domain (the line stays the queue's until the control thread gives it back), keys wiped. */
  finish(): { packets: number } {
    this.reader.offline();
    this.engine.contexts.clear();
    return { packets: this.packets };
  }

  /** The refcount ablation: what readers would do if they counted references like an accountant. */
  private refcount(refs: Int32Array, s: number, n: number, by: number): void {
    for (let j = 0; j < n; j++) Atomics.add(refs, this.sad.saNumber(this.cache.states[s + j]), by);
  }

  /** The Map baseline: classify by a 5-tuple string in a Map, then the same ESP path. */
  private mapOutput(data: Uint8Array, io: number, len: number, out: Uint8Array, oo: number): number {
    const { engine, scratch } = this;
    this.lookups++;
    writePacketFlow(data, io, this.info, this.flow, 0);
    const key = this.flow.join(',');
    let entry = this.classifier.get(key);
    if (entry === undefined) {
      const kind = resolveInto(this.spd, this.sad, OUT, this.flow, 0, scratch, this.t.queue);
      if (kind === RESOLVED_ACQUIRE) {
        engine.acquire = scratch.acquire;
        return engine.drop(DROP.XfrmOutNoStates);
      }
      entry = kind === RESOLVED_BLOCK ? null : new MapEntry(kind === RESOLVED_BUNDLE ? scratch.states.slice(0, scratch.count) : new Int32Array(0));
      this.classifier.set(key, entry);
    }
    if (entry === null) return engine.drop(DROP.XfrmOutPolBlock);
    const n = entry.states.length;
    return n === 0 ? PASS : engine.encapsulate(entry.states, data, io, len, out, oo, 0, n, this.info, this.t.perPacketSetup ? undefined : entry);
  }
}
