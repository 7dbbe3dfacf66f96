/**
 * `ip xfrm state ...` and `ip xfrm policy ...` command lines, as iproute2 writes them, parsed
 * into commands for {@link Xfrm}. Parsing is separate from applying: a line is parsed whole
 * before anything changes, so a rejected line leaves the tables as they were. Errors name
 * the bad token and its column (XfrmSyntaxError).
 *
 * Supported: ESP states with `aead rfc4106(gcm(aes))`, `aead rfc7539esp(chacha20,poly1305)`
 * or `enc cipher_null ""`; policies with up to 6 ESP templates. What iproute2 accepts but this
 * dataplane does not implement (AH, IPComp, marks, if_id, offload, ...) is refused by name.
 */
import { addressBits, anyAddress, parseAddress, type Address, type Family } from '../xfrm/address.js';
import { XFRM_INF, type LifetimeLimits } from '../xfrm/lifetime.js';
import { DIR_NUMBER, type PolicyAction, type PolicyDir, type PolicySpec } from '../xfrm/policy-db.js';
import { PROTOCOLS, anySelector, isIcmp, type Selector } from '../xfrm/selector.js';
import { type AlgorithmName, type Encap, type ReplayCounters, type StateSpec } from '../xfrm/state-db.js';
import { IPPROTO_ESP, MAX_TEMPLATES, type Mode, type Template } from '../xfrm/template.js';
import { TokenCursor, tokenize, type Token } from './ip-xfrm-tokens.js';

/** Which states a `deleteall` or `list` concerns (all when empty). */
export interface StateFilter {
  readonly src?: Address;
  readonly dst?: Address;
  readonly spi?: number;
  readonly reqid?: number;
  readonly mode?: Mode;
}

/** A parsed command line. */
export type XfrmCommand =
  | { readonly object: 'state'; readonly op: 'add' | 'update'; readonly spec: StateSpec }
  | { readonly object: 'state'; readonly op: 'delete' | 'get'; readonly dst: Address; readonly spi: number; readonly proto: number }
  | { readonly object: 'state'; readonly op: 'deleteall' | 'list'; readonly filter: StateFilter }
  | { readonly object: 'state'; readonly op: 'flush'; readonly proto: number | undefined }
  | { readonly object: 'policy'; readonly op: 'add' | 'update'; readonly spec: PolicySpec }
  | {
      readonly object: 'policy';
      readonly op: 'delete' | 'get';
      readonly dir: PolicyDir;
      readonly index: number | undefined;
      readonly selector: Selector | undefined;
    }
  | { readonly object: 'policy'; readonly op: 'deleteall' | 'list'; readonly dir: PolicyDir | undefined }
  | { readonly object: 'policy'; readonly op: 'flush' };

const AEADS: readonly string[] = ['rfc4106(gcm(aes))', 'rfc7539esp(chacha20,poly1305)'];
const NULL_NAMES: readonly string[] = ['cipher_null', 'ecb(cipher_null)'];
const UNSUPPORTED = new Set(['mark', 'if_id', 'ctx', 'offload', 'output-mark', 'extra-flag', 'coa', 'ctx', 'tfcpad', 'seq', 'dev', 'ptype']);
const OPS: Readonly<Record<string, string>> = {
  add: 'add',
  update: 'update',
  delete: 'delete',
  del: 'delete',
  get: 'get',
  deleteall: 'deleteall',
  flush: 'flush',
  list: 'list',
  show: 'list',
  lst: 'list',
};

