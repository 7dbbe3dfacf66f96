// xfrm-gateway end to end: two gateways in two network namespaces joined by a veth pair,
// each with a TUN device for its protected subnet (bench/gateway-topology.mjs), replay
// windows of 32 as strongSwan's default. Traffic between the subnets crosses the veth only as
// ESP in UDP: pings both ways; a TCP transfer arrives intact (SHA-256 compared); UDP
// datagrams of every size are echoed; a UDP overload where every datagram is either received
// or counted under a named drop somewhere on its way; a rekey and a queue worker killed under
// a running transfer that still arrives intact; a clean stop. Namespaces, devices and
// processes are removed even when a test fails.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { AEADS, TRAFFIC, namespaceSuite, policyLine, stateLine, twoGateways, waitFor } from '../../bench/gateway-topology.mjs';

const ping = fileURLToPath(new URL('../../bench/icmp-echo.py', import.meta.url));
const XFRMCTL = fileURLToPath(new URL('../../packages/cli/dist/xfrmctl.js', import.meta.url));
type Topology = Awaited<ReturnType<typeof twoGateways>>;

/** A counter of the kernel inside a namespace: a device's statistics file, or a /proc/net/snmp field. */
function kernelCounter(ns: string, what: string): number {
  if (what.startsWith('dev:')) {
    const [, dev, stat] = what.split(':');
    return Number(execFileSync('ip', ['netns', 'exec', ns, 'cat', `/sys/class/net/${dev}/statistics/${stat}`], { encoding: 'utf8' }));
  }
  const [proto, field] = what.split('.');
  const lines = execFileSync('ip', ['netns', 'exec', ns, 'cat', '/proc/net/snmp'], { encoding: 'utf8' }).split('\n').filter((l) => l.startsWith(`${proto}:`));
  const names = lines[0].split(/\s+/);
  return Number(lines[1].split(/\s+/)[names.indexOf(field)]);
}

/** Everything that counts a lost datagram on the way from A's sender to B's server, summed. */
async function lossCounters(t: Topology): Promise<number> {
  let n = 0;
  for (const side of ['a', 'b'] as const) {
    const s = JSON.parse(await t.control(side, 'stats'));
    n += Object.values(s.drops as Record<string, number>).reduce((x, y) => x + y, 0);
    for (const q of s.queues) n += q.io.socketFull + q.io.tunFull;
    for (const what of ['Udp.SndbufErrors', 'Udp.RcvbufErrors', 'dev:xg0:tx_dropped', 'dev:xg0:rx_dropped', `dev:xv${side}:tx_dropped`, `dev:xv${side}:rx_dropped`]) {
      n += kernelCounter(t.ns[side], what);
    }
  }
  return n;
}

async function withGateways(opts: Parameters<typeof twoGateways>[0], fn: (t: Topology) => Promise<void>): Promise<void> {
  const t = await twoGateways(opts);
  try {
    const server = t.spawnIn('b', [TRAFFIC, 'server', t.net.server]);
    await waitFor(server, 'stdout', 'ready');
    await fn(t);
  } finally {
    await t.stop();
  }
  // Nothing is left: no namespace (and so no device or socket in it).
  const left = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  expect(left).not.toContain(t.ns.a);
  expect(left).not.toContain(t.ns.b);
}

const suite = namespaceSuite('xfrm-gateway between two namespaces');

