/**
 * A queue's flow cache (talk: "Stuffing cached routes in the flow cache entries"): maps a
 * flow, by its key (flow-key.ts: 4 words for IPv4, read from the packet bytes), to what the
 * output path decided for it (no policy, block, or a bundle), so that a hit costs one hash
 * probe and a few generation checks instead of the SPD and SAD lookups.
 *
 * Worker-local memory only (plain typed arrays, no sharing, no atomics). Four-way sets, and
 * each flow has two of them (two choices, from two halves of one hash): a miss replaces the
 * stale entry of the same flow if there is one, else an empty way of its first set, else of
 * its second, else the least recently used of its eight, so memory is bounded by construction
 * and a flood of never-repeating flows (the attack that made Linux drop its flow cache in
 * 4.14) costs at most two failed probes of four entries and one install per packet on top of
 * the full lookup, never more. (One set per flow: 1,024 cyclic flows in 4,096 entries missed
 * about 2 % on sets that drew five or more; two-way, 9-13 %; direct-mapped, 12 % at 512. With
 * two choices a set overflows only when both of a flow's sets are full.) A probe compares keys
 * first (local memory) and the generations only of the entry whose key matches; a hit is used
 * only while the generations it was built under hold. An entry remembers the ChangeEpoch in
 * which it last found them holding, and the change shards its states' keys are in: while
 * neither the SPD nor a shard it depends on has changed since, the check is skipped, so a hit
 * reads no shared memory unless something it depends on may have changed.
 */
import {
  MAX_TEMPLATES,
  pairShard,
  randomSeed,
  RESOLVED_ACQUIRE,
  RESOLVED_BLOCK,
  RESOLVED_BUNDLE,
  RESOLVED_NONE,
  type BundleScratch,
  type ChangeEpoch,
  type HeldContexts,
  type SaContext,
  type PolicyDbView,
  type StateDbView,
} from '@xfrm/core';
import { KEY_WORDS, keyHash, keyWords } from './flow-key.js';

/** What a cache entry says to do. */
export const CACHED_NONE = 1;
export const CACHED_BLOCK = 2;
export const CACHED_BUNDLE = 3;

/** Entries per set. */
const WAYS = 4;
const M_KIND = 0;
const M_COUNT = 1;
const M_PAIR_WORD = 2;
const META = 3;

/**
 * A bounded, worker-local flow cache. It also keeps each cached state's SA context
 * (HeldContexts), so that a hit reaches the cipher without the context cache's lookup: a
 * context is kept only if it was built for the genid the entry was resolved under, and a hit
 * is used only while that genid holds.
 */
export class FlowCache implements HeldContexts {
  private readonly keys: Int32Array;
  private readonly meta: Int32Array;
  /** State slots of cached bundles, MAX_TEMPLATES per entry. */
  readonly states: Int32Array;
  /**
   * The u64 generations an entry was resolved under, as halves (core shm/u64-words.ts: read
   * and compared without allocating): the policy direction's and its address pair's (four
   * words per entry; the pair word's index is in the meta), and per state its genid and bydst
   * chain's (two words each; `genids` is the same memory as u64s, for {@link hold}).
   */
  private readonly generationWords: Int32Array;
  private readonly genids: BigUint64Array;
  private readonly genidWords: Int32Array;
  private readonly chainWords: Int32Array;
  /** Per state of an entry: its SA context once the packet path found it (see {@link hold}). */
  readonly contexts: (SaContext | undefined)[];
  /** Per state of an entry: its key's change shard (state-db.ts chainShard). */
  private readonly chainShards: Uint16Array;
  private readonly mask: number;
  private readonly seed = randomSeed();
  hits = 0;
  misses = 0;
  /** Hits whose generations were read from shared memory (something they depend on may have changed). */
  checks = 0;
  /** Entries in use. */
  used = 0;
  /** Per entry: when it was last used (a per-cache clock), for LRU replacement within a set. */
  private readonly lastUse: Uint32Array;
  private clock = 0;
  /** Per entry: its flow's hash, compared before its key (a miss rejects eight ways cheaply). */
  private readonly tags: Int32Array;
  /** Per entry: the ChangeEpoch in which its generations were last seen to hold (0: never). */
  private readonly checked: Float64Array;

