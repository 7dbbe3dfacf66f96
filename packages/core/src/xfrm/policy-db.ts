/**
 * The security policy database (SPD): policies per direction, found by tuple space search.
 *
 * Policies are grouped by (family, source prefix length, destination prefix length). Each
 * group is a hash table on the masked address pair; precise policies (full-length prefixes)
 * are simply the group of full lengths, a hash on the exact addresses. Several policies that
 * share a masked address pair (different protocols or ports) form a chain sorted by
 * (priority, insertion order). A lookup searches the groups in order of their best priority
 * and stops as soon as no later group can beat what it found (talk: "2-way prefixed keys are
 * doable", "Good Algorithm"). The winner is the matching policy with the lowest priority
 * value; between equal priorities the one inserted first, as in Linux.
 *
 * Shared layout (int32 words):
 *   root:        [groupArray[in, out, fwd], -, generation[in, out, fwd] (u64), list[in, out, fwd], linear,
 *                 pairGenerations, seed]
 *   pair generations: PAIR_WORDS u64 words per direction, one chosen by a seeded hash of a
 *                flow's address pair
 *   list:        [count, slot[count]...] by (priority, insertion), only with `linear` (ablation)
 *   group array: [count, group[count]...]  group: [family, srcLen, dstLen, bestPriority, table]
 *                sorted by bestPriority (unsigned), immutable once published
 *   policy:      arena record, see P_* below; `next` chains policies of one address pair
 *   control side (not shared): policy indexes to slots (u64-index.ts) and the groups' sizes
 *                and priorities; no JS object per policy (a Policy is built from its record
 *                when asked for; one with a given selector is found by its group's chain)
 *
 * Concurrency contract
 * - Writes: the control thread only. A policy record is filled before it is linked: by an
 *   `Atomics.store` of its predecessor's `next`, or by a table insert/replace of the chain
 *   head. Unlinking stores the predecessor's `next` (or re-points/deletes the head); the
 *   unlinked record keeps its own `next`, so a reader standing on it walks on correctly, and
 *   is retired through the epoch domain. A group array is rebuilt whole and published with
 *   one `Atomics.store` of `groupArray[dir]`; the old one is retired.
 * - Every change moves a generation (a u64 `Atomics.add`: never wraps, so equality never meets
 *   an old value) after it is visible, and only as wide as the change reaches: a precise
 *   policy (full-length source and destination) can only change what flows of its own address
 *   pair resolve to, so it moves the pair generation word its pair hashes to; any other
 *   change (a prefixed policy, a flush) moves the direction's `generation`. A resolution
 *   records both (read before its lookup) and is stale when either moved (talk: "Cheap State
 *   Coherency"). Nothing is flushed; a change for one host pair leaves other flows' cached
 *   answers valid (unless they share its word: 1 in PAIR_WORDS). After every generation move,
 *   the SPD's change count moves too (u64 `Atomics.add`; queues read it, ChangeEpoch).
 * - Reads: any thread, lock-free, within one read-side section (between quiescent reports).
 */
import { addressBits, maskWord, writeAddressPair } from './address.js';
import { Chains, chainNext } from '../shm/chain.js';
import { retireWith, type Reclaimer } from '../shm/epoch.js';
import { HashTable, HashTableView } from '../shm/hash-table.js';
import { randomSeed, xxh32Words } from '../shm/hash.js';
import { loadU64Words, u64WordsEqual } from '../shm/u64-words.js';
import { ArenaView, RecordArena, type ArenaDescription } from '../shm/record-arena.js';
import { SEL_WORDS, isIcmp, readSelector, selectorMatches, writeSelector, type Selector } from './selector.js';
import { type HeapView, type SharedHeap } from '../shm/shared-heap.js';
import { IPPROTO_ESP, MAX_TEMPLATES, readTemplate, templateWords, templateWordsFor, writeTemplate, type Template } from './template.js';
import { U64Index } from './u64-index.js';
import { ALL_SHARDS, CHANGE_LOG_WORDS, changeCount, logChange, loggedShard } from './change-log.js';
import { XfrmError } from './xfrm-error.js';

/** Policy direction. */
export type PolicyDir = 'in' | 'out' | 'fwd';
/** Direction numbers, as Linux numbers them (and as the low 3 bits of a policy index). */
export const DIR_NUMBER: Readonly<Record<PolicyDir, number>> = { in: 0, out: 1, fwd: 2 };
/** Directions by number. */
export const DIRS: readonly PolicyDir[] = ['in', 'out', 'fwd'];
/** What a policy does with the packets it matches. */
export type PolicyAction = 'allow' | 'block';