/** Parse one `ip xfrm` command line. Throws XfrmSyntaxError. */
export function parseXfrmLine(line: string): XfrmCommand {
  if (typeof line !== 'string') throw new TypeError(`an 'ip xfrm ...' line (a string) is needed, got ${line === null ? 'null' : typeof line}`);
  const c = new TokenCursor(tokenize(line), line.length + 1);
  if (c.accept('ip') && !c.accept('xfrm')) c.fail(c.peek(), "expected 'xfrm' after 'ip'");
  if (c.peek()?.text === 'xfrm') c.take('xfrm');
  const objTok = c.take("'state' or 'policy'");
  const object = objTok.text;
  if (object !== 'state' && object !== 'policy') c.fail(objTok, "expected 'state' or 'policy'");
  const opTok = c.take('an operation (add, update, delete, get, deleteall, flush, list)');
  const op = OPS[opTok.text];
  if (op === undefined) c.fail(opTok, `unknown ${object} operation`);
  const cmd = object === 'state' ? parseStateCommand(c, op) : parsePolicyCommand(c, op);
  if (!c.done) c.fail(c.peek(), 'unexpected word');
  return cmd;
}

/**
 * Parse what `ip xfrm state list` or `ip xfrm policy list` printed (our printer's form):
 * each entry starts on an unindented line and goes on over indented ones.
 */
export function parseXfrmList(text: string, object: 'state' | 'policy'): XfrmCommand[] {
  const entries: string[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    if (/^\s/.test(line) && entries.length > 0) entries[entries.length - 1] += ' ' + line.trim();
    else entries.push(line.trim());
  }
  return entries.map((e) => parseXfrmLine(`ip xfrm ${object} add ${e}`));
}

/** Records a keyword as seen; a second one is an error. */
function once(c: TokenCursor, seen: Set<string>, t: Token): void {
  if (seen.has(t.text)) c.fail(t, `'${t.text}' given twice`);
  seen.add(t.text);
}

/** Unsigned 32-bit number as strtoul(.., 0) reads it: 0x hex, leading-0 octal, decimal. */
function u32(c: TokenCursor, what: string, max = 2 ** 32 - 1): number {
  const t = c.take(what);
  const s = t.text;
  const v = /^0[xX][0-9a-fA-F]+$/.test(s)
    ? parseInt(s.slice(2), 16)
    : /^0[0-7]*$/.test(s)
      ? parseInt(s, 8)
      : /^[1-9][0-9]*$/.test(s)
        ? Number(s)
        : NaN;
  if (!(v >= 0 && v <= max)) c.fail(t, `${what} must be a number from 0 to ${max}`);
  return v;
}

function address(c: TokenCursor, what: string, family?: Family): Address {
  const t = c.take(what);
  const a = parseAddress(t.text);
  if (a === null) c.fail(t, `${what} is not an IPv4 or IPv6 address`);
  if (family !== undefined && a.family !== family) c.fail(t, `${what} is IPv${a.family}, the rest is IPv${family}`);
  return a;
}

function prefix(c: TokenCursor, what: string): { a: Address; len: number; t: Token } {
  const t = c.take(what);
  const [text, lenText, extra] = t.text.split('/');
  const a = parseAddress(text);
  if (a === null || extra !== undefined) c.fail(t, `${what} is not an address or prefix`);
  const bits = addressBits(a.family);
  if (lenText === undefined) return { a, len: bits, t };
  const len = /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(len >= 0 && len <= bits)) c.fail(t, `prefix length must be 0..${bits} for IPv${a.family}`);
  return { a, len, t };
}

function protocol(c: TokenCursor): { proto: number; t: Token } {
  const t = c.take('a protocol');
  if (t.text === 'any') return { proto: 0, t }; // as iproute2: proto any (= 0)
  const named = PROTOCOLS[t.text];
  const n = named ?? (/^\d+$/.test(t.text) ? Number(t.text) : NaN);
  if (!(n >= 0 && n <= 255)) c.fail(t, 'unknown protocol');
  return { proto: n, t };
}

function espProto(c: TokenCursor): number {
  const { proto, t } = protocol(c);
  if (proto !== IPPROTO_ESP) c.fail(t, 'only esp is supported');
  return proto;
}

function mode(c: TokenCursor): Mode {
  const t = c.take('a mode');
  if (t.text !== 'transport' && t.text !== 'tunnel') c.fail(t, "mode must be 'transport' or 'tunnel'");
  return t.text;
}

