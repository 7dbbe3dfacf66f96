// Compare this checkout's dataplane against another built checkout of the project, in one
// run on one machine: each scenario alternates between the two builds (A = the other, B =
// this one) several times and reports medians and the ratio B/A. For "what did this change
// cost": build the old commit in a worktree (git worktree add /tmp/old <rev>; cd /tmp/old;
// pnpm install; pnpm build) and run: node bench/compare-builds.mjs /tmp/old [runs] [-- ARGS ...]
// (each `--` starts one scenario's dataplane-bench arguments; none: the default set below).
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { resolve } from 'node:path';

const [other, runsArg, ...rest] = process.argv.slice(2);
const runs = Number(runsArg ?? 3);
if (!other) {
  console.error('usage: node bench/compare-builds.mjs OTHER_CHECKOUT [runs]');
  process.exit(2);
}
const bins = {
  A: resolve(other, 'packages/cli/dist/dataplane-bench.js'),
  B: new URL('../packages/cli/dist/dataplane-bench.js', import.meta.url).pathname,
};
const DEFAULT_SCENARIOS = [
  ['many-policies (default)', []],
  ['one-policy-many-states', ['one-policy-many-states']],
  ['lookup (null cipher)', ['lookup']],
  ['crypto aes-gcm-128 noble 64 B', ['crypto']],
  ['crypto aes-gcm-128 node 1400 B', ['crypto', '--crypto-backend', 'node', '--packet-size', '1400']],
];
const given = [];
for (const word of rest) {
  if (word === '--') given.push([]);
  else given.at(-1)?.push(word);
}
const SCENARIOS = given.length > 0 ? given.map((a) => [a.join(' '), a]) : DEFAULT_SCENARIOS;
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const run = (bin, args) => JSON.parse(execFileSync(process.execPath, [bin, ...args, '--duration', '3', '--json'], { encoding: 'utf8' }));

console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}, medians of ${runs} interleaved runs of 3 s`);
console.log('\n| scenario | A packets/s | B packets/s | B/A | A cache hits | B cache hits | A / B control ops/s |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [name, args] of SCENARIOS) {
  const got = { A: [], B: [] };
  const hits = { A: [], B: [] };
  const ops = { A: [], B: [] };
  for (let i = 0; i < runs; i++) {
    for (const side of ['A', 'B']) {
      const r = run(bins[side], args);
      got[side].push(r.packetsPerSecond);
      hits[side].push(r.flowCache.hitRate);
      ops[side].push(r.control.achievedOpsPerSecond);
    }
  }
  const [a, b] = [median(got.A), median(got.B)];
  const pct = (x) => `${(100 * median(x)).toFixed(1)} %`;
  const k = (x) => Math.round(median(x)).toLocaleString('en-US');
  console.log(`| ${name} | ${Math.round(a).toLocaleString('en-US')} | ${Math.round(b).toLocaleString('en-US')} | ${(b / a).toFixed(2)} | ${pct(hits.A)} | ${pct(hits.B)} | ${k(ops.A)} / ${k(ops.B)} |`);
}
