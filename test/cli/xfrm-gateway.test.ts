// xfrm-gateway end to end: two gateways in two network namespaces joined by a veth pair,
// each with a TUN device for its protected subnet. Traffic between the subnets crosses the
// veth only as ESP in UDP: a TCP transfer arrives intact (SHA-256 compared), UDP datagrams of
// every size are echoed back, and the gateways' own counters agree. Namespaces, devices and
// processes are removed even when the test fails.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { canMakeNamespaces, withNamespaces } from '../native/netns.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const gatewayBin = join(root, 'packages/cli/dist/xfrm-gateway.js');
const traffic = fileURLToPath(new URL('./gateway-traffic.mjs', import.meta.url));

const AEADS = {
  'aes-gcm-128': "aead 'rfc4106(gcm(aes))' 0x" + '11'.repeat(16) + '01020304 128',
  'chacha20-poly1305': "aead 'rfc7539esp(chacha20,poly1305)' 0x" + '22'.repeat(32) + '05060708 128',
};

interface Net {
  /** Outer (veth) addresses, their prefix length, the encap's "original address" placeholder. */
  outer: { a: string; b: string; len: number; oa: string };
  /** Inner subnets, each side's TUN address (with prefix) and the server's address. */
  inner: { a: string; b: string };
  tun: { a: string; b: string };
  server: string;
}

const NETS: Record<'v4' | 'v6', Net> = {
  v4: {
    outer: { a: '192.0.2.1', b: '192.0.2.2', len: 24, oa: '0.0.0.0' },
    inner: { a: '10.1.0.0/16', b: '10.2.0.0/16' },
    tun: { a: '10.1.0.1/16', b: '10.2.0.1/16' },
    server: '10.2.0.1',
  },
  v6: {
    outer: { a: '2001:db8:ff::1', b: '2001:db8:ff::2', len: 64, oa: '::' },
    inner: { a: 'fd00:1::/64', b: 'fd00:2::/64' },
    tun: { a: 'fd00:1::1/64', b: 'fd00:2::1/64' },
    server: 'fd00:2::1',
  },
};

/** One side's configuration: its outbound SA and policy, and the inbound ones of the other side. */
function config(me: 'a' | 'b', aead: string, net: Net): string {
  const addr = net.outer;
  const inner = net.inner;
  const spi = { a: '0x1001', b: '0x2002' }; // the SPI of the SA that leaves each side
  const peer = me === 'a' ? 'b' : 'a';
  const sa = (from: 'a' | 'b', to: 'a' | 'b') =>
    `ip xfrm state add src ${addr[from]} dst ${addr[to]} proto esp spi ${spi[from]} reqid ${from === 'a' ? 1 : 2} mode tunnel ${aead} replay-window 128 encap espinudp 4500 4500 ${addr.oa}`;
  const pol = (dir: string, from: 'a' | 'b', to: 'a' | 'b') =>
    `ip xfrm policy add src ${inner[from]} dst ${inner[to]} dir ${dir} tmpl src ${addr[from]} dst ${addr[to]} proto esp reqid ${from === 'a' ? 1 : 2} mode tunnel`;
  return [sa(me, peer), sa(peer, me), pol('out', me, peer), pol('in', peer, me)].join('\n') + '\n';
}

/** Wait until `child` printed `text` on the stream (or fail with what it said). */
function waitFor(child: ChildProcess, stream: 'stdout' | 'stderr', text: string, ms = 15000): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for '${text}'; got: ${seen}`)), ms);
    child[stream]!.on('data', (d) => {
      seen += d;
      if (seen.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before '${text}': ${seen}`)));
  });
}

/** One request on a gateway's control socket. */
function control(path: string, line: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = connect(path, () => c.write(`${line}\n`));
    let out = '';
    c.on('data', (d) => {
      out += d;
      if (out.endsWith('\n')) {
        c.end();
        resolve(out.trim());
      }
    });
    c.on('error', reject);
  });
}

const ip = (...args: string[]) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

