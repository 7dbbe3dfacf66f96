/**
 * Outstanding ACQUIREs: SAs the key manager was asked for because a required template had
 * no state (talk: "No matching template? Ask key manager"). Like Linux's larval states,
 * identical requests (same family, dst, src, proto, reqid, mode, and queue for a per-queue
 * request) are merged while one is
 * outstanding, and each expires after a timeout (30 s by default) so that a key manager
 * that never answers is asked again later. Control thread only.
 */
import { formatAddress } from './address.js';
import { type AcquireRequest } from './bundle.js';

/** An outstanding ACQUIRE. */
export interface Acquire extends AcquireRequest {
  /** When it was raised (ms). */
  readonly since: number;
  /** When it expires (ms). */
  readonly expires: number;
  /** Requests merged into it, the first included. */
  merged: number;
}

/** The state that would satisfy a request, as a string key. */
export function acquireKey(r: Pick<AcquireRequest, 'family' | 'dst' | 'src' | 'proto' | 'reqid' | 'mode' | 'pcpuNum'>): string {
  return `${r.family}|${formatAddress(r.dst)}|${formatAddress(r.src)}|${r.proto}|${r.reqid}|${r.mode}|${r.pcpuNum ?? ''}`;
}

/** The outstanding ACQUIREs. */
export class AcquireTable {
  private readonly pending = new Map<string, Acquire>();

  constructor(readonly timeoutMs = 30_000) {}

  /** Outstanding ACQUIREs. */
  get size(): number {
    return this.pending.size;
  }

  /** Raise a request; `fresh` is false when it merged into an outstanding one. */
  raise(req: AcquireRequest, now: number): { acquire: Acquire; fresh: boolean } {
    const key = acquireKey(req);
    const old = this.pending.get(key);
    if (old !== undefined && old.expires > now) {
      old.merged++;
      return { acquire: old, fresh: false };
    }
    const acquire: Acquire = { ...req, since: now, expires: now + this.timeoutMs, merged: 1 };
    this.pending.set(key, acquire);
    return { acquire, fresh: true };
  }

  /** Drop the ACQUIRE a new state satisfies (same key); returns it. */
  satisfy(key: string): Acquire | undefined {
    const a = this.pending.get(key);
    this.pending.delete(key);
    return a;
  }

  /** Drop and return the ACQUIREs that have timed out by `now`. */
  expire(now: number): Acquire[] {
    const gone: Acquire[] = [];
    for (const [key, a] of this.pending) {
      if (a.expires <= now) {
        this.pending.delete(key);
        gone.push(a);
      }
    }
    return gone;
  }

  /** Outstanding ACQUIREs, oldest first. */
  list(): Acquire[] {
    return [...this.pending.values()];
  }
}
