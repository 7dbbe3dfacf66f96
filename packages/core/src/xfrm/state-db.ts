/**
 * The security association database (SAD): states (SAs) and their two lookups, as the
 * talk's "xfrm_state hash tables": `byspi` (dst, spi, proto) for input, `bydst` (dst, src,
 * reqid, proto, mode) for building output bundles from templates. (Linux's third, `bysrc`,
 * serves lookups this dataplane does not make; flushes and listings walk the SA numbers.)
 *
 * Shared layout (int32 words)
 *   state record (arena): configuration, immutable once published except `genid` and `dead`
 *     (S_* fields below). `genid` and `serial` are u64 (read with 64-bit Atomics): `serial`
 *     names the SA for its whole life (kept by updates, never reused); `genid` names this
 *     record's version and takes a new, larger value from one u64 counter at every write,
 *     so an equality check never meets an old value again (no ABA in a gateway's lifetime).
 *     `bydst` chains run through S_NEXT_DST; a chain is newest first, so the first live state
 *     is the one to use.
 *   chain block (heap, one per `bydst` key, the key's `bydst` value; CHAIN_* below): the
 *     key's shadow generation, its queue-bound state count, its first state.
 *   control side (not shared): what no reader needs (time limits, configured counters,
 *   lifetime times) in typed-array columns by SA number (state-rows.ts), serials to numbers
 *   in an index (u64-index.ts). The SAD keeps no JS object per SA: a State is built from
 *   the record and its row when asked for.
 *   runtime block (heap): what packets change: output sequence number, replay window state
 *     and bitmap, flags (RT_* below). A state update makes a new configuration record that
 *     points at the same runtime block, so no sequence number is ever handed out twice.
 *
 * Concurrency contract
 * - Writes: the control thread adds, updates and deletes states. A record is filled before
 *   it is linked (chain.ts). Each `bydst` key has a shadow generation word (in its chain
 *   block, found through `bydst` or a record's S_CHAIN): adding a state
 *   moves it once, after the state is linked, which invalidates the bundles of exactly the
 *   states the new one may shadow, in O(1). Beside it, the count of the key's queue-bound
 *   (pcpu-num) states, raised before such a state is linked and lowered after it is unlinked:
 *   a lookup walks past the key's first match only when it is not zero (a key may hold
 *   thousands of states). A delete sets `dead`, then moves the record's
 *   `genid` (never-reused numbers), then retires it. After every genid or shadow generation
 *   move, the move's change shard into the change log (`Atomics.store`), then the SAD's change
 *   count (u64 `Atomics.add`; control thread; queues read them, ChangeEpoch). Queue workers
 *   write only the runtime block, with `Atomics` (the output sequence by compare-exchange;
 *   the replay window only from the one queue the SA's SPI is steered to).
 * - Reads: any thread, lock-free, within a read-side section. A (slot, genid) pair held
 *   longer (a bundle in a flow cache) is checked against `genid` before use.
 * - Secrets: keys are only in the record (the workers build cipher contexts from them);
 *   freeing a record poisons it, which wipes them. A State handed out carries its own copy
 *   (the caller's to wipe); the one a delete returns is wiped already.
 */
import { anyAddress, formatAddress, isAnyAddress, sameAddress, type Address, type Family } from './address.js';
import { U64Index } from './u64-index.js';
import { CHANGE_LOG_WORDS, changeCount, logChange, loggedShard } from './change-log.js';
import { SETTING_REPLAY, StateRows } from './state-rows.js';
import { Chains, chainNext } from '../shm/chain.js';
import { retireWith, type Reclaimer } from '../shm/epoch.js';
import { HashTable } from '../shm/hash-table.js';
import { loadU64Words, u64WordsEqual } from '../shm/u64-words.js';
import { COUNT_LIMITS, NO_LIMITS, XFRM_INF, type LifetimeLimits, type LifetimeLimitsSpec } from './lifetime.js';
import { ArenaView, RecordArena, type ArenaDescription } from '../shm/record-arena.js';
import { SEL_WORDS, anySelector, readSelector, selectorIsAny, selectorMatches, writeSelector, type Selector } from './selector.js';
import { type HeapView, type SharedHeap } from '../shm/shared-heap.js';
import { IPPROTO_ESP, MODE_NUMBER, type Mode } from './template.js';
import { XfrmError } from './xfrm-error.js';
import {
  RT_BITMAP,
  RT_BYTES,
  RT_EXHAUSTED,
  RT_FLAGS,
  RT_LOCK,
  RT_OSEQ,
  RT_OSEQ_HI,
  RT_PACKETS,
  RT_SEQ,
  RT_SEQ_HI,
  SH_BYTES,
  SH_PACKETS,
  runtimeWords,
  sharesAt,
  sharesSum,
} from './sa-runtime.js';

/** The AEADs ESP supports here, by their Linux names, and the benchmark-only null cipher. */
export type AlgorithmName = 'rfc4106(gcm(aes))' | 'rfc7539esp(chacha20,poly1305)' | 'cipher_null';
/** Algorithm numbers as packed in state records. */
export const ALG_NUMBER: Readonly<Record<AlgorithmName, number>> = {
  cipher_null: 0,
  'rfc4106(gcm(aes))': 1,
  'rfc7539esp(chacha20,poly1305)': 2,
};
const ALG_NAME: readonly AlgorithmName[] = ['cipher_null', 'rfc4106(gcm(aes))', 'rfc7539esp(chacha20,poly1305)'];
const MODE_NAME: readonly Mode[] = ['transport', 'tunnel'];

/** An SA's transform: AEAD key material (cipher key then 4-byte salt) and ICV length. */
export interface Algorithm {
  readonly name: AlgorithmName;
  readonly key: Uint8Array;
  readonly icvBits: number;
}

/** ESP-in-UDP encapsulation (RFC 3948). */
export interface Encap {
  readonly type: 'espinudp';
  readonly sport: number;
  readonly dport: number;
  /** Original address (NAT-OA); the any address when unknown. */
  readonly oa: Address;
}

/** Initial sequence and replay counters (`replay-seq`, `replay-oseq` and their -hi halves). */
export interface ReplayCounters {
  readonly seq: number;
  readonly seqHi: number;
  readonly oseq: number;
  readonly oseqHi: number;
}

/** A state as the caller gives it. */
export interface StateSpec {
  readonly dst: Address;
  readonly src: Address;
  readonly spi: number;
  readonly proto?: number;
  readonly mode?: Mode;
  readonly reqid?: number;
  readonly algorithm: Algorithm;
  /** Anti-replay window in packets, 0 (off) to 4096. */
  readonly replayWindow?: number;
  readonly esn?: boolean;
  readonly replay?: Partial<ReplayCounters>;
  /** Which packets may use the SA; any packet of the family by default. */
  readonly selector?: Selector;
  readonly limits?: LifetimeLimitsSpec;
  readonly encap?: Encap;
  /**
   * Bind the SA to one queue (`pcpu-num N`, RFC 9611 per-resource Child SAs as Linux 6.13
   * has them for CPUs): only queue N uses it for output, in preference to a state of the same
   * template without one (the fallback), which every queue without its own may use.
   */
  readonly pcpuNum?: number;
}

