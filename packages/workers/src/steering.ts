/**
 * Queue steering, as a NIC's RSS does it: a seeded hash of the flow picks the queue of a plain
 * packet, and the SPI picks the queue of an inbound ESP packet, so that every SA's replay
 * window is written by one queue only. Runs on the thread that submits packets; thread-local.
 */
import { FLOW_WORDS, IPPROTO, NATT_PORT, getWord, newIpInfo, parseIp, randomSeed, writePacketFlow, xxh32Words } from '@xfrm/core';

/** Picks a queue for each packet. */
export class Steering {
  private readonly flow = new Int32Array(FLOW_WORDS);
  private readonly spi = new Int32Array(1);
  private readonly info = newIpInfo();
  private readonly seed = randomSeed();

  constructor(readonly queues: number) {}

  /** The queue for the packet `b[off .. off+len)`. A packet that does not parse goes to queue 0 (to be dropped and counted there). */
  queueOf(b: Uint8Array, off: number, len: number): number {
    if (this.queues === 1 || !parseIp(b, off, len, this.info)) return 0;
    const info = this.info;
    const h = off + info.headerLength;
    let spiAt = -1;
    if (info.proto === IPPROTO.ESP && info.totalLength - info.headerLength >= 4) spiAt = h;
    else if (
      info.proto === IPPROTO.UDP &&
      info.totalLength - info.headerLength >= 12 &&
      ((b[h + 2] << 8) | b[h + 3]) === NATT_PORT &&
      getWord(b, h + 8) !== 0
    ) {
      spiAt = h + 8;
    }
    if (spiAt >= 0) {
      this.spi[0] = getWord(b, spiAt);
      return (xxh32Words(this.spi, 0, 1, this.seed) >>> 0) % this.queues;
    }
    writePacketFlow(b, off, info, this.flow, 0);
    return (xxh32Words(this.flow, 0, FLOW_WORDS, this.seed) >>> 0) % this.queues;
  }
}
