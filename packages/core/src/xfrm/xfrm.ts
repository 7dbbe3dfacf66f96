/**
 * The control plane of the xfrm model: one object that owns the shared heap, the epoch
 * domain, the SPD and the SAD, keeps the outstanding ACQUIREs and the SA lifetimes, and
 * reports what happens as events. It is the single writer of every shared table; queue
 * workers attach read-only views from {@link Xfrm.describe}.
 *
 * Events (EventEmitter):
 * - `acquire` (Acquire): a required template had no state; once per merged request.
 * - `expire` (ExpireEvent): a soft limit was reached (once), or a hard one (the state is gone).
 * - `monitor` (MonitorEvent): every change to the tables.
 */
import { getRandomValues } from 'node:crypto';
import { EventEmitter } from 'node:events';
import { AcquireTable, acquireKey, type Acquire } from './acquire.js';
import { type Address } from './address.js';
import { bundleValid, resolveBundle, type AcquireRequest, type Bundle } from './bundle.js';
import { DeadlineQueue } from './deadline-queue.js';
import { EpochDomain, type EpochDescription } from '../shm/epoch.js';
import { lifetimeVerdict, limitReached, timeDeadlines, type LifetimeUsage } from './lifetime.js';
import { NOTICE_FIRST_USE, NOTICE_SOFT } from './sa-runtime.js';
import { DIR_NUMBER, PolicyDb, type Policy, type PolicyDbDescription, type PolicyDir, type PolicySpec } from './policy-db.js';
import { packFlow, type Flow } from './selector.js';
import { SharedHeap, type SharedHeapDescription, type SharedHeapOptions } from '../shm/shared-heap.js';
import { StateDb, type State, type StateDbDescription, type StateSpec } from './state-db.js';
import { IPPROTO_ESP } from './template.js';
import { XfrmError } from './xfrm-error.js';

/** Options for {@link Xfrm.create}. */
export interface XfrmOptions {
  heap?: SharedHeapOptions;
  /** Reader threads that may attach (queue workers). Default 64. */
  maxReaders?: number;
  /**
   * Retired records and blocks that may wait for a grace period at once (default 2^20).
   * Past it, changes are refused with EAGAIN until the readers report: a stalled reader
   * cannot make the control plane's memory grow without end.
   */
  maxPending?: number;
  policyCapacity?: number;
  stateCapacity?: number;
  /** Queues that count SA lifetimes in a share of their own (StateDbOptions.lifetimeShares). Default 0. */
  lifetimeShares?: number;
  /** Accept `cipher_null` states: benchmarks only. */
  allowNullCipher?: boolean;
  /** How long an ACQUIRE stays outstanding (ms). Default 30 000. */
  acquireTimeoutMs?: number;
  /** The clock (ms); tests pass their own. */
  now?: () => number;
  /** Turn the talk's optimisations back off, to measure them (dataplane-bench --ablate). */
  ablate?: {
    /** Policies in one priority-ordered list per direction instead of tuple space search. */
    linearSpd?: boolean;
    /** Every policy or state change makes every bundle stale ("flush everything"). */
    flush?: boolean;
    /** Draw random bytes for each SA when it is added, as Linux once did for its IV. */
    eagerIv?: boolean;
  };
}

/** What a worker needs to attach to every table. */
export interface XfrmDescription {
  readonly heap: SharedHeapDescription;
  readonly epochs: EpochDescription;
  readonly spd: PolicyDbDescription;
  readonly sad: StateDbDescription;
}

/** Why a state expired. */
export type ExpireReason = 'bytes' | 'packets' | 'time' | 'sequence';

/** A soft or hard expiry. After a hard one the state has been deleted. */
export interface ExpireEvent {
  readonly state: State;
  readonly hard: boolean;
  readonly reason: ExpireReason;
}