/** A state in the database (the configuration; live counters are in shared memory). */
export interface State {
  readonly family: Family;
  readonly dst: Address;
  readonly src: Address;
  readonly spi: number;
  readonly proto: number;
  readonly mode: Mode;
  readonly reqid: number;
  readonly algorithm: Algorithm;
  readonly replayWindow: number;
  readonly esn: boolean;
  readonly replay: ReplayCounters;
  readonly selector: Selector;
  readonly limits: LifetimeLimits;
  readonly encap: Encap | undefined;
  /** The queue the SA is bound to, or undefined (any queue). */
  readonly pcpuNum: number | undefined;
  /**
   * The SA's identity: given when it is added, kept by updates, never given to another SA
   * (a u64 counter). Results and lifetime notices from the packet path name SAs by it.
   */
  readonly serial: bigint;
}

/** What a worker needs to attach to the SAD. */
export interface StateDbDescription {
  readonly arena: ArenaDescription;
  readonly byspi: number;
  readonly bydst: number;
  /** Heap offset of the SAD's change count (u64, {@link StateDbView.changes}). */
  readonly changes: number;
  /** Lifetime shares per runtime block ({@link StateDbOptions.lifetimeShares}). */
  readonly shares: number;
}

/** Options for {@link StateDb.create}. */
export interface StateDbOptions {
  /** Most states at once (records retired but not yet freed count too). Default 2^22. */
  capacity?: number;
  /** Accept `cipher_null` states (no confidentiality, no integrity): benchmarks only. */
  allowNullCipher?: boolean;
  /**
   * Queues 0 to N-1 count the lifetimes of SAs without count limits each in a share of its
   * own, with plain stores instead of two locked 64-bit adds a packet (sa-runtime.ts); a queue
   * from N on, and any SA with limits, counts atomically in the shared count. 16 bytes per SA
   * per share. 0 to 64; default 0 (a Dataplane asks for one per queue).
   */
  lifetimeShares?: number;
}

// State record fields (payload words). The u64 fields come first, at even offsets.
export const S_GENID = 0; // u64
export const S_SERIAL = 2; // u64
// The state's table keys, in place (the tables keep only their offsets), overlapping: S_SPI ..
// S_DST + 3 is its `byspi` key (spi, proto, family, dst), S_PROTO .. S_MODE its `bydst` key
// (proto, family, dst, src, reqid, mode).
export const S_SPI = 4;
export const S_PROTO = 5;
export const S_FAMILY = 6;
export const S_DST = 7;
export const S_SRC = 11;
export const S_REQID = 15;
export const S_MODE = 16;
/**
 * The state's small settings in one word: its flags (FLAG_*, bits 0-3), algorithm (bits 4-5:
 * 0 null, 1 AES-GCM, 2 ChaCha20-Poly1305), ICV bytes (6-10), key bytes (11-16) and replay
 * window (17-29: at most 4096). Read them with {@link paramAlg} and its siblings.
 */
export const S_PARAMS = 17;
export const S_NEXT_DST = 18;
export const S_KEY = 19; // 9 words: up to 36 bytes of key material
export const S_ENCAP_PORTS = 28; // sport << 16 | dport; 0 without encapsulation
/**
 * Heap offset of the state's extras block (X_* below: its byte and packet limits, selector and
 * NAT-OA), 0 when it has none of them (no count limits, the any selector, no original address:
 * most states). Allocated before the record is published, retired with it; read when a
 * queue builds the SA's context, and by a lookup of a state with a selector.
 */
export const S_EXTRA = 29;
export const S_RUNTIME = 30;
export const S_DEAD = 31;
const S_PREV_DST = S_DEAD + 1;
/**
 * A `bydst` key's chain block, the value of its `bydst` entry: its shadow generation (u64,
 * words 0-1), how many of its states are bound to a queue (word 2, read by queues), its first
 * state (word 3, slot + 1, 0 for none: the block goes when an unlink leaves it 0). The
 * entry's key is the first state's own (chain.ts moves the entry's key offset with the head).
 */
const CHAIN_PCPU = 2;
const CHAIN_HEAD = 3;
export const CHAIN_BLOCK_WORDS = 4;
/** `byspi` key: spi, proto, family, dst[4] (S_SPI ..). `bydst` key: proto, family, dst[4], src[4], reqid, mode (S_PROTO ..). */
const SPI_KEY_WORDS = 7;
const DST_KEY_WORDS = 12;
/** Heap offset of the shadow generation word of the state's `bydst` key. */
export const S_CHAIN = S_PREV_DST + 1;
/** The queue the state is bound to (RFC 9611 per-resource SA, Linux's pcpu_num), -1 for none. */
export const S_PCPU = S_CHAIN + 1;
/** The SA's number: its row in the control thread's columns (state-rows.ts); kept by updates. */
const S_NUM = S_PCPU + 1;
const S_WORDS = S_NUM + 1;
/** Extras block: the u64 count limits (XFRM_INF for none), the packed selector, the NAT original address (4 words). */
export const X_HARD_BYTES = 0;
export const X_HARD_PACKETS = 2;
export const X_SOFT_BYTES = 4;
export const X_SOFT_PACKETS = 6;
const X_SEL = 8;
const X_OA = X_SEL + SEL_WORDS;
const X_WORDS = X_OA + 4;
/** S_PARAMS flag bits. */
export const FLAG_ESN = 1;
export const FLAG_ENCAP = 2;
/** A selector that is "any" is not checked against the flow. */
export const FLAG_SEL_ANY = 4;
/** The state has a use-time limit: the control thread must hear of its first use. */
export const FLAG_USE_TIME = 8;

/**
 * Shards of the SAD's changes, so that a change stales only the cached answers that depend on
 * its shard: with one count, 10,000 SA changes a second moved it every ~0.4 ms and a queue
 * rechecked ~75 % of its hits (1,024 flows, ~500 packets between moves); with 256 shards
 * ~5 %, with 4,096 0.4 % (PERFORMANCE.md). A reader learns which shards changed from the
 * SAD's change log (change-log.ts), so their number costs it nothing per section.
 */
export const CHANGE_SHARDS = 4096;

/** The change shard of a genid move of the record in `slot`. */
export function slotShard(slot: number): number {
  return slot & (CHANGE_SHARDS - 1);
}

/** The change shard of a chain generation move of the key whose chain block is at `block` (4-word blocks). */
export function chainShard(block: number): number {
  return (block >>> 2) & (CHANGE_SHARDS - 1);
}

/** S_PARAMS fields (see there). */
export function paramAlg(w: number): number {
  return (w >>> 4) & 3;
}
export function paramIcvBytes(w: number): number {
  return (w >>> 6) & 31;
}
export function paramKeyBytes(w: number): number {
  return (w >>> 11) & 63;
}
export function paramWindow(w: number): number {
  return w >>> 17;
}
function packParams(flags: number, alg: number, icvBytes: number, keyBytes: number, window: number): number {
  // Bounds checked where states are: window <= 4096, key <= 36 bytes, ICV <= 16, three algorithms.
  return flags | (alg << 4) | (icvBytes << 6) | (keyBytes << 11) | (window << 17);
}


export const MAX_KEY_BYTES = 36;
const ZERO_COUNTERS: ReplayCounters = Object.freeze({ seq: 0, seqHi: 0, oseq: 0, oseqHi: 0 });
const COUNTER_NAMES = ['seq', 'seqHi', 'oseq', 'oseqHi'] as const;
const MAX_REPLAY_WINDOW = 4096;

/** A reader's view of the SAD. */
export class StateDbView {
  readonly arena: ArenaView;
  private readonly spiKey = new Int32Array(SPI_KEY_WORDS);
  private readonly dstKey = new Int32Array(DST_KEY_WORDS);

