// Two xfrm-gateways in two network namespaces joined by a veth pair, each with a TUN device
// for its protected subnet: the topology of the gateway end-to-end tests
// (test/cli/xfrm-gateway.test.ts) and of the gateway benchmark (bench/gateway.mjs). Needs
// root. Everything it makes (namespaces, devices, processes, files) goes in stop(), which the
// caller must reach (finally).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Answers } from '../packages/cli/dist/gateway-client.js';

const root = fileURLToPath(new URL('..', import.meta.url));
const GATEWAY = join(root, 'packages/cli/dist/xfrm-gateway.js');
/** The traffic helper (servers and clients), run inside a namespace. */
export const TRAFFIC = join(root, 'bench/gateway-traffic.mjs');

export const AEADS = {
  'aes-gcm-128': "aead 'rfc4106(gcm(aes))' 0x" + '11'.repeat(16) + '01020304 128',
  'chacha20-poly1305': "aead 'rfc7539esp(chacha20,poly1305)' 0x" + '22'.repeat(32) + '05060708 128',
};

/** Addresses: outer (veth), inner subnets, TUN addresses, the server's inner address. */
export const NETS = {
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

const SPI = { a: 0x1001, b: 0x2002 }; // the first SA leaving each side
const REQID = { a: 1, b: 2 };

/**
 * The replay window of the gateways' SAs. One SA is shared by every queue of a gateway (each
 * TUN queue gets the flows the kernel hashes to it), so its packets leave up to a batch per
 * queue out of sequence order, more while a queue is descheduled: with strongSwan's default of
 * 32, a TCP transfer beside a burst of UDP on another queue had the peer drop 4 packets as
 * XfrmInStateSeqError (CI, once in a few runs). Per-queue SAs (pcpu-num) are the other answer.
 */
export const REPLAY_WINDOW = 1024;

/** The `ip xfrm state add` line of the SA from `from` to `to` with SPI `spi`. */
export function stateLine(net, aead, from, to, spi, replayWindow = REPLAY_WINDOW) {
  const o = net.outer;
  return `ip xfrm state add src ${o[from]} dst ${o[to]} proto esp spi ${spi} reqid ${REQID[from]} mode tunnel ${aead} replay-window ${replayWindow} encap espinudp 4500 4500 ${o.oa}`;
}

/** The `ip xfrm policy <verb>` line for traffic from `from`'s subnet to `to`'s. */
export function policyLine(net, verb, dir, from, to) {
  const o = net.outer;
  return `ip xfrm policy ${verb} src ${net.inner[from]} dst ${net.inner[to]} dir ${dir} tmpl src ${o[from]} dst ${o[to]} proto esp reqid ${REQID[from]} mode tunnel`;
}

/** One side's configuration: its outbound SA and policy, and the inbound ones from its peer. */
export function gatewayConfig(me, aead, net, replayWindow = REPLAY_WINDOW) {
  const peer = me === 'a' ? 'b' : 'a';
  return [
    stateLine(net, aead, me, peer, SPI[me], replayWindow),
    stateLine(net, aead, peer, me, SPI[peer], replayWindow),
    policyLine(net, 'add', 'out', me, peer),
    policyLine(net, 'add', 'in', peer, me),
  ].join('\n') + '\n';
}

export const ip = (...args) => execFileSync('ip', args, { stdio: ['ignore', 'ignore', 'pipe'] });

/** Why namespaces and TUN devices cannot be made here, or undefined when they can (root, iproute2, /dev/net/tun). */
export function namespaceProblem() {
  if (process.getuid?.() !== 0) return 'needs root to make network namespaces and TUN devices';
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun';
  try {
    execFileSync('ip', ['netns', 'list'], { stdio: 'ignore' });
  } catch {
    return "no 'ip netns' (iproute2)";
  }
  return undefined;
}

/**
 * Whether a suite that needs namespaces runs: everywhere they can be made, and always in CI
 * (where a missing capability must fail, not pass unseen). Elsewhere it is skipped, and says why.
 */
export function namespaceSuite(name) {
  const problem = process.env.CI ? undefined : namespaceProblem();
  if (problem !== undefined) console.warn(`skipping '${name}': ${problem}`);
  return { run: problem === undefined, title: problem === undefined ? name : `${name} (skipped: ${problem})` };
}

/**
 * Make network namespace `name` with its loopback up. No duplicate address detection: a
 * link-local address under DAD delays the first neighbour resolutions (and so the first
 * packets) by a second or more; for `family` 'v4' no IPv6 at all (no router solicitations or
 * MLD reports on its devices).
 */
export function addNamespace(name, family = 'v4') {
  ip('netns', 'add', name);
  ip('-n', name, 'link', 'set', 'lo', 'up');
  const v6 = family === 'v6' ? 'accept_dad=0' : 'disable_ipv6=1';
  for (const conf of ['all', 'default']) execFileSync('ip', ['netns', 'exec', name, 'sysctl', '-qw', `net.ipv6.conf.${conf}.${v6}`]);
}

/** Delete the namespaces (those already gone are skipped): their devices and sockets go with them. */
export function deleteNamespaces(names) {
  for (const n of names) {
    try {
      execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
    } catch {
      // not made, or already gone
    }
  }
}

/** Run `fn` with `count` fresh namespaces named `<prefix>-<pid>-<k>`, deleting them after, even when it fails. */
export async function withNamespaces(prefix, count, fn) {
  const names = Array.from({ length: count }, (_, k) => `${prefix}-${process.pid}-${k}`);
  const made = [];
  try {
    for (const n of names) {
      made.push(n);
      addNamespace(n);
    }
    return await fn(names);
  } finally {
    deleteNamespaces(made);
  }
}

/** Wait until `child` printed `text` on `stream`, or fail saying what it printed. */
export function waitFor(child, stream, text, ms = 15000) {
  return new Promise((resolve, reject) => {
    let seen = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for '${text}'; got: ${seen}`)), ms);
    child[stream].on('data', (d) => {
      seen += d;
      if (seen.includes(text)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before '${text}': ${seen}`)));
  });
}

