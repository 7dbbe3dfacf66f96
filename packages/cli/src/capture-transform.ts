/**
 * `xfrmctl encrypt` and `decrypt`: stream a capture through the same EspEngine the dataplane
 * runs, and write what comes out as a raw-IP pcap, counting every verdict and, if asked,
 * logging one JSON line per frame (frame number, SPI, sequence number, verdict, drop reason).
 */
import { DROPPED, DROP_REASONS, DUMMY, EspEngine, IPPROTO, NATT_PORT, PASS, aeadBackend, getWord, newIpInfo, parseIp, type AeadBackendName, type Xfrm } from '@xfrm/core';
import { readCapture } from './capture-reader.js';
import { PcapWriter, type ByteSink } from './capture-writer.js';
import { ipOffset } from './link-layer.js';

/** Counts by verdict (and by drop reason, as `dropped:<reason>`). */
export type VerdictCounts = Record<string, number>;

/** Options of {@link transformCapture}. */
export interface TransformOptions {
  backend: AeadBackendName;
  /** One JSON line per frame goes here. */
  log?: ByteSink;
  /** Decrypt without the inbound policy check (keys known, inner subnets not). */
  noPolicyCheck?: boolean;
}

const info = newIpInfo();

/** SPI and sequence number of the ESP header of an IP packet (also in UDP 4500), if it has one. */
function espHeader(b: Uint8Array, off: number, len: number): { spi: number; seq: number } | undefined {
  if (!parseIp(b, off, len, info)) return undefined;
  let e = off + info.headerLength;
  if (info.proto === IPPROTO.UDP && ((b[e + 2] << 8) | b[e + 3]) === NATT_PORT) e += 8;
  else if (info.proto !== IPPROTO.ESP) return undefined;
  if (e + 8 > off + len || getWord(b, e) === 0) return undefined;
  return { spi: getWord(b, e) >>> 0, seq: getWord(b, e + 4) >>> 0 };
}

/** Run every frame of `input` through the output (encrypt) or input (decrypt) path into `output`. */
export async function transformCapture(
  xfrm: Xfrm,
  direction: 'encrypt' | 'decrypt',
  input: AsyncIterable<Buffer | Uint8Array>,
  output: ByteSink,
  opts: TransformOptions,
): Promise<VerdictCounts> {
  const engine = new EspEngine(xfrm.spd, xfrm.sad, { backend: aeadBackend(opts.backend), inboundPolicyCheck: !opts.noPolicyCheck });
  const writer = await PcapWriter.open(output);
  const out = new Uint8Array(65535 + 512);
  const counts: VerdictCounts = {};
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const notice = (serial: bigint, bits: number) => xfrm.notice(serial, bits);
  let frame = 0;
  for await (const f of readCapture(input)) {
    frame++;
    const o = ipOffset(f.linkType, f.data);
    let verdict: string;
    let esp: { spi: number; seq: number } | undefined;
    if (o < 0) {
      verdict = 'not-ip';
    } else {
      const len = f.data.length - o;
      const r = direction === 'encrypt' ? engine.output(f.data, o, len, out, 0) : engine.input(f.data, o, len, out, 0);
      engine.takeNotices(notice); // lifetimes: expire (and delete) SAs as the packets use them up
      esp = direction === 'decrypt' ? espHeader(f.data, o, len) : r >= 0 ? espHeader(out, 0, r) : undefined;
      if (r >= 0) {
        verdict = direction === 'encrypt' ? 'encrypted' : 'decrypted';
        await writer.packet(f.seconds, f.micros, out.subarray(0, r));
      } else if (r === PASS) {
        verdict = 'passed';
        await writer.packet(f.seconds, f.micros, f.data.subarray(o));
      } else if (r === DUMMY) {
        verdict = 'dummy';
      } else {
        verdict = `dropped:${DROP_REASONS[engine.lastDrop]}`;
        if (r === DROPPED && engine.acquire !== undefined) xfrm.raiseAcquire(engine.acquire);
      }
    }
    count(verdict);
    if (opts.log !== undefined) {
      const [v, reason] = verdict.split(':');
      await opts.log.write(JSON.stringify({ frame, spi: esp?.spi ?? null, seq: esp?.seq ?? null, verdict: v, reason: reason ?? null }) + '\n');
    }
  }
  return counts;
}

/** Packets dropped, over all reasons. */
export function droppedCount(counts: VerdictCounts): number {
  return Object.entries(counts).reduce((n, [k, v]) => (k.startsWith('dropped:') ? n + v : n), 0);
}

/** Counts as one line per verdict, for standard error. */
export function formatCounts(counts: VerdictCounts): string {
  const keys = Object.keys(counts).sort();
  return keys.length === 0 ? 'no packets\n' : keys.map((k) => `${k} ${counts[k]}\n`).join('');
}