function keyBytes(c: TokenCursor): Uint8Array {
  const t = c.take('key material');
  if (/^0[xX]/.test(t.text)) {
    const hex = t.text.slice(2);
    if (!/^([0-9a-fA-F]{2})*$/.test(hex)) c.fail(t, 'key must be 0x and an even number of hex digits');
    return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16));
  }
  return new TextEncoder().encode(t.text);
}

/** `sel`-style selector words: src PREFIX, dst PREFIX, proto P [sport N] [dport N] [type N] [code N]. */
function selectorWords(c: TokenCursor, seen: Set<string>, stopAt: (w: string) => boolean): Selector | undefined {
  let src: ReturnType<typeof prefix> | undefined;
  let dst: ReturnType<typeof prefix> | undefined;
  let proto = 0;
  let protoTok: Token | undefined;
  const ports: Record<'sport' | 'dport' | 'type' | 'code', [number, Token] | undefined> = {
    sport: undefined,
    dport: undefined,
    type: undefined,
    code: undefined,
  };
  for (let t = c.peek(); t !== undefined && !stopAt(t.text); t = c.peek()) {
    if (t.text === 'src' || t.text === 'dst') {
      once(c, seen, c.take(t.text));
      const p = prefix(c, `${t.text} prefix`);
      if (t.text === 'src') src = p;
      else dst = p;
    } else if (t.text === 'proto') {
      once(c, seen, c.take('proto'));
      ({ proto, t: protoTok } = protocol(c));
    } else if (t.text in ports) {
      const word = t.text as keyof typeof ports;
      once(c, seen, c.take(word));
      const icmpWord = word === 'type' || word === 'code';
      // Ports need no protocol (iproute2 and the kernel take `dport 53` alone and match it for
      // any protocol); ICMP type and code do.
      if (icmpWord && protoTok === undefined) c.fail(t, `'${word}' needs 'proto icmp' or 'proto ipv6-icmp' before it`);
      if (icmpWord !== isIcmp(proto)) c.fail(t, icmpWord ? `'${word}' is for icmp and ipv6-icmp` : `'${word}' is not for icmp; use type and code`);
      ports[word] = [u32(c, word, icmpWord ? 255 : 65535), t];
    } else {
      break;
    }
  }
  if (src === undefined && dst === undefined && protoTok === undefined && ports.sport === undefined && ports.dport === undefined) return undefined;
  const family = src?.a.family ?? dst?.a.family ?? (proto === 58 ? 6 : 4);
  if (src !== undefined && dst !== undefined && src.a.family !== dst.a.family) c.fail(dst.t, 'src and dst are of different families');
  const sp = ports.sport ?? ports.type;
  const dp = ports.dport ?? ports.code;
  // Addresses as given, host bits and all: they are part of a policy's identity (the kernel
  // keeps them); matching masks them.
  return {
    family,
    src: src?.a ?? anyAddress(family),
    srcLen: src?.len ?? 0,
    dst: dst?.a ?? anyAddress(family),
    dstLen: dst?.len ?? 0,
    proto,
    sport: sp?.[0] ?? 0,
    sportMask: sp === undefined ? 0 : 0xffff,
    dport: dp?.[0] ?? 0,
    dportMask: dp === undefined ? 0 : 0xffff,
  };
}

const LIMIT_FIELDS: Readonly<Record<string, keyof LifetimeLimits>> = {
  'time-soft': 'softAddSeconds',
  'time-hard': 'hardAddSeconds',
  'time-use-soft': 'softUseSeconds',
  'time-use-hard': 'hardUseSeconds',
  'byte-soft': 'softBytes',
  'byte-hard': 'hardBytes',
  'packet-soft': 'softPackets',
  'packet-hard': 'hardPackets',
};

