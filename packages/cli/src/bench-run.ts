/**
 * One dataplane-bench run: build the scenario's tables in a Dataplane whose queues generate
 * their own traffic, churn the control plane at the asked rate while they run, sample the
 * counters, and report what was measured (the shape of `--json`).
 */
import { Dataplane, histPercentile, type DataplaneOptions, type DataplaneStats } from '@xfrm/workers';
import { type Ablation, type BenchArgs } from './bench-args.js';
import { flowPacket, planScenario } from './bench-scenarios.js';

/** What a run measured. */
export interface BenchResult {
  scenario: string;
  params: Omit<BenchArgs, 'json' | 'out' | 'help' | 'compare'>;
  packetsPerSecond: number;
  perQueue: { queue: number; packetsPerSecond: number }[];
  nsPerPacket: number;
  lookupsPerPacket: number;
  batchLatencyUs: { p50: number; p99: number };
  control: { requestedOpsPerSecond: number; achievedOpsPerSecond: number };
  packets: { submitted: number; transmitted: number; passed: number; dropped: Record<string, number> };
  /** checkRate: the share of hits checked against the shared tables (something they depend on had changed). */
  flowCache: { hits: number; misses: number; hitRate: number; checks: number; checkRate: number };
  /**
   * With --order: how far behind its SA's highest sequence number sent each packet left (the
   * largest, and the 99th percentile as a power of two), and the share of packets a peer with a
   * replay window of 32, 64 or 1024 would drop as too old, receiving them in that order.
   */
  order?: { maxBehind: number; p99Behind: number; peerDrops: { w32: number; w64: number; w1024: number } };
  memory: { bytesPerState: number; bytesPerPolicy: number };
  timeline: { t: number; packetsPerSecond: number; controlOpsPerSecond: number }[];
  seconds: number;
}

const TICK_MS = 250;

function ablations(list: Ablation[]): DataplaneOptions['ablate'] {
  const on = (a: Ablation) => list.includes(a);
  return {
    linearSpd: on('list-spd'),
    flush: on('flush'),
    refcount: on('refcount'),
    cryptoContexts: on('crypto-setup'),
    eagerIv: on('eager-iv'),
    flowCache: on('no-flowcache'),
    mapClassifier: on('map-classifier'),
  };
}

function packetsOf(s: DataplaneStats): number {
  return s.queues.reduce((a, q) => a + q.packets, 0);
}

/** The queues' counters the figures are taken from, summed: each figure counts from the end of the warm-up, as the packets do. */
function tally(s: DataplaneStats) {
  const sum = (f: (q: DataplaneStats['queues'][number]) => number) => s.queues.reduce((x, q) => x + f(q), 0);
  return {
    packets: packetsOf(s),
    transmitted: sum((q) => q.transmitted),
    passed: sum((q) => q.passed),
    drops: { ...s.drops } as Record<string, number>,
    lookups: sum((q) => q.lookups),
    hits: sum((q) => q.flowCache.hits),
    misses: sum((q) => q.flowCache.misses),
    checks: sum((q) => q.flowCache.checks),
  };
}