  constructor(
    /** The heap the database lives in. */
    readonly heap: HeapView,
    arena: ArenaView,
    protected readonly tables: { byspi: number; bydst: number; changes: number; shares: number },
  ) {
    this.arena = arena;
  }

  /** Lifetime shares per runtime block: queue q < shares counts in share q (sa-runtime.ts). */
  get lifetimeShares(): number {
    return this.tables.shares;
  }

  /** Rebuild a view from its description (in a worker). */
  static attach(heap: HeapView, desc: StateDbDescription): StateDbView {
    return new StateDbView(heap, ArenaView.attach(heap, desc.arena), desc);
  }

  /** The description to post to a worker. */
  describe(): StateDbDescription {
    return { arena: this.arena.describe(), ...this.tables };
  }

  /** Word offset of a field of the state in `slot` (read it through `heap.i32`). */
  field(slot: number, field: number): number {
    return this.arena.payload(slot) + field;
  }

  /** The state for an inbound packet: `byspi` on (dst words at `dst[d]`, spi, proto), or -1. */
  byspi(family: number, dst: Int32Array, d: number, spi: number, proto: number): number {
    const key = this.spiKey;
    key[0] = spi;
    key[1] = proto;
    key[2] = family;
    for (let w = 0; w < 4; w++) key[3 + w] = dst[d + w];
    return HashTable.lookupIn(this.heap, this.tables.byspi, key, 0);
  }

  /**
   * The SAD's change count (u64): it moves after every move of a state's genid or of a key's
   * chain generation, never before, and after the move's shard is in the change log
   * ({@link loggedShard}). A reader that read it, then checked a genid or chain generation,
   * and later reads it unchanged knows the check still holds (ChangeEpoch).
   */
  changes(): bigint {
    return changeCount(this.heap, this.tables.changes);
  }

  /**
   * Entry `i` of the change log (change-log.ts): the shard ({@link slotShard} of a genid move,
   * {@link chainShard} of a chain generation move) of the change whose count was `i` modulo
   * CHANGE_LOG before it, as long as the count has not since moved CHANGE_LOG or more.
   */
  loggedShard(i: number): number {
    return loggedShard(this.heap, this.tables.changes, i);
  }

  /** The {@link chainShard} of the `bydst` key of the state in `slot` (its chain block never changes). */
  chainShardOf(slot: number): number {
    return chainShard(this.heap.i32[this.field(slot, S_CHAIN)]);
  }

  /** The genid `bydst` read from the state it returned (before it checked it was alive), as u64 halves (shm/u64-words.ts). */
  readonly lastGenid = new Int32Array(2);
  /** The genid of the state a `bydst` walk stands on, and of its fallback (halves). */
  private readonly stepGenid = new Int32Array(2);
  private readonly fallbackGenid = new Int32Array(2);

  private setDstKey(family: number, dst: Int32Array, d: number, src: Int32Array, s: number, reqid: number, proto: number, mode: number): Int32Array {
    const key = this.dstKey;
    key[0] = proto;
    key[1] = family;
    for (let w = 0; w < 4; w++) {
      key[2 + w] = dst[d + w];
      key[6 + w] = src[s + w];
    }
    key[10] = reqid;
    key[11] = mode;
    return key;
  }

  /**
   * Copy the shadow generation of a `bydst` key (0 if it has no state; u64) to `out[o]`,
   * `out[o + 1]` as its halves (shm/u64-words.ts: nothing allocated): it moves every time a
   * state is added or updated on the key, after the state is linked. Read it *before*
   * {@link bydst}: a bundle that recorded it then cannot miss a state added during its lookup.
   */
  chainGenInto(family: number, dst: Int32Array, d: number, src: Int32Array, s: number, reqid: number, proto: number, mode: number, out: Int32Array, o: number): void {
    const key = this.setDstKey(family, dst, d, src, s, reqid, proto, mode);
    const block = HashTable.lookupIn(this.heap, this.tables.bydst, key, 0);
    if (block >= 0) loadU64Words(this.heap.cover(block + 2), block, out, o);
    else out[o] = out[o + 1] = 0;
  }

  /** The current shadow generation of the `bydst` key of the state in `slot`. */
  chainGenOf(slot: number): bigint {
    const at = this.field(slot, S_CHAIN); // covers the record: read it after
    const block = this.heap.i32[at];
    return Atomics.load(this.heap.cover64(block + 2), block >> 1);
  }

  /** Is the shadow generation of the `bydst` key of the state in `slot` still the one at `words[o]` (halves)? Allocates nothing. */
  chainGenHolds(slot: number, words: Int32Array, o: number): boolean {
    const at = this.field(slot, S_CHAIN); // covers the record: read it after
    const block = this.heap.i32[at];
    return u64WordsEqual(this.heap.cover(block + 2), block, words, o);
  }

  /** Is the genid of the record in `slot` still the one at `words[o]` (halves)? Allocates nothing. */
  genidHolds(slot: number, words: Int32Array, o: number): boolean {
    const at = this.field(slot, S_GENID);
    return u64WordsEqual(this.heap.i32, at, words, o);
  }

  /**
   * The state an output template resolves to: the newest live state on the `bydst` chain of
   * (dst, src, reqid, proto, mode) whose SPI is `spi` (0: any) and whose selector matches the
   * packed flow at `flow[f]`; -1 when there is none. Its genid, read before its `dead` flag
   * (which a delete sets before it moves the genid), is left in `lastGenid`.
   */
  bydst(
    family: number,
    dst: Int32Array,
    d: number,
    src: Int32Array,
    s: number,
    reqid: number,
    proto: number,
    mode: number,
    spi: number,
    flow: Int32Array,
    f: number,
    queue = -1,
  ): number {
    const key = this.setDstKey(family, dst, d, src, s, reqid, proto, mode);
    let fallback = -1;
    const block = HashTable.lookupIn(this.heap, this.tables.bydst, key, 0);
    if (block < 0) return -1;
    const b32 = this.heap.cover(block + CHAIN_BLOCK_WORDS);
    let slot = Atomics.load(b32, block + CHAIN_HEAD) - 1;
    // Only a key that has queue-bound states is worth walking past its first match: without
    // them the newest match is the answer (a key can hold thousands of states). A bound state
    // added meanwhile moves the key's shadow generation, so a bundle built without it is redone.
    if (queue >= 0 && Atomics.load(b32, block + CHAIN_PCPU) === 0) queue = -1;
    while (slot >= 0) {
      const p = this.arena.payload(slot);
      const i32 = this.heap.i32;
      loadU64Words(i32, p + S_GENID, this.stepGenid, 0);
      const pcpu = i32[p + S_PCPU];
      if (
        (pcpu === -1 || pcpu === queue) &&
        Atomics.load(i32, p + S_DEAD) === 0 &&
        (spi === 0 || i32[p + S_SPI] === spi) &&
        ((i32[p + S_PARAMS] & FLAG_SEL_ANY) !== 0 || this.extraMatches(i32[p + S_EXTRA], flow, f))
      ) {
        // The queue's own state wins (Linux's xfrm_state_look_at prefers pcpu_num == cpu);
        // else the newest state bound to no queue.
        if (pcpu === queue) {
          this.lastGenid[0] = this.stepGenid[0];
          this.lastGenid[1] = this.stepGenid[1];
          return slot;
        }
        if (fallback < 0) {
          fallback = slot;
          this.fallbackGenid[0] = this.stepGenid[0];
          this.fallbackGenid[1] = this.stepGenid[1];
          if (queue < 0) break;
        }
      }
      slot = chainNext(this.heap, this.arena, slot, S_NEXT_DST);
    }
    this.lastGenid[0] = this.fallbackGenid[0];
    this.lastGenid[1] = this.fallbackGenid[1];
    return fallback;
  }