function limits(c: TokenCursor, into: Record<string, number | bigint>): void {
  const first = c.peek();
  if (first === undefined || !(first.text in LIMIT_FIELDS)) c.fail(first, `expected a limit (${Object.keys(LIMIT_FIELDS).join(', ')})`);
  for (let t = c.peek(); t !== undefined && t.text in LIMIT_FIELDS; t = c.peek()) {
    c.take(t.text);
    const field = LIMIT_FIELDS[t.text];
    if (into[field] !== undefined) c.fail(t, `'${t.text}' given twice`);
    const v = c.take(`a value for ${t.text}`);
    const inf = v.text === 'INF' || v.text === '(INF)';
    if (field.endsWith('Seconds')) {
      // Seconds are timer values: whole and below 2^53 (285 million years).
      const n = /^\d+$/.test(v.text) ? Number(v.text) : NaN;
      if (!Number.isSafeInteger(n)) c.fail(v, `${t.text} needs a whole number of seconds below 2^53`);
      into[field] = n;
    } else {
      // Bytes and packets are u64, exact (never through a double); INF is 2^64 - 1 as in Linux.
      const n = inf ? XFRM_INF : /^\d{1,20}$/.test(v.text) ? BigInt(v.text) : -1n;
      if (n < 0n || n > XFRM_INF) c.fail(v, `${t.text} needs a whole number from 0 to 2^64-1, or INF`);
      into[field] = n;
    }
  }
}

function encap(c: TokenCursor, family: Family | undefined): Encap {
  // Both the add syntax (espinudp SPORT DPORT OADDR) and the list form
  // (type espinudp sport SPORT dport DPORT addr OADDR).
  const listForm = c.accept('type');
  const t = c.take('an encapsulation type');
  if (t.text !== 'espinudp') c.fail(t, "only 'espinudp' encapsulation is supported");
  if (listForm && !c.accept('sport')) c.fail(c.peek(), "expected 'sport'");
  const sport = u32(c, 'encap source port', 65535);
  if (listForm && !c.accept('dport')) c.fail(c.peek(), "expected 'dport'");
  const dport = u32(c, 'encap destination port', 65535);
  if (listForm && !c.accept('addr')) c.fail(c.peek(), "expected 'addr'");
  const oa = address(c, 'encap original address', family);
  return { type: 'espinudp', sport, dport, oa };
}

