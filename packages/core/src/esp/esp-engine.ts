/**
 * The packet path of one thread: output (policy lookup, bundle, ESP encapsulation with each
 * state) and input (SA lookup, anti-replay, decryption, decapsulation of nested ESP, inbound
 * policy check). Drops are counted under Linux's names and never thrown.
 *
 * Shared memory: reads the SPD and SAD through views (lock-free, inside the caller's
 * read-side section: call it between quiescent reports); writes only an SA's runtime block
 * (output sequence numbers by compare-exchange; the replay window, for which the caller
 * guarantees a single writer per SA by steering on the SPI). Everything else is thread-local.
 */
import { type AeadBackend, type SealBatch } from './aead.js';
import { aeadBackend } from './aead-backend.js';
import { RESOLVED_ACQUIRE, RESOLVED_BLOCK, RESOLVED_NONE, newBundleScratch, resolveInto, type AcquireRequest } from '../xfrm/bundle.js';
import { copyBytes } from './byte-copy.js';
import { DROP, DROP_REASONS } from './drop-reasons.js';
import { DECAP_DUMMY, dropResult, espDecapsulate } from './esp-input.js';
import { ESP_TOO_BIG, espEncapsulate } from './esp-output.js';
import { inboundPolicyCheck } from './inbound-policy.js';
import { IPPROTO, NATT_PORT, getWord, newIpInfo, parseIp, writePacketFlow, type IpInfo } from './packet.js';
import { type PolicyDbView } from '../xfrm/policy-db.js';
import { type ChangeEpoch } from '../xfrm/change-epoch.js';
import { replayAccept, replayCheck } from './replay.js';
import { SaContextCache, type HeldContexts, type SaContext } from './sa-context.js';
import { CHARGE_REFUSED, NOTICE_HARD, SHARE_WORDS, chargeLifetime, chargeShare, lifetimeSpent } from '../xfrm/sa-runtime.js';
import { FLOW_WORDS } from '../xfrm/selector.js';
import { type StateDbView } from '../xfrm/state-db.js';
import { MAX_TEMPLATES } from '../xfrm/template.js';

/** The packet goes on unchanged (no policy on output; not ESP on input). */
export const PASS = -1;
/** The packet was dropped; the reason is in `lastDrop` and counted in `drops`. */
export const DROPPED = -2;
/** A tunnel-mode dummy packet (next header 59) was received: authentic, nothing to deliver. */
export const DUMMY = -3;

const DIR_OUT = 1;
const MAX_PACKET = 65535 + 256;

/** Options for {@link EspEngine}. */
export interface EspEngineOptions {
  backend?: AeadBackend;
  /** Ablation: build cipher contexts per packet. */
  perPacketSetup?: boolean;
  /**
   * Run the inbound policy check (default true). Off only for tools that decrypt captures
   * with known keys but unknown inner subnets (`xfrmctl decrypt --no-policy-check`): never on
   * a gateway.
   */
  inboundPolicyCheck?: boolean;
  /**
   * The queue this engine serves: states bound to it (`pcpu-num`) are preferred on output, and
   * SAs without count limits are counted in its lifetime share (sa-runtime.ts), which only one
   * thread may write: one engine per queue number at a time. Default -1 (none).
   */
  queue?: number;
  /**
   * Defer the outermost seal of each output packet into the backend's batch (native only):
   * the caller binds its transmit buffer and flushes before anything reads the packets.
   */
  batchSeals?: boolean;
  /**
   * The thread's ChangeEpoch (a queue has one, with its epoch reader): an SA context is
   * checked against its record again only after its slot's change shard moved, not per packet.
   */
  changes?: ChangeEpoch;
}