/** A policy as the caller gives it. */
export interface PolicySpec {
  readonly dir: PolicyDir;
  readonly selector: Selector;
  /** Lower wins. 0..2^32-1, default 0. */
  readonly priority?: number;
  readonly action?: PolicyAction;
  /** Unique id; generated when not given. Its low 3 bits must be the dir's number. */
  readonly index?: number;
  readonly templates?: readonly Template[];
  /**
   * Ask for per-queue SAs (Linux's XFRM_POLICY_CPU_ACQUIRE, RFC 9611): a queue that finds only
   * the fallback SA for a template (one bound to no queue) sends on it and raises an ACQUIRE
   * naming itself, so the key manager can give it its own SA. Written `flag cpu-acquire`.
   */
  readonly cpuAcquire?: boolean;
}

/** A policy in the database. */
export interface Policy {
  readonly dir: PolicyDir;
  readonly selector: Selector;
  readonly priority: number;
  readonly action: PolicyAction;
  readonly index: number;
  readonly templates: readonly Template[];
  readonly cpuAcquire: boolean;
}

/** What a worker needs to attach to the SPD. */
export interface PolicyDbDescription {
  readonly root: number;
  readonly arena: ArenaDescription;
}

/** Options for {@link PolicyDb.create}. */
export interface PolicyDbOptions {
  /** Most policies at once (records retired but not yet freed count too). Default 2^22. */
  capacity?: number;
  /**
   * Ablation (dataplane-bench --ablate list-spd): look policies up in one list per direction
   * sorted by priority, the design Linux had before the talk, instead of tuple space search.
   */
  linear?: boolean;
}

// Policy record fields (payload words). The direction is the index's low 3 bits (as Linux's).
export const P_INDEX = 0;
export const P_PRIORITY = 1;
export const P_SEQ = 2;
export const P_NEXT = 3;
/**
 * Flags (P_FLAG_*), how many templates the policy has (bits 8-10: {@link policyTemplateCount})
 * and how many words they take (bits 16-23).
 */
export const P_FLAGS = 4;
/**
 * Heap offset of the policy's templates (packed one after the other, template.ts), 0 for
 * none: a block of its own, allocated before the record is published and retired with it, so
 * a policy holds only the templates it has (most have one) rather than room for six.
 */
export const P_TMPL = 5;
export const P_SEL = 6;
const P_WORDS = P_SEL + SEL_WORDS;
/** P_FLAGS bit: the action is block. */
export const P_FLAG_BLOCK = 1;
/** P_FLAGS bit: XFRM_POLICY_CPU_ACQUIRE. */
export const P_FLAG_CPU_ACQUIRE = 4;

/** The number of templates of a policy whose P_FLAGS word is `flags`. */
export function policyTemplateCount(flags: number): number {
  return (flags >>> 8) & 7;
}

function templateBlockWords(flags: number): number {
  return (flags >>> 16) & 0xff;
}
const G_WORDS = 5;
const ROOT_GEN = 4; // three u64, at even words
const ROOT_LIST = 10;
const ROOT_LINEAR = 13;
const ROOT_PAIRS = 14;
const ROOT_SEED = 15;
const ROOT_CHANGE_LOG = 16; // the offset of the SPD's change log (change-log.ts)
const ROOT_WORDS = 18;
/** Pair generation words per direction (a power of two): 32 KiB each. */
export const PAIR_WORDS = 4096;

/**
 * The change shard of a pair generation word (its u64 index): the SPD's change log names it
 * when the word moves (a precise policy added or deleted), and ALL_SHARDS when a direction's
 * generation moves, so a precise policy's change stales only the cached answers of flows whose
 * pair shares its shard (change-epoch.ts).
 */
export function pairShard(pairWord: number): number {
  return pairWord & (PAIR_WORDS - 1);
}

/**
 * What a flow's resolution depends on in the SPD: the direction's generation and the pair
 * generation word of its address pair (`pairWord`, a u64 index into the heap's `u64` view)
 * with its value, both as u64 halves in `generationWords` (shm/u64-words.ts; the direction's
 * at 0, the pair's at 2), so that reading them allocates nothing. Read before the lookup
 * ({@link PolicyDbView.readGenerations}), checked with {@link PolicyDbView.generationsHold}.
 */
export interface PolicyGenerations {
  readonly generationWords: Int32Array;
  pairWord: number;
}

/** A scratch {@link PolicyGenerations} (one per thread or cache; nothing is allocated per packet). */
export function newPolicyGenerations(): PolicyGenerations {
  return { generationWords: new Int32Array(4), pairWord: 0 };
}