  /** A u64 count limit (X_HARD_BYTES, X_HARD_PACKETS, X_SOFT_BYTES, X_SOFT_PACKETS) of the state in `slot`: XFRM_INF for none. */
  countLimit(slot: number, which: number): bigint {
    const x = this.heap.i32[this.field(slot, S_EXTRA)]; // field() covers the record
    return x === 0 ? XFRM_INF : this.heap.cover64(x + X_WORDS)[(x + which) >> 1]; // immutable once published
  }

  /** Does the selector in the extras block at `x` match the packed flow at `flow[f]`? */
  private extraMatches(x: number, flow: Int32Array, f: number): boolean {
    return selectorMatches(this.heap.cover(x + X_WORDS), x + X_SEL, flow, f);
  }

  /** The state's generation (u64): it changes when the state dies or is updated (shadowing moves its key's chainGen). */
  genid(slot: number): bigint {
    const at = this.field(slot, S_GENID);
    return Atomics.load(this.heap.u64, at >> 1);
  }

  /**
   * The record that an update put in place of the dead record in `slot` (same key, same SA
   * identity), or -1: the SA was deleted, or `slot` is alive. Call it only in the read-side
   * section in which `slot` was found alive (it reads the dead record, which is freed only
   * after that section). An update links the new record before it kills the old, so a reader
   * that sees the old one dead finds the new one.
   */
  successor(slot: number): number {
    const at = this.field(slot, S_SPI); // the record's words from S_SPI are its byspi key
    const next = HashTable.lookupIn(this.heap, this.tables.byspi, this.heap.i32, at);
    return next >= 0 && next !== slot && this.serialOf(next) === this.serialOf(slot) ? next : -1;
  }

  /** The SA number of the record in `slot`: small, dense, kept by updates, reused after deletes. */
  saNumber(slot: number): number {
    return this.heap.i32[this.field(slot, S_NUM)];
  }

  /** Copy the identity of the SA in `slot` ({@link State.serial}) to `out[o]`, `out[o + 1]` as its u64 halves (memory order; it never changes once published): allocates nothing. */
  serialWords(slot: number, out: Int32Array, o: number): void {
    const at = this.field(slot, S_SERIAL);
    const i32 = this.heap.i32;
    out[o] = i32[at];
    out[o + 1] = i32[at + 1];
  }

  /** The identity of the SA in `slot` ({@link State.serial}). */
  serialOf(slot: number): bigint {
    const at = this.field(slot, S_SERIAL);
    return Atomics.load(this.heap.u64, at >> 1);
  }

  /** The high half of the number the last {@link nextOutputSeq} call handed out (0 without ESN). */
  outSeqHi = 0;

  /**
   * Take the next output sequence number of the state in `slot`: returns its low 32 bits (an
   * unsigned number) and leaves the high half in {@link outSeqHi}, so the 64-bit value never
   * passes through a double. Neither counter ever wraps: past 2^32 - 1 (without ESN) or
   * 2^64 - 1 (with ESN) this returns -1 and marks the state exhausted (a hard expiry).
   */
  nextOutputSeq(slot: number): number {
    const p = this.arena.payload(slot);
    const i32 = this.heap.i32;
    return this.nextOutputSeqOf(i32[p + S_RUNTIME], (i32[p + S_PARAMS] & FLAG_ESN) !== 0);
  }

  /**
   * {@link nextOutputSeq} for a state whose runtime block (word offset) and ESN flag the caller
   * read from its record already (an SA context: both are immutable once published).
   */
  nextOutputSeqOf(rt: number, esn: boolean): number {
    const r = this.heap.cover(rt + RT_BITMAP);
    if (!esn) {
      this.outSeqHi = 0;
      for (;;) {
        const cur = Atomics.load(r, rt + RT_OSEQ);
        if (cur === -1) return this.exhaust(r, rt);
        if (Atomics.compareExchange(r, rt + RT_OSEQ, cur, (cur + 1) | 0) === cur) return (cur + 1) >>> 0;
      }
    }
    while (Atomics.compareExchange(r, rt + RT_LOCK, 0, 1) !== 0); // a few instructions, held by queue workers only
    let lo = r[rt + RT_OSEQ];
    let hi = r[rt + RT_OSEQ_HI];
    if (lo === -1 && hi === -1) {
      Atomics.store(r, rt + RT_LOCK, 0);
      return this.exhaust(r, rt);
    }
    lo = (lo + 1) | 0;
    if (lo === 0) hi = (hi + 1) | 0;
    r[rt + RT_OSEQ] = lo;
    r[rt + RT_OSEQ_HI] = hi;
    Atomics.store(r, rt + RT_LOCK, 0);
    this.outSeqHi = hi >>> 0;
    return lo >>> 0;
  }

  private exhaust(r: Int32Array, rt: number): number {
    Atomics.or(r, rt + RT_FLAGS, RT_EXHAUSTED);
    return -1;
  }
}

/** The control thread's SAD. */
export class StateDb extends StateDbView {
  declare readonly heap: SharedHeap;
  declare readonly arena: RecordArena;
  /**
   * The SAs' control-side columns, by SA number (the record's S_NUM). The lifetime columns
   * (addTime, useTime, softFired) are the Xfrm's to keep.
   */
  readonly rows = new StateRows();
  private readonly bySerial = new U64Index();
  private readonly spis: HashTable;
  private readonly dsts: Chains;
  /** Last genid and serial given (u64 counters: 2^64 changes is beyond any gateway's life). */
  private genids = 0n;
  private serials = 0n;
  /** Key scratch for the control thread's own lookups and unlinks (filled from records). */
  private readonly idKey = new Int32Array(SPI_KEY_WORDS);
  private readonly linkKey = new Int32Array(DST_KEY_WORDS);
  private readonly extraScratch = new Int32Array(X_WORDS);

  private constructor(
    heap: SharedHeap,
    arena: RecordArena,
    private readonly reclaimer: Reclaimer,
    private readonly allowNull: boolean,
    shares: number,
  ) {
    const spis = HashTable.create(heap, reclaimer, { keyWords: SPI_KEY_WORDS, external: true });
    const bydst = HashTable.create(heap, reclaimer, { keyWords: DST_KEY_WORDS, external: true });
    super(heap, arena, {
      byspi: spis.describe().offset,
      bydst: bydst.describe().offset,
      changes: heap.alloc(CHANGE_LOG_WORDS), // the SAD's change count (u64), then its change log
      shares,
    });
    this.spis = spis;
    this.dsts = new Chains(heap, arena, bydst, S_NEXT_DST, S_PREV_DST, CHAIN_HEAD, S_PROTO);
  }

  /** Create an empty SAD in `heap`; retired memory is freed through `reclaimer`. */
  static create(heap: SharedHeap, reclaimer: Reclaimer, opts: StateDbOptions = {}): StateDb {
    const arena = RecordArena.create(heap, { recordWords: S_WORDS, capacity: opts.capacity ?? 1 << 22 });
    const shares = opts.lifetimeShares ?? 0;
    if (!(Number.isInteger(shares) && shares >= 0 && shares <= 64)) throw new RangeError(`lifetimeShares must be an integer from 0 to 64, got ${shares}`);
    return new StateDb(heap, arena, reclaimer, opts.allowNullCipher ?? false, shares);
  }

