/**
 * Bundles: the resolved output route of a flow (talk: "pre-computed cached routes"), the
 * policy plus the chain of states its templates picked. A bundle records what it was built
 * from, the direction's policy generation, each state's genid and the shadow generation of
 * each state's `bydst` key (all u64, so none ever comes back to an old value), and is valid
 * exactly while all of that is unchanged: checking is a few atomic loads, and nothing ever walks or flushes bundles (talk: "Cheap State Coherency").
 * Every generation is read before the lookup it guards, and every writer moves it after the
 * change it announces, so a change during a lookup always shows up as a stale bundle.
 *
 * Runs on any thread with views of the SPD and SAD, inside a read-side section; a bundle may
 * be kept across quiescent points (in a flow cache) because validity only reads genids, and
 * arena memory is never handed back to the heap.
 */
import { type Address, type Family } from './address.js';
import { P_FLAGS, P_FLAG_BLOCK, P_FLAG_CPU_ACQUIRE, newPolicyGenerations, policyTemplateCount, type PolicyDbView, type PolicyGenerations } from './policy-db.js';
import { S_PCPU, type StateDbView } from './state-db.js';
import { u64OfWords } from '../shm/u64-words.js';
import { MAX_TEMPLATES, templateAddressAny, templateAddressWord, templateReqid, templateSpi, templateWords, type Mode } from './template.js';

/** A resolved output route. */
export interface Bundle {
  readonly dir: number;
  /** Policy slot. */
  readonly policy: number;
  /** The direction's policy generation when the bundle was built (u64). */
  readonly generation: bigint;
  /** The flow's pair generation word (u64 index) and its value then (policy-db.ts). */
  readonly pairWord: number;
  readonly pairGeneration: bigint;
  /** State slots, outermost last (in template order). */
  readonly states: Int32Array;
  /** Each state's genid when the bundle was built (u64). */
  readonly genids: BigUint64Array;
  /** Each state's bydst-key shadow generation, read before the state was looked up (u64). */
  readonly chains: BigUint64Array;
  /** Each state's key's change shard (state-db.ts chainShard: a ChangeEpoch check depends on it). */
  readonly chainShards: Int32Array;
}

/** An SA the key manager must negotiate (a template with no state). */
export interface AcquireRequest {
  readonly policy: number;
  readonly template: number;
  readonly family: Family;
  readonly dst: Address;
  readonly src: Address;
  readonly proto: number;
  readonly reqid: number;
  readonly mode: Mode;
  /** The queue asking for its own SA (a `cpu-acquire` policy), or undefined. */
  readonly pcpuNum?: number;
}

/** What the output path does with a flow. */
export type Resolution =
  | { readonly kind: 'none' }
  | { readonly kind: 'block'; readonly policy: number }
  | {
      readonly kind: 'bundle';
      readonly bundle: Bundle;
      /** With a `cpu-acquire` policy: the queue sends on a fallback SA and asks for its own. */
      readonly acquire?: AcquireRequest;
    }
  | { readonly kind: 'acquire'; readonly acquire: AcquireRequest };

const NONE: Resolution = Object.freeze({ kind: 'none' });
// Per-thread scratch of resolveInto (it is not re-entrant): the current tunnel ends.
const cur = new Int32Array(8);
const ends = new Int32Array(8);

/** What {@link resolveInto} found (its return value). */
export const RESOLVED_NONE = 0;
export const RESOLVED_BLOCK = 1;
export const RESOLVED_BUNDLE = 2;
export const RESOLVED_ACQUIRE = 3;

/**
 * Where {@link resolveInto} leaves what it resolved, so that a packet path (a queue and its
 * flow cache, which copies what it keeps) allocates nothing on a miss; valid until the next
 * call. `acquire` is the one object it may make, when an ACQUIRE is raised (rare).
 */
export interface BundleScratch extends PolicyGenerations {
  readonly states: Int32Array;
  /** Each state's genid and bydst shadow generation as u64 halves (shm/u64-words.ts), two words a state. */
  readonly genidWords: Int32Array;
  readonly chainWords: Int32Array;
  readonly chainShards: Int32Array;
  /** States in `states` (RESOLVED_BUNDLE). */
  count: number;
  /** The policy slot (all but RESOLVED_NONE). */
  policy: number;
  /** RESOLVED_ACQUIRE: the SA to ask for; RESOLVED_BUNDLE: a per-queue SA to ask for while on the fallback (or undefined). */
  acquire: AcquireRequest | undefined;
}

/** Scratch for {@link resolveInto}. */
export function newBundleScratch(): BundleScratch {
  return {
    ...newPolicyGenerations(),
    states: new Int32Array(MAX_TEMPLATES),
    genidWords: new Int32Array(2 * MAX_TEMPLATES),
    chainWords: new Int32Array(2 * MAX_TEMPLATES),
    chainShards: new Int32Array(MAX_TEMPLATES),
    count: 0,
    policy: -1,
    acquire: undefined,
  };
}

function address(family: number, words: Int32Array, off: number): Address {
  return { family: family as Family, words: [words[off], words[off + 1], words[off + 2], words[off + 3]] };
}

/** The ACQUIRE for template `t` of `policy`, between the current tunnel `ends`. */
function request(policy: number, t: number, fam: number, tunnel: boolean, proto: number, reqid: number, pcpuNum: number | undefined): AcquireRequest {
  return { policy, template: t, family: fam as Family, dst: address(fam, ends, 0), src: address(fam, ends, 4), proto, reqid, mode: tunnel ? 'tunnel' : 'transport', pcpuNum };
}

