/**
 * SA lifetimes (Linux `xfrm_lifetime_cfg` and `xfrm_lifetime_cur`): soft and hard limits on
 * bytes, packets, seconds since the SA was added and seconds since its first use. A soft
 * limit asks the key manager to rekey; a hard limit kills the SA.
 */

/** Limits. Bytes and packets: Infinity for none. Seconds: 0 for none (as in Linux). */
export interface LifetimeLimits {
  readonly softBytes: number;
  readonly hardBytes: number;
  readonly softPackets: number;
  readonly hardPackets: number;
  readonly softAddSeconds: number;
  readonly hardAddSeconds: number;
  readonly softUseSeconds: number;
  readonly hardUseSeconds: number;
}

/** No limit at all. */
export const NO_LIMITS: LifetimeLimits = Object.freeze({
  softBytes: Infinity,
  hardBytes: Infinity,
  softPackets: Infinity,
  hardPackets: Infinity,
  softAddSeconds: 0,
  hardAddSeconds: 0,
  softUseSeconds: 0,
  hardUseSeconds: 0,
});

/** What an SA has used so far. Times in milliseconds (epoch); useTime 0 until first use. */
export interface LifetimeUsage {
  addTime: number;
  useTime: number;
  bytes: number;
  packets: number;
}

/** Which limit, if any, the usage has reached at time `now` (ms): hard before soft. */
export function lifetimeVerdict(l: LifetimeLimits, u: LifetimeUsage, now: number): 'hard' | 'soft' | null {
  const reached = (bytes: number, packets: number, addSec: number, useSec: number) =>
    u.bytes >= bytes ||
    u.packets >= packets ||
    (addSec > 0 && now >= u.addTime + addSec * 1000) ||
    (useSec > 0 && u.useTime > 0 && now >= u.useTime + useSec * 1000);
  if (reached(l.hardBytes, l.hardPackets, l.hardAddSeconds, l.hardUseSeconds)) return 'hard';
  if (reached(l.softBytes, l.softPackets, l.softAddSeconds, l.softUseSeconds)) return 'soft';
  return null;
}

/** The times (ms) at which the time limits will be reached, given the usage so far. */
export function timeDeadlines(l: LifetimeLimits, u: LifetimeUsage): number[] {
  const out: number[] = [];
  for (const s of [l.softAddSeconds, l.hardAddSeconds]) if (s > 0) out.push(u.addTime + s * 1000);
  if (u.useTime > 0) for (const s of [l.softUseSeconds, l.hardUseSeconds]) if (s > 0) out.push(u.useTime + s * 1000);
  return out;
}