function parseStateCommand(c: TokenCursor, op: string): XfrmCommand {
  if (op === 'flush') return { object: 'state', op, proto: c.accept('proto') ? espProto(c) : undefined };
  const seen = new Set<string>();
  let src: Address | undefined;
  let dst: Address | undefined;
  let proto: number | undefined;
  let spi: number | undefined;
  let m: Mode | undefined;
  let reqid: number | undefined;
  let algorithm: StateSpec['algorithm'] | undefined;
  let replayWindow: number | undefined;
  const replay: Partial<Record<keyof ReplayCounters, number>> = {};
  let esn = false;
  let selector: Selector | undefined;
  const lim: Record<string, number | bigint> = {};
  let enc: Encap | undefined;
  let pcpuNum: number | undefined;
  const family = () => dst?.family ?? src?.family;
  for (let t = c.peek(); t !== undefined; t = c.peek()) {
    const w = t.text;
    if (UNSUPPORTED.has(w) || w === 'auth' || w === 'auth-trunc' || w === 'comp') c.fail(t, `'${w}' is not supported by this dataplane`);
    if (w !== 'limit' && w !== 'flag') once(c, seen, t);
    c.take(w);
    switch (w) {
      case 'src':
        src = address(c, 'src address', family());
        break;
      case 'dst':
        dst = address(c, 'dst address', family());
        break;
      case 'proto':
        proto = espProto(c);
        break;
      case 'spi':
        spi = u32(c, 'spi');
        break;
      case 'mode':
        m = mode(c);
        break;
      case 'reqid':
        reqid = u32(c, 'reqid');
        break;
      case 'aead':
      case 'enc': {
        if (algorithm !== undefined) c.fail(t, 'only one of aead and enc');
        const nameTok = c.take('an algorithm name');
        const name = nameTok.text;
        if (w === 'aead' ? !AEADS.includes(name) : !NULL_NAMES.includes(name)) {
          c.fail(nameTok, w === 'aead' ? `unsupported AEAD; use ${AEADS.join(' or ')}` : "unsupported cipher; only cipher_null (benchmarks) with enc, AEADs with aead");
        }
        const key = keyBytes(c);
        const icvBits = w === 'aead' ? u32(c, 'ICV length in bits', 1024) : 0;
        algorithm = { name: (w === 'aead' ? name : 'cipher_null') as AlgorithmName, key, icvBits };
        break;
      }
      case 'replay-window':
        replayWindow = u32(c, 'replay-window');
        break;
      case 'replay-seq':
      case 'replay-oseq':
      case 'replay-seq-hi':
      case 'replay-oseq-hi': {
        const field = ({ 'replay-seq': 'seq', 'replay-oseq': 'oseq', 'replay-seq-hi': 'seqHi', 'replay-oseq-hi': 'oseqHi' } as const)[w];
        replay[field] = u32(c, w);
        break;
      }
      case 'flag': {
        const f = c.take('a flag');
        if (f.text !== 'esn') c.fail(f, "only 'flag esn' is supported");
        if (esn) c.fail(f, "'esn' given twice");
        esn = true;
        break;
      }
      case 'sel':
        selector = selectorWords(c, new Set(), () => false);
        if (selector === undefined) c.fail(c.peek(), "'sel' needs src, dst or proto");
        break;
      case 'limit':
        limits(c, lim);
        break;
      case 'encap':
        enc = encap(c, family());
        break;
      case 'pcpu-num': // RFC 9611 per-resource SA: bound to one queue (iproute2 7.0, Linux 6.13)
        pcpuNum = u32(c, 'pcpu-num', 2 ** 31 - 1);
        break;
      default:
        c.fail(t, 'unknown word in a state command');
    }
  }
  const fam = family();
  if (selector !== undefined && fam !== undefined && selector.family !== fam && !isAddressless(selector)) {
    c.fail(undefined, `the selector is IPv${selector.family}, the state IPv${fam}`);
  }
  if (op === 'deleteall' || op === 'list') {
    return { object: 'state', op, filter: { src, dst, spi, reqid, mode: m } };
  }
  if (dst === undefined) c.fail(undefined, "missing 'dst ADDR'");
  if (spi === undefined) c.fail(undefined, "missing 'spi SPI'");
  if (op === 'delete' || op === 'get') {
    return { object: 'state', op, dst, spi, proto: proto ?? IPPROTO_ESP };
  }
  if (src === undefined) c.fail(undefined, "missing 'src ADDR'");
  if (proto === undefined) c.fail(undefined, "missing 'proto esp'");
  if (algorithm === undefined) c.fail(undefined, "missing an algorithm ('aead NAME KEY ICV-BITS')");
  return {
    object: 'state',
    op: op as 'add' | 'update',
    spec: {
      src,
      dst,
      spi,
      proto,
      mode: m,
      reqid,
      algorithm,
      replayWindow,
      esn,
      replay,
      selector: selector === undefined || selector.family === dst.family ? selector : refamily(selector, dst.family),
      limits: lim,
      encap: enc,
      pcpuNum,
    },
  };
}

/** A selector that names no address (only a protocol or ports) fits either family. */
function isAddressless(s: Selector): boolean {
  return s.srcLen === 0 && s.dstLen === 0;
}

function refamily(s: Selector, family: Family): Selector {
  return { ...s, family, src: anyAddress(family), dst: anyAddress(family) };
}

/** A `tmpl` clause; a template that names no address has the family of what it follows (the previous template, or the selector), as in iproute2. */
function template(c: TokenCursor, inherit: Family): Template {
  const seen = new Set<string>();
  let src: Address | undefined;
  let dst: Address | undefined;
  let spi = 0;
  let reqid = 0;
  let m: Mode = 'transport';
  let optional = false;
  for (let t = c.peek(); t !== undefined; t = c.peek()) {
    const w = t.text;
    if (!['src', 'dst', 'proto', 'spi', 'reqid', 'mode', 'level'].includes(w)) break;
    once(c, seen, c.take(w));
    if (w === 'src') src = address(c, 'template src', dst?.family);
    else if (w === 'dst') dst = address(c, 'template dst', src?.family);
    else if (w === 'proto') espProto(c);
    else if (w === 'spi') spi = u32(c, 'spi');
    else if (w === 'reqid') reqid = u32(c, 'reqid');
    else if (w === 'mode') m = mode(c);
    else {
      const l = c.take('a level');
      if (l.text !== 'required' && l.text !== 'use') c.fail(l, "level must be 'required' or 'use'");
      optional = l.text === 'use';
    }
  }
  const family = src?.family ?? dst?.family ?? inherit;
  if (m === 'tunnel' && (src === undefined || dst === undefined)) c.fail(c.peek(), 'a tunnel template needs src and dst');
  return { family, src: src ?? anyAddress(family), dst: dst ?? anyAddress(family), proto: IPPROTO_ESP, spi, reqid, mode: m, optional };
}