/** A reader's view of the SPD: lookups and record fields. */
export class PolicyDbView {
  /** The policy records. */
  readonly arena: ArenaView;
  private readonly key = new Int32Array(8);

  constructor(
    /** The heap the database lives in. */
    readonly heap: HeapView,
    protected readonly root: number,
    arena: ArenaView,
  ) {
    this.arena = arena;
  }

  /** Rebuild a view from its description (in a worker). */
  static attach(heap: HeapView, desc: PolicyDbDescription): PolicyDbView {
    return new PolicyDbView(heap, desc.root, ArenaView.attach(heap, desc.arena));
  }

  /** The description to post to a worker. */
  describe(): PolicyDbDescription {
    return { root: this.root, arena: this.arena.describe() };
  }

  /** The generation of a direction's policies (u64); it moves on every change but a precise policy's. */
  generation(dir: number): bigint {
    return Atomics.load(this.heap.cover64(this.root + ROOT_WORDS), (this.root + ROOT_GEN) / 2 + dir);
  }

  /**
   * The SPD's change count (u64): it moves after every move of a direction's generation or of
   * a pair generation, never before, and after the move's shard is in the change log
   * ({@link loggedShard}). A reader that read it, then checked generations, and later reads it
   * unchanged knows the check still holds (ChangeEpoch).
   */
  changes(): bigint {
    return changeCount(this.heap, this.heap.cover(this.root + ROOT_WORDS)[this.root + ROOT_CHANGE_LOG]);
  }

  /**
   * Entry `i` of the change log (change-log.ts): the {@link pairShard} of a pair generation
   * move, or ALL_SHARDS for a direction generation move.
   */
  loggedShard(i: number): number {
    return loggedShard(this.heap, this.heap.cover(this.root + ROOT_WORDS)[this.root + ROOT_CHANGE_LOG], i);
  }

  /** The u64 index of the pair generation word of the address pair at `pair[p .. p+8)` (src then dst words). */
  pairWord(dir: number, pair: Int32Array, p: number): number {
    const root = this.heap.cover(this.root + ROOT_WORDS);
    const h = xxh32Words(pair, p, 8, root[this.root + ROOT_SEED]) & (PAIR_WORDS - 1);
    return (root[this.root + ROOT_PAIRS] >> 1) + dir * PAIR_WORDS + h;
  }

  /** Read what resolving the packed flow at `flow[f]` in `dir` depends on, into `into` (allocates nothing). Call before the lookup. */
  readGenerations(dir: number, flow: Int32Array, f: number, into: PolicyGenerations): PolicyGenerations {
    loadU64Words(this.heap.cover(this.root + ROOT_WORDS), this.root + ROOT_GEN + 2 * dir, into.generationWords, 0);
    const word = this.pairWord(dir, flow, f + 1);
    into.pairWord = word;
    loadU64Words(this.heap.cover(2 * word + 2), 2 * word, into.generationWords, 2);
    return into;
  }

  /** True while nothing a resolution that read `words[o ..]` and `pairWord` ({@link PolicyGenerations}) depends on has changed. Allocates nothing. */
  generationsHold(dir: number, words: Int32Array, o: number, pairWord: number): boolean {
    return u64WordsEqual(this.heap.cover(this.root + ROOT_WORDS), this.root + ROOT_GEN + 2 * dir, words, o) && u64WordsEqual(this.heap.cover(2 * pairWord + 2), 2 * pairWord, words, o + 2);
  }

  /** True while nothing a resolution read under these generations (u64 values) depends on has changed. */
  generationsValid(dir: number, generation: bigint, pairWord: number, pairGeneration: bigint): boolean {
    return this.generation(dir) === generation && Atomics.load(this.heap.cover64(2 * pairWord + 2), pairWord) === pairGeneration;
  }

