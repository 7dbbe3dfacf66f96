/**
 * SA lifetimes (Linux `xfrm_lifetime_cfg` and `xfrm_lifetime_cur`): soft and hard limits on
 * bytes, packets, seconds since the SA was added and seconds since its first use. A soft
 * limit asks the key manager to rekey; a hard limit kills the SA.
 *
 * Byte and packet limits and counts are u64 (`bigint`, exact; never a double): the packet
 * path counts them in the SA's runtime block (sa-runtime.ts) and refuses a packet once a hard
 * limit is reached, as Linux's `xfrm_state_check_expire` does. Seconds are plain numbers.
 */

/** No byte or packet limit: Linux's XFRM_INF, 2^64 - 1. */
export const XFRM_INF = (1n << 64n) - 1n;

/** Limits. Bytes and packets: XFRM_INF for none. Seconds: 0 for none (as in Linux). */
export interface LifetimeLimits {
  readonly softBytes: bigint;
  readonly hardBytes: bigint;
  readonly softPackets: bigint;
  readonly hardPackets: bigint;
  readonly softAddSeconds: number;
  readonly hardAddSeconds: number;
  readonly softUseSeconds: number;
  readonly hardUseSeconds: number;
}

/** Limits as a caller may give them: byte and packet limits as bigint or (safe-integer) number. */
export type LifetimeLimitsSpec = {
  readonly [K in keyof LifetimeLimits]?: LifetimeLimits[K] extends bigint ? bigint | number : number;
};

/** No limit at all. */
export const NO_LIMITS: LifetimeLimits = Object.freeze({
  softBytes: XFRM_INF,
  hardBytes: XFRM_INF,
  softPackets: XFRM_INF,
  hardPackets: XFRM_INF,
  softAddSeconds: 0,
  hardAddSeconds: 0,
  softUseSeconds: 0,
  hardUseSeconds: 0,
});

/** The byte and packet limits. */
export const COUNT_LIMITS = ['softBytes', 'hardBytes', 'softPackets', 'hardPackets'] as const;

/** What an SA has used so far. Times in milliseconds (epoch); useTime 0 until first use. */
export interface LifetimeUsage {
  addTime: number;
  useTime: number;
  bytes: bigint;
  packets: bigint;
}

/** Whether the usage has reached the soft or the hard limits at time `now` (ms). */
export function limitReached(l: LifetimeLimits, u: LifetimeUsage, now: number, kind: 'soft' | 'hard'): boolean {
  const hard = kind === 'hard';
  const addSec = hard ? l.hardAddSeconds : l.softAddSeconds;
  const useSec = hard ? l.hardUseSeconds : l.softUseSeconds;
  return (
    u.bytes >= (hard ? l.hardBytes : l.softBytes) ||
    u.packets >= (hard ? l.hardPackets : l.softPackets) ||
    (addSec > 0 && now >= u.addTime + addSec * 1000) ||
    (useSec > 0 && u.useTime > 0 && now >= u.useTime + useSec * 1000)
  );
}

/** Which limit, if any, the usage has reached at time `now` (ms): hard before soft. */
export function lifetimeVerdict(l: LifetimeLimits, u: LifetimeUsage, now: number): 'hard' | 'soft' | null {
  return limitReached(l, u, now, 'hard') ? 'hard' : limitReached(l, u, now, 'soft') ? 'soft' : null;
}

/** The times (ms) at which the time limits will be reached, given the usage so far. */
export function timeDeadlines(l: LifetimeLimits, u: LifetimeUsage): number[] {
  const out: number[] = [];
  for (const s of [l.softAddSeconds, l.hardAddSeconds]) if (s > 0) out.push(u.addTime + s * 1000);
  if (u.useTime > 0) for (const s of [l.softUseSeconds, l.hardUseSeconds]) if (s > 0) out.push(u.useTime + s * 1000);
  return out;
}
