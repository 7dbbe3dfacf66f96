/**
 * Tables printed as `ip xfrm state list` and `ip xfrm policy list` print them: an entry per
 * unindented line, details on indented lines. Where iproute2 prints a display-only form
 * (anti-replay context, lifetime config), this prints the words of the add syntax instead,
 * so that {@link parseXfrmList} reads a listing back into the same tables. Keys are printed,
 * as iproute2 does, unless `redactKeys` is set (for logs).
 */
import { formatAddress } from '../xfrm/address.js';
import { NO_LIMITS, type LifetimeLimits } from '../xfrm/lifetime.js';
import { type Policy } from '../xfrm/policy-db.js';
import { PROTOCOLS, isIcmp, type Selector } from '../xfrm/selector.js';
import { type ReplayCounters, type State } from '../xfrm/state-db.js';
import { type Template } from '../xfrm/template.js';

/** Options for the printers. */
export interface FormatOptions {
  /** Print `0x<redacted>` instead of key material. */
  redactKeys?: boolean;
}

const PROTO_NAMES = new Map(Object.entries(PROTOCOLS).map(([name, n]) => [n, name]));

function hex(n: number, width = 0): string {
  return `0x${(n >>> 0).toString(16).padStart(width, '0')}`;
}

/** A selector in the `src A/L dst B/L [proto P [sport N] [dport N] | [type N] [code N]]` form. */
export function formatSelector(s: Selector): string {
  let out = `src ${formatAddress(s.src)}/${s.srcLen} dst ${formatAddress(s.dst)}/${s.dstLen}`;
  if (s.proto !== 0) out += ` proto ${PROTO_NAMES.get(s.proto) ?? s.proto}`;
  const [a, b] = isIcmp(s.proto) ? ['type', 'code'] : ['sport', 'dport'];
  if (s.sportMask !== 0) out += ` ${a} ${s.sport}`;
  if (s.dportMask !== 0) out += ` ${b} ${s.dport}`;
  return out;
}

const LIMIT_WORDS: readonly [keyof LifetimeLimits, string][] = [
  ['softAddSeconds', 'time-soft'],
  ['hardAddSeconds', 'time-hard'],
  ['softUseSeconds', 'time-use-soft'],
  ['hardUseSeconds', 'time-use-hard'],
  ['softBytes', 'byte-soft'],
  ['hardBytes', 'byte-hard'],
  ['softPackets', 'packet-soft'],
  ['hardPackets', 'packet-hard'],
];

/** One state, with its live sequence and replay counters. */
export function formatState(s: State, counters: ReplayCounters, opts: FormatOptions = {}): string {
  const lines = [
    `src ${formatAddress(s.src)} dst ${formatAddress(s.dst)}`,
    `\tproto esp spi ${hex(s.spi, 8)} reqid ${s.reqid} mode ${s.mode}`,
    `\treplay-window ${s.replayWindow}${s.esn ? ' flag esn' : ''}`,
  ];
  const c = [
    ['replay-seq', counters.seq],
    ['replay-oseq', counters.oseq],
    ['replay-seq-hi', counters.seqHi],
    ['replay-oseq-hi', counters.oseqHi],
  ].filter(([, v]) => v !== 0);
  if (c.length > 0) lines.push(`\t${c.map(([k, v]) => `${k} ${hex(v as number)}`).join(' ')}`);
  const a = s.algorithm;
  const key = opts.redactKeys ? '0x<redacted>' : `0x${Buffer.from(a.key).toString('hex')}`;
  lines.push(a.name === 'cipher_null' ? '\tenc cipher_null ""' : `\taead ${a.name} ${key} ${a.icvBits}`);
  if (s.encap) {
    lines.push(`\tencap type ${s.encap.type} sport ${s.encap.sport} dport ${s.encap.dport} addr ${formatAddress(s.encap.oa)}`);
  }
  const lim = LIMIT_WORDS.filter(([k]) => s.limits[k] !== NO_LIMITS[k]).map(([k, w]) => `${w} ${s.limits[k]}`);
  if (lim.length > 0) lines.push(`\tlimit ${lim.join(' ')}`);
  lines.push(`\tsel ${formatSelector(s.selector)}`);
  if (s.pcpuNum !== undefined) lines.push(`\tpcpu-num ${s.pcpuNum}`);
  return lines.join('\n');
}

function formatTemplate(t: Template): string {
  const spi = t.spi !== 0 ? ` spi ${hex(t.spi, 8)}` : '';
  const level = t.optional ? ' level use' : '';
  return `\ttmpl src ${formatAddress(t.src)} dst ${formatAddress(t.dst)}\n\t\tproto esp${spi} reqid ${t.reqid} mode ${t.mode}${level}`;
}

/** One policy. */
export function formatPolicy(p: Policy): string {
  const action = (p.action === 'block' ? ' action block' : '') + (p.cpuAcquire ? ' flag cpu-acquire' : '');
  return [
    formatSelector(p.selector),
    `\tdir ${p.dir} priority ${p.priority} ptype main index ${p.index}${action}`,
    ...p.templates.map(formatTemplate),
  ].join('\n');
}