  /**
   * The slot of the policy of direction `dir` (0 in, 1 out, 2 fwd) that wins for the packed
   * flow at `flow[f]`, or -1 when none matches.
   */
  lookup(dir: number, flow: Int32Array, f: number): number {
    const heap = this.heap;
    const root = heap.cover(this.root + ROOT_WORDS);
    if (root[this.root + ROOT_LINEAR] !== 0) return this.scanList(dir, flow, f);
    const arr = Atomics.load(root, this.root + dir);
    const n = heap.cover(arr + 1)[arr];
    const groups = heap.cover(arr + 1 + n * G_WORDS);
    const family = flow[f];
    const kw = family === 4 ? 1 : 4;
    const key = this.key;
    let best = -1;
    let bestPrio = 0;
    let bestSeq = 0;
    for (let g = arr + 1, end = arr + 1 + n * G_WORDS; g < end; g += G_WORDS) {
      if (groups[g] !== family) continue;
      if (best >= 0 && groups[g + 3] >>> 0 > bestPrio) break; // sorted: no later group can win
      const srcLen = groups[g + 1];
      const dstLen = groups[g + 2];
      for (let w = 0; w < kw; w++) {
        key[w] = maskWord(flow[f + 1 + w], w, srcLen);
        key[kw + w] = maskWord(flow[f + 5 + w], w, dstLen);
      }
      let slot = HashTableView.lookupIn(heap, groups[g + 4], key, 0);
      while (slot >= 0) {
        const p = this.arena.payload(slot);
        const i32 = heap.i32;
        const prio = i32[p + P_PRIORITY] >>> 0;
        if (best >= 0 && prio > bestPrio) break; // chain sorted by priority
        if (selectorMatches(i32, p + P_SEL, flow, f)) {
          const seq = i32[p + P_SEQ];
          if (best < 0 || prio < bestPrio || seq < bestSeq) {
            best = slot;
            bestPrio = prio;
            bestSeq = seq;
          }
          break; // the first match of a chain is its best
        }
        slot = chainNext(heap, this.arena, slot, P_NEXT);
      }
    }
    return best;
  }

  /** Word offset of a field of the policy in `slot` (read it through `heap.i32`). */
  field(slot: number, field: number): number {
    return this.arena.payload(slot) + field;
  }

  /**
   * Word offset of the first packed template of the policy whose payload is at `pp` (each
   * next one follows the last: template.ts templateWords), with the heap's views covering all
   * of them: re-read `heap.i32` after the call.
   */
  templates(pp: number): number {
    const i32 = this.heap.i32;
    const at = i32[pp + P_TMPL];
    this.heap.cover(at + templateBlockWords(i32[pp + P_FLAGS]));
    return at;
  }

  /** The ablated lookup: the first match in the direction's priority-ordered list. */
  private scanList(dir: number, flow: Int32Array, f: number): number {
    const arr = Atomics.load(this.heap.cover(this.root + ROOT_WORDS), this.root + ROOT_LIST + dir);
    const n = this.heap.cover(arr + 1)[arr];
    const list = this.heap.cover(arr + 1 + n);
    for (let i = 0; i < n; i++) {
      const slot = list[arr + 1 + i];
      const p = this.arena.payload(slot);
      if (selectorMatches(this.heap.i32, p + P_SEL, flow, f)) return slot;
    }
    return -1;
  }
}

interface Group {
  readonly family: 4 | 6;
  readonly srcLen: number;
  readonly dstLen: number;
  readonly chains: Chains;
  /** How many policies have each priority (to know the best after a delete). */
  readonly priorities: Map<number, number>;
  best: number;
  size: number;
}

/** The control thread's SPD. */
export class PolicyDb extends PolicyDbView {
  declare readonly heap: SharedHeap;
  declare readonly arena: RecordArena;
  /**
   * Policy index -> record slot. The SPD keeps no JS object per policy: a Policy is built
   * from its record when asked for, and one with a given selector is found through its
   * group's table and chain, as the packet path finds it.
   */
  private readonly byIndex = new U64Index();
  private readonly groups = DIRS.map(() => new Map<string, Group>());
  private seq = 0;
  private indexGenerator = 0;
  private readonly pairScratch = new Int32Array(8);
  private readonly selScratch = new Int32Array(SEL_WORDS);

  private constructor(
    heap: SharedHeap,
    root: number,
    arena: RecordArena,
    private readonly reclaimer: Reclaimer,
  ) {
    super(heap, root, arena);
  }

  /** Create an empty SPD in `heap`; retired memory is freed through `reclaimer`. */
  static create(heap: SharedHeap, reclaimer: Reclaimer, opts: PolicyDbOptions = {}): PolicyDb {
    const arena = RecordArena.create(heap, { recordWords: P_WORDS, capacity: opts.capacity ?? 1 << 22 });
    const root = heap.alloc(ROOT_WORDS);
    for (let d = 0; d < 3; d++) {
      Atomics.store(heap.i32, root + d, heap.alloc(1));
      Atomics.store(heap.i32, root + ROOT_LIST + d, heap.alloc(1));
    }
    heap.i32[root + ROOT_LINEAR] = opts.linear ? 1 : 0;
    heap.i32[root + ROOT_PAIRS] = heap.alloc(2 * 3 * PAIR_WORDS); // zeroed u64 words
    heap.i32[root + ROOT_SEED] = randomSeed();
    heap.i32[root + ROOT_CHANGE_LOG] = heap.alloc(CHANGE_LOG_WORDS); // zeroed: count 0
    return new PolicyDb(heap, root, arena, reclaimer);
  }

