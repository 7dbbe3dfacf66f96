// The gateway benchmark (issue 12; docs/PERFORMANCE.md "Two gateways"): two xfrm-gateways in
// two namespaces joined by veth (bench/gateway-topology.mjs), TCP throughput over one and
// several streams and UDP packets/s from namespace A to a server behind gateway B, with the
// plain veth path measured in the same run as the ceiling. Needs root. TCP is measured with
// iperf3 where it is installed (apt-get install iperf3; 4 s per run), else with the Node
// generator of gateway-traffic.mjs (whose own cost caps the ceiling near 1.3 Gbit/s here).
// Usage: node bench/gateway.mjs [runs=3] [MiB=256] [aead=aes-gcm-128] [crypto=native] [queues=2]
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import { TRAFFIC, twoGateways, waitFor } from './gateway-topology.mjs';

const [runs = 3, mib = 256, aead = 'aes-gcm-128', crypto = 'native', queues = 2] = process.argv.slice(2).map((v, i) => (i === 2 || i === 3 ? v : Number(v)));
const iperf = (() => {
  try {
    execFileSync('iperf3', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const fmt = (n) => Math.round(n).toLocaleString('en-US');

async function measure(gateways) {
  const t = await twoGateways({ gateways, aead, crypto, queues, tag: 'xgb' });
  try {
    const server = gateways ? t.net.server : t.net.outer.b;
    const s = t.spawnIn('b', [TRAFFIC, 'server', server]);
    await waitFor(s, 'stdout', 'ready');
    const run = (args) => JSON.parse(t.runIn('a', [TRAFFIC, ...args]));
    const tcp = async (streams) => {
      if (!iperf) {
        const r = run(['tcp', server, String(mib), String(streams)]);
        if (!r.intact) throw new Error('a TCP transfer arrived damaged');
        return r.mbitps;
      }
      const srv = spawn('ip', ['netns', 'exec', t.ns.b, 'iperf3', '-s', '-1', '-B', server]);
      await new Promise((r) => setTimeout(r, 300));
      const j = JSON.parse(execFileSync('ip', ['netns', 'exec', t.ns.a, 'iperf3', '-c', server, '-t', '4', '-P', String(streams), '-J'], { encoding: 'utf8' }));
      await new Promise((r) => (srv.exitCode === null ? srv.on('exit', r) : r()));
      return j.end.sum_received.bits_per_second / 1e6;
    };
    const row = { one: [], four: [], pps64: [], pps1400: [] };
    for (let r = 0; r < runs; r++) {
      row.one.push(await tcp(1));
      row.four.push(await tcp(4));
      row.pps64.push(run(['flood', server, '2', '64']).pps);
      row.pps1400.push(run(['flood', server, '2', '1400']).pps);
    }
    const stats = gateways ? JSON.parse(await t.control('a', 'stats')) : undefined;
    return { ...Object.fromEntries(Object.entries(row).map(([k, v]) => [k, median(v)])), drops: stats?.drops };
  } finally {
    await t.stop();
  }
}

console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}, ${new Date().toISOString()}; ${aead} on ${crypto}, ${queues} queues per gateway; medians of ${runs} runs, TCP by ${iperf ? 'iperf3 (4 s)' : `gateway-traffic.mjs (${mib} MiB)`}, 2 s UDP floods by gateway-traffic.mjs\n`);
const veth = await measure(false);
const gw = await measure(true);
console.log('| path | TCP, 1 stream | TCP, 4 streams | UDP 64 B | UDP 1400 B |');
console.log('| --- | ---: | ---: | ---: | ---: |');
for (const [name, m] of [['veth alone (ceiling)', veth], [`two xfrm-gateways, ${aead} on ${crypto}`, gw]]) {
  console.log(`| ${name} | ${fmt(m.one)} Mbit/s | ${fmt(m.four)} Mbit/s | ${fmt(m.pps64)} pkt/s | ${fmt(m.pps1400)} pkt/s |`);
}
console.log(`\ngateway / veth: TCP 1 stream ${(gw.one / veth.one).toFixed(2)}, 4 streams ${(gw.four / veth.four).toFixed(2)}; gateway A drops: ${JSON.stringify(gw.drops)}`);