/** A change to the tables. */
export type MonitorEvent =
  | { readonly kind: 'policy'; readonly op: 'add' | 'update' | 'delete'; readonly policy: Policy }
  | { readonly kind: 'state'; readonly op: 'add' | 'update' | 'delete'; readonly state: State }
  | { readonly kind: 'policy' | 'state'; readonly op: 'flush'; readonly count: number };

/** What a flow resolves to, in control-plane terms (for tools and tests). */
export interface FlowResolution {
  readonly policy: Policy | undefined;
  readonly states: State[];
  readonly acquire: AcquireRequest | undefined;
  /** The bundle, when the flow has one (not for 'none', 'block' or 'acquire'). */
  readonly bundle: Bundle | undefined;
}

/** The control plane: single writer of the shared tables. */
export class Xfrm extends EventEmitter {
  readonly acquires: AcquireTable;
  /**
   * Time-limit deadlines by SA number (the lifetimes' times are in `sad.rows`). A number may
   * name another SA by the time it is due (numbers are reused): that SA's limits are checked
   * early, which changes nothing.
   */
  private readonly deadlines = new DeadlineQueue();
  private readonly now: () => number;
  private readonly ablate: NonNullable<XfrmOptions['ablate']>;

  private constructor(
    readonly heap: SharedHeap,
    readonly epochs: EpochDomain,
    readonly spd: PolicyDb,
    readonly sad: StateDb,
    opts: XfrmOptions,
  ) {
    super();
    this.acquires = new AcquireTable(opts.acquireTimeoutMs);
    this.now = opts.now ?? Date.now;
    this.ablate = opts.ablate ?? {};
  }

  /** Create empty tables in a new shared heap. */
  static create(opts: XfrmOptions = {}): Xfrm {
    const heap = SharedHeap.create({ maxBytes: 2 ** 32, ...opts.heap });
    const epochs = EpochDomain.create(heap, opts.maxReaders ?? 64, { maxPending: opts.maxPending });
    const spd = PolicyDb.create(heap, epochs, { capacity: opts.policyCapacity, linear: opts.ablate?.linearSpd });
    const sad = StateDb.create(heap, epochs, { capacity: opts.stateCapacity, allowNullCipher: opts.allowNullCipher, lifetimeShares: opts.lifetimeShares });
    return new Xfrm(heap, epochs, spd, sad, opts);
  }

  /** The description to post to queue workers. */
  describe(): XfrmDescription {
    return { heap: this.heap.describe(), epochs: this.epochs.describe(), spd: this.spd.describe(), sad: this.sad.describe() };
  }

  /**
   * Resolve after one grace period: no reader still sees what was deleted before the call.
   * With `timeoutMs`, reject with a StalledReaderError rather than wait for a stuck reader.
   */
  synchronize(opts: { timeoutMs?: number } = {}): Promise<void> {
    return this.epochs.synchronize(opts);
  }

  addPolicy(spec: PolicySpec): Policy {
    this.room();
    return this.changed({ kind: 'policy', op: 'add', policy: this.spd.add(spec) }).policy;
  }

  updatePolicy(spec: PolicySpec): Policy {
    this.room();
    return this.changed({ kind: 'policy', op: 'update', policy: this.spd.update(spec) }).policy;
  }

  deletePolicy(index: number): Policy {
    this.room();
    return this.changed({ kind: 'policy', op: 'delete', policy: this.spd.delete(index) }).policy;
  }

  flushPolicies(dir?: PolicyDir): number {
    this.room();
    const count = this.spd.flush(dir);
    this.emit('monitor', { kind: 'policy', op: 'flush', count } satisfies MonitorEvent);
    return count;
  }

  addState(spec: StateSpec): State {
    this.room();
    if (this.ablate.eagerIv) getRandomValues(new Uint8Array(16)); // the talk's "ESP Bogosity"
    const state = this.sad.add(spec);
    const n = this.sad.numberOf(state);
    this.sad.rows.addTime[n] = this.now();
    this.schedule(n, state);
    this.acquires.satisfy(acquireKey(state));
    return this.changed({ kind: 'state', op: 'add', state }).state;
  }