  /** Policies in the database. */
  get size(): number {
    return this.byIndex.size;
  }

  /** Distinct (family, prefix length pair) groups of a direction. */
  groupCount(dir: PolicyDir): number {
    return this.groups[DIR_NUMBER[dir]].size;
  }

  /** Add a policy. Throws XfrmError EEXIST if the dir has one with the same selector. */
  add(spec: PolicySpec): Policy {
    return this.insert(spec, false);
  }

  /** Add a policy, or replace the one with the same dir and selector (keeping its index). */
  update(spec: PolicySpec): Policy {
    return this.insert(spec, true);
  }

  /** The policy with this index (a new object at each call). */
  get(index: number): Policy | undefined {
    const slot = this.slotOfIndex(index);
    return slot < 0 ? undefined : this.policyIn(slot);
  }

  /** The policy of `dir` with exactly this selector. */
  find(dir: PolicyDir, selector: Selector): Policy | undefined {
    const slot = this.findSlot(DIR_NUMBER[dir], selector);
    return slot < 0 ? undefined : this.policyIn(slot);
  }

  /** The policy in a slot (as a lookup returned it), if that record is still the policy's. */
  policyAt(slot: number): Policy | undefined {
    if (!this.arena.holds(slot)) return undefined;
    const index = this.heap.i32[this.field(slot, P_INDEX)] >>> 0;
    return this.slotOfIndex(index) === slot ? this.policyIn(slot) : undefined;
  }

  /** Delete the policy with this index; returns it. Throws XfrmError ENOENT. */
  delete(index: number): Policy {
    const slot = this.slotOfIndex(index);
    if (slot < 0) throw new XfrmError('ENOENT', `no policy with index ${index}`);
    const policy = this.policyIn(slot);
    this.remove(slot);
    return policy;
  }

  /** All policies, by direction, priority and insertion order. */
  list(dir?: PolicyDir): Policy[] {
    return this.ordered(dir).map((slot) => this.policyIn(slot));
  }

  /** The record slots of `list(dir)`, in the same order (the order a linear scan would use). */
  slots(dir?: PolicyDir): Int32Array {
    return Int32Array.from(this.ordered(dir));
  }

  private ordered(dir?: PolicyDir): number[] {
    const d = dir === undefined ? -1 : DIR_NUMBER[dir];
    const i32 = this.heap.i32;
    const out: number[] = [];
    this.byIndex.forEach((slot) => {
      if (d < 0 || (i32[this.field(slot, P_INDEX)] & 7) === d) out.push(slot);
    });
    const at = (slot: number, f: number) => i32[this.field(slot, f)];
    const dirOf = (slot: number) => at(slot, P_INDEX) & 7;
    return out.sort((a, b) => dirOf(a) - dirOf(b) || (at(a, P_PRIORITY) >>> 0) - (at(b, P_PRIORITY) >>> 0) || at(a, P_SEQ) - at(b, P_SEQ));
  }

  /** Delete every policy (of one direction, if given); returns how many. */
  flush(dir?: PolicyDir): number {
    let n = 0;
    for (const d of dir === undefined ? [0, 1, 2] : [DIR_NUMBER[dir]]) {
      const slots = this.ordered(DIRS[d]);
      if (slots.length === 0) continue;
      const empty = this.heap.alloc(1);
      this.publishGroups(d, empty);
      for (const g of this.groups[d].values()) g.chains.table.destroy();
      this.groups[d].clear();
      for (const slot of slots) {
        this.byIndex.delete(BigInt(this.heap.i32[this.field(slot, P_INDEX)] >>> 0)); // before the retire
        this.retireRecord(slot);
      }
      this.publishList(d);
      this.bumpGeneration(d);
      n += slots.length;
    }
    return n;
  }