/** One thread's ESP packet path. */
export class EspEngine {
  /** Drops by reason code (DROP_REASONS order). */
  readonly drops = new Float64Array(DROP_REASONS.length);
  /** SA contexts of this thread. */
  readonly contexts: SaContextCache;
  /** With `batchSeals` on a backend that batches: the deferred seals, for the caller to bind and flush. */
  readonly sealBatch: SealBatch | undefined;
  /** Reason code of the last DROPPED result. */
  lastDrop = -1;
  /**
   * After output(): the SA to ask the key manager for: when it dropped under XfrmOutNoStates,
   * or, with a `cpu-acquire` policy, this queue's own SA while the packet went on the fallback.
   */
  acquire: AcquireRequest | undefined;
  /** Slots of the states the last packet went through (output: inner first; input: outer first). */
  readonly used = new Int32Array(MAX_TEMPLATES);
  usedCount = 0;
  /** Output: the low sequence number the first (innermost) state of the last packet gave it. */
  firstSeqLo = 0;
  /** Packed flow of the last packet output() looked up or input() delivered. */
  readonly flow = new Int32Array(FLOW_WORDS);
  /**
   * Lifetime notices raised since the last {@link takeNotices} (sa-runtime.ts NOTICE_* bits,
   * by SA identity): the control thread turns them into expiries (Xfrm.notice). Rare: at most
   * a few per SA in its life.
   */
  private readonly notices: { serial: bigint; bits: number }[] = [];
  private readonly info = newIpInfo();
  private readonly inner = newIpInfo();
  private readonly scratch = [new Uint8Array(MAX_PACKET), new Uint8Array(MAX_PACKET)];
  private readonly secpath = new Int32Array(MAX_TEMPLATES);
  private readonly resolved = newBundleScratch();
  private readonly policyCheck: boolean;
  private readonly queue: number;

  constructor(
    readonly spd: PolicyDbView,
    readonly sad: StateDbView,
    opts: EspEngineOptions = {},
  ) {
    const backend = opts.backend ?? aeadBackend();
    this.contexts = new SaContextCache(sad, backend, { perPacketSetup: opts.perPacketSetup, changes: opts.changes, queue: opts.queue });
    this.sealBatch = opts.batchSeals ? backend.batch : undefined;
    this.policyCheck = opts.inboundPolicyCheck ?? true;
    this.queue = opts.queue ?? -1;
  }

  /**
   * Output path without a flow cache: classify `inp[io .. io+ilen)`, resolve its bundle and
   * encapsulate into `out[oo ..]`. Returns the length written, PASS or DROPPED.
   */
  output(inp: Uint8Array, io: number, ilen: number, out: Uint8Array, oo: number): number {
    this.acquire = undefined;
    this.usedCount = 0;
    if (!parseIp(inp, io, ilen, this.info)) return this.drop(DROP.XfrmOutError);
    writePacketFlow(inp, io, this.info, this.flow, 0);
    const s = this.resolved;
    switch (resolveInto(this.spd, this.sad, DIR_OUT, this.flow, 0, s, this.queue)) {
      case RESOLVED_NONE:
        return PASS;
      case RESOLVED_BLOCK:
        return this.drop(DROP.XfrmOutPolBlock);
      case RESOLVED_ACQUIRE:
        this.acquire = s.acquire;
        return this.drop(DROP.XfrmOutNoStates);
      default:
        this.acquire = s.acquire; // a per-queue SA asked for while this packet goes on the fallback
        return this.encapsulate(s.states, inp, io, ilen, out, oo, 0, s.count, this.info);
    }
  }

