// The addon's packet I/O against the kernel, inside a network namespace made for the test:
// a multi-queue TUN device both ways, and ESP-in-UDP sockets whose SPI steering sends every
// SPI to socket SPI mod n, with each datagram handed over as a whole IP packet.
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { namespaceSuite, withNamespaces } from '../../bench/gateway-topology.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const child = fileURLToPath(new URL('./io-child.mjs', import.meta.url));

const suite = namespaceSuite('native packet I/O (in a network namespace)');

describe.runIf(suite.run)(suite.title, () => {
  it('TUN queues read and write packets; UDP sockets are steered by SPI and give whole IP packets', async () => {
    const out = await withNamespaces('xio', 1, async ([ns]) => {
      const { stdout } = await promisify(execFile)('ip', ['netns', 'exec', ns, process.execPath, child], { cwd: root });
      return JSON.parse(stdout);
    });
    expect(out.tunFds).toBe(2);
    expect(out.tunRead).toEqual(Array.from({ length: 8 }, (_, i) => ({ dst: '10.9.0.2', dport: 7000 + i, data: `hello ${i}` })));
    expect(out.tunWrite).toBe(1);
    expect(out.tunReceived).toEqual({ data: 'back!', from: '10.9.0.2', port: 8000 });
    // SPI s on socket s mod 4; the keepalive (too short for an SPI) on socket 0.
    out.udpBySocket.forEach((list: { spi: number }[], q: number) => {
      const spis = list.map((d) => d.spi).filter((s) => s >= 0);
      expect(spis).toEqual([0, 1, 2].map((k) => k * 4 + q));
    });
    expect(out.udpBySocket[0].filter((d: { len: number }) => d.len === 29)).toHaveLength(1);
    for (const d of out.udpBySocket.flat()) {
      expect(d).toMatchObject({ ver: 4, proto: 17, src: '127.0.0.1', sport: out.peerPort, dport: 4500 });
      expect(d.udpLen).toBe(d.len - 20);
    }
    expect(out.udpSent).toBe(1);
    expect(out.udpReceived).toEqual({ data: 'esp...', port: 4500 });
    // A gateway Dataplane: the TUN device up with the default MTU for an IPv4 local address, submitted packets refused, the device gone after close().
    expect(out.gatewayMtu).toBe('1438');
    expect(out.gatewayProcess).toMatch(/this dataplane is a gateway \(io\)/);
    expect(out.gatewayGone).toBe(true);
  });
});
