/**
 * dataplane-bench output: the table for a terminal, the ratio table of --compare, and a
 * self-contained HTML report (inline SVG chart, no network fetch).
 */
import os from 'node:os';
import { type BenchResult } from './bench-run.js';

/** One interleaved pair of --compare: the run with the optimisation and the run without. */
export interface ComparePair {
  base: BenchResult;
  ablated: BenchResult;
}

/** One row of the --compare table: an ablation's pairs (--runs), in the order they ran. */
export interface CompareRow {
  ablation: string;
  pairs: ComparePair[];
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 === 1 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const packetRatio = (p: ComparePair) => p.ablated.packetsPerSecond / Math.max(1, p.base.packetsPerSecond);

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

/** The figures of a result as [label, value] rows (the table, and the HTML table). */
export function resultRows(r: BenchResult): [string, string][] {
  const rows: [string, string][] = [
    ['packets/s (total)', fmt(r.packetsPerSecond)],
    ...r.perQueue.map((q): [string, string] => [`packets/s (queue ${q.queue})`, fmt(q.packetsPerSecond)]),
    ['ns per packet (per queue)', r.nsPerPacket.toFixed(1)],
    ['lookups per packet', r.lookupsPerPacket.toFixed(2)],
    ['flow cache hit rate', `${(r.flowCache.hitRate * 100).toFixed(1)} %`],
    ['flow cache hits checked', `${(r.flowCache.checkRate * 100).toFixed(2)} %`],
    ['batch latency p50 / p99 (us)', `${r.batchLatencyUs.p50.toFixed(1)} / ${r.batchLatencyUs.p99.toFixed(1)}`],
    ['control ops/s (asked / achieved)', `${fmt(r.control.requestedOpsPerSecond)} / ${fmt(r.control.achievedOpsPerSecond)}`],
    ['packets (transmitted / passed)', `${fmt(r.packets.transmitted)} / ${fmt(r.packets.passed)}`],
    ...Object.entries(r.packets.dropped).map(([k, v]): [string, string] => [`dropped: ${k}`, fmt(v)]),
    ['table bytes per state / per policy', `${r.memory.bytesPerState.toFixed(0)} / ${r.memory.bytesPerPolicy.toFixed(0)}`],
  ];
  if (r.order !== undefined) {
    const pct = (x: number) => `${(x * 100).toFixed(2)} %`;
    rows.push(['sequence numbers behind the highest sent (max / p99)', `${fmt(r.order.maxBehind)} / ${fmt(r.order.p99Behind)}`]);
    rows.push(['dropped by a peer window of 32 / 64 / 1024', `${pct(r.order.peerDrops.w32)} / ${pct(r.order.peerDrops.w64)} / ${pct(r.order.peerDrops.w1024)}`]);
  }
  return rows;
}

function describe(r: BenchResult): string {
  const p = r.params;
  const ablate = p.ablate.length > 0 ? `, ablate ${p.ablate.join(',')}` : '';
  // What the scenario really installs (bench-scenarios.ts), not the options it ignores.
  const [policies, states] =
    p.scenario === 'crypto' ? [1, 1] : p.scenario === 'one-policy-many-states' ? [1, p.states] : p.scenario === 'many-policies-many-states' ? [p.policies, p.states] : [p.policies, p.policies];
  const prefixed = p.prefixed > 0 ? ` + ${fmt(p.prefixed)} prefixed` : '';
  const count = (n: number, one: string, many: string) => `${fmt(n)} ${n === 1 ? one : many}`;
  return `${r.scenario}: ${p.queues} queues, ${count(policies, 'policy', 'policies')}${prefixed}, ${count(states, 'state', 'states')}, ${p.cipher} (${p.cryptoBackend}), ${p.packetSize} B${p.family === 6 ? ' IPv6' : ''}, ${fmt(p.flows)} flows, churn ${fmt(p.churn)}/s, ${p.duration} s${ablate}`;
}

function machine(): string {
  return `node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`;
}

/** The result as a text table. */
export function formatTable(r: BenchResult): string {
  const rows = resultRows(r);
  const w = Math.max(...rows.map(([k]) => k.length));
  return [describe(r), `machine: ${machine()}`, ...rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`)].join('\n') + '\n';
}

/**
 * The --compare ratio table: per ablation, the medians of its pairs' packets/s and control
 * ops/s and of their ratios; with several pairs, the lowest and highest packets/s ratio too.
 */
export function formatCompare(rows: CompareRow[]): string {
  const several = rows.some((c) => c.pairs.length > 1);
  const head = ['ablation', 'packets/s with', 'packets/s without', 'ratio', ...(several ? ['pairs: lowest-highest'] : []), 'control ops/s with', 'without', 'ratio'];
  const lines = rows.map((c) => {
    const m = (f: (p: ComparePair) => number) => median(c.pairs.map(f));
    const ratios = c.pairs.map(packetRatio);
    return [
      c.ablation,
      fmt(m((p) => p.base.packetsPerSecond)),
      fmt(m((p) => p.ablated.packetsPerSecond)),
      median(ratios).toFixed(3),
      ...(several ? [`${Math.min(...ratios).toFixed(3)}-${Math.max(...ratios).toFixed(3)} (${ratios.length})`] : []),
      fmt(m((p) => p.base.control.achievedOpsPerSecond)),
      fmt(m((p) => p.ablated.control.achievedOpsPerSecond)),
      m((p) => p.ablated.control.achievedOpsPerSecond / Math.max(1, p.base.control.achievedOpsPerSecond)).toFixed(3),
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const row = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [
    `${describe(rows[0].pairs[0].base)} ("with" = the optimisation on; "without" = its "before" design${several ? '; medians of interleaved pairs' : ''})`,
    `machine: ${machine()}`,
    row(head),
    ...lines.map(row),
  ].join('\n') + '\n';
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** An SVG line chart of throughput over time with the churn rate overlaid (right axis). */
function chart(r: BenchResult): string {
  const W = 720;
  const H = 260;
  const pad = 70;
  const t = r.timeline;
  if (t.length === 0) return '<p>(run too short for a timeline)</p>';
  const tMax = Math.max(...t.map((p) => p.t), 0.001);
  const yMax = Math.max(...t.map((p) => p.packetsPerSecond), 1);
  const cMax = Math.max(...t.map((p) => p.controlOpsPerSecond), 1);
  const x = (v: number) => pad + (v / tMax) * (W - 2 * pad);
  const y = (v: number, max: number) => H - pad + (-v / max) * (H - 2 * pad);
  const line = (pick: (p: BenchResult['timeline'][number]) => number, max: number) => t.map((p) => `${x(p.t).toFixed(1)},${y(pick(p), max).toFixed(1)}`).join(' ');
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" role="img" aria-label="throughput and churn over time">
  <rect x="0" y="0" width="${W}" height="${H}" fill="#fff"/>
  <line x1="${pad}" y1="${H - pad}" x2="${W - pad}" y2="${H - pad}" stroke="#888"/>
  <line x1="${pad}" y1="${pad}" x2="${pad}" y2="${H - pad}" stroke="#888"/>
  <line x1="${W - pad}" y1="${pad}" x2="${W - pad}" y2="${H - pad}" stroke="#888"/>
  <text x="${pad}" y="${pad - 10}" font-size="12" fill="#1565c0">packets/s (max ${fmt(yMax)})</text>
  <text x="${W - pad}" y="${pad - 10}" font-size="12" fill="#c62828" text-anchor="end">churn ops/s (max ${fmt(cMax)})</text>
  <text x="${W / 2}" y="${H - 15}" font-size="12" text-anchor="middle">seconds (0 to ${tMax.toFixed(1)})</text>
  ${[0, 0.5, 1]
    .map(
      (f) => `<line x1="${pad}" y1="${y(f * yMax, yMax)}" x2="${W - pad}" y2="${y(f * yMax, yMax)}" stroke="#eee"/>
  <text x="${pad - 4}" y="${y(f * yMax, yMax) + 4}" font-size="10" fill="#1565c0" text-anchor="end">${fmt(f * yMax)}</text>
  <text x="${W - pad + 4}" y="${y(f * cMax, cMax) + 4}" font-size="10" fill="#c62828">${fmt(f * cMax)}</text>`,
    )
    .join('\n  ')}
  <polyline fill="none" stroke="#1565c0" stroke-width="2" points="${line((p) => p.packetsPerSecond, yMax)}"/>
  <polyline fill="none" stroke="#c62828" stroke-width="1.5" stroke-dasharray="4 3" points="${line((p) => p.controlOpsPerSecond, cMax)}"/>
</svg>`;
}

/** A self-contained HTML report of a run (and of a comparison, if any). */
export function htmlReport(r: BenchResult, compare?: CompareRow[]): string {
  const rows = resultRows(r)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join('\n');
  const params = Object.entries(r.params)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(Array.isArray(v) ? v.join(', ') || '(none)' : String(v))}</td></tr>`)
    .join('\n');
  const cmp =
    compare === undefined
      ? ''
      : `<h2>Ablations</h2><pre>${esc(formatCompare(compare))}</pre>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>dataplane-bench: ${esc(r.scenario)}</title>
<style>body{font-family:system-ui,sans-serif;margin:2em;color:#222}table{border-collapse:collapse}th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}td{font-variant-numeric:tabular-nums}</style>
</head><body>
<h1>dataplane-bench: ${esc(r.scenario)}</h1>
<p>${esc(describe(r))}<br>machine: ${esc(machine())}<br>${esc(new Date().toISOString())}</p>
<h2>Throughput and churn over time</h2>
${chart(r)}
<h2>Results</h2>
<table>${rows}</table>
${cmp}
<h2>Parameters</h2>
<table>${params}</table>
</body></html>
`;
}