/** Run the scenario of `a`; `onTick(fraction)` reports progress. */
export async function runBench(a: BenchArgs, onTick: (fraction: number) => void = () => {}): Promise<BenchResult> {
  const plan = planScenario(a);
  // Traffic templates: flows spread over the queues as RSS would spread them.
  const templates: SharedArrayBuffer[] = [];
  const counts: number[] = [];
  for (let q = 0; q < a.queues; q++) {
    const mine = Math.max(1, Math.ceil((a.flows - q) / a.queues));
    const buf = new SharedArrayBuffer(mine * a.packetSize);
    const u8 = new Uint8Array(buf);
    for (let k = 0; k < mine; k++) flowPacket(plan.flow(Math.min(a.flows - 1, q + k * a.queues)), a.packetSize, u8, k * a.packetSize, a.family);
    templates.push(buf);
    counts.push(mine);
  }
  const dp = await Dataplane.create({
    queues: a.queues,
    crypto: a.cryptoBackend,
    allowNullCipher: a.cipher === 'null',
    capacities: { states: Math.max(a.states, a.policies) * 2 + 4096, policies: a.policies + a.prefixed + 4096 },
    flowCacheSize: 4096,
    ablate: ablations(a.ablate),
    generate: { templates, counts, size: a.packetSize, measureOrder: a.order },
  });
  try {
    const memory = plan.setup(dp.xfrm);
    await dp.synchronize();
    const timeline: BenchResult['timeline'] = [];
    let ops = 0;
    const zero = tally(dp.stats()); // before the go: where the figures count from if the warm-up never ended
    const start = performance.now();
    dp.go();
    const end = start + a.duration * 1000;
    let lastTick = start;
    let lastPackets = 0;
    let lastOps = 0;
    // The first fifth of the run (at most 1 s) warms the JIT and the caches: figures count
    // from the end of it, so a short run is not dominated by it.
    const warmUntil = start + Math.min(1000, (a.duration * 1000) / 5);
    let warm: { at: number; ops: number; counts: ReturnType<typeof tally> } | undefined;
    for (let now = performance.now(); now < end; now = performance.now()) {
      const due = a.churn > 0 ? Math.floor(((now - start) / 1000) * a.churn) : 0;
      const budget = performance.now() + 5; // keep the loop responsive when churn cannot keep up
      while (ops < due && performance.now() < budget) plan.op(dp.xfrm, ops++);
      dp.xfrm.epochs.reclaim();
      if (warm === undefined && now >= warmUntil) warm = { at: now, ops, counts: tally(dp.stats()) };
      if (now - lastTick >= TICK_MS) {
        const packets = packetsOf(dp.stats());
        const dt = (now - lastTick) / 1000;
        timeline.push({ t: (now - start) / 1000, packetsPerSecond: (packets - lastPackets) / dt, controlOpsPerSecond: (ops - lastOps) / dt });
        lastTick = now;
        lastPackets = packets;
        lastOps = ops;
        onTick((now - start) / (a.duration * 1000));
      }
      await new Promise((r) => setTimeout(r, 1));
    }
    const from = warm ?? { at: start, ops: 0, counts: zero };
    const w = from.counts;
    const seconds = (performance.now() - from.at) / 1000;
    const s = dp.stats();
    const t = tally(s);
    const total = t.packets - w.packets;
    const hist = s.queues.reduce((acc, q) => acc.map((v, i) => v + q.latencyHistogram[i]), new Array<number>(s.queues[0].latencyHistogram.length).fill(0));
    const p50 = histPercentile(hist, 0.5);
    const p99 = histPercentile(hist, 0.99);
    const hits = t.hits - w.hits;
    const misses = t.misses - w.misses;
    const checks = t.checks - w.checks;
    const { json: _j, out: _o, help: _h, compare: _c, ...params } = a;
    return {
      scenario: a.scenario,
      params,
      packetsPerSecond: total / seconds,
      perQueue: s.queues.map((q) => ({ queue: q.queue, packetsPerSecond: (q.packets * total) / Math.max(1, packetsOf(s)) / seconds })),
      nsPerPacket: total > 0 ? (seconds * 1e9 * a.queues) / total : 0,
      lookupsPerPacket: total > 0 ? (t.lookups - w.lookups) / total : 0,
      batchLatencyUs: { p50: p50 / 1000, p99: p99 / 1000 },
      control: { requestedOpsPerSecond: a.churn, achievedOpsPerSecond: (ops - from.ops) / seconds },
      packets: {
        submitted: total,
        transmitted: t.transmitted - w.transmitted,
        passed: t.passed - w.passed,
        dropped: Object.fromEntries(Object.entries(t.drops).map(([k, v]): [string, number] => [k, v - (w.drops[k] ?? 0)]).filter(([, v]) => v > 0)),
      },
      flowCache: { hits, misses, hitRate: hits + misses > 0 ? hits / (hits + misses) : 0, checks, checkRate: hits > 0 ? checks / hits : 0 },
      order: a.order ? orderFigures(s) : undefined,
      memory,
      timeline,
      seconds,
    };
  } finally {
    await dp.close();
  }
}

/** The --order figures from the queues' histograms (queue-layout.ts orderBucket). */
function orderFigures(s: DataplaneStats): NonNullable<BenchResult['order']> {
  const hist = s.queues.reduce((acc, q) => acc.map((v, i) => v + q.order.histogram[i]), new Array<number>(s.queues[0].order.histogram.length).fill(0));
  const total = hist.reduce((x, y) => x + y, 0);
  // A window W (a power of two) accepts distances below W: buckets up to log2(W).
  const beyond = (w: number) => (total === 0 ? 0 : hist.slice(Math.log2(w) + 1).reduce((x, y) => x + y, 0) / total);
  let seen = 0;
  let p99 = 0;
  for (let b = 0; b < hist.length; b++) {
    seen += hist[b];
    if (seen >= 0.99 * total) {
      p99 = b === 0 ? 0 : 2 ** b - 1; // the bucket's largest distance
      break;
    }
  }
  return { maxBehind: Math.max(...s.queues.map((q) => q.order.maxBehind)), p99Behind: p99, peerDrops: { w32: beyond(32), w64: beyond(64), w1024: beyond(1024) } };
}