  /** States in the database. */
  get size(): number {
    return this.rows.live;
  }

  /** Add a state. Throws XfrmError: EEXIST for a second (dst, spi, proto), EINVAL. */
  add(spec: StateSpec): State {
    const fresh = this.check(spec);
    if (this.find(fresh.dst, fresh.spi, fresh.proto) >= 0) {
      throw new XfrmError('EEXIST', `state exists: dst ${formatAddress(fresh.dst)} spi 0x${hex8(fresh.spi)} proto esp`);
    }
    const rtWords = runtimeWords(fresh.replayWindow, this.lifetimeShares);
    const runtime = this.heap.alloc(rtWords);
    let slot: number;
    try {
      slot = this.arena.alloc();
    } catch (e) {
      this.heap.release(runtime, rtWords);
      throw e;
    }
    const state: State = Object.freeze({ ...fresh, serial: ++this.serials });
    const n = this.rows.alloc();
    this.keep(n, slot, state);
    this.bySerial.set(state.serial, n);
    const i32 = this.heap.i32;
    i32[runtime + RT_OSEQ] = state.replay.oseq;
    i32[runtime + RT_OSEQ_HI] = state.replay.oseqHi;
    i32[runtime + RT_SEQ] = state.replay.seq;
    i32[runtime + RT_SEQ_HI] = state.replay.seqHi;
    this.writeRecord(slot, state, runtime, 0, n);
    const dkey = this.dstKeyAt(slot);
    const chain = this.chainBlock(dkey, slot);
    // Counted before the link: a reader that finds the bound state also walks for it.
    if (state.pcpuNum !== undefined) Atomics.add(this.heap.i32, chain + CHAIN_PCPU, 1);
    this.heap.i32[this.field(slot, S_CHAIN)] = chain; // before the record is linked
    this.dsts.linkAfter(dkey, -1, slot); // newest first
    this.spis.insert(this.idKeyAt(slot), 0, slot, this.field(slot, S_SPI));
    // Rule shadowing: every state on this bydst key may now lose to the new one. One store,
    // after the link: a bundle that read the generation before it looked will see the change.
    this.moveChain(chain);
    return state;
  }

  /**
   * Change the mutable parameters of an existing state (selector, lifetimes, encapsulation,
   * as `ip xfrm state update` does): readers switch to a new record atomically, and the
   * sequence and replay state carry over. Throws XfrmError ENOENT or EINVAL.
   */
  update(spec: StateSpec): State {
    const fresh = this.check(spec);
    const oldSlot = this.find(fresh.dst, fresh.spi, fresh.proto);
    if (oldSlot < 0) {
      throw new XfrmError('ENOENT', `no state with dst ${formatAddress(fresh.dst)} spi 0x${hex8(fresh.spi)} proto esp`);
    }
    const old = this.stateIn(oldSlot);
    const same =
      sameAddress(old.src, fresh.src) &&
      old.mode === fresh.mode &&
      old.reqid === fresh.reqid &&
      old.pcpuNum === fresh.pcpuNum &&
      old.esn === fresh.esn &&
      old.replayWindow === fresh.replayWindow &&
      old.algorithm.name === fresh.algorithm.name &&
      old.algorithm.icvBits === fresh.algorithm.icvBits &&
      old.algorithm.key.every((b, i) => b === fresh.algorithm.key[i]) &&
      old.algorithm.key.length === fresh.algorithm.key.length;
    (fresh.algorithm.key as Uint8Array).fill(0); // the check's copy: the old one is kept
    if (!same) {
      old.algorithm.key.fill(0);
      throw new XfrmError('EINVAL', 'update may change only the selector, limits and encap; delete and add to change the rest');
    }
    const i32 = this.heap.i32;
    const runtime = i32[this.field(oldSlot, S_RUNTIME)];
    const chain = i32[this.field(oldSlot, S_CHAIN)];
    const n = i32[this.field(oldSlot, S_NUM)];
    const state: State = Object.freeze({ ...fresh, algorithm: old.algorithm, replay: this.counters(runtime), serial: old.serial });
    const slot = this.arena.alloc();
    this.writeRecord(slot, state, runtime, chain, n);
    this.dsts.substitute(this.dstKeyAt(slot), oldSlot, slot);
    this.spis.replace(this.idKeyAt(slot), 0, slot, this.field(slot, S_SPI));
    this.kill(oldSlot);
    this.keep(n, slot, state);
    // The new selector may cover flows that an older state on this key serves now: stale
    // their bundles as an add would (after the switch, like every generation move).
    this.moveChain(chain);
    return state;
  }

  /** Delete a state; returns it (its key is wiped). Throws XfrmError ENOENT. */
  delete(dst: Address, spi: number, proto = IPPROTO_ESP): State {
    const slot = this.find(dst, spi, proto);
    if (slot < 0) throw new XfrmError('ENOENT', `no state with dst ${formatAddress(dst)} spi 0x${hex8(spi)} proto esp`);
    const state = this.stateIn(slot);
    this.remove(slot);
    state.algorithm.key.fill(0);
    return state;
  }

  /** The state with this id (a new object at each call: the SAD keeps no State objects). */
  get(dst: Address, spi: number, proto = IPPROTO_ESP): State | undefined {
    const slot = this.find(dst, spi, proto);
    return slot < 0 ? undefined : this.stateIn(slot);
  }

  /** The state in a slot (as a lookup returned it), if that record is still the state's current one. */
  stateAt(slot: number): State | undefined {
    return this.numberAt(slot) < 0 ? undefined : this.stateIn(slot);
  }

  /** The state an SA identity names, while it is in the database. */
  stateBySerial(serial: bigint): State | undefined {
    const n = this.bySerial.get(serial);
    return n < 0 ? undefined : this.stateIn(this.rows.slot[n]);
  }

  /** The SA number (row of {@link rows}) of the SA a serial names, or -1. */
  numberBySerial(serial: bigint): number {
    return this.bySerial.get(serial);
  }

  /** The SA number of a state (row of {@link rows}), or -1 if it is not in the database. */
  numberOf(state: State): number {
    const slot = this.find(state.dst, state.spi, state.proto);
    return slot < 0 ? -1 : this.heap.i32[this.field(slot, S_NUM)];
  }

  /** The state of SA number `n` (a live row of {@link rows}). */
  stateOfNumber(n: number): State {
    return this.stateIn(this.rows.slot[n]);
  }

  /** Bytes and packets the packet path has counted for a state (u64). */
  usageOf(state: State): { bytes: bigint; packets: bigint } | undefined {
    const slot = this.find(state.dst, state.spi, state.proto);
    return slot < 0 ? undefined : this.usageAt(this.heap.i32[this.field(slot, S_NUM)]);
  }

  /** Bytes and packets counted for SA number `n` (u64): the shared count and the queues' shares. */
  usageAt(n: number): { bytes: bigint; packets: bigint } {
    const p = this.arena.payload(this.rows.slot[n]);
    const i32 = this.heap.i32;
    const runtime = i32[p + S_RUNTIME];
    const u64 = this.heap.u64;
    const first = runtime + sharesAt(paramWindow(i32[p + S_PARAMS]));
    const shares = this.lifetimeShares;
    return {
      bytes: BigInt.asUintN(64, Atomics.load(u64, (runtime + RT_BYTES) >> 1) + sharesSum(u64, first, shares, SH_BYTES)),
      packets: BigInt.asUintN(64, Atomics.load(u64, (runtime + RT_PACKETS) >> 1) + sharesSum(u64, first, shares, SH_PACKETS)),
    };
  }

