/**
 * The inbound policy check (RFC 4301 section 5.2, Linux `__xfrm_policy_check`): after
 * decapsulation the inner packet must match an `in` policy (or, failing that, a `fwd` one)
 * that allows it and whose templates are satisfied, in order, by the states that
 * decapsulated it. Optional (`level use`) templates may be missing; every state used must be
 * accounted for by a template. Read-only on the shared tables.
 */
import { DROP } from './drop-reasons.js';
import { P_ACTION, P_NTMPL, type PolicyDbView } from '../xfrm/policy-db.js';
import { S_DST, S_MODE, S_PROTO, S_REQID, S_SPI, S_SRC, type StateDbView } from '../xfrm/state-db.js';
import { TMPL_WORDS } from '../xfrm/template.js';

const DIR_IN = 0;
const DIR_FWD = 2;

function anyWords(i32: Int32Array, p: number): boolean {
  return (i32[p] | i32[p + 1] | i32[p + 2] | i32[p + 3]) === 0;
}

function sameWords(i32: Int32Array, p: number, q: number): boolean {
  return i32[p] === i32[q] && i32[p + 1] === i32[q + 1] && i32[p + 2] === i32[q + 2] && i32[p + 3] === i32[q + 3];
}

/** Does the template at word `tp` accept the state in `slot`? */
function templateAccepts(spd: PolicyDbView, sad: StateDbView, tp: number, slot: number): boolean {
  const sp = sad.field(slot, 0);
  const i32 = spd.heap.i32;
  const bits = i32[tp + 9];
  const tunnel = (bits >>> 8) & 1;
  if ((bits & 0xff) !== i32[sp + S_PROTO] || tunnel !== i32[sp + S_MODE]) return false;
  if (i32[tp + 10] !== 0 && i32[tp + 10] !== i32[sp + S_SPI]) return false;
  if (i32[tp + 11] !== 0 && i32[tp + 11] !== i32[sp + S_REQID]) return false;
  if (tunnel === 1) {
    if (!anyWords(i32, tp + 5) && !sameWords(i32, tp + 5, sp + S_DST)) return false;
    if (!anyWords(i32, tp + 1) && !sameWords(i32, tp + 1, sp + S_SRC)) return false;
  }
  return true;
}

/**
 * Check the packed flow of a decapsulated packet against the inbound policy, given the
 * slots of the states that decapsulated it, innermost first. Returns -1 when it may be
 * delivered, else the drop code (XfrmInNoPols, XfrmInPolBlock, XfrmInTmplMismatch).
 */
export function inboundPolicyCheck(
  spd: PolicyDbView,
  sad: StateDbView,
  flow: Int32Array,
  f: number,
  secpath: Int32Array,
  used: number,
): number {
  let policy = spd.lookup(DIR_IN, flow, f);
  if (policy < 0) policy = spd.lookup(DIR_FWD, flow, f);
  if (policy < 0) return DROP.XfrmInNoPols;
  const pp = spd.field(policy, 0);
  const i32 = spd.heap.i32;
  if (i32[pp + P_ACTION] !== 0) return DROP.XfrmInPolBlock;
  const n = i32[pp + P_NTMPL];
  const templates = spd.templates(pp);
  let k = 0;
  for (let t = 0; t < n; t++) {
    const tp = templates + t * TMPL_WORDS;
    if (k < used && templateAccepts(spd, sad, tp, secpath[k])) k++;
    else if (((spd.heap.i32[tp + 9] >>> 9) & 1) === 0) return DROP.XfrmInTmplMismatch;
  }
  return k === used ? -1 : DROP.XfrmInTmplMismatch;
}