  private insert(spec: PolicySpec, replace: boolean): Policy {
    const d = checkPolicy(spec);
    const old = this.findSlot(d, spec.selector);
    const i32 = this.heap.i32;
    const oldIndex = old < 0 ? undefined : i32[this.field(old, P_INDEX)] >>> 0;
    if (old >= 0 && !replace) {
      throw new XfrmError('EEXIST', `policy exists: dir ${spec.dir} index ${oldIndex} has this selector`);
    }
    const index = oldIndex ?? this.newIndex(spec, d);
    const policy: Policy = Object.freeze({
      dir: spec.dir,
      selector: spec.selector,
      priority: spec.priority ?? 0,
      action: spec.action ?? 'allow',
      cpuAcquire: spec.cpuAcquire ?? false,
      index,
      templates: Object.freeze([...(spec.templates ?? [])]),
    });
    const slot = this.arena.alloc(); // throws when full, before anything changed
    // An update that keeps the priority keeps the old one's place among equal priorities (its
    // chain position and its insertion sequence), as the kernel replaces a policy in place; one
    // that changes it goes behind the policies of its new priority, as a new one.
    const inPlace = old >= 0 && this.heap.i32[this.field(old, P_PRIORITY)] >>> 0 === policy.priority;
    const seq = inPlace ? this.heap.i32[this.field(old, P_SEQ)] : ++this.seq;
    this.writeRecord(slot, policy, seq);
    const group = this.groupFor(d, policy.selector);
    this.link(group, slot, policy, inPlace ? old : undefined);
    if (old >= 0) this.remove(old); // after the new one is visible: no gap
    this.byIndex.set(BigInt(index), slot);
    this.publishList(d);
    this.invalidate(d, policy.selector);
    return policy;
  }

  /** The slot of the policy with this index, or -1. */
  private slotOfIndex(index: number): number {
    return Number.isInteger(index) && index >= 0 && index < 2 ** 32 ? this.byIndex.get(BigInt(index)) : -1;
  }

  /** The slot of the policy of direction `d` with exactly this selector, or -1. */
  private findSlot(d: number, s: Selector): number {
    const g = this.groups[d].get(groupKey(s));
    if (g === undefined) return -1;
    const want = this.selScratch;
    writeSelector(want, 0, s);
    const i32 = this.heap.i32;
    for (let cur = g.chains.head(this.chainKey(s)); cur >= 0; cur = g.chains.next(cur)) {
      const p = this.field(cur, P_SEL);
      let w = 0;
      while (w < SEL_WORDS && i32[p + w] === want[w]) w++;
      if (w === SEL_WORDS) return cur;
    }
    return -1;
  }

  /** A Policy built from the record in `slot` (a new object each time). */
  private policyIn(slot: number): Policy {
    const i32 = this.heap.i32;
    const p = this.arena.payload(slot);
    const flags = i32[p + P_FLAGS];
    const templates: Template[] = [];
    for (let t = 0, tp = i32[p + P_TMPL]; t < policyTemplateCount(flags); t++, tp += templateWords(i32[tp])) templates.push(readTemplate(i32, tp));
    return Object.freeze({
      dir: DIRS[i32[p + P_INDEX] & 7],
      selector: Object.freeze(readSelector(i32, p + P_SEL)),
      priority: i32[p + P_PRIORITY] >>> 0,
      action: (flags & P_FLAG_BLOCK) !== 0 ? 'block' : 'allow',
      cpuAcquire: (flags & P_FLAG_CPU_ACQUIRE) !== 0,
      index: i32[p + P_INDEX] >>> 0,
      templates: Object.freeze(templates),
    });
  }

  private newIndex(spec: PolicySpec, d: number): number {
    if (spec.index !== undefined) {
      if (this.slotOfIndex(spec.index) >= 0) throw new XfrmError('EEXIST', `policy index ${spec.index} is in use`);
      return spec.index;
    }
    let index;
    do {
      this.indexGenerator = (this.indexGenerator + 8) % 2 ** 32;
      index = this.indexGenerator + d;
    } while (this.slotOfIndex(index) >= 0 || index === 0);
    return index;
  }

  private writeRecord(slot: number, p: Policy, seq: number): void {
    const base = this.arena.payload(slot);
    const i32 = this.heap.i32;
    let words = 0;
    for (const t of p.templates) words += templateWordsFor(t.family);
    i32[base + P_INDEX] = p.index; // its low 3 bits are the direction (checked)
    i32[base + P_PRIORITY] = p.priority;
    i32[base + P_SEQ] = seq;
    i32[base + P_FLAGS] = (p.action === 'block' ? P_FLAG_BLOCK : 0) | (p.cpuAcquire ? P_FLAG_CPU_ACQUIRE : 0) | (p.templates.length << 8) | (words << 16);
    writeSelector(i32, base + P_SEL, p.selector);
    if (words > 0) {
      const at = this.heap.alloc(words);
      for (let t = 0, tp = at; t < p.templates.length; t++) tp += writeTemplate(this.heap.i32, tp, p.templates[t]);
      this.heap.i32[base + P_TMPL] = at;
    }
  }

