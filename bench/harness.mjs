// Micro-benchmark harness over tinybench. Each task does `batch` operations per call, so
// timer overhead is spread over many operations; ns/op is the median call time / batch.
import { Bench } from 'tinybench';

/**
 * Run tasks ({ name, batch, fn, beforeEach?, afterEach? }) and return rows of
 * { name, nsPerOp, opsPerSec, rme, samples } in task order.
 */
export async function measure(tasks, { time = 300, warmupTime = 100 } = {}) {
  const bench = new Bench({ time, warmupTime });
  for (const t of tasks) bench.add(t.name, t.fn, { beforeEach: t.beforeEach, afterEach: t.afterEach });
  await bench.run();
  return bench.tasks.map((task, i) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`benchmark ${task.name} ${r.state}: ${r.error ?? ''}`);
    const nsPerOp = (r.latency.p50 * 1e6) / tasks[i].batch;
    return { name: task.name, nsPerOp, opsPerSec: 1e9 / nsPerOp, rme: r.latency.rme, samples: r.latency.samplesCount };
  });
}

/** Print rows as a Markdown table. */
export function printRows(title, rows) {
  console.log(`\n### ${title}\n`);
  console.log('| task | ns/op (median) | ops/s | ±% (worst run) | samples (per run) |');
  console.log('| --- | ---: | ---: | ---: | ---: |');
  for (const r of rows) {
    console.log(
      `| ${r.name} | ${r.nsPerOp.toFixed(1)} | ${Math.round(r.opsPerSec).toLocaleString('en-US')} | ${r.rme.toFixed(1)} | ${r.samples} |`,
    );
  }
}

/** A small deterministic PRNG (xorshift32) so runs are comparable. */
export function xorshift(seed) {
  let s = seed | 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return s >>> 0;
  };
}