/**
 * Resolve the packed flow at `flow[f]` in direction `dir` into `out`: no policy (pass), a
 * blocking policy, a bundle, or the ACQUIRE of the first required template that has no state;
 * returns which (RESOLVED_*). The policy generations are read first (into `out`): a change
 * during the lookup leaves what was resolved stale. Each tunnel template's endpoints become the
 * addresses the next template continues from; an optional (`level use`) template with no state
 * is skipped. `queue` is the resolving queue: a state bound to it (`pcpu-num`) is preferred,
 * states bound to other queues are skipped (-1, the control thread: only states bound to none).
 * Allocates nothing unless it raises an ACQUIRE.
 */
export function resolveInto(spd: PolicyDbView, sad: StateDbView, dir: number, flow: Int32Array, f: number, out: BundleScratch, queue = -1): number {
  spd.readGenerations(dir, flow, f, out); // before the lookup
  out.count = 0;
  out.acquire = undefined;
  const policy = spd.lookup(dir, flow, f);
  out.policy = policy;
  if (policy < 0) return RESOLVED_NONE;
  const pp = spd.field(policy, 0);
  let i32 = spd.heap.i32;
  const flags = i32[pp + P_FLAGS];
  if ((flags & P_FLAG_BLOCK) !== 0) return RESOLVED_BLOCK;
  const n = policyTemplateCount(flags);
  // Current endpoints: the flow's, then each tunnel's.
  for (let w = 0; w < 4; w++) {
    cur[w] = flow[f + 5 + w]; // dst
    cur[4 + w] = flow[f + 1 + w]; // src
  }
  let family = flow[f];
  const cpuAcquire = queue >= 0 && (flags & P_FLAG_CPU_ACQUIRE) !== 0;
  for (let t = 0, tp = spd.templates(pp); t < n; t++) {
    i32 = spd.heap.i32; // lookups below may have remapped the views
    const head = i32[tp];
    const proto = head & 0xff;
    const tunnel = ((head >>> 8) & 1) === 1;
    const optional = ((head >>> 9) & 1) === 1;
    const spi = templateSpi(i32, tp);
    const reqid = templateReqid(i32, tp);
    let fam = family;
    const anyDst = templateAddressAny(i32, tp, 1);
    const anySrc = templateAddressAny(i32, tp, 0);
    for (let w = 0; w < 4; w++) {
      // A tunnel template names both ends; a transport one uses the current ends unless it names them.
      ends[w] = tunnel || !anyDst ? templateAddressWord(i32, tp, 1, w) : cur[w];
      ends[4 + w] = tunnel || !anySrc ? templateAddressWord(i32, tp, 0, w) : cur[4 + w];
    }
    if (tunnel) fam = head >>> 16;
    tp += templateWords(head);
    const mode = tunnel ? 1 : 0;
    const k = out.count;
    sad.chainGenInto(fam, ends, 0, ends, 4, reqid, proto, mode, out.chainWords, 2 * k); // before the lookup
    const slot = sad.bydst(fam, ends, 0, ends, 4, reqid, proto, mode, spi, flow, f, queue);
    if (slot >= 0) {
      if (cpuAcquire && out.acquire === undefined) {
        const at = sad.field(slot, S_PCPU);
        // Linux: the packet goes out on the fallback while the key manager is asked for this queue's SA.
        if (sad.heap.i32[at] !== queue) out.acquire = request(policy, t, fam, tunnel, proto, reqid, queue);
      }
      out.states[k] = slot;
      out.chainShards[k] = sad.chainShardOf(slot);
      out.genidWords[2 * k] = sad.lastGenid[0];
      out.genidWords[2 * k + 1] = sad.lastGenid[1];
      out.count = k + 1;
      if (tunnel) {
        cur.set(ends);
        family = fam;
      }
    } else if (!optional) {
      out.acquire = request(policy, t, fam, tunnel, proto, reqid, undefined);
      return RESOLVED_ACQUIRE;
    }
  }
  return RESOLVED_BUNDLE;
}

/**
 * {@link resolveInto} for callers that keep what they get (tools, tests, the control thread):
 * the resolution as objects, its arrays its own.
 */
export function resolveBundle(spd: PolicyDbView, sad: StateDbView, dir: number, flow: Int32Array, f: number, queue = -1): Resolution {
  const s = newBundleScratch();
  switch (resolveInto(spd, sad, dir, flow, f, s, queue)) {
    case RESOLVED_NONE:
      return NONE;
    case RESOLVED_BLOCK:
      return { kind: 'block', policy: s.policy };
    case RESOLVED_ACQUIRE:
      return { kind: 'acquire', acquire: s.acquire! };
    default:
      return {
        kind: 'bundle',
        acquire: s.acquire,
        bundle: {
          dir,
          policy: s.policy,
          generation: u64OfWords(s.generationWords, 0),
          pairWord: s.pairWord,
          pairGeneration: u64OfWords(s.generationWords, 2),
          states: s.states.slice(0, s.count),
          genids: BigUint64Array.from({ length: s.count }, (_, i) => u64OfWords(s.genidWords, 2 * i)),
          chains: BigUint64Array.from({ length: s.count }, (_, i) => u64OfWords(s.chainWords, 2 * i)),
          chainShards: s.chainShards.slice(0, s.count),
        },
      };
  }
}

/** True while nothing the bundle was built from has changed. */
export function bundleValid(spd: PolicyDbView, sad: StateDbView, b: Bundle): boolean {
  if (!spd.generationsValid(b.dir, b.generation, b.pairWord, b.pairGeneration)) return false;
  for (let i = 0; i < b.states.length; i++) {
    if (sad.genid(b.states[i]) !== b.genids[i] || sad.chainGenOf(b.states[i]) !== b.chains[i]) return false;
  }
  return true;
}

