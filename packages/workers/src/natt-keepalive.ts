/**
 * NAT-T keepalives (RFC 3948 section 2.3): a gateway sends a one-byte datagram (0xFF) from
 * its ESP-in-UDP port to each peer it has an outbound UDP-encapsulated SA to, every
 * interval, so that a NAT between them keeps its mapping while the tunnel is quiet. Runs on
 * the control thread (a timer) through the first queue's socket; a peer's keepalive reaches
 * the input path, which passes it over as not ESP.
 */
import { formatAddress, parseAddress, type State, type Xfrm } from '@xfrm/core';
import { type NativeIo } from '@xfrm/native';

/** Room for one keepalive packet (IPv6 header, UDP header, one byte). */
const SLOT = 64;
/** Packets per udpSend call (the addon's batch limit). */
const BATCH = 256;

/** The IP + UDP packet of one 0xFF from `s`'s encapsulation port to its peer (udpSend sends what follows the UDP header). */
function writeKeepalive(b: DataView, at: number, s: State): number {
  const v4 = s.dst.family === 4;
  const h = v4 ? 20 : 40;
  b.setUint8(at, v4 ? 0x45 : 0x60);
  b.setUint8(at + (v4 ? 9 : 6), 17);
  if (v4) b.setInt32(at + 16, s.dst.words[0]); // an IPv4 address is word 0 (address.ts)
  else for (let w = 0; w < 4; w++) b.setInt32(at + 24 + 4 * w, s.dst.words[w]);
  b.setUint16(at + h, s.encap!.sport);
  b.setUint16(at + h + 2, s.encap!.dport);
  b.setUint8(at + h + 8, 0xff);
  return h + 9;
}

/** The keepalive timer of a gateway. */
export class NattKeepalive {
  private readonly timer: NodeJS.Timeout;
  private readonly local: string;
  /** Keepalives sent (one per peer per interval). */
  sent = 0;

  constructor(
    private readonly xfrm: Xfrm,
    private readonly io: NativeIo,
    private readonly fd: number,
    local: string,
    intervalMs: number,
  ) {
    this.local = formatAddress(parseAddress(local)!);
    this.timer = setInterval(() => this.send(), intervalMs);
    this.timer.unref();
  }

  /** One keepalive to every peer of an outbound UDP-encapsulated SA (once per peer and port). */
  send(): void {
    const peers = new Map<string, State>();
    for (const s of this.xfrm.sad.list()) {
      const peer = formatAddress(s.dst);
      if (s.encap !== undefined && peer !== this.local) peers.set(`${peer}|${s.encap.dport}`, s);
    }
    const all = [...peers.values()];
    for (let from = 0; from < all.length; from += BATCH) {
      const chunk = all.slice(from, from + BATCH);
      const bytes = new Uint8Array(chunk.length * SLOT);
      const view = new DataView(bytes.buffer);
      const offsets = new Int32Array(chunk.length);
      const lengths = new Int32Array(chunk.length);
      chunk.forEach((s, k) => {
        offsets[k] = k * SLOT;
        lengths[k] = writeKeepalive(view, k * SLOT, s);
      });
      this.sent += this.io.udpSend(this.fd, bytes, offsets, lengths, chunk.length);
    }
  }

  stop(): void {
    clearInterval(this.timer);
  }
}
