// Runs every micro-benchmark and prints Markdown tables (docs/PERFORMANCE.md takes them).
// Usage: pnpm bench [--quick]
import os from 'node:os';
import { hashBench } from './hash.bench.mjs';
import { tablesBench } from './tables.bench.mjs';
import { printRows } from './harness.mjs';

const quick = process.argv.includes('--quick');
const opts = quick ? { time: 100, warmupTime: 30 } : { time: 500, warmupTime: 200 };
console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}`);
printRows('Seeded hash, per key', await hashBench(opts));
printRows('Shared hash table, IPv4 5-tuple keys', await tablesBench(opts, quick ? [1_000, 100_000] : undefined));
