/**
 * `xfrmctl encrypt` and `decrypt`: stream a capture through the same EspEngine the dataplane
 * runs, and write what comes out as a raw-IP pcap, counting every verdict.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { DROPPED, DROP_REASONS, DUMMY, EspEngine, PASS, aeadBackend, type Xfrm } from '@xfrm/core';
import { readCapture } from './capture-reader.js';
import { PcapWriter } from './capture-writer.js';
import { ipOffset } from './link-layer.js';

/** Counts by verdict (and by drop reason, as `dropped:<reason>`). */
export type VerdictCounts = Record<string, number>;

/** Run every frame of `input` through the output (encrypt) or input (decrypt) path. */
export async function transformCapture(xfrm: Xfrm, direction: 'encrypt' | 'decrypt', input: string, output: string, backend: 'noble' | 'node'): Promise<VerdictCounts> {
  const engine = new EspEngine(xfrm.spd, xfrm.sad, { backend: aeadBackend(backend) });
  const writer = await PcapWriter.open(createWriteStream(output));
  const out = new Uint8Array(65535 + 512);
  const counts: VerdictCounts = {};
  const count = (k: string) => (counts[k] = (counts[k] ?? 0) + 1);
  const notice = (serial: bigint, bits: number) => xfrm.notice(serial, bits);
  try {
    for await (const f of readCapture(createReadStream(input))) {
      const o = ipOffset(f.linkType, f.data);
      if (o < 0) {
        count('not-ip');
        continue;
      }
      const len = f.data.length - o;
      const r = direction === 'encrypt' ? engine.output(f.data, o, len, out, 0) : engine.input(f.data, o, len, out, 0);
      engine.takeNotices(notice); // lifetimes: expire (and delete) SAs as the packets use them up
      if (r >= 0) {
        count(direction === 'encrypt' ? 'encrypted' : 'decrypted');
        await writer.packet(f.seconds, f.micros, out.subarray(0, r));
      } else if (r === PASS) {
        count('passed');
        await writer.packet(f.seconds, f.micros, f.data.subarray(o));
      } else if (r === DUMMY) {
        count('dummy');
      } else if (r === DROPPED) {
        count(`dropped:${DROP_REASONS[engine.lastDrop]}`);
        if (engine.acquire !== undefined) xfrm.raiseAcquire(engine.acquire);
      }
    }
  } finally {
    await writer.close();
  }
  return counts;
}

/** Counts as one line per verdict, for standard error. */
export function formatCounts(counts: VerdictCounts): string {
  const keys = Object.keys(counts).sort();
  return keys.length === 0 ? 'no packets\n' : keys.map((k) => `${k} ${counts[k]}\n`).join('');
}

