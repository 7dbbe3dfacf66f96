/**
 * The inbound policy check (RFC 4301 section 5.2, Linux `__xfrm_policy_check`): after
 * decapsulation the inner packet must match an `in` policy (or, failing that, a `fwd` one)
 * that allows it and whose templates are satisfied, in order, by the states that
 * decapsulated it. Optional (`level use`) templates may be missing; every state used must be
 * accounted for by a template. Read-only on the shared tables.
 */
import { DROP } from './drop-reasons.js';
import { P_FLAGS, P_FLAG_BLOCK, policyTemplateCount, type PolicyDbView } from '../xfrm/policy-db.js';
import { S_DST, S_MODE, S_PROTO, S_REQID, S_SPI, S_SRC, type StateDbView } from '../xfrm/state-db.js';
import { templateAddressAny, templateAddressWord, templateReqid, templateSpi, templateWords } from '../xfrm/template.js';

const DIR_IN = 0;
const DIR_FWD = 2;

/** Is the template's source (`which` 0) or destination (1) address the one at `i32[q]` (four words)? */
function sameAddress(i32: Int32Array, tp: number, which: number, q: number): boolean {
  for (let w = 0; w < 4; w++) if (templateAddressWord(i32, tp, which, w) !== i32[q + w]) return false;
  return true;
}

/** Does the template at word `tp` accept the state in `slot`? */
function templateAccepts(spd: PolicyDbView, sad: StateDbView, tp: number, slot: number): boolean {
  const sp = sad.field(slot, 0);
  const i32 = spd.heap.i32;
  const head = i32[tp];
  const tunnel = (head >>> 8) & 1;
  if ((head & 0xff) !== i32[sp + S_PROTO] || tunnel !== i32[sp + S_MODE]) return false;
  const spi = templateSpi(i32, tp);
  const reqid = templateReqid(i32, tp);
  if (spi !== 0 && spi !== i32[sp + S_SPI]) return false;
  if (reqid !== 0 && reqid !== i32[sp + S_REQID]) return false;
  if (tunnel === 1) {
    if (!templateAddressAny(i32, tp, 1) && !sameAddress(i32, tp, 1, sp + S_DST)) return false;
    if (!templateAddressAny(i32, tp, 0) && !sameAddress(i32, tp, 0, sp + S_SRC)) return false;
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
  const flags = i32[pp + P_FLAGS];
  if ((flags & P_FLAG_BLOCK) !== 0) return DROP.XfrmInPolBlock;
  const n = policyTemplateCount(flags);
  let k = 0;
  for (let t = 0, tp = spd.templates(pp); t < n; t++) {
    const head = spd.heap.i32[tp];
    if (k < used && templateAccepts(spd, sad, tp, secpath[k])) k++;
    else if (((head >>> 9) & 1) === 0) return DROP.XfrmInTmplMismatch;
    tp += templateWords(head);
  }
  return k === used ? -1 : DROP.XfrmInTmplMismatch;
}
