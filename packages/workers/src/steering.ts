/**
 * Queue steering, as a NIC's RSS does it: a seeded hash of the flow picks the queue of a plain
 * packet, and the SPI picks the queue of an inbound ESP packet, so that every SA's replay
 * window is written by one queue only. With SA affinity (`outputBySa`), an outbound packet
 * goes to the queue its SA is affine to, found through this thread's own flow cache over the
 * tables: all packets of one SA are then encrypted by one queue, in submission order, so their
 * sequence numbers leave in order (a peer's small replay window drops none). Runs on the thread
 * that submits packets (the control thread, the tables' writer: its own views are current);
 * thread-local.
 */
import {
  FLOW_WORDS,
  IPPROTO,
  MAX_TEMPLATES,
  NATT_PORT,
  getWord,
  newBundleScratch,
  newIpInfo,
  parseIp,
  randomSeed,
  resolveInto,
  u64WordsMod,
  writePacketFlow,
  xxh32Words,
  type PolicyDbView,
  type StateDbView,
} from '@xfrm/core';
import { CACHED_BUNDLE, FlowCache } from './flow-cache.js';
import { KEY_WORDS, packetKey } from './flow-key.js';

const OUT = 1;

/** The tables and cache SA-affine output steering uses. */
interface Affinity {
  readonly spd: PolicyDbView;
  readonly sad: StateDbView;
  readonly cache: FlowCache;
}

/** Picks a queue for each packet. */
export class Steering {
  private readonly flow = new Int32Array(FLOW_WORDS);
  private readonly key = new Int32Array(KEY_WORDS);
  private readonly spi = new Int32Array(1);
  /** The steered SA's identity, as u64 halves. */
  private readonly serial = new Int32Array(2);
  private readonly info = newIpInfo();
  private readonly seed = randomSeed();
  private readonly affinity: Affinity | undefined;
  private readonly scratch = newBundleScratch();

  /** With `tables`, outbound packets are steered by their SA (see above). */
  constructor(
    readonly queues: number,
    tables?: { spd: PolicyDbView; sad: StateDbView },
  ) {
    this.affinity = tables === undefined || queues === 1 ? undefined : { ...tables, cache: new FlowCache(1 << 16) };
  }

  /**
   * The queue for an outbound packet: its SA's queue with SA affinity (by the SA's identity,
   * so an update keeps it), else as {@link queueOf}.
   */
  queueOfOutput(b: Uint8Array, off: number, len: number): number {
    const a = this.affinity;
    if (a === undefined || !parseIp(b, off, len, this.info)) return this.queueOf(b, off, len);
    packetKey(b, off, this.info, this.key);
    let i = a.cache.lookup(a.spd, a.sad, OUT, this.key);
    if (i < 0) {
      writePacketFlow(b, off, this.info, this.flow, 0);
      i = a.cache.install(OUT, this.key, resolveInto(a.spd, a.sad, OUT, this.flow, 0, this.scratch), this.scratch);
    }
    const n = i < 0 || a.cache.kind(i) !== CACHED_BUNDLE ? 0 : a.cache.count(i);
    if (n === 0) return this.flowQueue();
    // The outermost SA: the one the peer checks first, and that carries every inner SA of the bundle.
    a.sad.serialWords(a.cache.states[i * MAX_TEMPLATES + n - 1], this.serial, 0);
    return u64WordsMod(this.serial, 0, this.queues); // serial mod queues, without a BigInt a packet
  }

  /** The queue for the packet `b[off .. off+len)`. A packet that does not parse goes to queue 0 (to be dropped and counted there). */
  queueOf(b: Uint8Array, off: number, len: number): number {
    if (this.queues === 1 || !parseIp(b, off, len, this.info)) return 0;
    const info = this.info;
    const h = off + info.headerLength;
    let spiAt = -1;
    if (info.proto === IPPROTO.ESP && info.totalLength - info.headerLength >= 4) spiAt = h;
    else if (
      info.proto === IPPROTO.UDP &&
      info.totalLength - info.headerLength >= 12 &&
      ((b[h + 2] << 8) | b[h + 3]) === NATT_PORT &&
      getWord(b, h + 8) !== 0
    ) {
      spiAt = h + 8;
    }
    if (spiAt >= 0) {
      this.spi[0] = getWord(b, spiAt);
      return (xxh32Words(this.spi, 0, 1, this.seed) >>> 0) % this.queues;
    }
    writePacketFlow(b, off, info, this.flow, 0);
    return this.flowQueue();
  }

  /** The queue of the flow in `this.flow` (RSS). */
  private flowQueue(): number {
    return (xxh32Words(this.flow, 0, FLOW_WORDS, this.seed) >>> 0) % this.queues;
  }
}