  constructor(readonly capacity: number) {
    if (!(capacity >= WAYS && capacity <= 1 << 24 && (capacity & (capacity - 1)) === 0)) {
      throw new RangeError(`flow cache size must be a power of two from ${WAYS} to 2^24, got ${capacity}`);
    }
    this.keys = new Int32Array(capacity * KEY_WORDS);
    this.meta = new Int32Array(capacity * META);
    this.states = new Int32Array(capacity * MAX_TEMPLATES);
    this.generationWords = new Int32Array(4 * capacity);
    this.genids = new BigUint64Array(capacity * MAX_TEMPLATES);
    this.genidWords = new Int32Array(this.genids.buffer);
    this.chainWords = new Int32Array(2 * capacity * MAX_TEMPLATES);
    this.chainShards = new Uint16Array(capacity * MAX_TEMPLATES);
    this.contexts = new Array<SaContext | undefined>(capacity * MAX_TEMPLATES).fill(undefined);
    this.mask = capacity - WAYS;
    this.lastUse = new Uint32Array(capacity);
    this.tags = new Int32Array(capacity);
    this.checked = new Float64Array(capacity);
  }

  /** Bytes the cache holds (fixed at construction). */
  get bytes(): number {
    return (
      this.keys.byteLength +
      this.meta.byteLength +
      this.states.byteLength +
      this.generationWords.byteLength +
      this.genids.byteLength +
      this.chainWords.byteLength +
      this.chainShards.byteLength +
      this.lastUse.byteLength +
      this.tags.byteLength +
      this.checked.byteLength +
      this.contexts.length * 8 // references to the held contexts (at most 8 bytes each; the contexts are the SA context cache's)
    );
  }

  /**
   * The entry that holds the flow key in direction `dir`, whatever its validity, or -1. One
   * function, not a probe per set and a key compare per way: V8 (Node 20) inlines a callee
   * only while it and what it inlined fit what is left of the caller's budget, and the calls a
   * hit's lookup made cost it ~13 ns (docs/PERFORMANCE.md, "Issue 18, fourth session").
   * A stored key's first word holds the direction too (`dir << 16`: the family and protocol
   * take 16 bits), so one compare rejects a key of the other direction, and an empty entry
   * (all zero) matches no key (the family is never 0).
   */
  private probe(dir: number, key: Int32Array): number {
    const n = keyWords(key[0]);
    const h = keyHash(key, n, this.seed);
    const head = key[0] | (dir << 16);
    const a = h & this.mask;
    const i = this.scan(a, h, head, key, n);
    return i >= 0 ? i : this.scan(this.otherSet(h, a), h, head, key, n);
  }

  /** The way of `set` that holds the key whose hash is `h`, first word `head` (with the direction) and length `n`, or -1. */
  private scan(set: number, h: number, head: number, key: Int32Array, n: number): number {
    const { tags, keys } = this;
    for (let i = set; i < set + WAYS; i++) {
      const k = i * KEY_WORDS;
      if (tags[i] !== h || keys[k] !== head) continue;
      let w = 1;
      while (w < n && keys[k + w] === key[w]) w++;
      if (w === n) return i;
    }
    return -1;
  }

  /** The second set of the flow whose hash is `h` and first set `a`: from the hash's other half, and another set when there are two. */
  private otherSet(h: number, a: number): number {
    const b = ((h >>> 16) | (h << 16)) & this.mask;
    return b !== a || this.mask === 0 ? b : a ^ WAYS;
  }

  /**
   * The entry for the flow key (flow-key.ts) in direction `dir` if it is present and still
   * valid, or -1. `changes`: the reader's ChangeEpoch (without one, every hit is checked).
   * Counts hits and misses.
   */
  lookup(spd: PolicyDbView, sad: StateDbView, dir: number, key: Int32Array, changes?: ChangeEpoch): number {
    const epoch = changes === undefined ? 0 : changes.current(); // before any check it dates
    const i = this.probe(dir, key);
    if (i >= 0) {
      const c = this.checked[i];
      // Checked in this very epoch (nothing changed since: the common case), or nothing it depends on changed since.
      if ((c === epoch && c !== 0) || (changes !== undefined && this.unchanged(i, c, changes)) || this.valid(spd, sad, dir, i)) {
        this.checked[i] = epoch;
        this.lastUse[i] = (this.clock = (this.clock + 1) >>> 0);
        this.hits++;
        return i;
      }
    }
    this.misses++;
    return -1;
  }

  /** Has nothing entry i depends on changed since epoch `c` of its last check? Local memory only. */
  private unchanged(i: number, c: number, changes: ChangeEpoch): boolean {
    const m = i * META;
    const s = i * MAX_TEMPLATES;
    return changes.bundleHolds(c, pairShard(this.meta[m + M_PAIR_WORD]), this.states, s, this.chainShards, s, this.meta[m + M_COUNT]);
  }