  /** Count usage from outside the packet path (tools, tests): adds to the shared counters. */
  addUsage(state: State, bytes: bigint, packets: bigint): void {
    const slot = this.find(state.dst, state.spi, state.proto);
    if (slot < 0) return;
    const runtime = this.heap.i32[this.field(slot, S_RUNTIME)];
    Atomics.add(this.heap.u64, (runtime + RT_BYTES) >> 1, bytes);
    Atomics.add(this.heap.u64, (runtime + RT_PACKETS) >> 1, packets);
  }

  /** The slot of a state, for lookups from this thread. */
  slotOf(state: State): number {
    return this.find(state.dst, state.spi, state.proto);
  }

  /** The live sequence and replay counters of a state. */
  countersOf(state: State): ReplayCounters {
    const slot = this.find(state.dst, state.spi, state.proto);
    if (slot < 0) throw new XfrmError('ENOENT', 'no such state');
    return this.counters(this.heap.i32[this.field(slot, S_RUNTIME)]);
  }

  /** True once the output sequence numbers of SA number `n` are used up. */
  exhaustedAt(n: number): boolean {
    const runtime = this.heap.i32[this.field(this.rows.slot[n], S_RUNTIME)];
    return (Atomics.load(this.heap.i32, runtime + RT_FLAGS) & RT_EXHAUSTED) !== 0;
  }

  /** True once the state's output sequence numbers are used up. */
  exhausted(state: State): boolean {
    const slot = this.find(state.dst, state.spi, state.proto);
    return slot >= 0 && this.exhaustedAt(this.heap.i32[this.field(slot, S_NUM)]);
  }

  /** The SA numbers in use, in the order their SAs were added. */
  numbers(): number[] {
    const { slot, serial, end } = this.rows;
    const out: number[] = [];
    for (let n = 0; n < end; n++) if (slot[n] >= 0) out.push(n);
    return out.sort((a, b) => (serial[a] < serial[b] ? -1 : 1));
  }

  /** All states, in the order they were added; or those from index `from` to `to` (exclusive) of that order, building only them. */
  list(from = 0, to?: number): State[] {
    return this.numbers()
      .slice(from, to)
      .map((n) => this.stateIn(this.rows.slot[n]));
  }

  /** Delete every state (of one protocol, if given); returns how many were deleted. */
  flush(proto?: number): number {
    const { end } = this.rows;
    let count = 0;
    for (let n = 0; n < end; n++) {
      const slot = this.rows.slot[n];
      if (slot < 0 || (proto !== undefined && this.heap.i32[this.field(slot, S_PROTO)] !== proto)) continue;
      this.remove(slot);
      count++;
    }
    return count;
  }

  /** The live counters of a runtime block. */
  private counters(runtime: number): ReplayCounters {
    const i32 = this.heap.i32;
    return {
      seq: i32[runtime + RT_SEQ] >>> 0,
      seqHi: i32[runtime + RT_SEQ_HI] >>> 0,
      oseq: i32[runtime + RT_OSEQ] >>> 0,
      oseqHi: i32[runtime + RT_OSEQ_HI] >>> 0,
    };
  }

  /** The slot of the state (dst, spi, proto) through `byspi`, or -1. */
  private find(dst: Address, spi: number, proto: number): number {
    const key = this.idKey;
    key[0] = spi;
    key[1] = proto;
    key[2] = dst.family;
    for (let w = 0; w < 4; w++) key[3 + w] = dst.words[w];
    return this.spis.lookup(key, 0);
  }

  /** The SA number of the record in `slot` if it is that SA's current record, else -1. */
  private numberAt(slot: number): number {
    if (!this.arena.holds(slot)) return -1;
    const n = this.heap.i32[this.field(slot, S_NUM)];
    return n >= 0 && n < this.rows.end && this.rows.slot[n] === slot ? n : -1;
  }

  /** Record the control-side part of SA number `n`, whose current record is `slot`. */
  private keep(n: number, slot: number, s: State): void {
    const rows = this.rows;
    rows.slot[n] = slot;
    rows.serial[n] = s.serial;
    const l = s.limits;
    const r = s.replay;
    rows.setSettings(n, [l.softAddSeconds, l.hardAddSeconds, l.softUseSeconds, l.hardUseSeconds, r.seq, r.seqHi, r.oseq, r.oseqHi]);
  }

  /** A State built from the record in `slot` and its row (a new object each time). */
  private stateIn(slot: number): State {
    const i32 = this.heap.i32;
    const u64 = this.heap.u64;
    const p = this.arena.payload(slot);
    const n = i32[p + S_NUM];
    const family = i32[p + S_FAMILY] as Family;
    const params = i32[p + S_PARAMS];
    const key = this.heap.u8.slice((p + S_KEY) * 4, (p + S_KEY) * 4 + paramKeyBytes(params));
    const v = this.rows.settings.values;
    const at = this.rows.settingsAt(n);
    const r = at + SETTING_REPLAY;
    const replay =
      v[r] === 0 && v[r + 1] === 0 && v[r + 2] === 0 && v[r + 3] === 0
        ? ZERO_COUNTERS
        : Object.freeze({ seq: v[r], seqHi: v[r + 1], oseq: v[r + 2], oseqHi: v[r + 3] });
    const ports = i32[p + S_ENCAP_PORTS];
    const pcpu = i32[p + S_PCPU];
    const extra = i32[p + S_EXTRA];
    return Object.freeze({
      family,
      dst: addressAt(i32, p + S_DST, family),
      src: addressAt(i32, p + S_SRC, family),
      spi: i32[p + S_SPI] >>> 0,
      proto: i32[p + S_PROTO],
      mode: MODE_NAME[i32[p + S_MODE]],
      reqid: i32[p + S_REQID] >>> 0,
      algorithm: Object.freeze({ name: ALG_NAME[paramAlg(params)], key, icvBits: paramIcvBytes(params) * 8 }),
      replayWindow: paramWindow(params),
      esn: (params & FLAG_ESN) !== 0,
      replay,
      selector: extra === 0 ? ANY_SELECTOR[family] : selectorAt(i32, extra + X_SEL),
      limits: limitsAt(u64, extra, v, at),
      encap:
        (params & FLAG_ENCAP) === 0
          ? undefined
          : Object.freeze({ type: 'espinudp' as const, sport: ports >>> 16, dport: ports & 0xffff, oa: extra === 0 ? ANY_ADDRESS[family] : addressAt(i32, extra + X_OA, family) }),
      pcpuNum: pcpu === -1 ? undefined : pcpu,
      serial: u64[(p + S_SERIAL) >> 1],
    });
  }

  /** Unlink the state whose current record is `slot` and retire what it held. */
  private remove(slot: number): void {
    const i32 = this.heap.i32;
    const p = this.arena.payload(slot);
    const n = i32[p + S_NUM];
    const chain = i32[p + S_CHAIN];
    const pcpu = i32[p + S_PCPU];
    const runtime = i32[p + S_RUNTIME];
    const rtWords = runtimeWords(paramWindow(i32[p + S_PARAMS]), this.lifetimeShares);
    const dkey = this.dstKeyAt(slot);
    this.spis.delete(this.idKeyAt(slot), 0);
    this.dsts.unlink(dkey, slot);
    if (pcpu !== -1) Atomics.sub(this.heap.i32, chain + CHAIN_PCPU, 1); // after the unlink
    const last = this.heap.i32[chain + CHAIN_HEAD] === 0; // the unlink took the key's only state
    // The key's entry compares its key against this record's words: it goes before the record.
    if (last) this.dsts.table.delete(dkey, 0);
    this.kill(slot); // the record may be poisoned from here on: everything was read above
    if (last) retireWith(this.reclaimer, this.heap, chain, CHAIN_BLOCK_WORDS);
    retireWith(this.reclaimer, this.heap, runtime, rtWords);
    this.bySerial.delete(this.rows.serial[n]);
    this.rows.release(n);
  }

