// Output steering through Dataplane.process(): one SA over 2 queues, SA-affine steering (the
// default: one queue encrypts the SA, in order) against flow steering (RSS: both queues).
// Usage: node bench/steering.mjs   (after pnpm build)
import os from 'node:os';
import { Dataplane } from '../packages/workers/dist/index.js';

const KEY = '0x' + '11'.repeat(16) + '0c0d0e0f';
/** A 48-byte UDP packet of flow i (10.1.x.y -> 10.2.0.1). */
const packet = (i) => {
  const p = new Uint8Array(48);
  p.set([0x45, 0, 0, 48, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 1, (i >> 8) & 255, i & 255, 10, 2, 0, 1, 0x30, 0x39, 0, 53, 0, 28]);
  return p;
};
const packets = Array.from({ length: 20000 }, (_, i) => packet(i % 4096));
console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}`);
for (const mode of ['sa', 'flow', 'sa', 'flow', 'sa', 'flow']) {
  const dp = await Dataplane.create({ queues: 2, crypto: 'node', outputSteering: mode });
  await dp.apply(`ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`);
  await dp.apply('ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel');
  await dp.process(packets.slice(0, 2000)); // warm up
  const t = performance.now();
  for (let k = 0; k < 5; k++) await dp.process(packets);
  console.log(`${mode}: ${Math.round(100_000 / ((performance.now() - t) / 1000)).toLocaleString('en-US')} packets/s through process()`);
  await dp.close();
}