/** One request on a control socket; resolves with its output (without the closing `ok`), or its `error: ...` line. */
export function controlRequest(path, line) {
  return new Promise((resolve, reject) => {
    const answers = new Answers(); // xfrmctl gateway's framing
    const c = connect(path, () => c.write(`${line}\n`));
    c.setEncoding('utf8');
    c.on('data', (d) => {
      const [a] = answers.push(d);
      if (a !== undefined) {
        c.end();
        resolve(a.error === undefined ? a.output.trimEnd() : `error: ${a.error}`);
      }
    });
    c.on('error', reject);
  });
}

/**
 * Build the topology and start both gateways (with `gatewayArgs` added to their command
 * lines, or `{ a: [...], b: [...] }` for one side each, and `nodeFlags` to node's, e.g.
 * --cpu-prof for a profile). `gateways: false` builds only the namespaces and the veth pair (the ceiling).
 * Returns the namespaces, helpers and stop().
 */
export async function twoGateways({ family = 'v4', aead = 'aes-gcm-128', crypto = 'native', queues = 2, gateways = true, tag = 'xgw', gatewayArgs = [], nodeFlags = [] } = {}) {
  const net = NETS[family];
  const dir = mkdtempSync(join(tmpdir(), `${tag}-`));
  const ns = { a: `${tag}-${process.pid}-a`, b: `${tag}-${process.pid}-b` };
  const children = [];
  const made = [];
  const stop = async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    deleteNamespaces(made);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    for (const side of ['a', 'b']) {
      made.push(ns[side]);
      addNamespace(ns[side], family);
    }
    ip('link', 'add', 'xva', 'netns', ns.a, 'type', 'veth', 'peer', 'name', 'xvb', 'netns', ns.b);
    for (const [side, dev] of [['a', 'xva'], ['b', 'xvb']]) {
      ip('-n', ns[side], 'addr', 'add', `${net.outer[side]}/${net.outer.len}`, 'dev', dev);
      ip('-n', ns[side], 'link', 'set', dev, 'up');
    }
    const gw = {};
    if (gateways) {
      const start = (side) => {
        writeFileSync(join(dir, `${side}.conf`), gatewayConfig(side, AEADS[aead], net));
        const child = spawn('ip', [
          'netns', 'exec', ns[side], process.execPath, ...nodeFlags, GATEWAY,
          '-c', join(dir, `${side}.conf`),
          '--local', net.outer[side],
          '--tun', 'xg0',
          '--tun-address', net.tun[side],
          '--queues', String(queues),
          '--crypto-backend', crypto,
          '--control', join(dir, `${side}.sock`),
          ...(Array.isArray(gatewayArgs) ? gatewayArgs : gatewayArgs[side] ?? []),
        ]);
        children.push(child);
        gw[side] = child;
        return waitFor(child, 'stderr', 'xfrm-gateway: 4 lines');
      };
      await Promise.all([start('a'), start('b')]);
      ip('-n', ns.a, 'route', 'add', net.inner.b, 'dev', 'xg0');
      ip('-n', ns.b, 'route', 'add', net.inner.a, 'dev', 'xg0');
    }
    /** Start a child inside a namespace (killed by stop()). */
    const spawnIn = (side, args) => {
      const child = spawn('ip', ['netns', 'exec', ns[side], process.execPath, ...args]);
      children.push(child);
      return child;
    };
    /** Run a node script inside a namespace to its end; its stdout. */
    const runIn = (side, args) => execFileSync('ip', ['netns', 'exec', ns[side], process.execPath, ...args], { encoding: 'utf8', maxBuffer: 1 << 24 });
    return {
      net,
      ns,
      dir,
      gw,
      spawnIn,
      runIn,
      control: (side, line) => controlRequest(join(dir, `${side}.sock`), line),
      socketPath: (side) => join(dir, `${side}.sock`),
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
