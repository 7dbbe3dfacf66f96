// The dataplane figures of docs/PERFORMANCE.md: runs dataplane-bench (--json) over the
// configurations below, several times each, and prints Markdown tables of the medians.
// Usage: node bench/dataplane-matrix.mjs [scenarios|matrix|flows|ablations|control] ...
// (no argument: all). Takes about a quarter of an hour on 2 cores.
import { execFileSync } from 'node:child_process';
import os from 'node:os';

const BIN = new URL('../packages/cli/dist/dataplane-bench.js', import.meta.url).pathname;
const want = process.argv.slice(2);
const on = (name) => want.length === 0 || want.includes(name);

function bench(args) {
  return JSON.parse(execFileSync(process.execPath, [BIN, ...args, '--json'], { encoding: 'utf8', maxBuffer: 1 << 26 }));
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

/** Run `args` `runs` times; the median of each figure `pick` extracts. */
function medians(args, runs, pick) {
  const results = Array.from({ length: runs }, () => pick(bench(args)));
  return Object.fromEntries(Object.keys(results[0]).map((k) => [k, median(results.map((r) => r[k]))]));
}

console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}`);

if (on('scenarios')) {
  console.log('\n### Scenarios (defaults: 2 queues, 1000 policies, 1000 states, aes-gcm-128 on the native backend, 64 B, 1024 flows, churn 1000/s, 5 s; medians of 5 runs)\n');
  console.log('| command | packets/s | per queue | ns/packet | lookups/packet | cache hits | batch p50 / p99 (us) | control ops/s asked / achieved | bytes/state | bytes/policy |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const args of [[], ['one-policy-many-states'], ['many-policies-many-states', '--states', '4000'], ['lookup'], ['crypto'], ['crypto', '--crypto-backend', 'node'], ['crypto', '--crypto-backend', 'noble']]) {
    const m = medians(args, 5, (r) => ({
      pps: r.packetsPerSecond,
      q: r.packetsPerSecond / r.perQueue.length,
      ns: r.nsPerPacket,
      lk: r.lookupsPerPacket,
      hit: r.flowCache.hitRate,
      p50: r.batchLatencyUs.p50,
      p99: r.batchLatencyUs.p99,
      asked: r.control.requestedOpsPerSecond,
      ctl: r.control.achievedOpsPerSecond,
      bs: r.memory.bytesPerState,
      bp: r.memory.bytesPerPolicy,
    }));
    console.log(`| \`dataplane-bench ${args.join(' ')}\` | ${fmt(m.pps)} | ${fmt(m.q)} | ${fmt(m.ns)} | ${m.lk.toFixed(2)} | ${(m.hit * 100).toFixed(1)} % | ${m.p50.toFixed(0)} / ${m.p99.toFixed(0)} | ${fmt(m.asked)} / ${fmt(m.ctl)} | ${fmt(m.bs)} | ${fmt(m.bp)} |`);
  }
}

if (on('matrix')) {
  console.log('\n### Packets/s by queues, cipher, packet size and churn (many-policies, noble, 1024 flows, 2 s; medians of 3 runs)\n');
  console.log('| queues | cipher | packet | no churn: total | per queue | churn 1000/s: total | per queue |');
  console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const q of [1, 2])
    for (const cipher of ['null', 'aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305'])
      for (const size of [64, 1400]) {
        const base = ['many-policies', '--queues', String(q), '--cipher', cipher, '--packet-size', String(size), '--duration', '2'];
        const a = medians([...base, '--churn', '0'], 3, (r) => ({ pps: r.packetsPerSecond }));
        const b = medians([...base, '--churn', '1000'], 3, (r) => ({ pps: r.packetsPerSecond }));
        console.log(`| ${q} | ${cipher} | ${size} B | ${fmt(a.pps)} | ${fmt(a.pps / q)} | ${fmt(b.pps)} | ${fmt(b.pps / q)} |`);
      }
}

if (on('flows')) {
  console.log('\n### Flow cache: hits, misses, and no cache (2 queues, no churn, 64 B, 2 s; medians of 3 runs)\n');
  console.log('| scenario | flows | flow cache | packets/s | hit rate | lookups/packet |');
  console.log('| --- | ---: | --- | ---: | ---: | ---: |');
  for (const sc of [['lookup'], ['many-policies']])
    for (const [flows, ablate] of [['1024', ''], ['1000000', ''], ['1024', 'no-flowcache']]) {
      const args = [...sc, '--flows', flows, '--churn', '0', '--duration', '2', ...(ablate ? ['--ablate', ablate] : [])];
      const m = medians(args, 3, (r) => ({ pps: r.packetsPerSecond, hit: r.flowCache.hitRate, lk: r.lookupsPerPacket }));
      console.log(`| ${sc[0]} | ${fmt(Number(flows))} | ${ablate ? 'off (ablated)' : 'on'} | ${fmt(m.pps)} | ${(m.hit * 100).toFixed(1)} % | ${m.lk.toFixed(2)} |`);
    }
}

function ablationTable(title, args, which, reps) {
  console.log(`\n### ${title}\n`);
  console.log('| ablation | packets/s with | without | ratio | control ops/s with | without | ratio |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const a of which) {
    const rows = bench([...args, '--compare', '--ablate', a, '--runs', String(reps)]).compare[0].pairs;
    const pick = (f) => median(rows.map(f));
    const pb = pick((r) => r.base.packetsPerSecond);
    const pa = pick((r) => r.ablated.packetsPerSecond);
    const cb = pick((r) => r.base.control.achievedOpsPerSecond);
    const ca = pick((r) => r.ablated.control.achievedOpsPerSecond);
    const ratio = pick((r) => r.ablated.packetsPerSecond / r.base.packetsPerSecond);
    const cratio = pick((r) => r.ablated.control.achievedOpsPerSecond / Math.max(1, r.base.control.achievedOpsPerSecond));
    console.log(`| ${a} | ${fmt(pb)} | ${fmt(pa)} | ${ratio.toFixed(3)} | ${fmt(cb)} | ${fmt(ca)} | ${cratio.toFixed(3)} |`);
  }
}

if (on('ablations')) {
  ablationTable(
    'Ablations on the packet path (`dataplane-bench --compare --duration 3`: many-policies, 2 queues, churn 1000/s; medians of 5 interleaved pairs)',
    ['--duration', '3'],
    ['list-spd', 'flush', 'refcount', 'crypto-setup', 'eager-iv', 'no-flowcache'],
    5,
  );
}

if (on('control')) {
  ablationTable(
    'Ablations on the control plane (`dataplane-bench one-policy-many-states --compare --churn 200000 --duration 3`; medians of 3 interleaved pairs)',
    ['one-policy-many-states', '--churn', '200000', '--duration', '3'],
    ['list-spd', 'flush', 'eager-iv'],
    3,
  );
}
