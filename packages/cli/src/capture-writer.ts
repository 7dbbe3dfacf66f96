/**
 * Writes classic pcap with the raw IP link type (LINKTYPE_RAW, 101): what `xfrmctl encrypt`
 * and `decrypt` produce. Writes as it goes, through a sink that honours backpressure and
 * reports write errors (output-file.ts).
 */

/** Where the bytes go. */
export interface ByteSink {
  write(data: Uint8Array | string): Promise<void>;
}

/** LINKTYPE_RAW: each record is an IPv4 or IPv6 packet. */
export const LINKTYPE_RAW = 101;

/** A pcap file being written. */
export class PcapWriter {
  private constructor(private readonly out: ByteSink) {}

  /** Start a capture on `out` (writes the file header). */
  static async open(out: ByteSink): Promise<PcapWriter> {
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(262144, 16);
    h.writeUInt32LE(LINKTYPE_RAW, 20);
    await out.write(h);
    return new PcapWriter(out);
  }

  /** Append one packet. */
  async packet(seconds: number, micros: number, data: Uint8Array): Promise<void> {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(seconds >>> 0, 0);
    r.writeUInt32LE(micros >>> 0, 4);
    r.writeUInt32LE(data.length, 8);
    r.writeUInt32LE(data.length, 12);
    await this.out.write(r);
    await this.out.write(Buffer.from(data));
  }
}
