// Mutation check of the concurrency and protocol tests (`pnpm test:mutations`; on demand,
// not in CI: about ten minutes on 2 cores). Each mutation is a known-bad change to one
// ordering or rule the code depends on; it is applied alone, the packages are rebuilt, the
// tests that guard that rule run, and the source is restored. Every mutation must be caught
// (its tests must fail); the command exits 1 if one survives.
//
// Usage: node test/mutations/run.mjs [name ...]   (no name: all)
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../', import.meta.url));
const CORE = 'packages/core/src/';

/** name, what it breaks, the file, the exact text replaced and its replacement, the tests that must catch it. */
const MUTATIONS = [
  {
    name: 'publish-before-key',
    what: 'a hash bucket is published (ref stored) before its hash and key are written',
    file: CORE + 'shm/hash-table.ts',
    from: `    i32[b + 1] = h;
    if (this.external) i32[b + 2] = keyAt;
    else for (let k = 0; k < this.keyWords; k++) i32[b + 2 + k] = key[off + k];
    Atomics.store(i32, b, ref);`,
    to: `    Atomics.store(i32, b, ref);
    i32[b + 1] = h;
    if (this.external) i32[b + 2] = keyAt;
    else for (let k = 0; k < this.keyWords; k++) i32[b + 2 + k] = key[off + k];`,
    tests: ['test/core/shm/race.test.ts'],
  },
  {
    name: 'reclaim-one-token-early',
    what: 'a retired thing is freed one grace period too early',
    file: CORE + 'shm/epoch.ts',
    from: 'while (this.head < fns.length && tokens[this.head] <= safe) {',
    to: 'while (this.head < fns.length && tokens[this.head] <= safe + 1n) {',
    tests: ['test/core/shm/race.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'retire-with-current-token',
    what: 'a retirement takes the token readers may already have reported, not a new one taken after the unlink',
    file: CORE + 'shm/epoch.ts',
    from: '    this.tokens.push(this.nextToken());',
    to: '    this.tokens.push(Atomics.load(this.heap.u64, this.base >> 1));',
    tests: ['test/core/shm/race.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'u64-index-shift-too-little',
    what: 'deleting from the serial index leaves an entry behind the hole it could fill (lost to lookups)',
    file: CORE + 'xfrm/u64-index.ts',
    from: 'if (((j - home) & mask) >= ((j - i) & mask)) {',
    to: 'if (((j - home) & mask) > ((j - i) & mask)) {',
    tests: ['test/core/xfrm/control-side.test.ts'],
  },
  {
    name: 'chain-block-freed-early',
    what: "a bydst key's chain block is freed with any state's delete, while the key's other states still use it",
    file: CORE + 'xfrm/state-db.ts',
    from: '    const last = this.heap.i32[chain + CHAIN_HEAD] === 0;',
    to: '    const last = true;',
    tests: ['test/core/xfrm/race.test.ts', 'test/core/xfrm/xfrm-model.test.ts', 'test/core/xfrm/coherency.test.ts'],
  },
  {
    name: 'chain-head-before-next',
    what: "a record is made a chain's head before its own next is set (readers that find it miss the rest of the chain)",
    file: CORE + 'shm/chain.ts',
    from: `    this.setNext(slot, next);
    this.setPrev(slot, pred);
    if (next >= 0) this.setPrev(next, slot);
    if (pred >= 0) this.setNext(pred, slot);
    else this.setHead(key, head, slot);`,
    to: `    this.setPrev(slot, pred);
    if (next >= 0) this.setPrev(next, slot);
    if (pred >= 0) this.setNext(pred, slot);
    else this.setHead(key, head, slot);
    this.setNext(slot, next);`,
    tests: ['test/core/xfrm/chain-race.test.ts'],
  },
  {
    name: 'bydst-key-stays-on-old-head',
    what: "a bydst entry keeps the key offset of a head that was replaced (its key words are freed with it)",
    file: CORE + 'shm/chain.ts',
    from: '      if (this.keyField >= 0 && slot >= 0) this.table.replace(key, 0, block, this.arena.payload(slot) + this.keyField);',
    to: '',
    tests: ['test/core/xfrm/chain-race.test.ts', 'test/core/xfrm/xfrm-model.test.ts', 'test/core/xfrm/control-side.test.ts'],
  },
  {
    name: 'bydst-entry-deleted-after-its-key',
    what: "a key's last state is retired before its bydst entry is deleted, whose key is that state's freed words (the delete misses, the entry stays)",
    file: CORE + 'xfrm/state-db.ts',
    from: `    if (last) this.dsts.table.delete(dkey, 0);
    this.kill(slot); // the record may be poisoned from here on: everything was read above`,
    to: `    this.kill(slot); // the record may be poisoned from here on: everything was read above
    if (last) this.dsts.table.delete(dkey, 0);`,
    tests: ['test/core/xfrm/control-side.test.ts'],
  },
  {
    name: 'scan-one-reader-line',
    what: 'the writer looks at the first reader line only when it decides what is safe to free',
    file: CORE + 'shm/epoch.ts',
    from: `    let oldest = Atomics.load(u64, this.base >> 1);
    for (let r = 0; r < this.maxReaders; r++) {`,
    to: `    let oldest = Atomics.load(u64, this.base >> 1);
    for (let r = 0; r < 1; r++) {`,
    tests: ['test/core/shm/race.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'free-old-bucket-array-at-once',
    what: 'a table rebuild frees the old bucket array at once instead of after a grace period',
    file: CORE + 'shm/hash-table.ts',
    from: '    retireWith(this.reclaimer, this.heap, old, words);',
    to: '    this.heap.release(old, words);',
    tests: ['test/core/shm/race.test.ts'],
  },
  {
    name: 'skip-online-after-park',
    what: 'a queue worker reads the tables after a park without going online again',
    file: 'packages/workers/src/queue-worker.ts',
    from: `      else tx.park(txBell, t.parkTimeoutMs);
      reader.online();`,
    to: `      else tx.park(txBell, t.parkTimeoutMs);`,
    tests: ['test/workers/park-online.test.ts'],
  },
  {
    name: 'drop-a-cover',
    what: 'a reader reads a table header through a view that may end before it',
    file: CORE + 'shm/hash-table.ts',
    from: '    const i32 = heap.cover(base + HEADER_WORDS); // a table made after this reader\'s view',
    to: '    const i32 = heap.i32;',
    tests: ['test/core/xfrm/coherency.test.ts'],
  },
  {
    name: 'replay-window-without-lock',
    what: 'two queues advance one replay window without the SA lock and without checking again',
    file: CORE + 'esp/replay.ts',
    from: `  while (Atomics.compareExchange(i32, rt + RT_LOCK, 0, 1) !== 0); // a few dozen instructions, held by queue workers only
  const ok = replayCheck(i32, rt, window, esn, seqLo) === seqHi;`,
    to: '  const ok = true;',
    tests: ['test/workers/replay-nested.test.ts'],
  },
  {
    name: 'genid-32-bit',
    what: 'state genids kept in 32 bits (a slot reused 2^32 times meets an old value again)',
    file: CORE + 'xfrm/state-db.ts',
    from: '    Atomics.store(this.heap.u64, at >> 1, ++this.genids);',
    to: '    Atomics.store(this.heap.u64, at >> 1, BigInt.asUintN(32, ++this.genids));',
    tests: ['test/core/xfrm/coherency.test.ts'],
  },
  {
    name: 'delete-without-genid',
    what: 'a deleted state keeps its genid (bundles built from it stay valid)',
    file: CORE + 'xfrm/state-db.ts',
    from: `    Atomics.store(this.heap.i32, this.field(slot, S_DEAD), 1);
    this.bump(slot);`,
    to: `    Atomics.store(this.heap.i32, this.field(slot, S_DEAD), 1);`,
    tests: ['test/core/xfrm/race.test.ts', 'test/core/xfrm/xfrm-model.test.ts'],
  },
  {
    name: 'update-without-shadow-bump',
    what: 'a state update does not move its bydst key\'s shadow generation',
    file: CORE + 'xfrm/state-db.ts',
    from: `    // their bundles as an add would (after the switch, like every generation move).
    this.moveChain(chain);`,
    to: '',
    tests: ['test/core/xfrm/coherency.test.ts'],
  },
  {
    name: 'sequence-through-double',
    what: 'the 64-bit output sequence number is carried as one JS number',
    file: CORE + 'xfrm/state-db.ts',
    from: '    this.outSeqHi = hi >>> 0;\n    return lo >>> 0;',
    to: '    const seq = (hi >>> 0) * 4294967296 + (lo >>> 0);\n    this.outSeqHi = Math.floor(seq / 4294967296);\n    return (seq - this.outSeqHi * 4294967296) >>> 0;',
    tests: ['test/core/esp/sequence-64.test.ts'],
  },
  {
    name: 'lifetime-not-enforced',
    what: 'the packet path counts lifetimes but never refuses a packet past a hard limit',
    file: CORE + 'xfrm/sa-runtime.ts',
    from: '  if (op >= l.hardPackets || ob >= l.hardBytes) {',
    to: '  if (false) {',
    tests: ['test/workers/lifetimes.test.ts'],
  },
  {
    name: 'wakeup-without-doorbell',
    what: 'a sleeper waits on the doorbell\'s current value, not the one it read before its checks',
    file: 'packages/workers/src/packet-ring.ts',
    from: '    const r = Atomics.wait(this.i32, H_BELL, bell, timeoutMs);',
    to: '    const r = Atomics.wait(this.i32, H_BELL, Atomics.load(this.i32, H_BELL), timeoutMs);',
    tests: ['test/workers/ring.test.ts'],
  },
  {
    name: 'precise-policy-no-invalidate',
    what: 'a precise policy change moves no generation (cached answers of its pair stay valid)',
    file: CORE + 'xfrm/policy-db.ts',
    from: '    Atomics.add(this.heap.u64, word, 1n);',
    to: '',
    tests: ['test/core/xfrm/coherency.test.ts'],
  },
  {
    name: 'pair-word-misread',
    what: 'a reader takes the pair generation of the wrong address pair (destination twice)',
    file: CORE + 'xfrm/policy-db.ts',
    from: '    const word = this.pairWord(dir, flow, f + 1);',
    to: '    const word = this.pairWord(dir, flow, f + 5);',
    tests: ['test/core/xfrm/coherency.test.ts'],
  },
  {
    name: 'clear-text-accepted',
    what: 'a packet without ESP skips the inbound policy check',
    file: CORE + 'esp/esp-engine.ts',
    from: '        if (depth === 0) return this.clearText(cur, co);',
    to: '        if (depth === 0) return PASS;',
    tests: ['test/core/esp/inbound.test.ts'],
  },
  {
    name: 'pcpu-count-not-kept',
    what: "a queue-bound state is added without counting it on its key, so lookups stop at the key's first match",
    file: CORE + 'xfrm/state-db.ts',
    from: '    if (state.pcpuNum !== undefined) Atomics.add(this.heap.i32, chain + CHAIN_PCPU, 1);',
    to: '',
    tests: ['test/core/xfrm/pcpu-lookup.test.ts', 'test/workers/per-queue-sa.test.ts'],
  },
  {
    name: 'keepalive-to-nowhere',
    what: "NAT-T keepalives are addressed from the wrong word of an IPv4 address (0.0.0.0: they reach the sender itself)",
    file: 'packages/workers/src/natt-keepalive.ts',
    from: '  if (v4) b.setInt32(at + 16, s.dst.words[0]);',
    to: '  if (v4) b.setInt32(at + 16, s.dst.words[3]);',
    tests: ['test/cli/xfrm-gateway.test.ts'],
  },
  {
    name: 'free-context-with-seals-queued',
    what: 'a native context is freed while seals under it wait in the batch',
    file: CORE + 'esp/native-aead.ts',
    from: '    this.jobs.flush(); // no queued job may outlive its key',
    to: '',
    tests: ['test/core/esp/native-aead.test.ts'],
  },
  {
    name: 'open-releases-plaintext',
    what: 'native open copies the plaintext out before knowing the ICV verified',
    file: 'packages/native/csrc/aead.c',
    from: '  if (ok) memcpy(p, scratch, len);',
    to: '  memcpy(p, scratch, len);',
    tests: ['test/core/esp/aead.test.ts', 'test/core/esp/native-aead.test.ts'],
  },
  {
    name: 'failed-seal-keeps-plaintext',
    what: 'a native seal that failed leaves its (plaintext) bytes to be sent',
    file: 'packages/native/csrc/aead.c',
    from: '  if (r != JOB_OK && job[J_OP] == JOB_SEAL) OPENSSL_cleanse(buf + off, (size_t)(len + icv));',
    to: '',
    tests: ['test/core/esp/native-aead.test.ts'],
  },
  {
    name: 'queues-share-one-share',
    what: 'every queue counts SA lifetimes in share 0: two writers of plain read-modify-writes lose counts',
    file: CORE + 'esp/sa-context.ts',
    from: '? shares + queue * SHARE_WORDS : -1,',
    to: '? shares : -1,',
    tests: ['test/core/xfrm/lifetime-shares.test.ts', 'test/workers/lifetimes.test.ts'],
  },
  {
    name: 'usage-without-shares',
    what: "an SA's usage is read from the shared count alone, not the queues' shares",
    file: CORE + 'xfrm/state-db.ts',
    from: '    const shares = this.lifetimeShares;',
    to: '    const shares = 0;',
    tests: ['test/core/xfrm/lifetime-shares.test.ts', 'test/workers/lifetimes.test.ts'],
  },
  {
    name: 'limited-sa-in-a-share',
    what: 'an SA with count limits is counted in a queue share, where no atomic add orders the packet that crosses a limit',
    file: CORE + 'esp/sa-context.ts',
    from: 'share: none && queue >= 0',
    to: 'share: queue >= 0',
    tests: ['test/core/xfrm/lifetime-shares.test.ts', 'test/workers/lifetimes.test.ts'],
  },
  {
    name: 'limit-ignores-shares',
    what: 'a hard packet limit is checked against the shared count only, not what the shares counted before an update',
    file: CORE + 'xfrm/sa-runtime.ts',
    from: '  const op = op0 + sharesSum(u64, l.sharesAt, l.shareCount, SH_PACKETS);',
    to: '  const op = op0;',
    tests: ['test/core/xfrm/lifetime-shares.test.ts'],
  },
  {
    name: 'flow-key-without-ports',
    what: "an IPv4 packet's flow cache key leaves its ports out: flows of two ports share an entry and its bundle",
    file: 'packages/workers/src/flow-key.ts',
    from: '    key[3] = packetPorts(b, off, info);',
    to: '    key[3] = 0;',
    tests: ['test/workers/flow-key.test.ts'],
  },
  {
    name: 'flow-cache-key-without-direction',
    what: 'a flow cache entry installed for one direction is found for another (the direction left out of the stored key)',
    file: 'packages/workers/src/flow-cache.ts',
    from: '    const head = key[0] | (dir << 16);',
    to: '    const head = key[0];',
    tests: ['test/workers/flow-cache.test.ts'],
  },
  {
    name: 'key-hash-skips-last-word',
    what: "the flow cache's key hash leaves the last word (the ports) out: flows that differ in a port collide",
    file: 'packages/workers/src/flow-key.ts',
    from: '  for (let w = 0; w < n; w++) {\n    h = Math.imul(h ^ key[w], 0x9e3779b1);',
    to: '  for (let w = 0; w < n - 1; w++) {\n    h = Math.imul(h ^ key[w], 0x9e3779b1);',
    tests: ['test/workers/flow-key.test.ts'],
  },
  {
    name: 'flow-cache-one-set',
    what: "a flow cache probe looks in a flow's first set only, so a flow installed in its second set always misses",
    file: 'packages/workers/src/flow-cache.ts',
    from: '    return i >= 0 ? i : this.scan(this.otherSet(h, a), h, head, key, n);',
    to: '    return i;',
    tests: ['test/workers/flow-cache.test.ts'],
  },
  {
    name: 'bench-lookups-since-start',
    what: "dataplane-bench divides the lookups since the start by the packets since the warm-up (1.2 lookups a packet with every packet a hit)",
    file: 'packages/cli/src/bench-run.ts',
    from: '      lookupsPerPacket: total > 0 ? (t.lookups - w.lookups) / total : 0,',
    to: '      lookupsPerPacket: total > 0 ? t.lookups / total : 0,',
    tests: ['test/cli/bench-args.test.ts'],
  },
  {
    name: 'update-without-successor',
    what: 'a packet whose state an update replaced after its lookup is dropped instead of going on with the new record',
    file: CORE + 'xfrm/state-db.ts',
    from: '    return next >= 0 && next !== slot && this.serialOf(next) === this.serialOf(slot) ? next : -1;',
    to: '    return -1;',
    tests: ['test/core/esp/update-in-flight.test.ts'],
  },
  {
    name: 'substitute-leaves-old-next',
    what: 'a reader standing on the record an update replaced walks past the replacement (the SA looks absent: XfrmOutNoStates)',
    file: CORE + 'shm/chain.ts',
    from: '    this.setNext(old, fresh); // readers',
    to: '    // readers',
    tests: ['test/core/esp/update-in-flight.test.ts'],
  },
  {
    name: 'u64-halves-read-once',
    what: "a u64 read as halves takes its high half once: a carry between the two reads gives a value the word never held",
    file: CORE + 'shm/u64-words.ts',
    from: '    if (Atomics.load(i32, w + HI) === h) {',
    to: '    if (true) {',
    tests: ['test/core/shm/u64-words.test.ts'],
  },
  {
    name: 'u64-halves-low-only',
    what: 'a generation check compares only the low halves: a genid or generation that moved by exactly 2^32 looks unchanged',
    file: CORE + 'shm/u64-words.ts',
    from: '  return h === words[o + HI] && Atomics.load(i32, w + LO) === words[o + LO] && Atomics.load(i32, w + HI) === h;',
    to: '  return Atomics.load(i32, w + LO) === words[o + LO];',
    tests: ['test/core/shm/u64-words.test.ts', 'test/core/xfrm/coherency.test.ts'],
  },
];

MUTATIONS.push(
  {
    name: 'held-context-after-retire',
    what: 'the packet path keeps using a held SA context after the context cache let it go (its key wiped)',
    file: CORE + 'esp/esp-engine.ts',
    from: '      if (sa === undefined || sa.retired) {',
    to: '      if (sa === undefined) {',
    tests: ['test/core/esp/roundtrip.test.ts'],
  },
  {
    name: 'hold-any-genid',
    what: "the flow cache holds an SA context whatever incarnation of the slot it was built for",
    file: 'packages/workers/src/flow-cache.ts',
    from: '    if (sa.genid === this.genids[k]) this.contexts[k] = sa;',
    to: '    this.contexts[k] = sa;',
    tests: ['test/workers/flow-cache.test.ts'],
  },
  {
    name: 'install-keeps-contexts',
    what: "a flow cache entry filled for a new bundle keeps the previous bundle's SA contexts",
    file: 'packages/workers/src/flow-cache.ts',
    from: '    for (let k = 0; k < MAX_TEMPLATES; k++) this.contexts[s + k] = undefined;',
    to: '',
    tests: ['test/workers/flow-cache.test.ts'],
  },
  {
    name: 'outer-header-id-word',
    what: "the outer IPv4 header written by words puts the id's bits under the flags",
    file: CORE + 'esp/packet.ts',
    from: '    w[i + 1] = wireWord(((id & 0xffff) << 16) | (df ? 0x4000 : 0));',
    to: '    w[i + 1] = wireWord(((id & 0xffff) << 15) | (df ? 0x4000 : 0));',
    tests: ['test/core/esp/wire.test.ts'],
  },
  {
    name: 'wire-word-host-order',
    what: 'words written to the wire in the host order (little-endian), not big-endian',
    file: CORE + 'esp/word-view.ts',
    from: '  return LITTLE_ENDIAN ? ((v & 0xff) << 24)',
    to: '  return !LITTLE_ENDIAN ? ((v & 0xff) << 24)',
    tests: ['test/core/esp/wire.test.ts'],
  },
  {
    name: 'context-key-not-wiped',
    what: "the key read for a cipher context stays in the context cache's scratch after the build",
    file: CORE + 'esp/sa-context.ts',
    from: `      } finally {
        key.fill(0);
      }`,
    to: `      } finally {
      }`,
    tests: ['test/core/esp/roundtrip.test.ts'],
  },
  {
    name: 'word-copy-tail',
    what: 'a copy by words skips the first of the bytes past the last whole word',
    file: CORE + 'esp/byte-copy.ts',
    from: '      for (let j = words << 2; j < n; j++) dst[d + j] = src[s + j];',
    to: '      for (let j = (words << 2) + 1; j < n; j++) dst[d + j] = src[s + j];',
    tests: ['test/core/esp/byte-copy.test.ts'],
  },
  {
    name: 'word-copy-unbounded',
    what: "a copy by words runs past the end of a buffer's word view (one that grew after the view was made)",
    file: CORE + 'esp/byte-copy.ts',
    from: '&& si + words <= sw.length && di + words <= dw.length) {',
    to: ') {',
    tests: ['test/core/esp/byte-copy.test.ts'],
  },
);

MUTATIONS.push({
  name: 'checksum-one-fold',
  what: 'the outer IPv4 header checksum folds its carries once (wrong when the first fold carries again)',
  file: CORE + 'esp/packet.ts',
  from: '  sum = ~((sum & 0xffff) + (sum >>> 16)) & 0xffff;',
  to: '  sum = ~sum & 0xffff;',
  tests: ['test/core/esp/wire.test.ts'],
});

MUTATIONS.push({
  name: 'params-overlap',
  what: "a state's packed settings word lets the replay window overlap the key length",
  file: CORE + 'xfrm/state-db.ts',
  from: '(keyBytes << 11) | (window << 17)',
  to: '(keyBytes << 11) | (window << 16)',
  tests: ['test/core/xfrm/control-side.test.ts'],
});

MUTATIONS.push(
  {
    name: 'template-walk-stuck',
    what: "resolution reads a policy's first template again instead of walking to the next (templates are packed by family)",
    file: CORE + 'xfrm/bundle.ts',
    from: '    tp += templateWords(head);',
    to: '',
    tests: ['test/core/xfrm/xfrm-model.test.ts'],
  },
  {
    name: 'inbound-template-walk-stuck',
    what: 'the inbound policy check reads the first template again instead of walking to the next',
    file: CORE + 'esp/inbound-policy.ts',
    from: '    tp += templateWords(head);',
    to: '',
    tests: ['test/core/esp/inbound.test.ts', 'test/core/esp/roundtrip.test.ts'],
  },
  {
    name: 'selector-proto-bits',
    what: "a packed selector's protocol overlaps its destination prefix length",
    file: CORE + 'xfrm/selector.ts',
    from: '(s.dstLen << 16) | (s.proto << 24)',
    to: '(s.dstLen << 16) | (s.proto << 23)',
    tests: ['test/core/xfrm/control-side.test.ts', 'test/core/xfrm/policy-lookup.test.ts'],
  },
);

// The change counts (change-epoch.ts): a queue skips every check while they stand still.
MUTATIONS.push(
  {
    name: 'kill-without-change-count',
    what: "a state's delete moves its genid but not the SAD's change count (queues keep using it unchecked)",
    file: CORE + 'xfrm/state-db.ts',
    from: `    this.bump(slot);
    this.changed(slotShard(slot));`,
    to: '    this.bump(slot);',
    tests: ['test/core/xfrm/change-epoch.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'chain-move-without-change-count',
    what: "a key's chain generation moves (a shadowing add, an update) without the SAD's change count",
    file: CORE + 'xfrm/state-db.ts',
    from: `    Atomics.add(this.heap.u64, chain >> 1, 1n);
    this.changed(chainShard(chain));`,
    to: '    Atomics.add(this.heap.u64, chain >> 1, 1n);',
    tests: ['test/core/xfrm/change-epoch.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'policy-change-without-change-count',
    what: "a direction's generation moves without the SPD's change count",
    file: CORE + 'xfrm/policy-db.ts',
    from: `    Atomics.add(this.heap.u64, (this.root + ROOT_GEN) / 2 + d, 1n);
    this.changed(ALL_SHARDS);`,
    to: '    Atomics.add(this.heap.u64, (this.root + ROOT_GEN) / 2 + d, 1n);',
    tests: ['test/core/xfrm/change-epoch.test.ts'],
  },
  {
    name: 'pair-move-without-change-count',
    what: "a precise policy's pair generation moves without the SPD's change count",
    file: CORE + 'xfrm/policy-db.ts',
    from: `    Atomics.add(this.heap.u64, word, 1n);
    this.changed(pairShard(word));`,
    to: '    Atomics.add(this.heap.u64, word, 1n);',
    tests: ['test/core/xfrm/change-epoch.test.ts'],
  },
  {
    name: 'section-not-counted',
    what: 'a quiescent state does not start a new section: a queue never rereads the change counts',
    file: CORE + 'shm/epoch.ts',
    from: `    Atomics.store(this.u64, this.line >> 1, Atomics.load(this.u64, this.base >> 1));
    this.sections++;`,
    to: '    Atomics.store(this.u64, this.line >> 1, Atomics.load(this.u64, this.base >> 1));',
    tests: ['test/core/xfrm/change-epoch.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'change-epoch-ignores-sad',
    what: "a reader's epoch moves with the SPD's change count only",
    file: CORE + 'xfrm/change-epoch.ts',
    from: 'if (a !== this.spdShards.seen || b !== this.sadShards.seen) {',
    to: 'if (a !== this.spdShards.seen) {',
    tests: ['test/core/xfrm/change-epoch.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'flow-entry-ignores-pair-shard',
    what: "a cached bundle is used unchecked after a change in its flow's pair shard of the SPD (a precise policy added or deleted)",
    file: CORE + 'xfrm/change-epoch.ts',
    from: '    if (checked === 0 || !this.spdShards.holds(pairShard, checked)) return false;',
    to: '    if (checked === 0 || this.spdShards.all > checked) return false;',
    tests: ['test/core/xfrm/change-epoch.test.ts'],
  },
  {
    name: 'all-shards-entry-ignored',
    what: 'a log entry that names every shard (a direction generation moved) marks none',
    file: CORE + 'xfrm/change-log.ts',
    from: '      if (shard === ALL_SHARDS) this.all = e;\n      else changed[shard] = e;',
    to: '      if (shard !== ALL_SHARDS) changed[shard] = e;',
    tests: ['test/core/xfrm/change-epoch.test.ts'],
  },
  {
    name: 'change-log-lap-unchecked',
    what: "a reader trusts the SAD's change log entries it read though the writer lapped the log meanwhile",
    file: CORE + 'xfrm/change-log.ts',
    from: '    if (this.log.changes() - from >= LOG) this.all = e;',
    to: '',
    tests: ['test/core/xfrm/change-epoch.test.ts'],
  },
  {
    name: 'change-log-wrong-entry',
    what: "the writer logs a change's shard in the entry of the next change (readers read another entry)",
    file: CORE + 'xfrm/change-log.ts',
    from: '  Atomics.store(heap.i32, at + 2 + Number(count & (LOG - 1n)), shard);',
    to: '  Atomics.store(heap.i32, at + 2 + Number((count + 1n) & (LOG - 1n)), shard);',
    tests: ['test/core/xfrm/change-epoch.test.ts', 'test/core/xfrm/race.test.ts'],
  },
  {
    name: 'context-checked-once-ever',
    what: 'an SA context checked in any epoch is used unchecked in later ones',
    file: CORE + 'esp/sa-context.ts',
    from: 'changes.shardHolds(slotShard(slot), hit.checked)',
    to: 'true',
    tests: ['test/core/xfrm/change-epoch.test.ts', 'test/workers/jamal.test.ts'],
  },
  {
    name: 'flow-entry-ignores-slot-shard',
    what: "a cached bundle is used unchecked after a change in its states' slot shards (a delete)",
    file: CORE + 'xfrm/change-epoch.ts',
    from: 'if (!sad.holds(slotShard(states[statesAt + j]), checked) || !sad.holds(chainShards[shardsAt + j], checked)) return false;',
    to: 'if (!sad.holds(chainShards[shardsAt + j], checked)) return false;',
    tests: ['test/core/xfrm/change-epoch.test.ts'],
  },
  {
    name: 'flow-entry-ignores-chain-shard',
    what: "a cached bundle is used unchecked after its states' keys moved (a shadowing add)",
    file: CORE + 'xfrm/change-epoch.ts',
    from: 'if (!sad.holds(slotShard(states[statesAt + j]), checked) || !sad.holds(chainShards[shardsAt + j], checked)) return false;',
    to: 'if (!sad.holds(slotShard(states[statesAt + j]), checked)) return false;',
    tests: ['test/core/xfrm/change-epoch.test.ts'],
  },
  {
    name: 'shard-change-not-marked',
    what: "a reader sees the SAD's count move but never marks the shards its change log names",
    file: CORE + 'xfrm/change-log.ts',
    from: '      else changed[shard] = e;',
    to: '      else void shard;',
    tests: ['test/core/xfrm/change-epoch.test.ts', 'test/core/xfrm/race.test.ts'],
  },
);

const build = () => {
  execFileSync('node', ['packages/native/build-addon.mjs'], { cwd: root, stdio: 'pipe' }); // C mutations need the addon rebuilt
  execFileSync('pnpm', ['run', 'build'], { cwd: root, stdio: 'pipe' });
};
const want = process.argv.slice(2);
const chosen = MUTATIONS.filter((m) => want.length === 0 || want.includes(m.name));
if (chosen.length === 0) {
  console.error(`no such mutation; known: ${MUTATIONS.map((m) => m.name).join(', ')}`);
  process.exit(2);
}
const rows = [];
for (const m of chosen) {
  const path = root + m.file;
  const original = readFileSync(path, 'utf8');
  if (!original.includes(m.from)) {
    rows.push({ ...m, verdict: 'STALE (the code it mutates has changed: update the mutation)' });
    continue;
  }
  writeFileSync(path, original.replace(m.from, m.to));
  const started = Date.now();
  try {
    build();
    const r = spawnSync('npx', ['vitest', 'run', ...m.tests], { cwd: root, encoding: 'utf8', env: { ...process.env, CI: 'true' } });
    rows.push({ ...m, verdict: r.status !== 0 ? 'caught' : 'SURVIVED', seconds: Math.round((Date.now() - started) / 1000) });
  } finally {
    writeFileSync(path, original);
  }
  console.log(`${rows.at(-1).verdict.padEnd(9)} ${m.name} (${rows.at(-1).seconds ?? 0} s)`);
}
build();
console.log('\n| mutation | what it breaks | caught by | verdict |\n| --- | --- | --- | --- |');
for (const r of rows) console.log(`| ${r.name} | ${r.what} | ${r.tests.join(', ')} | ${r.verdict} |`);
const survived = rows.filter((r) => r.verdict !== 'caught');
console.log(`\n${rows.length - survived.length} of ${rows.length} mutations caught`);
process.exit(survived.length === 0 ? 0 : 1);