describe.runIf(suite.run)(suite.title, () => {
  for (const [aead, crypto, family] of [
    ['aes-gcm-128', 'native', 'v4'],
    ['chacha20-poly1305', 'node', 'v4'],
    ['aes-gcm-128', 'native', 'v6'],
    ['chacha20-poly1305', 'node', 'v6'],
  ] as const) {
    it(`${aead} on ${crypto}, IP${family} inside and out: pings, 16 MiB of TCP intact, UDP of every size echoed, counters agree, clean stop`, async () => {
      await withGateways({ family, aead, crypto, tag: 'xgw' }, async (t) => {
        const pings = (side: 'a' | 'b', to: string) => Number(execFileSync('ip', ['netns', 'exec', t.ns[side], 'python3', ping, to, '5'], { encoding: 'utf8' }));
        expect(pings('a', t.net.server)).toBe(5);
        expect(pings('b', t.net.tun.a.split('/')[0])).toBe(5);
        const out = JSON.parse(t.runIn('a', [TRAFFIC, 'client', t.net.server, '16']));
        expect(out.tcp.bytes).toBe(out.tcp.sent);
        expect(out.tcp.sha256).toBe(out.tcp.sentSha256);
        const stats = { a: JSON.parse(await t.control('a', 'stats')), b: JSON.parse(await t.control('b', 'stats')) };
        // Every size echoed (a datagram lost in a host's socket buffer is sent again: gateway-traffic.mjs).
        expect(out.udpEchoed, `missing sizes ${JSON.stringify(out.udpMissingSizes)}, resent ${out.udpResent}; gateway drops ${JSON.stringify([stats.a.drops, stats.b.drops])}`).toBe(200);
        for (const side of ['a', 'b'] as const) {
          const s = stats[side];
          expect(s.drops).toEqual({});
          expect(s.queues.reduce((n: number, q: { transmitted: number }) => n + q.transmitted, 0)).toBeGreaterThan(out.tcp.bytes / 1438);
        }
        // The control socket applies lines, and refuses a bad one with its reason.
        expect(await t.control('a', 'ip xfrm state list')).toContain('spi 0x00001001');
        expect(await t.control('a', 'ip xfrm state add nonsense')).toMatch(/^error: /);
        // SIGTERM: each gateway stops its queues, closes its sockets, removes its TUN device and control socket, and exits 0.
        const exits = (['a', 'b'] as const).map((side) => new Promise((r) => t.gw[side].on('exit', r)));
        for (const side of ['a', 'b'] as const) t.gw[side].kill('SIGTERM');
        expect(await Promise.all(exits)).toEqual([0, 0]);
        for (const side of ['a', 'b'] as const) {
          expect(() => execFileSync('ip', ['-n', t.ns[side], 'link', 'show', 'xg0'], { stdio: 'ignore' })).toThrow();
          expect(existsSync(t.socketPath(side))).toBe(false);
        }
      });
    });
  }

  it('a UDP overload: every datagram sent is received or counted under a named drop on its way', async () => {
    await withGateways({ family: 'v4', aead: 'aes-gcm-128', crypto: 'native', tag: 'xgu' }, async (t) => {
      const before = await lossCounters(t);
      const flood = JSON.parse(t.runIn('a', [TRAFFIC, 'flood', t.net.server, '1', '1400']));
      const lost = (await lossCounters(t)) - before;
      expect(flood.sent).toBeGreaterThan(10_000);
      expect(flood.received + lost).toBe(flood.sent);
    });
  });

  for (const family of ['v4', 'v6'] as const) {
    it(`IP${family}: with a TUN MTU above what the path takes encapsulated, TCP learns the tunnel's MTU from the gateway's ICMP and its transfer arrives`, async () => {
      await withGateways({ family, aead: 'aes-gcm-128', crypto: 'native', tag: 'xgm', gatewayArgs: ['--mtu', '1500'] }, async (t) => {
        const out = JSON.parse(t.runIn('a', [TRAFFIC, 'client', t.net.server, '8']));
        expect(out.tcp.sha256).toBe(out.tcp.sentSha256);
        expect(out.tcp.bytes).toBe(8 * 1024 * 1024);
        const a = JSON.parse(await t.control('a', 'stats'));
        expect(Object.keys(a.drops)).toEqual(['XfrmOutTooBig']);
        expect(a.drops.XfrmOutTooBig).toBeGreaterThan(0);
        expect(a.drops.XfrmOutTooBig).toBeLessThan(100); // answered once per path, not per packet
      });
    });
  }

  it('SIGHUP makes the tables what the file now says (a bad file changes nothing); traffic goes on', async () => {
    await withGateways({ family: 'v4', aead: 'aes-gcm-128', crypto: 'native', tag: 'xgh' }, async (t) => {
      const conf = join(t.dir, 'a.conf');
      const original = readFileSync(conf, 'utf8');
      let stderr = '';
      t.gw.a.stderr.on('data', (d: Buffer) => (stderr += d));
      const hup = async (text: string, expect: string) => {
        writeFileSync(conf, text);
        const said = waitFor(t.gw.a, 'stderr', expect);
        t.gw.a.kill('SIGHUP');
        await said;
      };
      const extra = stateLine(t.net, AEADS['chacha20-poly1305'], 'b', 'a', 0x3003);
      await hup(original + extra + '\n', 'states 1 added, 0 updated, 0 replaced, 0 deleted; policies 0 added, 0 updated, 0 deleted');
      expect(await t.control('a', 'ip xfrm state list')).toContain('spi 0x00003003');
      await hup(original + 'ip xfrm state add nonsense\n', 'reload refused, nothing changed');
      expect(stderr).toMatch(/reload: .*a\.conf:5: /);
      expect(await t.control('a', 'ip xfrm state list')).toContain('spi 0x00003003');
      // The same SA with a new selector is updated in place; the extra one goes.
      const narrowed = original.replace(/(spi 4097 reqid 1 mode tunnel .*)$/m, '$1 sel src 10.1.0.0/16 dst 10.2.0.0/16');
      await hup(narrowed, 'states 0 added, 1 updated, 0 replaced, 1 deleted; policies 0 added, 0 updated, 0 deleted');
      const out = JSON.parse(t.runIn('a', [TRAFFIC, 'client', t.net.server, '4']));
      expect(out.tcp.sha256).toBe(out.tcp.sentSha256);
    });
  });

  it('NAT-T keepalives (every second here, from gateway A only) reach the peer, which passes them over and drops nothing', async () => {
    const args = { a: ['--natt-keepalive', '1'], b: ['--natt-keepalive', '0'] };
    await withGateways({ family: 'v4', aead: 'aes-gcm-128', crypto: 'native', tag: 'xgk', gatewayArgs: args }, async (t) => {
      const passed = async (side: 'a' | 'b') => {
        const s = JSON.parse(await t.control(side, 'stats'));
        expect(s.drops).toEqual({});
        return s.queues.reduce((n: number, q: { passed: number }) => n + q.passed, 0);
      };
      // Two keepalives arrive at B within a few seconds (polled: a loaded machine may be late); A, which sends, receives none.
      for (let waited = 0; waited < 8000 && (await passed('b')) < 2; waited += 250) await new Promise((r) => setTimeout(r, 250));
      expect(await passed('b')).toBeGreaterThanOrEqual(2);
      expect(await passed('a')).toBe(0);
    });
  });

  it('a rekey (new SA pair, policy updated, old pair deleted) and a killed queue worker under a running transfer: it arrives intact', async () => {
    await withGateways({ family: 'v4', aead: 'aes-gcm-128', crypto: 'native', tag: 'xgr' }, async (t) => {
      // xfrmctl follows gateway A's events meanwhile, as `ip xfrm monitor` would.
      const monitor = spawn(process.execPath, [XFRMCTL, 'gateway', '--control', t.socketPath('a'), 'monitor']);
      let events = '';
      monitor.stdout.on('data', (d) => (events += d));
      await new Promise((r) => setTimeout(r, 200));
      const client = t.spawnIn('a', [TRAFFIC, 'client', t.net.server, '48']);
      let stdout = '';
      client.stdout!.on('data', (d) => (stdout += d));
      const done = new Promise((r) => client.on('exit', r));
      const aead = AEADS['aes-gcm-128'];
      const apply = async (side: 'a' | 'b', line: string) => expect(await t.control(side, line), line).toBe('');
      await new Promise((r) => setTimeout(r, 300)); // the transfer is under way
      // The new pair: inbound SAs first on both sides, then the outbound ones (the newest state of a reqid wins).
      await apply('b', stateLine(t.net, aead, 'a', 'b', 0x1003));
      await apply('a', stateLine(t.net, aead, 'b', 'a', 0x2004));
      await apply('a', stateLine(t.net, aead, 'a', 'b', 0x1003));
      await apply('b', stateLine(t.net, aead, 'b', 'a', 0x2004));
      await apply('a', policyLine(t.net, 'update', 'out', 'a', 'b'));
      await apply('b', policyLine(t.net, 'update', 'out', 'b', 'a'));
      expect(await t.control('a', 'debug kill-queue 0')).toBe('');
      expect(await t.control('b', 'debug kill-queue 1')).toBe('');
      await new Promise((r) => setTimeout(r, 300)); // packets of the old pair still in flight arrive
      await apply('a', `ip xfrm state delete src ${t.net.outer.a} dst ${t.net.outer.b} proto esp spi 0x1001`);
      await apply('b', `ip xfrm state delete src ${t.net.outer.a} dst ${t.net.outer.b} proto esp spi 0x1001`);
      await apply('a', `ip xfrm state delete src ${t.net.outer.b} dst ${t.net.outer.a} proto esp spi 0x2002`);
      await apply('b', `ip xfrm state delete src ${t.net.outer.b} dst ${t.net.outer.a} proto esp spi 0x2002`);
      expect(await done).toBe(0);
      const out = JSON.parse(stdout);
      expect(out.tcp.bytes).toBe(48 * 1024 * 1024);
      expect(out.tcp.sha256).toBe(out.tcp.sentSha256);
      // The new pair carried traffic, the old one is gone, and the killed workers came back.
      const a = JSON.parse(await t.control('a', 'stats'));
      expect(a.restarts).toBeGreaterThanOrEqual(1);
      const states = await t.control('a', 'ip xfrm state list');
      expect(states).not.toContain('spi 0x00001001');
      expect(states).toContain('spi 0x00001003');
      // The monitor saw each change in ip xfrm monitor's words, with keys redacted.
      monitor.kill('SIGTERM');
      expect(events).toMatch(/^src 192\.0\.2\.1 dst 192\.0\.2\.2\n\tproto esp spi 0x00001003 reqid 1 mode tunnel/m);
      expect(events).toMatch(/^Updated src 10\.1\.0\.0\/16 dst 10\.2\.0\.0\/16/m);
      expect(events).toMatch(/^Deleted src 192\.0\.2\.1 dst 192\.0\.2\.2\n\tproto esp spi 0x00001001/m);
      expect(events).toContain('0x<redacted>');
      expect(events).not.toContain('1111111111');
      // xfrmctl's one-shot requests: stats as JSON, and a refused line is exit code 1 with the reason.
      const stats = JSON.parse(execFileSync(process.execPath, [XFRMCTL, 'gateway', '--control', t.socketPath('b'), 'stats'], { encoding: 'utf8' }));
      expect(stats.queues).toHaveLength(2);
      const bad = spawnSync(process.execPath, [XFRMCTL, 'gateway', '--control', t.socketPath('b'), 'ip', 'xfrm', 'state', 'delete', 'nonsense'], { encoding: 'utf8' });
      expect(bad.status).toBe(1);
      expect(bad.stderr).toMatch(/^xfrmctl: ip xfrm state delete nonsense: /);
    });
  });
});
