// What one control-plane change costs, alone on the control thread (no queues): the churn
// op() of dataplane-bench's scenarios, run back to back over the scenario's tables.
// Usage: node bench/control-ops.mjs [scenario ...]   (default: many-policies, many-policies-many-states)
import os from 'node:os';
import { Xfrm } from '../packages/core/dist/index.js';
import { parseBenchArgs } from '../packages/cli/dist/bench-args.js';
import { planScenario } from '../packages/cli/dist/bench-scenarios.js';

const scenarios = process.argv.slice(2);
console.log(`node ${process.version}, ${os.cpus()[0].model} x${os.cpus().length}`);
for (const sc of scenarios.length > 0 ? scenarios : ['many-policies', 'many-policies-many-states']) {
  const plan = planScenario(parseBenchArgs([sc, '--states', '4000']));
  const x = Xfrm.create({ heap: { maxBytes: 2 ** 31 }, allowNullCipher: true });
  plan.setup(x);
  const n = 100_000;
  const t = performance.now();
  for (let i = 0; i < n; i++) {
    plan.op(x, i);
    if ((i & 255) === 0) x.epochs.reclaim();
  }
  const ms = performance.now() - t;
  console.log(`${sc}: ${Math.round((n / ms) * 1000).toLocaleString('en-US')} changes/s, ${((ms * 1000) / n).toFixed(1)} us each`);
}
