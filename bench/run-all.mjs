// Runs every micro-benchmark and prints Markdown tables (docs/PERFORMANCE.md takes them).
// Usage: pnpm bench [--quick] [--runs N] [--only hash,tables,spd,sad,crypto]
// (N runs: each task's median ns/op per run, then the median of those)
import os from 'node:os';
import { parseArgs } from 'node:util';
import { hashBench } from './hash.bench.mjs';
import { tablesBench } from './tables.bench.mjs';
import { policyBench, stateBench } from './xfrm.bench.mjs';
import { cryptoBench } from './crypto.bench.mjs';
import { printRows } from './harness.mjs';

const { values } = parseArgs({ options: { quick: { type: 'boolean' }, runs: { type: 'string', default: '1' }, only: { type: 'string' } } });
const runs = Number(values.runs);
if (!(Number.isInteger(runs) && runs >= 1 && runs <= 50)) throw new Error(`--runs must be 1..50, got ${values.runs}`);
const opts = values.quick ? { time: 100, warmupTime: 30 } : { time: 500, warmupTime: 200 };

function medianRows(all) {
  return all[0].map((row, i) => {
    const ns = all.map((rows) => rows[i].nsPerOp).sort((a, b) => a - b);
    const nsPerOp = ns[Math.floor(ns.length / 2)];
    return { ...row, nsPerOp, opsPerSec: 1e9 / nsPerOp, rme: Math.max(...all.map((rows) => rows[i].rme)) };
  });
}

async function repeated(fn) {
  const all = [];
  for (let r = 0; r < runs; r++) all.push(await fn());
  return medianRows(all);
}

const only = values.only?.split(',');
const want = (name) => only === undefined || only.includes(name);
console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}, ${runs} run(s)`);
if (want('hash')) printRows('Seeded hash, per key', await repeated(() => hashBench(opts)));
if (want('tables')) printRows('Shared hash table, IPv4 5-tuple keys', await repeated(() => tablesBench(opts, values.quick ? [1_000, 100_000] : undefined)));
if (want('spd')) printRows('SPD lookup, IPv4 policies, one direction', await repeated(() => policyBench(opts, values.quick)));
if (want('sad')) printRows('SAD add and delete', await repeated(() => stateBench(opts, values.quick)));
if (want('crypto')) printRows('AEAD seal per ESP packet (16-byte ICV)', await repeated(() => cryptoBench(opts)));
