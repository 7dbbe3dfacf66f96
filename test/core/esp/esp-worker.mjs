// Worker of test/esp/threads.test.ts: attaches the sender's tables from their description,
// encrypts `count` copies of a packet, reporting a quiescent state between batches, and posts
// the ESP packets back.
import { parentPort, workerData } from 'node:worker_threads';
import { EpochReader, EspEngine, HeapView, PolicyDbView, StateDbView } from '@xfrm/core';

const { xfrm, packet, count } = workerData;
const heap = HeapView.attach(xfrm.heap);
const reader = EpochReader.register(heap, xfrm.epochs);
const engine = new EspEngine(PolicyDbView.attach(heap, xfrm.spd), StateDbView.attach(heap, xfrm.sad));
const out = new Uint8Array(2048);
const sent = [];
reader.online();
for (let i = 0; i < count; i++) {
  const n = engine.output(packet, 0, packet.length, out, 0);
  if (n > 0) sent.push(out.slice(0, n));
  if (i % 16 === 15) reader.quiescent();
}
reader.unregister();
parentPort.postMessage({ sent, drops: Array.from(engine.drops) });
