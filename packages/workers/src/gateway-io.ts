/**
 * A gateway's devices, opened by the control thread before the queues start: one queue of the
 * TUN device and one ESP-in-UDP socket per dataplane queue (the sockets share the port and
 * are steered by SPI in the kernel), closed after the queues stopped. The TUN device is
 * brought up with its MTU; addresses and routes are the operator's (`ip addr`, `ip route`).
 */
import { execFileSync } from 'node:child_process';
import { type Xfrm } from '@xfrm/core';
import { requireNative } from '@xfrm/native';
import { NattKeepalive } from './natt-keepalive.js';

/** Options of a gateway's I/O (Dataplane's `io`). */
export interface GatewayIoOptions {
  /** TUN device name (made if missing, 1 to 14 characters). */
  tun: string;
  /** Local address the ESP-in-UDP sockets bind to (IPv4 or IPv6): the SAs' outer address. */
  local: string;
  /** UDP port (RFC 3948: 4500). */
  port?: number;
  /** The largest outer packet the path to the peers takes (default 1500): bigger ones are answered with ICMP "too big". */
  pathMtu?: number;
  /** Seconds between NAT-T keepalives to each peer (RFC 3948; 0: none). Default 20. */
  keepaliveSeconds?: number;
  /**
   * The TUN device's MTU. Default: 1500 less what tunnel-mode ESP in UDP adds at most
   * (outer IP header, UDP, ESP header and IV, padding and trailer, a 16-byte ICV): 1438 with
   * an IPv4 local address, 1418 with IPv6, so that encapsulated packets fit a 1500-byte path.
   */
  mtu?: number;
}

/** The open devices. */
export interface GatewayIo {
  readonly tunFds: number[];
  readonly udpFds: number[];
  readonly mtu: number;
  readonly pathMtu: number;
  /** The NAT-T keepalive timer (started by startKeepalives). */
  keepalive: NattKeepalive | undefined;
  /** Send NAT-T keepalives to the peers of `xfrm`'s SAs, as the options say. */
  startKeepalives(xfrm: Xfrm): void;
  /** Bytes of a queue's packet buffer: the MTU plus the most encapsulation adds, rounded up. */
  readonly slotBytes: number;
  close(): void;
}

/** The default TUN MTU for a local address (see GatewayIoOptions.mtu). */
export function defaultTunMtu(local: string): number {
  const room = 1500 - (local.includes(':') ? 40 : 20) - 8 - 16 - 16; // outer header, UDP, ESP header and IV, ICV
  return (room & ~3) - 2; // padding brings payload + 2 trailer bytes to a multiple of 4
}

/** Open the TUN queues and sockets for `queues` queues, and bring the device up. */
export function openGatewayIo(o: GatewayIoOptions, queues: number): GatewayIo {
  const io = requireNative('Dataplane io (a gateway)');
  const mtu = o.mtu ?? defaultTunMtu(o.local);
  const tunFds = io.tunOpen(o.tun, queues);
  let udpFds: number[] = [];
  try {
    udpFds = io.udpOpen(o.local, o.port ?? 4500, queues);
    // A longer device queue than TUN's 500: the kernel's bursts wait for a busy queue worker instead of being dropped.
    execFileSync('ip', ['link', 'set', 'dev', o.tun, 'mtu', String(mtu), 'txqueuelen', '4096', 'up'], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    for (const fd of [...tunFds, ...udpFds]) io.close(fd);
    throw e;
  }
  const gw: GatewayIo = {
    tunFds,
    udpFds,
    mtu,
    pathMtu: o.pathMtu ?? 1500,
    slotBytes: (mtu + 256 + 63) & ~63,
    keepalive: undefined,
    startKeepalives: (xfrm) => {
      const seconds = o.keepaliveSeconds ?? 20;
      if (seconds > 0) gw.keepalive = new NattKeepalive(xfrm, io, udpFds[0], o.local, seconds * 1000);
    },
    close: () => {
      gw.keepalive?.stop();
      for (const fd of [...tunFds, ...udpFds]) io.close(fd);
    },
  };
  return gw;
}