  /** Retire the record in `slot` and its templates (one grace period for both). */
  private retireRecord(slot: number): void {
    const p = this.arena.payload(slot);
    const at = this.heap.i32[p + P_TMPL];
    const words = templateBlockWords(this.heap.i32[p + P_FLAGS]);
    this.arena.retire(slot, this.reclaimer);
    if (words > 0) retireWith(this.reclaimer, this.heap, at, words);
  }

  private groupFor(d: number, s: Selector): Group {
    const gk = groupKey(s);
    let g = this.groups[d].get(gk);
    if (g === undefined) {
      const keyWords = s.family === 4 ? 2 : 8;
      g = {
        family: s.family,
        srcLen: s.srcLen,
        dstLen: s.dstLen,
        chains: new Chains(this.heap, this.arena, HashTable.create(this.heap, this.reclaimer, { keyWords }), P_NEXT),
        priorities: new Map(),
        best: 0,
        size: 0,
      };
      this.groups[d].set(gk, g);
    }
    return g;
  }

  /** The group table key of a selector: its addresses masked (lookups mask the flow's the same way). */
  private chainKey(s: Selector): Int32Array {
    const kw = s.family === 4 ? 1 : 4;
    const key = new Int32Array(2 * kw);
    for (let w = 0; w < kw; w++) {
      key[w] = maskWord(s.src.words[w], w, s.srcLen);
      key[kw + w] = maskWord(s.dst.words[w], w, s.dstLen);
    }
    return key;
  }

  /** Link a filled record into its chain: right after `after`, or else after every policy of equal or better priority. */
  private link(g: Group, slot: number, p: Policy, after?: number): void {
    const key = this.chainKey(p.selector);
    let pred = after ?? -1;
    for (let cur = after === undefined ? g.chains.head(key) : -1; cur >= 0 && this.heap.i32[this.field(cur, P_PRIORITY)] >>> 0 <= p.priority; ) {
      pred = cur;
      cur = g.chains.next(cur);
    }
    g.chains.linkAfter(key, pred, slot);
    g.size++;
    g.priorities.set(p.priority, (g.priorities.get(p.priority) ?? 0) + 1);
    if (g.size === 1 || p.priority < g.best) {
      g.best = p.priority;
      this.publishGroups(DIR_NUMBER[p.dir]);
    }
  }

  private remove(slot: number): void {
    const i32 = this.heap.i32;
    const p = this.arena.payload(slot);
    const d = i32[p + P_INDEX] & 7;
    const priority = i32[p + P_PRIORITY] >>> 0;
    const index = i32[p + P_INDEX] >>> 0;
    const selector = readSelector(i32, p + P_SEL);
    const g = this.groups[d].get(groupKey(selector))!;
    g.chains.unlink(this.chainKey(selector), slot);
    this.retireRecord(slot); // the record may be poisoned from here on: read above
    if (this.byIndex.get(BigInt(index)) === slot) this.byIndex.delete(BigInt(index));
    const left = g.priorities.get(priority)! - 1;
    if (left > 0) g.priorities.set(priority, left);
    else g.priorities.delete(priority);
    g.size--;
    if (g.size === 0) {
      this.groups[d].delete(groupKey(g));
      this.publishGroups(d);
      g.chains.table.destroy();
    } else if (left === 0 && priority === g.best) {
      g.best = Math.min(...g.priorities.keys());
      this.publishGroups(d);
    }
    this.publishList(d);
    this.invalidate(d, selector);
  }

  /**
   * Stale what a change of a policy with selector `s` can affect: the flows of its own address
   * pair when it is precise (full lengths both ways), else every flow of the direction.
   */
  private invalidate(d: number, s: Selector): void {
    const bits = addressBits(s.family);
    if (s.srcLen !== bits || s.dstLen !== bits) {
      this.bumpGeneration(d);
      return;
    }
    writeAddressPair(this.pairScratch, 0, s.src, s.dst);
    const word = this.pairWord(d, this.pairScratch, 0);
    Atomics.add(this.heap.u64, word, 1n);
    this.changed(pairShard(word));
  }

  /** Make every bundle of every direction stale (ablation: "flush everything" on each change). */
  private bumpGeneration(d: number): void {
    Atomics.add(this.heap.u64, (this.root + ROOT_GEN) / 2 + d, 1n);
    this.changed(ALL_SHARDS);
  }

  /** After every generation move: its shard into the change log, then the count (see {@link PolicyDbView.changes}). */
  private changed(shard: number): void {
    logChange(this.heap, this.heap.i32[this.root + ROOT_CHANGE_LOG], shard);
  }

  invalidateAll(): void {
    for (let d = 0; d < 3; d++) this.bumpGeneration(d);
  }

