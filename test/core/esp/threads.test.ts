// The packet path from worker threads: two workers encrypt with the same SA from the shared
// tables while the control thread churns unrelated states and policies; every packet
// decrypts on the receiver, and no sequence number is handed out twice.
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { getWord, applyXfrmLine } from '@xfrm/core';
import { hexOf, pair, udpPacket } from './helpers.js';

const KEY = '0x' + '33'.repeat(16) + '0a0b0c0d';
const SA = `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x4001 reqid 2 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 replay-window 4096`;
const TMPL = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 2 mode tunnel';

describe('ESP from worker threads', () => {
  it('two workers share one SA: all packets decrypt, sequence numbers are unique', async () => {
    const p = pair(
      [SA, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TMPL}`],
      [SA, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in ${TMPL}`],
    );
    const packet = udpPacket('10.1.0.1', '10.2.0.1', 100);
    const count = 3000;
    const workers = [0, 1].map(
      () => new Worker(new URL('./esp-worker.mjs', import.meta.url), { workerData: { xfrm: p.a.describe(), packet, count } }),
    );
    const results = workers.map(
      (w) => new Promise<{ sent: Uint8Array[]; drops: number[] }>((resolve, reject) => w.once('message', resolve).once('error', reject)),
    );
    // Churn that must not disturb the flow: other states and policies come and go.
    let churn = 0;
    const done = Promise.all(results);
    let finished = false;
    void done.then(() => (finished = true));
    while (!finished) {
      const spi = 0x5000 + (churn % 500);
      applyXfrmLine(p.a, `ip xfrm state add src 192.0.2.9 dst 198.51.100.9 proto esp spi ${spi} reqid 9 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`);
      applyXfrmLine(p.a, `ip xfrm policy add src 10.9.${churn % 250}.0/24 dst 10.8.0.0/16 dir out`);
      applyXfrmLine(p.a, `ip xfrm state delete dst 198.51.100.9 proto esp spi ${spi}`);
      applyXfrmLine(p.a, `ip xfrm policy delete src 10.9.${churn % 250}.0/24 dst 10.8.0.0/16 dir out`);
      p.a.epochs.reclaim();
      churn++;
      if (churn % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    const [a, b] = await done;
    expect(churn).toBeGreaterThan(10);
    expect(a.sent.length + b.sent.length).toBe(2 * count);
    const seqs = new Set([...a.sent, ...b.sent].map((pkt) => getWord(pkt, 24) >>> 0));
    expect(seqs.size).toBe(2 * count);
    expect(Math.max(...seqs)).toBe(2 * count);
    const out = new Uint8Array(2048);
    // In sequence order, so that the 4096-packet window takes them all.
    const all = [...a.sent, ...b.sent].sort((x, y) => (getWord(x, 24) >>> 0) - (getWord(y, 24) >>> 0));
    for (const pkt of all) {
      const n = p.in.input(pkt, 0, pkt.length, out, 0);
      expect(n).toBe(packet.length);
      expect(hexOf(out.subarray(0, n))).toBe(hexOf(packet));
    }
  });
});
