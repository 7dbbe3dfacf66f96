/**
 * A reader's view of what changed in the tables: a local epoch number that moves when the
 * SPD's or the SAD's change count ({@link PolicyDbView.changes}, {@link StateDbView.changes})
 * moved since the reader's last section began, and per part of the tables the epoch in which
 * it last changed: each shard of the SPD's changes (a pair generation's shard: policy-db.ts
 * pairShard; a direction generation's move changes them all) and of the SAD's (a genid's shard
 * is its slot's, a chain generation's its chain block's), as each table's change log names
 * them (change-log.ts). A check a reader made in epoch `e` (a flow cache entry's generations
 * equal, an SA context's genid equal) holds while every part it depends on last changed in `e`
 * or before, so the packet path checks a cached thing once per change of what it depends on,
 * not once per packet (Linux's old bundles did the same with a global `xfrm_policy_genid`).
 *
 * Shared memory: reads the change counts (Atomics, sequentially consistent) once per
 * read-side section of the reader, and when one moved, that table's log entries of the changes
 * since (and its count once more); writes nothing shared.
 *
 * Why it is sound. A writer moves a genid or generation first, then writes its shard into the
 * log entry of the change, then moves the table's count; this reads the table's counts at
 * the start of a section, then the log entries of the changes it had not seen, before any
 * check the section makes.
 * - A check that passed read the old genid/generation, so the writer's move came after it,
 *   and the log entry and count after that: the next section to read the table's count sees
 *   it moved (the counts are u64 and only go up: equal means not moved), reads the entry
 *   after it, and marks the shard changed in a later epoch than the check's. An entry is
 *   overwritten only by the change CHANGE_LOG later, written before the count moves past it,
 *   so entries read while the count (read again after them) is less than CHANGE_LOG ahead
 *   of the last one seen are the changes' own; otherwise every shard is marked changed.
 * - Until then the reader is in the section in which it made the check, or in later ones that
 *   read the count before the writer moved it. Either way, what the check saw was alive when
 *   the section began, and the epoch domain frees nothing retired after a section began until
 *   the reader leaves it: a slot the check named is not freed under the reader. The change
 *   is seen one section late at most (a batch of packets: what a packet already in flight
 *   sees in any dataplane).
 * - A check made in the epoch in which a part was marked changed read the part after the
 *   count that marked it, so it saw that change: "changed in `e` or before" holds.
 */
import { type EpochReader } from '../shm/epoch.js';
import { ShardEpochs } from './change-log.js';
import { PAIR_WORDS, type PolicyDbView } from './policy-db.js';
import { CHANGE_SHARDS, slotShard, type StateDbView } from './state-db.js';

/** See the file comment. Thread-local. */
export class ChangeEpoch {
  private section = -1;
  private epoch = 0;
  /** When each shard of the SPD's changes (policy-db.ts pairShard) and of the SAD's last changed. */
  private readonly spdShards: ShardEpochs;
  private readonly sadShards: ShardEpochs;

  constructor(
    private readonly reader: EpochReader,
    private readonly spd: PolicyDbView,
    private readonly sad: StateDbView,
  ) {
    this.spdShards = new ShardEpochs(PAIR_WORDS, spd);
    this.sadShards = new ShardEpochs(CHANGE_SHARDS, sad);
  }

  /**
   * The current epoch: a positive integer, equal to the last one returned while neither table
   * changed. Call it only while the reader is online, before the checks it is to date.
   */
  current(): number {
    if (this.reader.sections !== this.section) this.enter(); // once a section: kept out of line so this inlines
    return this.epoch;
  }

  /** First call in a new section: a new epoch if either table changed since the last. */
  private enter(): void {
    this.section = this.reader.sections;
    const a = this.spd.changes();
    const b = this.sad.changes();
    if (a !== this.spdShards.seen || b !== this.sadShards.seen) {
      const e = ++this.epoch; // at most once per section: 2^53 sections is beyond any gateway's life
      if (a !== this.spdShards.seen) this.spdShards.note(a, e);
      if (b !== this.sadShards.seen) this.sadShards.note(b, e);
    }
  }

  /**
   * Does a check made in epoch `checked` of something SAD change shard `shard` counts (a
   * state's genid: its slotShard) still hold? Call {@link current} first.
   */
  shardHolds(shard: number, checked: number): boolean {
    return this.sadShards.holds(shard, checked);
  }

  /**
   * Does a check made in epoch `checked` (0: never) of a resolution still hold: the SPD's
   * generations (the flow's pair shard `pairShard`, policy-db.ts), and for each of its `n`
   * states (slots from `states[statesAt]`) its genid and its key's chain generation (the key's
   * chain shard from `chainShards[shardsAt]`)? Call {@link current} first.
   */
  bundleHolds(checked: number, pairShard: number, states: Int32Array, statesAt: number, chainShards: ArrayLike<number>, shardsAt: number, n: number): boolean {
    if (checked === 0 || !this.spdShards.holds(pairShard, checked)) return false;
    const sad = this.sadShards;
    for (let j = 0; j < n; j++) {
      if (!sad.holds(slotShard(states[statesAt + j]), checked) || !sad.holds(chainShards[shardsAt + j], checked)) return false;
    }
    return true;
  }
}
