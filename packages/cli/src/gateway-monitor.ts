/**
 * The gateway's events as `ip xfrm monitor` prints them, for the control socket's `monitor`
 * request: table changes (a state or policy as `ip xfrm ... list` shows it, after `Deleted `
 * or `Updated `; `Flushed ...`), expiries (`Expired ` and the state, then `hard 0|1`), and
 * ACQUIREs (what state is wanted, and the policy that wants it). Keys are redacted: a monitor
 * stream ends up in logs.
 */
import { formatAddress, formatPolicy, formatState, type Acquire, type ExpireEvent, type MonitorEvent, type State, type Xfrm } from '@xfrm/core';

const REDACT = { redactKeys: true };

function state(s: State): string {
  return formatState(s, s.replay, REDACT);
}

/** A table change. */
export function formatMonitorEvent(e: MonitorEvent): string {
  if (e.op === 'flush') return e.kind === 'state' ? 'Flushed state proto esp\n' : 'Flushed policy\n';
  const prefix = e.op === 'delete' ? 'Deleted ' : e.op === 'update' ? 'Updated ' : '';
  return prefix + (e.kind === 'state' ? state(e.state) : formatPolicy(e.policy)) + '\n';
}

/** An expiry (soft: the key manager should rekey; hard: the state is gone). */
export function formatExpire(e: ExpireEvent): string {
  return `Expired ${state(e.state)}\n\thard ${e.hard ? 1 : 0}\n`;
}

/** An ACQUIRE: the state a template needs, and its policy. */
export function formatAcquire(a: Acquire, xfrm: Xfrm): string {
  const policy = xfrm.spd.policyAt(a.policy);
  const pcpu = a.pcpuNum === undefined ? '' : ` pcpu-num ${a.pcpuNum}`;
  return `acquire proto esp src ${formatAddress(a.src)} dst ${formatAddress(a.dst)} reqid ${a.reqid} mode ${a.mode}${pcpu}\n` + (policy === undefined ? '' : `  policy ${formatPolicy(policy)}\n`);
}