  /** With `linear` (ablation): publish the direction's policies as one ordered list, O(n) per change. */
  private publishList(d: number): void {
    if (this.heap.i32[this.root + ROOT_LINEAR] === 0) return;
    const slots = this.slots(DIRS[d]);
    const arr = this.heap.alloc(1 + slots.length);
    this.heap.i32[arr] = slots.length;
    this.heap.i32.set(slots, arr + 1);
    const old = Atomics.load(this.heap.i32, this.root + ROOT_LIST + d);
    const oldWords = 1 + this.heap.i32[old];
    Atomics.store(this.heap.i32, this.root + ROOT_LIST + d, arr);
    this.reclaimer.retire(() => this.heap.release(old, oldWords));
  }

  /** Write a direction's group array anew, sorted by best priority, and switch readers to it. */
  private publishGroups(d: number, arr?: number): void {
    const groups = [...this.groups[d].values()].sort((a, b) => a.best - b.best);
    if (arr === undefined) {
      arr = this.heap.alloc(1 + groups.length * G_WORDS);
      const i32 = this.heap.i32;
      i32[arr] = groups.length;
      groups.forEach((g, i) => {
        const q = arr! + 1 + i * G_WORDS;
        i32[q] = g.family;
        i32[q + 1] = g.srcLen;
        i32[q + 2] = g.dstLen;
        i32[q + 3] = g.best;
        i32[q + 4] = g.chains.table.describe().offset;
      });
    }
    const old = Atomics.load(this.heap.i32, this.root + d);
    const oldWords = 1 + this.heap.i32[old] * G_WORDS;
    Atomics.store(this.heap.i32, this.root + d, arr);
    this.reclaimer.retire(() => this.heap.release(old, oldWords));
  }
}

/** The name of the group of a selector (or of a group itself): its family and prefix lengths. */
function groupKey(s: { readonly family: number; readonly srcLen: number; readonly dstLen: number }): string {
  return `${s.family}/${s.srcLen}/${s.dstLen}`;
}

/** Validate a policy spec; returns its direction number. Throws XfrmError EINVAL. */
function checkPolicy(spec: PolicySpec): number {
  const d = DIR_NUMBER[spec.dir];
  if (d === undefined) throw new XfrmError('EINVAL', `bad policy dir '${String(spec.dir)}'`);
  const s = spec.selector;
  const bits = addressBits(s.family);
  if (!(s.srcLen >= 0 && s.srcLen <= bits && s.dstLen >= 0 && s.dstLen <= bits)) {
    throw new XfrmError('EINVAL', `prefix length out of range for IPv${s.family}`);
  }
  if (s.src.family !== s.family || s.dst.family !== s.family) {
    throw new XfrmError('EINVAL', 'selector addresses are of different families');
  }
  if (isIcmp(s.proto) && (s.sport > 255 || s.dport > 255)) throw new XfrmError('EINVAL', 'ICMP type and code are 0..255');
  const prio = spec.priority ?? 0;
  if (!(Number.isInteger(prio) && prio >= 0 && prio < 2 ** 32)) throw new XfrmError('EINVAL', `bad priority ${prio}`);
  if (spec.index !== undefined) {
    if (!(Number.isInteger(spec.index) && spec.index > 0 && spec.index < 2 ** 32)) {
      throw new XfrmError('EINVAL', `bad policy index ${spec.index}`);
    }
    if (spec.index % 8 !== d) {
      throw new XfrmError('EINVAL', `policy index ${spec.index} does not belong to dir ${spec.dir} (index mod 8 must be ${d})`);
    }
  }
  if (spec.action !== undefined && spec.action !== 'allow' && spec.action !== 'block') {
    throw new XfrmError('EINVAL', `bad policy action '${String(spec.action)}'`);
  }
  const templates = spec.templates ?? [];
  if (templates.length > MAX_TEMPLATES) throw new XfrmError('EINVAL', `more than ${MAX_TEMPLATES} templates`);
  let family = s.family; // as Linux's validate_tmpl: only a tunnel may change the family
  for (const t of templates) {
    if (t.proto !== IPPROTO_ESP) throw new XfrmError('EINVAL', `template protocol ${t.proto} is not supported (only esp)`);
    if (t.src.family !== t.family || t.dst.family !== t.family) {
      throw new XfrmError('EINVAL', 'template addresses are of different families');
    }
    if (t.mode === 'transport' && t.family !== family) {
      throw new XfrmError('EINVAL', `a transport mode template cannot change the family (IPv${family} packets, an IPv${t.family} template): only tunnel mode can`);
    }
    family = t.family;
  }
  return d;
}
