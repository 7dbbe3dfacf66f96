/**
 * Per-thread, per-SA contexts for the packet path: everything ESP needs from a state record,
 * read once (mode, addresses, encapsulation, ICV length, salt) plus the AEAD context built
 * once from the key (talk: "ESP Bogosity"). Cached by slot and checked against the record's
 * genid, a u64 that takes a new, never-repeated value whenever the slot's record is written
 * or dies: the check is one 64-bit atomic load, it cannot be fooled by a slot reused 2^32
 * times (ABA), and a context never outlives its state for long. With a ChangeEpoch the check
 * is made again only after its slot's change shard moved, not per packet (change-epoch.ts
 * says why that is enough).
 *
 * Reads shared state records (immutable once published); writes only thread-local memory.
 */
import { type AeadBackend, type AeadContext } from './aead.js';
import { type ChangeEpoch } from '../xfrm/change-epoch.js';
import { XFRM_INF } from '../xfrm/lifetime.js';
import { NOTICE_FIRST_USE, SHARE_WORDS, sharesAt, type CountLimits } from '../xfrm/sa-runtime.js';
import {
  FLAG_ESN,
  FLAG_USE_TIME,
  MAX_KEY_BYTES,
  S_SERIAL,
  S_DEAD,
  S_DST,
  S_ENCAP_PORTS,
  S_FAMILY,
  S_KEY,
  S_MODE,
  S_PARAMS,
  S_RUNTIME,
  S_SPI,
  S_SRC,
  X_HARD_BYTES,
  X_HARD_PACKETS,
  X_SOFT_BYTES,
  X_SOFT_PACKETS,
  paramAlg,
  paramIcvBytes,
  paramKeyBytes,
  paramWindow,
  slotShard,
  type StateDbView,
} from '../xfrm/state-db.js';

/**
 * What the packet path needs of one SA. One object as far as it can be (the limits are its
 * own fields, the IPv4 outer addresses and the salt are numbers): with a thousand SAs in
 * turn, every separate object a packet touches is another likely cache miss.
 */
export interface SaContext extends CountLimits {
  readonly slot: number;
  /** The record genid the context was built for (u64). */
  readonly genid: bigint;
  /** The SA's identity (State.serial). */
  readonly serial: bigint;
  /** Lifetime notice bits worth sending for this SA (first use only with a use-time limit). */
  readonly noticeMask: number;
  readonly spi: number;
  readonly family: number;
  readonly tunnel: boolean;
  readonly esn: boolean;
  /** Outer addresses: src words 0..3, dst words 4..7. */
  readonly addresses: Int32Array;
  /** The first word of each outer address (all of an IPv4 one). */
  readonly src4: number;
  readonly dst4: number;
  /** NAT-T ports (0 without encapsulation). */
  readonly encapSport: number;
  readonly encapDport: number;
  /** Null: cipher_null (no encryption, no ICV, no IV). */
  readonly aead: AeadContext | null;
  /** The salt (the last 4 bytes of the key material), as a big-endian word; zeroed when the context is let go. */
  salt: number;
  readonly icvLen: number;
  readonly ivLen: number;
  readonly replayWindow: number;
  /** Word offset of the SA's runtime block. */
  readonly runtime: number;
  /** Word offset of this thread's lifetime share of the SA, or -1: it counts in the shared count (sa-runtime.ts). */
  readonly share: number;
  /** The ChangeEpoch in which the state was last seen alive with {@link genid} (0: none). */
  checked: number;
  /** Set when the cache let the context go (its key wiped): whoever still holds it must ask again. */
  retired: boolean;
}

/**
 * SA contexts a caller keeps beside its own copy of a bundle's state slots (a flow cache
 * entry): the packet path uses `contexts[k]` while it is set and not retired, without asking
 * the SaContextCache, and offers each context it had to ask for to `hold`, which keeps it
 * only if it belongs to what position k stands for (the genid the caller resolved it under).
 * Sound only where the caller uses position k only while that genid is current (the flow
 * cache's checks): then the context is the state's and alive.
 */
export interface HeldContexts {
  readonly contexts: (SaContext | undefined)[];
  hold(k: number, sa: SaContext): void;
}

/** Options for {@link SaContextCache}. */
export interface SaContextOptions {
  /** Ablation: build the AEAD context for every packet instead of once per SA. */
  perPacketSetup?: boolean;
  /** The reader's ChangeEpoch: check a context's state once per epoch (without: every time). */
  changes?: ChangeEpoch;
  /** The queue this thread serves (-1 or none: not a queue): queue q below the SAD's lifetime shares counts in share q. */
  queue?: number;
}

/** Let a context go: its key and salt wiped, and marked for whoever holds it (HeldContexts). */
function retire(ctx: SaContext): void {
  ctx.retired = true;
  ctx.salt = 0;
  ctx.aead?.destroy();
}

/** A thread's cache of SA contexts. */
export class SaContextCache {
  private readonly cache = new Map<number, SaContext>();
  /**
   * Where a key is read for the backend, wiped after each build: a `slice` of the heap per
   * build allocated an ArrayBuffer, about half of a build's 1.5 us with its garbage collection.
   */
  private readonly key = new Uint8Array(MAX_KEY_BYTES);

