/**
 * xfrm-gateway's SIGHUP: make the running tables what the configuration file now says,
 * without touching what did not change. The file is first loaded into a scratch Xfrm (so a
 * bad line changes nothing: it is reported and the reload is refused). Then, in an order
 * that never leaves traffic without an SA: new states are added, changed ones updated in
 * place where `ip xfrm state update` may (selector, limits, encapsulation: sequence numbers
 * and replay windows carry on) or replaced; policies are added or updated; last, policies and
 * states the file no longer has are deleted. States are named by (dst, SPI, protocol),
 * policies by (direction, selector), as Linux names them.
 */
import { formatPolicy, formatSelector, formatState, XfrmError, type Policy, type State, type Xfrm } from '@xfrm/core';
import { loadConfigText } from './xfrm-config.js';

/** What a reload did, or why it did nothing. */
export interface ReloadResult {
  readonly errors: string[];
  readonly states: { added: number; updated: number; replaced: number; deleted: number };
  readonly policies: { added: number; updated: number; deleted: number };
}

const stateKey = (s: State) => `${formatState(s, s.replay).split('\n')[0]} ${s.spi} ${s.proto}`;
const policyKey = (p: Policy) => `${p.dir} ${formatSelector(p.selector)}`;
/** A state's whole configuration (its initial counters included, its live ones not). */
const stateText = (s: State) => formatState(s, s.replay);
const policyText = (p: Policy) => formatPolicy({ ...p, index: 0 });

/** Reconcile `xfrm` with the configuration `text` (named `name` in errors). */
export function reloadConfig(xfrm: Xfrm, text: string, name: string): ReloadResult {
  const states = { added: 0, updated: 0, replaced: 0, deleted: 0 };
  const policies = { added: 0, updated: 0, deleted: 0 };
  const want = loadConfigText(text, name);
  if (want.errors.length > 0) return { errors: want.errors, states, policies };
  const haveStates = new Map(xfrm.sad.list().map((s) => [stateKey(s), s]));
  const wantStates = new Map(want.xfrm.sad.list().map((s) => [stateKey(s), s]));
  const havePolicies = new Map(xfrm.spd.list().map((p) => [policyKey(p), p]));
  const wantPolicies = new Map(want.xfrm.spd.list().map((p) => [policyKey(p), p]));
  for (const [key, s] of wantStates) {
    const have = haveStates.get(key);
    if (have === undefined) {
      xfrm.addState(s);
      states.added++;
    } else if (stateText(have) !== stateText(s)) {
      try {
        xfrm.updateState(s);
        states.updated++;
      } catch (e) {
        if (!(e instanceof XfrmError)) throw e;
        xfrm.deleteState(have.dst, have.spi, have.proto); // what update may not change (keys, algorithm, window): a new SA
        xfrm.addState(s);
        states.replaced++;
      }
    }
  }
  for (const [key, p] of wantPolicies) {
    const have = havePolicies.get(key);
    const spec = { ...p, index: have?.index };
    if (have === undefined) {
      xfrm.addPolicy({ ...p, index: undefined });
      policies.added++;
    } else if (policyText(have) !== policyText(p)) {
      xfrm.updatePolicy(spec);
      policies.updated++;
    }
  }
  for (const [key, p] of havePolicies) {
    if (!wantPolicies.has(key)) {
      xfrm.deletePolicy(p.index);
      policies.deleted++;
    }
  }
  for (const [key, s] of haveStates) {
    if (!wantStates.has(key)) {
      xfrm.deleteState(s.dst, s.spi, s.proto);
      states.deleted++;
    }
  }
  want.xfrm.flushStates(); // wipes the scratch copy's keys
  return { errors: [], states, policies };
}