  /** Do the generations entry i was resolved under still hold? (Reads shared memory: counted in `checks`.) */
  private valid(spd: PolicyDbView, sad: StateDbView, dir: number, i: number): boolean {
    this.checks++;
    const m = i * META;
    const meta = this.meta;
    if (!spd.generationsHold(dir, this.generationWords, 4 * i, meta[m + M_PAIR_WORD])) return false;
    const s = i * MAX_TEMPLATES;
    for (let j = 0, n = meta[m + M_COUNT]; j < n; j++) {
      const slot = this.states[s + j];
      if (!sad.genidHolds(slot, this.genidWords, 2 * (s + j)) || !sad.chainGenHolds(slot, this.chainWords, 2 * (s + j))) return false;
    }
    return true;
  }

  /** Kind of entry i (CACHED_*). */
  kind(i: number): number {
    return this.meta[i * META + M_KIND];
  }

  /** Keep `sa` as the context of state position k if it was built for the genid the entry resolved it under. */
  hold(k: number, sa: SaContext): void {
    if (sa.genid === this.genids[k]) this.contexts[k] = sa;
  }

  /** Number of states of the bundle in entry i (they start at `states[i * MAX_TEMPLATES]`). */
  count(i: number): number {
    return this.meta[i * META + M_COUNT];
  }

  /**
   * Remember for the flow `key` what `resolveInto` left in `r` (its RESOLVED_* `kind`; not an
   * ACQUIRE, which is asked again), under the policy generations it read, in the section of
   * the {@link lookup} that missed (with `changes`, the ChangeEpoch given there). Returns the
   * entry index, or -1. Copies what it keeps: nothing is allocated.
   */
  install(dir: number, key: Int32Array, kind: number, r: BundleScratch, changes?: ChangeEpoch): number {
    if (kind === RESOLVED_ACQUIRE) return -1;
    const h = keyHash(key, keyWords(key[0]), this.seed);
    const found = this.probe(dir, key); // the flow's stale entry if it has one (a flow is in one way of its two sets at most)
    const i = found >= 0 ? found : this.victim(h & this.mask, this.otherSet(h, h & this.mask));
    this.lastUse[i] = (this.clock = (this.clock + 1) >>> 0);
    const m = i * META;
    if (this.meta[m + M_KIND] === 0) this.used++;
    for (let w = 0, words = keyWords(key[0]); w < words; w++) this.keys[i * KEY_WORDS + w] = key[w];
    this.keys[i * KEY_WORDS] = key[0] | (dir << 16); // as probe compares it
    this.tags[i] = h;
    this.checked[i] = changes === undefined ? 0 : changes.current();
    for (let w = 0; w < 4; w++) this.generationWords[4 * i + w] = r.generationWords[w];
    this.meta[m + M_PAIR_WORD] = r.pairWord;
    this.meta[m + M_KIND] = kind === RESOLVED_NONE ? CACHED_NONE : kind === RESOLVED_BLOCK ? CACHED_BLOCK : CACHED_BUNDLE;
    const n = kind === RESOLVED_BUNDLE ? r.count : 0;
    this.meta[m + M_COUNT] = n;
    const s = i * MAX_TEMPLATES;
    for (let k = 0; k < MAX_TEMPLATES; k++) this.contexts[s + k] = undefined;
    for (let k = 0; k < n; k++) {
      this.states[s + k] = r.states[k];
      this.genidWords[2 * (s + k)] = r.genidWords[2 * k];
      this.genidWords[2 * (s + k) + 1] = r.genidWords[2 * k + 1];
      this.chainWords[2 * (s + k)] = r.chainWords[2 * k];
      this.chainWords[2 * (s + k) + 1] = r.chainWords[2 * k + 1];
      this.chainShards[s + k] = r.chainShards[k];
    }
    return i;
  }

  /** The way to fill: an empty one of set `a`, else of set `b`, else the least recently used of both. */
  private victim(a: number, b: number): number {
    let best = a;
    for (let k = 0; k < 2 * WAYS; k++) {
      const i = (k < WAYS ? a : b - WAYS) + k; // no array: this is the miss path
      if (this.meta[i * META + M_KIND] === 0) return i;
      if (((this.lastUse[i] - this.lastUse[best]) | 0) < 0) best = i; // a 32-bit clock: compared wrap-safe
    }
    return best;
  }
}