  /** Mark an unlinked record dead, invalidate bundles built from it, retire it (and its extras). */
  private kill(slot: number): void {
    const extra = this.heap.i32[this.field(slot, S_EXTRA)];
    Atomics.store(this.heap.i32, this.field(slot, S_DEAD), 1);
    this.bump(slot);
    this.changed(slotShard(slot));
    this.arena.retire(slot, this.reclaimer);
    if (extra !== 0) retireWith(this.reclaimer, this.heap, extra, X_WORDS);
  }

  private bump(slot: number): void {
    const at = this.field(slot, S_GENID);
    Atomics.store(this.heap.u64, at >> 1, ++this.genids);
  }

  /** Move a bydst key's chain generation (its block at `chain`), then the change counts. */
  private moveChain(chain: number): void {
    Atomics.add(this.heap.u64, chain >> 1, 1n);
    this.changed(chainShard(chain));
  }

  /** After every genid or chain generation move: its shard into the change log, then the SAD's count (see {@link StateDbView.changes}). */
  private changed(shard: number): void {
    logChange(this.heap, this.tables.changes, shard);
  }

  /** The chain block of a bydst key (created and published, keyed by `slot`'s record, on its first state). */
  private chainBlock(dkey: Int32Array, slot: number): number {
    let block = this.dsts.table.lookup(dkey, 0);
    if (block < 0) {
      block = this.heap.alloc(CHAIN_BLOCK_WORDS);
      Atomics.store(this.heap.u64, block >> 1, 1n);
      Atomics.store(this.heap.i32, block + CHAIN_PCPU, 0);
      this.heap.i32[block + CHAIN_HEAD] = 0;
      this.dsts.table.insert(dkey, 0, block, this.field(slot, S_PROTO)); // the chain's head from the link on
    }
    return block;
  }

  /** The `byspi` key of the record in `slot` (scratch: use before the next call). */
  private idKeyAt(slot: number): Int32Array {
    return this.wordsAt(slot, S_SPI, this.idKey);
  }

  /** The `bydst` key of the record in `slot` (scratch). */
  private dstKeyAt(slot: number): Int32Array {
    return this.wordsAt(slot, S_PROTO, this.linkKey);
  }

  /** `into.length` words of the record in `slot` from `field` (a key that lies in place). */
  private wordsAt(slot: number, field: number, into: Int32Array): Int32Array {
    const p = this.arena.payload(slot) + field;
    into.set(this.heap.i32.subarray(p, p + into.length));
    return into;
  }

  private writeRecord(slot: number, s: State, runtime: number, chain: number, n: number): void {
    const extra = this.writeExtra(s); // first: it may grow the heap
    const p = this.arena.payload(slot);
    const i32 = this.heap.i32;
    i32[p + S_EXTRA] = extra;
    i32[p + S_NUM] = n;
    i32[p + S_SPI] = s.spi;
    i32[p + S_PROTO] = s.proto;
    i32[p + S_FAMILY] = s.family;
    i32[p + S_MODE] = MODE_NUMBER[s.mode];
    i32[p + S_REQID] = s.reqid;
    for (let w = 0; w < 4; w++) {
      i32[p + S_DST + w] = s.dst.words[w];
      i32[p + S_SRC + w] = s.src.words[w];
    }
    const sel = s.selector;
    const selAny = sel.srcLen === 0 && sel.dstLen === 0 && sel.proto === 0;
    const useTime = s.limits.softUseSeconds > 0 || s.limits.hardUseSeconds > 0;
    const flags = (s.esn ? FLAG_ESN : 0) | (s.encap ? FLAG_ENCAP : 0) | (selAny ? FLAG_SEL_ANY : 0) | (useTime ? FLAG_USE_TIME : 0);
    i32[p + S_PARAMS] = packParams(flags, ALG_NUMBER[s.algorithm.name], s.algorithm.icvBits / 8, s.algorithm.key.length, s.replayWindow);
    this.heap.u8.set(s.algorithm.key, (p + S_KEY) * 4);
    if (s.encap) i32[p + S_ENCAP_PORTS] = (s.encap.sport << 16) | s.encap.dport;
    i32[p + S_RUNTIME] = runtime;
    i32[p + S_CHAIN] = chain;
    i32[p + S_PCPU] = s.pcpuNum ?? -1;
    this.heap.u64[(p + S_SERIAL) >> 1] = s.serial;
    this.bump(slot);
  }

  /** The extras block of a state (0 when it has no count limit, the any selector and no NAT-OA). */
  private writeExtra(s: State): number {
    const x = this.extraScratch;
    writeSelector(x, X_SEL, s.selector);
    for (let w = 0; w < 4; w++) x[X_OA + w] = s.encap?.oa.words[w] ?? 0;
    let w = X_OA;
    while (w < X_WORDS && x[w] === 0) w++;
    const l = s.limits;
    const limited = l.hardBytes !== XFRM_INF || l.hardPackets !== XFRM_INF || l.softBytes !== XFRM_INF || l.softPackets !== XFRM_INF;
    if (w === X_WORDS && selectorIsAny(x, X_SEL) && !limited) return 0;
    const at = this.heap.alloc(X_WORDS);
    this.heap.i32.set(x.subarray(X_SEL), at + X_SEL);
    const u64 = this.heap.u64;
    u64[(at + X_HARD_BYTES) >> 1] = l.hardBytes;
    u64[(at + X_HARD_PACKETS) >> 1] = l.hardPackets;
    u64[(at + X_SOFT_BYTES) >> 1] = l.softBytes;
    u64[(at + X_SOFT_PACKETS) >> 1] = l.softPackets;
    return at;
  }

