// The crypto backends in the dataplane, per queue, beside `openssl speed -evp` on the same
// machine (docs/PERFORMANCE.md "Crypto backends in the dataplane"): `dataplane-bench crypto`
// on one queue for each cipher, packet size and backend, medians of several runs.
// Usage: node bench/crypto-backends.mjs [runs=3] [seconds=2]
import { execFileSync } from 'node:child_process';
import os from 'node:os';
import { opensslNs } from './crypto.bench.mjs';

const BIN = new URL('../packages/cli/dist/dataplane-bench.js', import.meta.url).pathname;
const runs = Number(process.argv[2] ?? 3);
const seconds = String(process.argv[3] ?? 2);
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

function pps(args) {
  const r = JSON.parse(execFileSync(process.execPath, [BIN, 'crypto', '--queues', '1', '--duration', seconds, ...args, '--json'], { encoding: 'utf8' }));
  return r.packetsPerSecond;
}

console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}; medians of ${runs} runs of ${seconds} s\n`);
console.log('| cipher | packet | native | node | noble | openssl speed -evp | native / openssl |');
console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const [cipher, openssl] of [['aes-gcm-128', 'aes-128-gcm'], ['chacha20-poly1305', 'chacha20-poly1305']]) {
  for (const size of [64, 512, 1400]) {
    const cell = {};
    for (const backend of ['native', 'node', 'noble']) {
      cell[backend] = median(Array.from({ length: runs }, () => pps(['--cipher', cipher, '--packet-size', String(size), '--crypto-backend', backend])));
    }
    const ns = median(Array.from({ length: runs }, () => opensslNs(openssl, size)));
    const mbs = (p) => (p * size) / 1e6;
    const show = (p) => `${fmt(p)} pkt/s (${fmt(mbs(p))} MB/s)`;
    console.log(`| ${cipher} | ${size} B | ${show(cell.native)} | ${show(cell.node)} | ${show(cell.noble)} | ${fmt(1e9 / ns)} op/s (${fmt(size * 1e3 / ns)} MB/s) | ${((cell.native * ns) / 1e9 * 100).toFixed(0)} % |`);
  }
}
