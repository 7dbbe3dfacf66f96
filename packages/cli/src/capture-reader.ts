/**
 * Streaming reader of packet captures: classic pcap (microsecond and nanosecond, either byte
 * order) and pcapng (section header, interface description, enhanced, simple and obsolete
 * packet blocks; per-interface link type and timestamp resolution). Reads the input a chunk at
 * a time, so captures of any size stream through in bounded memory.
 */

/** A captured frame. */
export interface Frame {
  /** LINKTYPE_* of the interface that captured it. */
  readonly linkType: number;
  /** Seconds since the epoch. */
  readonly seconds: number;
  /** Microseconds within the second. */
  readonly micros: number;
  readonly data: Uint8Array;
}

/** A capture that cannot be read: says what is wrong and at which byte. */
export class CaptureError extends Error {
  constructor(message: string, readonly offset: number) {
    super(`${message} (at byte ${offset})`);
    this.name = 'CaptureError';
  }
}

/** Bytes arriving in chunks, consumed from the front. */
class ByteQueue {
  private buf = Buffer.alloc(0);
  consumed = 0;

  constructor(private readonly source: AsyncIterator<Buffer | Uint8Array>) {}

  /** Make at least `n` bytes available; false at a clean end of input with none pending. */
  async need(n: number): Promise<boolean> {
    while (this.buf.length < n) {
      const next = await this.source.next();
      if (next.done) {
        if (this.buf.length === 0) return false;
        throw new CaptureError(`capture truncated: wanted ${n} bytes, ${this.buf.length} left`, this.consumed);
      }
      this.buf = this.buf.length === 0 ? Buffer.from(next.value) : Buffer.concat([this.buf, next.value]);
    }
    return true;
  }

  peek(): Buffer {
    return this.buf;
  }

  take(n: number): Buffer {
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    this.consumed += n;
    return out;
  }
}

/** Read every frame of a pcap or pcapng stream. Throws CaptureError on malformed input. */
export async function* readCapture(input: AsyncIterable<Buffer | Uint8Array>): AsyncGenerator<Frame> {
  const q = new ByteQueue(input[Symbol.asyncIterator]());
  if (!(await q.need(4))) throw new CaptureError('empty capture', 0);
  const magic = q.peek().readUInt32BE(0);
  if (magic === 0x0a0d0d0a) yield* readPcapng(q);
  else yield* readPcap(q, magic);
}

async function* readPcap(q: ByteQueue, magic: number): AsyncGenerator<Frame> {
  let le: boolean;
  let nanos: boolean;
  if (magic === 0xa1b2c3d4 || magic === 0xa1b23c4d) le = false;
  else if (magic === 0xd4c3b2a1 || magic === 0x4d3cb2a1) le = true;
  else throw new CaptureError(`not a pcap or pcapng capture (magic 0x${magic.toString(16)})`, 0);
  nanos = magic === 0xa1b23c4d || magic === 0x4d3cb2a1;
  await q.need(24);
  const h = q.take(24);
  const linkType = (le ? h.readUInt32LE(20) : h.readUInt32BE(20)) & 0xffff;
  const u32 = (b: Buffer, o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  while (await q.need(16)) {
    const r = q.take(16);
    const caplen = u32(r, 8);
    if (caplen > 0x40000) throw new CaptureError(`record of ${caplen} bytes is too long`, q.consumed - 16);
    await q.need(caplen);
    const data = Uint8Array.from(q.take(caplen));
    const frac = u32(r, 4);
    yield { linkType, seconds: u32(r, 0), micros: nanos ? Math.floor(frac / 1000) : frac, data };
  }
}

interface Interface {
  linkType: number;
  /** Timestamp units per second. */
  unitsPerSecond: bigint;
}

async function* readPcapng(q: ByteQueue): AsyncGenerator<Frame> {
  let le = true;
  let interfaces: Interface[] = [];
  while (await q.need(12)) {
    const start = q.consumed;
    const head = q.peek();
    const type = head.readUInt32LE(0) === 0x0a0d0d0a ? 0x0a0d0d0a : le ? head.readUInt32LE(0) : head.readUInt32BE(0);
    if (type === 0x0a0d0d0a) {
      const bom = head.readUInt32LE(8);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
      else throw new CaptureError('pcapng section header with a bad byte-order magic', start);
      interfaces = [];
    }
    const len = le ? head.readUInt32LE(4) : head.readUInt32BE(4);
    if (len < 12 || len % 4 !== 0 || len > 0x100000) throw new CaptureError(`pcapng block of bad length ${len}`, start);
    await q.need(len);
    const b = q.take(len);
    const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u16 = (o: number) => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    if (type === 1) {
      interfaces.push({ linkType: u16(8), unitsPerSecond: tsresol(b, 16, len - 4, u16) });
    } else if (type === 6 || type === 2 || type === 3) {
      const iface = type === 3 ? 0 : type === 6 ? u32(8) : u16(8);
      const itf = interfaces[iface];
      if (itf === undefined) throw new CaptureError(`packet for undeclared interface ${iface}`, start);
      let data: Buffer;
      let units = 0n;
      if (type === 3) {
        data = b.subarray(12, Math.min(12 + u32(8), len - 4));
      } else {
        const caplen = u32(20);
        if (28 + caplen > len - 4) throw new CaptureError('pcapng packet longer than its block', start);
        data = b.subarray(28, 28 + caplen);
        units = (BigInt(u32(12)) << 32n) | BigInt(u32(16));
      }
      const seconds = units / itf.unitsPerSecond;
      const micros = ((units % itf.unitsPerSecond) * 1_000_000n) / itf.unitsPerSecond;
      yield { linkType: itf.linkType, seconds: Number(seconds), micros: Number(micros), data: Uint8Array.from(data) };
    }
  }
}

/** The if_tsresol option of an interface description block (default: microseconds). */
function tsresol(b: Buffer, from: number, to: number, u16: (o: number) => number): bigint {
  for (let o = from; o + 4 <= to; ) {
    const code = u16(o);
    const len = u16(o + 2);
    if (code === 0) break;
    if (code === 9 && len >= 1) {
      const v = b[o + 4];
      return v & 0x80 ? 2n ** BigInt(v & 0x7f) : 10n ** BigInt(v);
    }
    o += 4 + Math.ceil(len / 4) * 4;
  }
  return 1_000_000n;
}
