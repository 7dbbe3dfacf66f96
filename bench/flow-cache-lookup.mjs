// FlowCache.lookup alone, in one thread: 1,024 cyclic IPv4 flows in a 4,096-entry cache (the
// `lookup` scenario's shape), every lookup a hit checked against an unchanged epoch, as a
// queue's hits are between changes. ns a lookup, median of 9 runs of 4M lookups (the loop
// copies each flow's 4 key words too, ~2 ns).
//
//   node bench/flow-cache-lookup.mjs [CHECKOUT]    (another built checkout, to compare builds)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const base = pathToFileURL(resolve(process.argv[2] ?? new URL('..', import.meta.url).pathname) + '/').href;
const { ChangeEpoch, EpochReader, Xfrm, DIR_NUMBER, applyXfrmLine, newBundleScratch, packFlow, resolveInto } = await import(new URL('packages/core/dist/index.js', base));
const { FlowCache, KEY_WORDS, flowKey } = await import(new URL('packages/workers/dist/index.js', base));

const OUT = DIR_NUMBER.out;
const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
applyXfrmLine(x, 'ip xfrm policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir out action block');
const reader = EpochReader.attach(x.heap, x.describe().epochs, x.epochs.claim());
reader.online();
const changes = new ChangeEpoch(reader, x.spd, x.sad);
const N = 1024;
const keys = new Int32Array(N * KEY_WORDS);
const cache = new FlowCache(4096);
const g = newBundleScratch();
const key = new Int32Array(KEY_WORDS);
for (let n = 0; n < N; n++) {
  const f = packFlow({ family: 4, src: { family: 4, words: [0x0a010000 + n, 0, 0, 0] }, dst: { family: 4, words: [0x0a020001, 0, 0, 0] }, proto: 17, sport: 1000 + n, dport: 53 });
  flowKey(f, 0, key);
  keys.set(key, n * KEY_WORDS);
  if (cache.lookup(x.spd, x.sad, OUT, key, changes) < 0) cache.install(OUT, key, resolveInto(x.spd, x.sad, OUT, f, 0, g), g, changes);
}
const ns = [];
let sink = 0;
for (let r = 0; r < 9; r++) {
  const t = process.hrtime.bigint();
  for (let k = 0; k < 4e6; k++) {
    const o = (k & (N - 1)) * KEY_WORDS;
    key[0] = keys[o];
    key[1] = keys[o + 1];
    key[2] = keys[o + 2];
    key[3] = keys[o + 3];
    sink += cache.lookup(x.spd, x.sad, OUT, key, changes);
  }
  ns.push(Number(process.hrtime.bigint() - t) / 4e6);
}
ns.sort((a, b) => a - b);
console.log(`${ns[4].toFixed(1)} ns a lookup, median of 9 (misses ${cache.misses - N}, checks ${cache.checks}; ${sink & 1})`);
