/**
 * Carry out a parsed `ip xfrm` command on the control plane. Each command is one operation
 * on the tables, which validate before they change anything, so a refused command (an
 * XfrmError) leaves them as they were.
 */
import { sameAddress } from '../xfrm/address.js';
import { formatPolicy, formatState, type FormatOptions } from './ip-xfrm-format.js';
import { parseXfrmLine, type StateFilter, type XfrmCommand } from './ip-xfrm-parse.js';
import { DIR_NUMBER } from '../xfrm/policy-db.js';
import { type State } from '../xfrm/state-db.js';
import { XfrmError } from '../xfrm/xfrm-error.js';
import { type Xfrm } from '../xfrm/xfrm.js';

function matches(s: State, f: StateFilter): boolean {
  return (
    (f.src === undefined || sameAddress(f.src, s.src)) &&
    (f.dst === undefined || sameAddress(f.dst, s.dst)) &&
    (f.spi === undefined || f.spi === s.spi) &&
    (f.reqid === undefined || f.reqid === s.reqid) &&
    (f.mode === undefined || f.mode === s.mode)
  );
}

/** Run one command; returns what `ip xfrm` would print ('' for most). Throws XfrmError. */
export function applyXfrm(x: Xfrm, cmd: XfrmCommand, opts: FormatOptions = {}): string {
  const show = (s: State) => formatState(s, x.sad.countersOf(s), opts);
  if (cmd.object === 'state') {
    switch (cmd.op) {
      case 'add':
        x.addState(cmd.spec);
        return '';
      case 'update':
        x.updateState(cmd.spec);
        return '';
      case 'delete':
        x.deleteState(cmd.dst, cmd.spi, cmd.proto);
        return '';
      case 'get': {
        const s = x.sad.get(cmd.dst, cmd.spi, cmd.proto);
        if (s === undefined) throw new XfrmError('ENOENT', 'no such state');
        return show(s) + '\n';
      }
      case 'deleteall':
        for (const s of x.sad.list().filter((s) => matches(s, cmd.filter))) x.deleteState(s.dst, s.spi, s.proto);
        return '';
      case 'list':
        return x.sad.list().filter((s) => matches(s, cmd.filter)).map((s) => show(s) + '\n').join('');
      case 'flush':
        x.flushStates(cmd.proto);
        return '';
    }
  }
  switch (cmd.op) {
    case 'add':
      x.addPolicy(cmd.spec);
      return '';
    case 'update':
      x.updatePolicy(cmd.spec);
      return '';
    case 'delete':
    case 'get': {
      const p = cmd.index !== undefined ? x.spd.get(cmd.index) : x.spd.find(cmd.dir, cmd.selector!);
      if (p === undefined || DIR_NUMBER[p.dir] !== DIR_NUMBER[cmd.dir]) throw new XfrmError('ENOENT', 'no such policy');
      if (cmd.op === 'get') return formatPolicy(p) + '\n';
      x.deletePolicy(p.index);
      return '';
    }
    case 'deleteall':
      for (const p of x.spd.list(cmd.dir)) x.deletePolicy(p.index);
      return '';
    case 'list':
      return x.spd.list(cmd.dir).map((p) => formatPolicy(p) + '\n').join('');
    case 'flush':
      x.flushPolicies();
      return '';
  }
}

/** Parse and run one `ip xfrm` line. Throws XfrmSyntaxError or XfrmError; nothing changes then. */
export function applyXfrmLine(x: Xfrm, line: string, opts: FormatOptions = {}): string {
  return applyXfrm(x, parseXfrmLine(line), opts);
}
