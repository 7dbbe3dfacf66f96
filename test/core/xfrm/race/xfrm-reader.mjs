// An xfrm race-test reader: resolves flows through the SPD and the SAD (tuple space groups,
// bydst chains, shadow generations), holds the bundles across quiescent points and parking
// (as a flow cache does) and revalidates them only when what they depend on may have changed,
// as a queue does with its ChangeEpoch (a held bundle whose SPD and change shards are
// unchanged since its last check is used unchecked: it must still name live-or-retired, never
// freed, records of the same SAs), looks SPIs up in byspi, while the control thread churns
// every kind of change. Counts every invariant violation with Atomics.
import { workerData } from 'node:worker_threads';
import {
  ChangeEpoch,
  EpochReader,
  HeapView,
  POISON,
  PolicyDbView,
  S_REQID,
  S_SPI,
  StateDbView,
  bundleValid,
  packFlow,
  pairShard,
  resolveBundle,
} from '@xfrm/core';

const { xfrm, ctl: ctlBuf, flows, seed } = workerData;
const ctl = new Int32Array(ctlBuf);
const [STOP, POISONED, WRONG, LOOKUPS, HELD_CHECKS, READY, ERRORS] = [0, 1, 2, 3, 4, 5, 6];
const heap = HeapView.attach(xfrm.heap);
const spd = PolicyDbView.attach(heap, xfrm.spd);
const sad = StateDbView.attach(heap, xfrm.sad);
const reader = EpochReader.register(heap, xfrm.epochs);
const changes = new ChangeEpoch(reader, spd, sad);
const OUT = 1;
const packed = Array.from({ length: flows }, (_, i) =>
  packFlow({ family: 4, src: { family: 4, words: [(10 << 24) | (1 << 16) | i, 0, 0, 0] }, dst: { family: 4, words: [(10 << 24) | (2 << 16) | i, 0, 0, 0] }, proto: 17, sport: 1000, dport: 53 }),
);
/** Held bundles, by flow: the bundle, the SA identities its states had when resolved, the epoch it was last found valid in. */
const held = new Array(flows);
const dst = Int32Array.of((198 << 24) | (51 << 16) | (100 << 8) | 1, 0, 0, 0);

/** 0, or POISONED when the state record in `slot` was freed (poisoned) while this reader could reach it. */
function sane(slot) {
  const at = sad.field(slot, 0);
  const i32 = heap.i32;
  return i32[at + S_SPI] === POISON || i32[at + S_REQID] === POISON ? POISONED : 0;
}

let rng = seed | 1;
const rand = () => {
  rng ^= rng << 13;
  rng ^= rng >>> 17;
  rng ^= rng << 5;
  return rng >>> 0;
};
reader.online();
Atomics.add(ctl, READY, 1);
for (let batch = 0; Atomics.load(ctl, STOP) === 0; batch++) {
  try {
    for (let n = 0; n < 64; n++) {
      const i = rand() % flows;
      const h = held[i];
      const epoch = changes.current();
      if (h !== undefined && (changes.bundleHolds(h.epoch, pairShard(h.bundle.pairWord), h.bundle.states, 0, h.bundle.chainShards, 0, h.bundle.states.length) || bundleValid(spd, sad, h.bundle))) {
        // Valid: nothing it was built from changed, so the states are the same SAs.
        h.epoch = epoch;
        Atomics.add(ctl, HELD_CHECKS, 1);
        for (let s = 0; s < h.bundle.states.length; s++) {
          const slot = h.bundle.states[s];
          const bad = sane(slot);
          if (bad !== 0) Atomics.add(ctl, bad, 1);
          else if (sad.serialOf(slot) !== h.serials[s]) Atomics.add(ctl, WRONG, 1);
        }
        continue;
      }
      const r = resolveBundle(spd, sad, OUT, packed[i], 0);
      Atomics.add(ctl, LOOKUPS, 1);
      if (r.kind === 'bundle') {
        const serials = [];
        for (let s = 0; s < r.bundle.states.length; s++) {
          const bad = sane(r.bundle.states[s]);
          if (bad !== 0) Atomics.add(ctl, bad, 1);
          serials.push(sad.serialOf(r.bundle.states[s]));
        }
        // Keep copies, as a flow cache does (the bundle's arrays may be scratch).
        held[i] = { bundle: { ...r.bundle, states: r.bundle.states.slice(), genids: r.bundle.genids.slice(), chains: r.bundle.chains.slice(), chainShards: r.bundle.chainShards.slice() }, serials, epoch };
      } else {
        held[i] = undefined;
      }
      const spi = 0x1000 + (rand() % (flows * 8));
      const slot = sad.byspi(4, dst, 0, spi, 50);
      if (slot >= 0) {
        const bad = sane(slot);
        if (bad !== 0) Atomics.add(ctl, bad, 1);
        else if (heap.i32[sad.field(slot, S_SPI)] !== spi) Atomics.add(ctl, WRONG, 1);
      }
    }
  } catch {
    Atomics.add(ctl, ERRORS, 1);
  }
  reader.quiescent();
  if (batch % 50 === 49) {
    // Park now and then, holding the bundles (a queue that went idle and comes back).
    reader.offline();
    Atomics.wait(ctl, STOP, 0, 1);
    reader.online();
  }
}
reader.unregister();