  /** Validate a spec and complete it with defaults (all but the serial). Throws XfrmError EINVAL. */
  private check(spec: StateSpec): Omit<State, 'serial'> {
    const family = spec.dst.family;
    if (spec.src.family !== family) throw new XfrmError('EINVAL', 'state src and dst are of different families');
    const proto = spec.proto ?? IPPROTO_ESP;
    if (proto !== IPPROTO_ESP) throw new XfrmError('EINVAL', `protocol ${proto} is not supported (only esp)`);
    if (!(Number.isInteger(spec.spi) && spec.spi >= 0 && spec.spi < 2 ** 32)) throw new XfrmError('EINVAL', `bad spi ${spec.spi}`);
    if (spec.spi === 0) throw new XfrmError('EINVAL', 'spi 0 is reserved');
    const reqid = spec.reqid ?? 0;
    if (!(Number.isInteger(reqid) && reqid >= 0 && reqid < 2 ** 32)) throw new XfrmError('EINVAL', `bad reqid ${reqid}`);
    const mode = spec.mode ?? 'transport';
    if (mode !== 'transport' && mode !== 'tunnel') throw new XfrmError('EINVAL', `bad mode '${String(mode)}'`);
    const algorithm = this.checkAlgorithm(spec.algorithm);
    const replayWindow = spec.replayWindow ?? 0;
    if (!(Number.isInteger(replayWindow) && replayWindow >= 0 && replayWindow <= MAX_REPLAY_WINDOW)) {
      throw new XfrmError('EINVAL', `replay-window must be 0..${MAX_REPLAY_WINDOW}, got ${replayWindow}`);
    }
    const esn = spec.esn ?? false;
    if (esn && replayWindow === 0) throw new XfrmError('EINVAL', 'flag esn needs a replay-window');
    const r = spec.replay;
    const replay: ReplayCounters =
      r === undefined ? ZERO_COUNTERS : Object.freeze({ seq: r.seq ?? 0, seqHi: r.seqHi ?? 0, oseq: r.oseq ?? 0, oseqHi: r.oseqHi ?? 0 });
    for (const k of COUNTER_NAMES) {
      const v = replay[k];
      if (!(Number.isInteger(v) && v >= 0 && v < 2 ** 32)) throw new XfrmError('EINVAL', `bad replay counter ${k} ${v}`);
    }
    if (!esn && (replay.seqHi !== 0 || replay.oseqHi !== 0)) {
      throw new XfrmError('EINVAL', 'replay-seq-hi and replay-oseq-hi need flag esn');
    }
    const selector = spec.selector ?? ANY_SELECTOR[family]; // shared: states are frozen, and most have no selector
    const limits = checkLimits(spec.limits);
    const pcpuNum = spec.pcpuNum;
    if (pcpuNum !== undefined && !(Number.isInteger(pcpuNum) && pcpuNum >= 0 && pcpuNum < 2 ** 31)) {
      throw new XfrmError('EINVAL', `bad pcpu-num ${pcpuNum}: a queue number`);
    }
    const encap = spec.encap;
    if (encap !== undefined) {
      if (encap.type !== 'espinudp') throw new XfrmError('EINVAL', `encap ${String(encap.type)} is not supported (only espinudp)`);
      for (const port of [encap.sport, encap.dport]) {
        if (!(Number.isInteger(port) && port > 0 && port < 65536)) throw new XfrmError('EINVAL', `bad encap port ${port}`);
      }
    }
    if (mode === 'tunnel' && (isAnyAddress(spec.dst) || isAnyAddress(spec.src))) {
      throw new XfrmError('EINVAL', 'a tunnel mode state needs src and dst addresses');
    }
    return Object.freeze({
      family,
      dst: spec.dst,
      src: spec.src,
      spi: spec.spi,
      proto,
      mode,
      reqid,
      algorithm,
      replayWindow,
      esn,
      replay,
      selector,
      limits,
      encap,
      pcpuNum,
    });
  }

  private checkAlgorithm(a: Algorithm): Algorithm {
    const n = a.key.length;
    switch (a.name) {
      case 'rfc4106(gcm(aes))':
        if (n !== 20 && n !== 28 && n !== 36) {
          throw new XfrmError('EINVAL', `rfc4106(gcm(aes)) needs a 16, 24 or 32-byte key plus a 4-byte salt, got ${n} bytes`);
        }
        if (a.icvBits !== 64 && a.icvBits !== 96 && a.icvBits !== 128) {
          throw new XfrmError('EINVAL', `rfc4106(gcm(aes)) ICV must be 64, 96 or 128 bits, got ${a.icvBits}`);
        }
        break;
      case 'rfc7539esp(chacha20,poly1305)':
        if (n !== 36) throw new XfrmError('EINVAL', `rfc7539esp(chacha20,poly1305) needs a 32-byte key plus a 4-byte salt, got ${n} bytes`);
        if (a.icvBits !== 128) throw new XfrmError('EINVAL', `rfc7539esp(chacha20,poly1305) ICV must be 128 bits, got ${a.icvBits}`);
        break;
      case 'cipher_null':
        if (!this.allowNull) throw new XfrmError('EINVAL', 'cipher_null is for benchmarks only: enable allowNullCipher');
        if (n !== 0 || a.icvBits !== 0) throw new XfrmError('EINVAL', 'cipher_null takes no key and no ICV');
        break;
      default:
        throw new XfrmError('EINVAL', `algorithm '${String(a.name)}' is not supported`);
    }
    if (n > MAX_KEY_BYTES) throw new XfrmError('EINVAL', 'key too long');
    return { name: a.name, key: Uint8Array.from(a.key), icvBits: a.icvBits };
  }
}

/** Limits completed with NO_LIMITS; byte and packet limits made exact u64 (numbers must be safe integers). */
/** The selector of a state added without one, per family (one frozen object each, not one per state). */
const ANY_ADDRESS: Readonly<Record<Family, Address>> = {
  4: Object.freeze(anyAddress(4)),
  6: Object.freeze(anyAddress(6)),
};
const ANY_SELECTOR: Readonly<Record<Family, Selector>> = {
  4: Object.freeze(anySelector(4)),
  6: Object.freeze(anySelector(6)),
};

function checkLimits(spec: LifetimeLimitsSpec | undefined): LifetimeLimits {
  if (spec === undefined) return NO_LIMITS;
  const out: Record<string, bigint | number> = { ...NO_LIMITS };
  for (const [k, v] of Object.entries(spec)) {
    if (!(k in NO_LIMITS)) throw new XfrmError('EINVAL', `unknown limit ${k}`);
    if (v === undefined) continue;
    if ((COUNT_LIMITS as readonly string[]).includes(k)) {
      const n = typeof v === 'bigint' ? v : Number.isSafeInteger(v) ? BigInt(v) : -1n;
      if (!(n >= 0n && n <= XFRM_INF)) throw new XfrmError('EINVAL', `bad limit ${k} ${String(v)}: a whole number of 0..2^64-1`);
      out[k] = n;
    } else {
      if (!(typeof v === 'number' && Number.isSafeInteger(v) && v >= 0)) throw new XfrmError('EINVAL', `bad limit ${k} ${String(v)}: whole seconds`);
      out[k] = v;
    }
  }
  return Object.freeze(out) as unknown as LifetimeLimits;
}

function hex8(n: number): string {
  return (n >>> 0).toString(16).padStart(8, '0');
}

/** The address of `family` in the four words at `i32[p]`. */
function addressAt(i32: Int32Array, p: number, family: Family): Address {
  return Object.freeze({ family, words: Object.freeze([i32[p], i32[p + 1], i32[p + 2], i32[p + 3]] as const) });
}

/** The selector packed at `i32[p]`: the shared any-selector of its family when it is one. */
function selectorAt(i32: Int32Array, p: number): Selector {
  return selectorIsAny(i32, p) ? ANY_SELECTOR[(i32[p] & 0xff) as Family] : Object.freeze(readSelector(i32, p));
}

/** The limits of a state: counts from its extras block at `x` (0: none), the time limits from `seconds[s..s+3]`. */
function limitsAt(u64: BigUint64Array, x: number, seconds: Float64Array, s: number): LifetimeLimits {
  const count = (w: number) => (x === 0 ? XFRM_INF : u64[(x + w) >> 1]);
  const l = {
    softBytes: count(X_SOFT_BYTES),
    hardBytes: count(X_HARD_BYTES),
    softPackets: count(X_SOFT_PACKETS),
    hardPackets: count(X_HARD_PACKETS),
    softAddSeconds: seconds[s],
    hardAddSeconds: seconds[s + 1],
    softUseSeconds: seconds[s + 2],
    hardUseSeconds: seconds[s + 3],
  };
  for (const k of Object.keys(l) as (keyof LifetimeLimits)[]) if (l[k] !== NO_LIMITS[k]) return Object.freeze(l);
  return NO_LIMITS;
}