  updateState(spec: StateSpec): State {
    this.room();
    const state = this.sad.update(spec);
    this.schedule(this.sad.numberOf(state), state);
    return this.changed({ kind: 'state', op: 'update', state }).state;
  }

  deleteState(dst: Address, spi: number, proto = IPPROTO_ESP): State {
    this.room();
    return this.removeState(dst, spi, proto);
  }

  /** Delete without the backlog check: a hard expiry must go through, stalled reader or not. */
  private removeState(dst: Address, spi: number, proto: number): State {
    const state = this.sad.delete(dst, spi, proto);
    return this.changed({ kind: 'state', op: 'delete', state }).state;
  }

  flushStates(proto?: number): number {
    this.room();
    const count = this.sad.flush(proto);
    this.emit('monitor', { kind: 'state', op: 'flush', count } satisfies MonitorEvent);
    return count;
  }

  /** Lifetime usage of a state so far (bytes and packets as the packet path counted them). */
  usage(state: State): LifetimeUsage | undefined {
    const n = this.sad.numberOf(state);
    return n < 0 ? undefined : this.usageOf(n);
  }

  private usageOf(n: number): LifetimeUsage {
    const c = this.sad.usageAt(n);
    return { addTime: this.sad.rows.addTime[n], useTime: this.sad.rows.useTime[n], bytes: c.bytes, packets: c.packets };
  }

  /**
   * Resolve a flow as the output path would (for tools and tests): the winning policy of
   * `dir`, the states of its bundle, or the ACQUIRE it would raise (raised here too).
   */
  resolve(dir: PolicyDir, flow: Flow, queue = -1): FlowResolution {
    const r = resolveBundle(this.spd, this.sad, DIR_NUMBER[dir], packFlow(flow), 0, queue);
    switch (r.kind) {
      case 'none':
        return { policy: undefined, states: [], acquire: undefined, bundle: undefined };
      case 'block':
        return { policy: this.spd.policyAt(r.policy), states: [], acquire: undefined, bundle: undefined };
      case 'acquire':
        this.raiseAcquire(r.acquire);
        return { policy: this.spd.policyAt(r.acquire.policy), states: [], acquire: r.acquire, bundle: undefined };
      case 'bundle':
        return {
          policy: this.spd.policyAt(r.bundle.policy),
          states: [...r.bundle.states].map((s) => this.sad.stateAt(s)!),
          acquire: undefined,
          bundle: r.bundle,
        };
    }
  }

  /** True while nothing a bundle was built from has changed. */
  bundleValid(bundle: Bundle): boolean {
    return bundleValid(this.spd, this.sad, bundle);
  }

  /** Record an ACQUIRE from the packet path; emits `acquire` unless it merged. */
  raiseAcquire(req: AcquireRequest): Acquire {
    const { acquire, fresh } = this.acquires.raise(req, this.now());
    if (fresh) this.emit('acquire', acquire);
    return acquire;
  }

  /**
   * Account packets and bytes used outside the packet path (a tool, a test) and check the
   * state's limits. The packet path counts in shared memory itself and reports with
   * {@link notice}. Returns false if the state is gone.
   */
  account(state: State, bytes: number | bigint, packets: number | bigint): boolean {
    const n = this.sad.numberOf(state);
    if (n < 0) return false;
    this.sad.addUsage(state, BigInt(bytes), BigInt(packets));
    return this.noticeLifetime(n, BigInt(packets) > 0n ? NOTICE_FIRST_USE : 0);
  }

  /**
   * A lifetime notice from the packet path (sa-runtime.ts `chargeLifetime` bits, or 0 after a
   * sequence number exhaustion) for the SA named by its identity: records the first use (for
   * use-time limits), then fires the soft expiry once or the hard one (deleting the state).
   * Notices for an SA that is gone are ignored. Returns false if the state is gone.
   */
  notice(serial: bigint, bits: number): boolean {
    const n = this.sad.numberBySerial(serial);
    return n >= 0 && this.noticeLifetime(n, bits);
  }