  /**
   * Encapsulate with the states of a bundle, innermost first: `count` slots of `states` from
   * `start` (a flow cache passes its own array, so nothing is allocated). Returns the length
   * written to `out[oo ..]`, PASS for a bundle without states, or DROPPED. `parsed`, if given,
   * is the caller's parse of `inp[io ..]` (saves parsing the packet twice). `held`, if given,
   * keeps contexts by the same positions as `states` (a flow cache entry's: sa-context.ts
   * HeldContexts).
   */
  encapsulate(
    states: Int32Array,
    inp: Uint8Array,
    io: number,
    ilen: number,
    out: Uint8Array,
    oo: number,
    start = 0,
    count = states.length,
    parsed?: IpInfo,
    held?: HeldContexts,
  ): number {
    const n = count;
    this.usedCount = 0;
    if (n === 0) return PASS;
    let src = inp;
    let so = io;
    let len = ilen;
    for (let i = 0; i < n; i++) {
      let slot = states[start + i];
      let sa = held === undefined ? undefined : held.contexts[start + i];
      if (sa === undefined || sa.retired) {
        sa = this.contextOf(slot);
        if (sa === undefined) return this.drop(DROP.XfrmOutStateExpired);
        slot = sa.slot;
        held?.hold(start + i, sa);
      }
      const charged = this.charge(sa, len);
      if (charged === CHARGE_REFUSED) return this.drop(DROP.XfrmOutStateExpired);
      if ((charged & sa.noticeMask) !== 0) this.notices.push({ serial: sa.serial, bits: charged & sa.noticeMask });
      const seqLo = this.sad.nextOutputSeqOf(sa.runtime, sa.esn);
      if (seqLo < 0) {
        this.notices.push({ serial: sa.serial, bits: NOTICE_HARD }); // used up: the control thread deletes it
        return this.drop(DROP.XfrmOutStateSeqError);
      }
      const last = i === n - 1;
      const dst = last ? out : this.scratch[i & 1];
      const d = last ? oo : 0;
      if (i === 0) {
        this.firstSeqLo = seqLo;
      }
      // The first hop may reuse the caller's parse of the packet (`parsed`); later hops parse the ESP they wrap.
      const first = i === 0 && parsed !== undefined;
      // Only the outermost seal may wait for the batch: an inner layer's bytes are read by the next.
      const batch = last ? this.sealBatch : undefined;
      if (batch !== undefined) batch.deferring = true;
      len = espEncapsulate(sa, this.sad.outSeqHi, seqLo, src, so, len, dst, d, first ? parsed : this.info, first);
      if (batch !== undefined) batch.deferring = false;
      if (len < 0) return this.drop(len === ESP_TOO_BIG ? DROP.XfrmOutTooBig : DROP.XfrmOutStateModeError);
      this.used[this.usedCount++] = slot;
      src = dst;
      so = d;
    }
    return len;
  }

  /**
   * Input path: if `inp[io .. io+ilen)` is ESP (or ESP in UDP 4500) for one of our states,
   * check, decrypt and decapsulate it (nested ESP too), run the inbound policy check, and
   * write the inner packet to `out[oo ..]`. Returns its length, PASS (not ESP: IKE, NAT
   * keepalive, or plain traffic that no inbound policy requires ESP for), DUMMY or DROPPED.
   */
  input(inp: Uint8Array, io: number, ilen: number, out: Uint8Array, oo: number): number {
    this.usedCount = 0;
    const info = this.info;
    let cur = inp;
    let co = io;
    let clen = ilen;
    for (let depth = 0; depth < MAX_TEMPLATES; depth++) {
      if (!parseIp(cur, co, clen, info)) return this.drop(depth === 0 ? DROP.XfrmInHdrError : DROP.XfrmInStateModeError);
      const h = co + info.headerLength;
      const end = co + info.totalLength;
      let eo = h;
      let natt = false;
      if (info.proto === IPPROTO.UDP && !info.laterFragment && end - h >= 8 && ((cur[h + 2] << 8) | cur[h + 3]) === NATT_PORT) {
        eo = h + 8;
        const room = end - eo;
        // A NAT keepalive (one 0xff byte) or the non-ESP marker (IKE) is not ours to decrypt.
        if (room === 1 || (room >= 4 && getWord(cur, eo) === 0)) {
          if (depth === 0) return PASS;
          break;
        }
        natt = true;
      } else if (info.proto !== IPPROTO.ESP || info.laterFragment) {
        if (depth === 0) return this.clearText(cur, co);
        break;
      }
      const elen = end - eo;
      if (elen < 8) return this.drop(DROP.XfrmInHdrError);
      const spi = getWord(cur, eo);
      const seqLo = getWord(cur, eo + 4);
      writePacketFlow(cur, co, info, this.flow, 0); // dst words at flow[5..8]
      const slot = this.sad.byspi(info.family, this.flow, 5, spi, IPPROTO.ESP);
      if (slot < 0) {
        if (depth === 0) return this.drop(DROP.XfrmInNoStates);
        break; // inner ESP for someone else: deliver it as it is
      }
      const sa = this.contextOf(slot);
      if (sa === undefined) return this.drop(DROP.XfrmInStateExpired);
      if (natt !== (sa.encapDport !== 0)) return this.drop(DROP.XfrmInStateMismatch);
      const runtime = this.sad.heap.cover(sa.sharesAt + SHARE_WORDS * sa.shareCount); // the whole block: the window, and the shares a limit check reads
      const seqHi = replayCheck(runtime, sa.runtime, sa.replayWindow, sa.esn, seqLo);
      if (seqHi < 0) return this.drop(DROP.XfrmInStateSeqError);
      if (lifetimeSpent(this.sad.heap.u64, sa.runtime, sa)) return this.drop(DROP.XfrmInStateExpired);
      const dst = depth === 0 ? out : this.scratch[0];
      const d = depth === 0 ? oo : 0;
      const r = espDecapsulate(sa, seqHi, cur, co, info, eo, elen, dst, d, this.inner);
      if (r === dropResult(DROP.XfrmInStateProtoError)) return this.drop(DROP.XfrmInStateProtoError);
      // Authentic: take the sequence number for good (under the SA's lock), then count it.
      if (!replayAccept(runtime, sa.runtime, sa.replayWindow, sa.esn, seqHi, seqLo)) {
        return this.drop(DROP.XfrmInStateSeqError);
      }
      const charged = this.charge(sa, r === DECAP_DUMMY || r < 0 ? 0 : r);
      if (charged === CHARGE_REFUSED) return this.drop(DROP.XfrmInStateExpired);
      if ((charged & sa.noticeMask) !== 0) this.notices.push({ serial: sa.serial, bits: charged & sa.noticeMask });
      if (r === DECAP_DUMMY) return DUMMY;
      if (r < 0) return this.drop(-1 - r);
      this.used[this.usedCount++] = sa.slot;
      if (depth > 0) copyBytes(out, oo, this.scratch[0], 0, r);
      cur = out;
      co = oo;
      clen = r;
      if (!sa.tunnel) break;
    }
    // Inbound policy check on what is left, against the states used, innermost first.
    if (!parseIp(out, oo, clen, info)) return this.drop(DROP.XfrmInStateModeError);
    if (!this.policyCheck) return clen;
    writePacketFlow(out, oo, info, this.flow, 0);
    for (let i = 0; i < this.usedCount; i++) this.secpath[i] = this.used[this.usedCount - 1 - i];
    const verdict = inboundPolicyCheck(this.spd, this.sad, this.flow, 0, this.secpath, this.usedCount);
    if (verdict >= 0) return this.drop(verdict);
    return clen;
  }