describe.runIf(canMakeNamespaces() || process.env.CI)('xfrm-gateway between two namespaces', () => {
  for (const [name, crypto, family] of [
    ['aes-gcm-128', 'native', 'v4'],
    ['chacha20-poly1305', 'node', 'v4'],
    ['aes-gcm-128', 'native', 'v6'],
  ] as const) {
    it(`${name} on ${crypto}, IP${family} inside and out: 16 MiB of TCP arrive intact, 200 UDP datagrams come back, counters agree`, async () => {
      const net = NETS[family];
      const dir = mkdtempSync(join(tmpdir(), 'xgw-'));
      const children: ChildProcess[] = [];
      try {
        await withNamespaces('xgw', 2, async ([na, nb]) => {
          ip('link', 'add', 'xva', 'netns', na, 'type', 'veth', 'peer', 'name', 'xvb', 'netns', nb);
          // nodad: an IPv6 address is usable at once (no duplicate address detection wait).
          const v6 = family === 'v6' ? ['nodad'] : [];
          ip('-n', na, 'addr', 'add', `${net.outer.a}/${net.outer.len}`, 'dev', 'xva', ...v6);
          ip('-n', nb, 'addr', 'add', `${net.outer.b}/${net.outer.len}`, 'dev', 'xvb', ...v6);
          ip('-n', na, 'link', 'set', 'xva', 'up');
          ip('-n', nb, 'link', 'set', 'xvb', 'up');
          const start = (ns: string, me: 'a' | 'b') => {
            writeFileSync(join(dir, `${me}.conf`), config(me, AEADS[name], net));
            const child = spawn('ip', [
              'netns', 'exec', ns, process.execPath, gatewayBin,
              '-c', join(dir, `${me}.conf`),
              '--local', net.outer[me],
              '--tun', 'xg0',
              '--tun-address', net.tun[me],
              '--queues', '2',
              '--crypto-backend', crypto,
              '--control', join(dir, `${me}.sock`),
            ]);
            children.push(child);
            return waitFor(child, 'stderr', 'xfrm-gateway: 4 lines');
          };
          await Promise.all([start(na, 'a'), start(nb, 'b')]);
          ip('-n', na, 'route', 'add', net.inner.b, 'dev', 'xg0');
          ip('-n', nb, 'route', 'add', net.inner.a, 'dev', 'xg0');
          const server = spawn('ip', ['netns', 'exec', nb, process.execPath, traffic, 'server', net.server]);
          children.push(server);
          await waitFor(server, 'stdout', 'ready');
          const out = JSON.parse(execFileSync('ip', ['netns', 'exec', na, process.execPath, traffic, 'client', net.server, '16'], { encoding: 'utf8' }));
          expect(out.tcp.bytes).toBe(16 * 1024 * 1024);
          expect(out.tcp.sha256).toBe(out.tcp.sentSha256);
          expect(out.udpEchoed).toBe(200);
          // Every packet that crossed was ESP: the gateways counted them, and dropped nothing.
          const a = JSON.parse(await control(join(dir, 'a.sock'), 'stats'));
          const b = JSON.parse(await control(join(dir, 'b.sock'), 'stats'));
          for (const s of [a, b]) {
            expect(s.drops).toEqual({});
            expect(s.queues.reduce((n: number, q: { transmitted: number }) => n + q.transmitted, 0)).toBeGreaterThan(16 * 1024 * 1024 / 1438);
          }
          // The control socket applies lines, and refuses a bad one with its reason.
          expect(await control(join(dir, 'a.sock'), 'ip xfrm state list')).toContain('spi 0x00001001');
          expect(await control(join(dir, 'a.sock'), 'ip xfrm state add nonsense')).toMatch(/^error: /);
          // SIGTERM: each gateway stops its queues, closes its sockets, removes its TUN device and control socket, and exits 0.
          server.kill('SIGTERM');
          const exits = children.slice(0, 2).map((c) => new Promise((r) => c.on('exit', r)));
          for (const c of children.slice(0, 2)) c.kill('SIGTERM');
          expect(await Promise.all(exits)).toEqual([0, 0]);
          for (const ns of [na, nb]) expect(() => ip('-n', ns, 'link', 'show', 'xg0')).toThrow();
          expect(existsSync(join(dir, 'a.sock'))).toBe(false);
        }).finally(() => {
          for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
        });
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