  /** Check every state's lifetime against the shared counters (after notices were lost). */
  checkAll(): void {
    const now = this.now();
    for (const n of this.sad.numbers()) {
      if (this.sad.rows.useTime[n] === 0 && this.sad.usageAt(n).packets > 0n) this.noticeLifetime(n, NOTICE_FIRST_USE);
      else this.checkLifetime(n, now);
    }
  }

  private noticeLifetime(n: number, bits: number): boolean {
    const now = this.now();
    const rows = this.sad.rows;
    if ((bits & NOTICE_FIRST_USE) !== 0 && rows.useTime[n] === 0) {
      rows.useTime[n] = now;
      this.schedule(n, this.sad.stateOfNumber(n));
    }
    // A packet crossed a soft limit: the key manager hears of it even if the hard one
    // followed before this notice was read (as Linux's km_state_expired on that packet).
    if ((bits & NOTICE_SOFT) !== 0 && rows.softFired[n] === 0) this.fireSoft(n, this.sad.stateOfNumber(n), this.usageOf(n));
    return this.checkLifetime(n, now);
  }

  private fireSoft(n: number, state: State, usage: LifetimeUsage): void {
    this.sad.rows.softFired[n] = 1;
    this.emit('expire', { state, hard: false, reason: this.reason(state, usage, 'soft') } satisfies ExpireEvent);
  }

  /** Fire due timers: time limits of states, expired ACQUIREs. Call every second or so. */
  tick(): void {
    const now = this.now();
    for (const n of this.deadlines.popDue(now)) {
      if (this.sad.rows.slot[n] >= 0) this.checkLifetime(n, now); // the number may be free since
    }
    this.acquires.expire(now);
    this.epochs.reclaim(); // retirements are sealed in batches: free what an idle control plane left
  }

  /** Fire soft (once) or hard expiry if a limit is reached; returns false if the state died. */
  private checkLifetime(n: number, now: number): boolean {
    const state = this.sad.stateOfNumber(n);
    const softFired = this.sad.rows.softFired[n] !== 0;
    const exhausted = this.sad.exhaustedAt(n);
    const usage = this.usageOf(n);
    const verdict = exhausted ? 'hard' : lifetimeVerdict(state.limits, usage, now);
    if (verdict === 'hard') {
      // Queues report in no order across each other: a soft limit passed on the way is still
      // announced, once, before the hard expiry.
      if (!softFired && !exhausted && limitReached(state.limits, usage, now, 'soft')) this.fireSoft(n, state, usage);
      const reason: ExpireReason = exhausted ? 'sequence' : this.reason(state, usage, 'hard');
      this.removeState(state.dst, state.spi, state.proto);
      this.emit('expire', { state, hard: true, reason } satisfies ExpireEvent);
      return false;
    }
    if (verdict === 'soft' && !softFired) this.fireSoft(n, state, usage);
    return true;
  }

  private reason(state: State, u: LifetimeUsage, kind: 'soft' | 'hard'): ExpireReason {
    const lim = state.limits;
    if (u.bytes >= (kind === 'hard' ? lim.hardBytes : lim.softBytes)) return 'bytes';
    if (u.packets >= (kind === 'hard' ? lim.hardPackets : lim.softPackets)) return 'packets';
    return 'time';
  }

  /** Queue the state's time limits (stale entries are checked and dropped when due). */
  private schedule(n: number, state: State): void {
    for (const at of timeDeadlines(state.limits, this.usageOf(n))) this.deadlines.push(at, n);
  }

  /** Refuse a change (EAGAIN, nothing changed) while retired memory waits for a stalled reader. */
  private room(): void {
    if (this.epochs.full()) {
      throw new XfrmError('EAGAIN', `${this.epochs.pending} retired records wait for a reader that has not reported (a stalled queue?): try again`);
    }
  }

  private changed<E extends MonitorEvent>(event: E): E {
    if (this.ablate.flush) this.spd.invalidateAll();
    this.emit('monitor', event);
    return event;
  }
}