  /**
   * A packet that arrived without ESP: Linux's inbound check with an empty security path.
   * No policy: pass. A blocking policy, or one with a required template: drop, so clear text
   * cannot walk past a tunnel. Optional templates and template-less allow policies pass.
   */
  private clearText(b: Uint8Array, o: number): number {
    if (!this.policyCheck) return PASS;
    writePacketFlow(b, o, this.info, this.flow, 0);
    const verdict = inboundPolicyCheck(this.spd, this.sad, this.flow, 0, this.secpath, 0);
    return verdict < 0 || verdict === DROP.XfrmInNoPols ? PASS : this.drop(verdict);
  }

  /**
   * The context of the state in `slot`, found alive in this section; if an update has put a
   * new record in its place since, the new record's (the packet goes on with the updated SA,
   * as Linux's update in place lets it); undefined once the SA is deleted.
   */
  private contextOf(slot: number): SaContext | undefined {
    const sa = this.contexts.live(slot);
    if (sa !== undefined) return sa;
    const next = this.sad.successor(slot);
    return next < 0 ? undefined : this.contexts.live(next);
  }

  /** Count a packet of `bytes` against the SA's lifetime: in this queue's share if it has one, else in the shared count. */
  private charge(sa: SaContext, bytes: number): number {
    const heap = this.sad.heap;
    if (sa.share >= 0) return chargeShare(heap.cover64(sa.share + SHARE_WORDS), heap.i32, sa.runtime, sa.share, bytes);
    return chargeLifetime(heap.cover64(sa.sharesAt + SHARE_WORDS * sa.shareCount), heap.i32, sa.runtime, bytes, sa); // the block's end: the shares are read too
  }

  /** Hand the lifetime notices raised since the last call to `sink` (and forget them). */
  takeNotices(sink: (serial: bigint, bits: number) => void): void {
    for (const n of this.notices) sink(n.serial, n.bits);
    this.notices.length = 0;
  }

  /** Count a drop decided outside the engine (a flow-cache verdict, an oversize packet); returns DROPPED. */
  drop(code: number): number {
    this.drops[code]++;
    this.lastDrop = code;
    return DROPPED;
  }
}