  constructor(
    private readonly sad: StateDbView,
    readonly backend: AeadBackend,
    private readonly opts: SaContextOptions = {},
  ) {}

  /**
   * The context of the state in `slot` if it is alive (built if missing or stale), else
   * undefined. Checked in an epoch since which its slot's change shard has not changed:
   * returned without reading the record.
   */
  live(slot: number): SaContext | undefined {
    const changes = this.opts.changes;
    const epoch = changes === undefined ? 0 : changes.current();
    const hit = this.cache.get(slot);
    if (hit !== undefined && changes !== undefined && hit.checked !== 0 && changes.shardHolds(slotShard(slot), hit.checked) && !this.opts.perPacketSetup) return hit;
    // The genid before the dead flag, which a delete sets before it moves the genid: alive
    // then means alive under this genid.
    const genid = this.sad.genid(slot);
    if (Atomics.load(this.sad.heap.i32, this.sad.field(slot, S_DEAD)) !== 0) return undefined;
    const ctx = this.current(slot, genid, hit);
    ctx.checked = epoch;
    return ctx;
  }

  /** The context of the state in `slot`, built if missing or stale (dead or not). */
  get(slot: number): SaContext {
    return this.current(slot, this.sad.genid(slot), this.cache.get(slot));
  }

  private current(slot: number, genid: bigint, hit: SaContext | undefined): SaContext {
    if (hit !== undefined && hit.genid === genid && !this.opts.perPacketSetup) return hit;
    if (hit !== undefined) retire(hit);
    const ctx = this.build(slot, genid);
    this.cache.set(slot, ctx);
    return ctx;
  }

  /** Contexts held. */
  get size(): number {
    return this.cache.size;
  }

  /** Destroy (wiping keys) the contexts of SAs that died or whose slot was reused; returns how many. */
  sweep(): number {
    let n = 0;
    for (const [slot, ctx] of this.cache) {
      if (this.sad.genid(slot) !== ctx.genid) { // dead, updated, or freed (poisoned)
        retire(ctx);
        this.cache.delete(slot);
        n++;
      }
    }
    return n;
  }

  /** Drop every context (wiping keys). */
  clear(): void {
    for (const c of this.cache.values()) retire(c);
    this.cache.clear();
  }

  private build(slot: number, genid: bigint): SaContext {
    const p = this.sad.arena.payload(slot);
    const heap = this.sad.heap;
    const i32 = heap.i32;
    const params = i32[p + S_PARAMS];
    const alg = paramAlg(params);
    const keyLen = paramKeyBytes(params);
    let aead: AeadContext | null = null;
    let salt = 0;
    if (alg !== 0) {
      const key = this.key;
      const u8 = heap.u8;
      const k = (p + S_KEY) * 4;
      for (let i = 0; i < keyLen; i++) key[i] = u8[k + i];
      salt = ((key[keyLen - 4] << 24) | (key[keyLen - 3] << 16) | (key[keyLen - 2] << 8) | key[keyLen - 1]) | 0;
      try {
        aead = this.backend.context(alg === 1 ? 'aes-gcm' : 'chacha20-poly1305', key.subarray(0, keyLen - 4));
      } finally {
        key.fill(0);
      }
    }
    const addresses = new Int32Array(8);
    for (let w = 0; w < 4; w++) {
      addresses[w] = i32[p + S_SRC + w];
      addresses[4 + w] = i32[p + S_DST + w];
    }
    const ports = i32[p + S_ENCAP_PORTS];
    const hardBytes = this.sad.countLimit(slot, X_HARD_BYTES);
    const hardPackets = this.sad.countLimit(slot, X_HARD_PACKETS);
    const softBytes = this.sad.countLimit(slot, X_SOFT_BYTES);
    const softPackets = this.sad.countLimit(slot, X_SOFT_PACKETS);
    const u64 = heap.u64;
    const none = hardBytes === XFRM_INF && hardPackets === XFRM_INF && softBytes === XFRM_INF && softPackets === XFRM_INF;
    const runtime = i32[p + S_RUNTIME];
    const window = paramWindow(params);
    const shares = runtime + sharesAt(window);
    const queue = this.opts.queue ?? -1;
    return {
      slot,
      genid,
      serial: u64[(p + S_SERIAL) >> 1],
      noticeMask: (params & FLAG_USE_TIME) !== 0 ? -1 : ~NOTICE_FIRST_USE,
      hardBytes,
      hardPackets,
      softBytes,
      softPackets,
      none,
      sharesAt: shares,
      shareCount: this.sad.lifetimeShares,
      spi: i32[p + S_SPI],
      family: i32[p + S_FAMILY],
      tunnel: i32[p + S_MODE] === 1,
      esn: (params & FLAG_ESN) !== 0,
      addresses,
      src4: addresses[0],
      dst4: addresses[4],
      encapSport: ports >>> 16,
      encapDport: ports & 0xffff,
      aead,
      salt,
      icvLen: paramIcvBytes(params),
      ivLen: alg === 0 ? 0 : 8,
      replayWindow: window,
      runtime,
      // Limits are checked against the shared count's atomic adds: only an SA without them counts in a share.
      share: none && queue >= 0 && queue < this.sad.lifetimeShares ? shares + queue * SHARE_WORDS : -1,
      checked: 0,
      retired: false,
    };
  }
}