function parsePolicyCommand(c: TokenCursor, op: string): XfrmCommand {
  if (op === 'flush') {
    if (c.accept('ptype') && !c.accept('main')) c.fail(c.peek(), "only 'ptype main' is supported");
    return { object: 'policy', op };
  }
  const seen = new Set<string>();
  let dir: PolicyDir | undefined;
  let priority: number | undefined;
  let index: number | undefined;
  let action: PolicyAction | undefined;
  let cpuAcquire = false;
  const templates: Template[] = [];
  let selector: Selector | undefined;
  for (let t = c.peek(); t !== undefined; t = c.peek()) {
    const w = t.text;
    if (w === 'src' || w === 'dst' || w === 'proto') {
      if (selector !== undefined) c.fail(t, 'the selector is given in one piece: src, dst, proto, ports');
      selector = selectorWords(c, seen, () => false);
      continue;
    }
    if (w === 'ptype') {
      once(c, seen, c.take(w));
      const p = c.take('a policy type');
      if (p.text !== 'main') c.fail(p, "only 'ptype main' is supported");
      continue;
    }
    if (w === 'flag') {
      // Policy flags: cpu-acquire (Linux's XFRM_POLICY_CPU_ACQUIRE; iproute2 has no keyword for it yet).
      once(c, seen, c.take(w));
      const f = c.take('a policy flag');
      if (f.text !== 'cpu-acquire') c.fail(f, f.text === 'localok' || f.text === 'icmp' ? `flag '${f.text}' is not supported by this dataplane` : "unknown policy flag (this dataplane knows 'cpu-acquire')");
      cpuAcquire = true;
      continue;
    }
    if (UNSUPPORTED.has(w) || w === 'limit') c.fail(t, `'${w}' is not supported by this dataplane`);
    if (w !== 'tmpl') once(c, seen, t);
    c.take(w);
    switch (w) {
      case 'dir': {
        const d = c.take('a direction');
        if (!(d.text in DIR_NUMBER)) c.fail(d, "dir must be 'in', 'out' or 'fwd'");
        dir = d.text as PolicyDir;
        break;
      }
      case 'priority':
        priority = u32(c, 'priority');
        break;
      case 'index':
        index = u32(c, 'index');
        break;
      case 'action': {
        const a = c.take('an action');
        if (a.text !== 'allow' && a.text !== 'block') c.fail(a, "action must be 'allow' or 'block'");
        action = a.text;
        break;
      }
      case 'tmpl':
        if (templates.length === MAX_TEMPLATES) c.fail(t, `at most ${MAX_TEMPLATES} templates`);
        templates.push(template(c, templates.at(-1)?.family ?? selector?.family ?? 4));
        break;
      default:
        c.fail(t, 'unknown word in a policy command');
    }
  }
  if (op === 'deleteall' || op === 'list') return { object: 'policy', op, dir };
  if (dir === undefined) c.fail(undefined, "missing 'dir in|out|fwd'");
  if (op === 'delete' || op === 'get') {
    if (index === undefined && selector === undefined) c.fail(undefined, "give 'index N' or a selector");
    return { object: 'policy', op, dir, index, selector };
  }
  return {
    object: 'policy',
    op: op as 'add' | 'update',
    spec: { dir, selector: selector ?? anySelector(4), priority, action, index, templates, cpuAcquire },
  };
}
