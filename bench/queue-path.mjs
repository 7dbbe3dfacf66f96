// One queue's output path in this thread, without a worker or rings: a QueuePath over the
// lookup scenario (null cipher, 64 B, one SA per policy), fed in batches of 32 as a queue's
// traffic generator feeds it. For profiles and allocation counts of the packet path alone.
//
//   node bench/queue-path.mjs [--map] [--flows N] [--family 4|6]
//     ns a packet, min and median of 7 runs of 1.6M packets (--map: the JS Map classifier)
//   node --expose-gc --min-semi-space-size=256 --max-semi-space-size=256 bench/queue-path.mjs --alloc [--flows N]
//     bytes of JS heap a packet over 960k packets with no collection in between (--flows
//     1000000 for the miss path; what is left at ~4 bytes is per batch, not per packet)
import { parseArgs } from 'node:util';
import { Xfrm } from '@xfrm/core';

const root = new URL('../packages/', import.meta.url);
const { parseBenchArgs } = await import(new URL('cli/dist/bench-args.js', root));
const { planScenario, flowPacket } = await import(new URL('cli/dist/bench-scenarios.js', root));
const { QueuePath } = await import(new URL('workers/dist/queue-path.js', root));
const L = await import(new URL('workers/dist/queue-layout.js', root));

const { values: o } = parseArgs({ options: { map: { type: 'boolean' }, alloc: { type: 'boolean' }, flows: { type: 'string', default: '1024' }, family: { type: 'string', default: '4' } } });
const flows = Number(o.flows);
const args = parseBenchArgs(['lookup', '--queues', '1', '--churn', '0', '--flows', String(flows), '--family', o.family]);
const plan = planScenario(args);
const x = Xfrm.create({ heap: { maxBytes: 2 ** 30 }, allowNullCipher: true, lifetimeShares: 1, stateCapacity: 1 << 16, policyCapacity: 1 << 16 });
plan.setup(x);
const size = 64;
const templates = new Uint8Array(new SharedArrayBuffer(flows * size));
for (let k = 0; k < flows; k++) flowPacket(plan.flow(k), size, templates, k * size, args.family);
const counters = new SharedArrayBuffer(8 * L.COUNTER_LINE);
const q = new QueuePath({
  queue: 0,
  xfrm: x.describe(),
  control: new SharedArrayBuffer(4 * L.CTRL_LINE * 2),
  counters,
  notices: new SharedArrayBuffer(1 << 16),
  reader: x.epochs.claim(),
  flowCacheSize: 4096,
  backend: 'noble',
  batch: 32,
  parkTimeoutMs: 1000,
  mapClassifier: o.map,
});
q.reader.online();
const BATCH = 32;
const slot = size + 512;
const area = new Uint8Array(BATCH * slot);
let next = 0;
function run(batches) {
  for (let b = 0; b < batches; b++) {
    for (let k = 0; k < BATCH; k++) {
      q.count(q.output(templates, next * size, size, area, k * slot), size);
      next = next + 1 === flows ? 0 : next + 1;
    }
    q.reader.quiescent();
    q.publishCounters(BATCH, 0);
  }
}
run(20_000); // warm up: every flow installed, the path optimised
if (o.alloc) {
  if (globalThis.gc === undefined) throw new Error('--alloc needs node --expose-gc and a young generation that holds the run (see the file comment)');
  globalThis.gc();
  const before = process.memoryUsage().heapUsed;
  run(30_000);
  console.log(`${((process.memoryUsage().heapUsed - before) / (30_000 * BATCH)).toFixed(2)} bytes a packet (${flows} flows${o.map ? ', Map' : ''})`);
} else {
  const ns = [];
  for (let r = 0; r < 7; r++) {
    const t = process.hrtime.bigint();
    run(50_000);
    ns.push(Number(process.hrtime.bigint() - t) / (50_000 * BATCH));
  }
  ns.sort((a, b) => a - b);
  console.log(`${ns[0].toFixed(1)} ns a packet, median ${ns[3].toFixed(1)} (${flows} flows${o.map ? ', Map' : ''}; transmitted ${new Float64Array(counters)[L.C_TRANSMITTED]})`);
}
