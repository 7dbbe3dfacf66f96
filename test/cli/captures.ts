// Test-side builders of captures in every format and link type xfrmctl reads, so that no
// binary capture is committed: classic pcap (either byte order, micro or nanosecond) and
// pcapng; Ethernet (optionally 802.1Q), raw IP, Linux cooked v1 and v2.

export interface TestFrame {
  seconds: number;
  micros: number;
  data: Uint8Array;
}

export function ethernet(ip: Uint8Array, vlan = false): Uint8Array {
  const type = ip[0] >> 4 === 4 ? 0x0800 : 0x86dd;
  const hdr = vlan ? [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2, 0x81, 0x00, 0x00, 0x05] : [2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2];
  return Uint8Array.from([...hdr, type >> 8, type & 0xff, ...ip]);
}

export function sll(ip: Uint8Array): Uint8Array {
  const type = ip[0] >> 4 === 4 ? 0x0800 : 0x86dd;
  return Uint8Array.from([0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, type >> 8, type & 0xff, ...ip]);
}

export function sll2(ip: Uint8Array): Uint8Array {
  const type = ip[0] >> 4 === 4 ? 0x0800 : 0x86dd;
  return Uint8Array.from([type >> 8, type & 0xff, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, ...ip]);
}

export function pcap(linkType: number, frames: TestFrame[], opts: { bigEndian?: boolean; nanos?: boolean } = {}): Buffer {
  const le = !opts.bigEndian;
  const u32 = (b: Buffer, v: number, o: number) => (le ? b.writeUInt32LE(v, o) : b.writeUInt32BE(v, o));
  const h = Buffer.alloc(24);
  u32(h, opts.nanos ? 0xa1b23c4d : 0xa1b2c3d4, 0);
  (le ? h.writeUInt16LE.bind(h) : h.writeUInt16BE.bind(h))(2, 4);
  (le ? h.writeUInt16LE.bind(h) : h.writeUInt16BE.bind(h))(4, 6);
  u32(h, 65535, 16);
  u32(h, linkType, 20);
  const parts = [h];
  for (const f of frames) {
    const r = Buffer.alloc(16);
    u32(r, f.seconds, 0);
    u32(r, opts.nanos ? f.micros * 1000 : f.micros, 4);
    u32(r, f.data.length, 8);
    u32(r, f.data.length, 12);
    parts.push(r, Buffer.from(f.data));
  }
  return Buffer.concat(parts);
}

function block(type: number, body: Buffer): Buffer {
  const padded = Buffer.concat([body, Buffer.alloc((4 - (body.length % 4)) % 4)]);
  const b = Buffer.alloc(12 + padded.length);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(b.length, 4);
  padded.copy(b, 8);
  b.writeUInt32LE(b.length, b.length - 4);
  return b;
}

/** pcapng with one interface per entry of `linkTypes`; frames name their interface. */
export function pcapng(linkTypes: number[], frames: (TestFrame & { iface?: number })[], opts: { nanos?: boolean } = {}): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeBigInt64LE(-1n, 8);
  const parts = [block(0x0a0d0d0a, shb)];
  for (const lt of linkTypes) {
    const idb = Buffer.alloc(opts.nanos ? 20 : 8);
    idb.writeUInt16LE(lt, 0);
    idb.writeUInt32LE(65535, 4);
    if (opts.nanos) {
      idb.writeUInt16LE(9, 8); // if_tsresol
      idb.writeUInt16LE(1, 10);
      idb[12] = 9;
      // 3 bytes padding, then opt_endofopt
    }
    parts.push(block(1, idb));
  }
  parts.push(block(4, Buffer.alloc(4))); // a name resolution block, to be skipped
  for (const f of frames) {
    const units = BigInt(f.seconds) * (opts.nanos ? 1_000_000_000n : 1_000_000n) + BigInt(f.micros) * (opts.nanos ? 1000n : 1n);
    const epb = Buffer.alloc(20 + f.data.length);
    epb.writeUInt32LE(f.iface ?? 0, 0);
    epb.writeUInt32LE(Number(units >> 32n), 4);
    epb.writeUInt32LE(Number(units & 0xffffffffn), 8);
    epb.writeUInt32LE(f.data.length, 12);
    epb.writeUInt32LE(f.data.length, 16);
    Buffer.from(f.data).copy(epb, 20);
    parts.push(block(6, epb));
  }
  return Buffer.concat(parts);
}

/** The frames of a classic little-endian microsecond pcap (what xfrmctl writes). */
export function readPcapFrames(b: Buffer): { linkType: number; frames: TestFrame[] } {
  const linkType = b.readUInt32LE(20);
  const frames: TestFrame[] = [];
  for (let o = 24; o < b.length; ) {
    const len = b.readUInt32LE(o + 8);
    frames.push({ seconds: b.readUInt32LE(o), micros: b.readUInt32LE(o + 4), data: Uint8Array.from(b.subarray(o + 16, o + 16 + len)) });
    o += 16 + len;
  }
  return { linkType, frames };
}
