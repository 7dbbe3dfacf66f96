/**
 * A reader's view of what changed in the tables: a local epoch number that moves when the
 * SPD's or the SAD's change count ({@link PolicyDbView.changes}, {@link StateDbView.changes})
 * moved since the reader's last section began, and per part of the tables the epoch in which
 * it last changed: the SPD as a whole, and each shard of the SAD's changes (a genid's shard
 * is its slot's, a chain generation's its chain block's; the SAD's change log names the shard
 * of each change: {@link StateDbView.loggedShard}). A check a reader made in epoch `e` (a flow
 * cache entry's generations equal, an SA context's genid equal) holds while every part it
 * depends on last changed in `e` or before, so the packet path checks a cached thing once per
 * change of what it depends on, not once per packet (Linux's old bundles did the same with a
 * global `xfrm_policy_genid`).
 *
 * Shared memory: reads the change counts (Atomics, sequentially consistent) once per
 * read-side section of the reader, and when the SAD's moved, the log entries of the changes
 * since (and the count once more); writes nothing shared.
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
import { type PolicyDbView } from './policy-db.js';
import { CHANGE_LOG, CHANGE_SHARDS, slotShard, type StateDbView } from './state-db.js';

const LOG = BigInt(CHANGE_LOG);

/** See the file comment. Thread-local. */
export class ChangeEpoch {
  private section = -1;
  private spdSeen = -1n;
  private sadSeen = -1n;
  private epoch = 0;
  /** The epoch in which the SPD last changed. */
  private spdChanged = 0;
  /** Per SAD change shard, the epoch in which it last changed. */
  private readonly shardChanged = new Float64Array(CHANGE_SHARDS);

  constructor(
    private readonly reader: EpochReader,
    private readonly spd: PolicyDbView,
    private readonly sad: StateDbView,
  ) {}

  /**
   * The current epoch: a positive integer, equal to the last one returned while neither table
   * changed. Call it only while the reader is online, before the checks it is to date.
   */
  current(): number {
    const s = this.reader.sections;
    if (s !== this.section) {
      this.section = s;
      const a = this.spd.changes();
      const b = this.sad.changes();
      if (a !== this.spdSeen || b !== this.sadSeen) {
        const e = ++this.epoch; // at most once per section: 2^53 sections is beyond any gateway's life
        if (a !== this.spdSeen) {
          this.spdSeen = a;
          this.spdChanged = e;
        }
        if (b !== this.sadSeen) {
          this.noteSadChanges(b, e);
          this.sadSeen = b;
        }
      }
    }
    return this.epoch;
  }

  /**
   * Mark the shards of the SAD's changes since the last section as changed in epoch `e`, from
   * the change log (all of them on a first look, or when the log was overwritten before or
   * while it was read). `b`: the SAD's change count this section read.
   */
  private noteSadChanges(b: bigint, e: number): void {
    const from = this.sadSeen;
    const changed = this.shardChanged;
    if (from < 0n || b - from >= LOG) {
      changed.fill(e);
      return;
    }
    let i = Number(from & (LOG - 1n));
    for (let k = Number(b - from); k > 0; k--) {
      changed[this.sad.loggedShard(i)] = e;
      i = (i + 1) & (CHANGE_LOG - 1);
    }
    // The entry of change `from` is overwritten by change `from + CHANGE_LOG`, written before
    // the count moves past it: while the count is below that, every entry read was intact.
    if (this.sad.changes() - from >= LOG) changed.fill(e);
  }

  /**
   * Does a check made in epoch `checked` of something SAD change shard `shard` counts (a
   * state's genid: its slotShard) still hold? Call {@link current} first.
   */
  shardHolds(shard: number, checked: number): boolean {
    return this.shardChanged[shard] <= checked;
  }

  /**
   * Does a check made in epoch `checked` (0: never) of a resolution still hold: the SPD's
   * generations, and for each of its `n` states from `states[at]` its genid and its key's
   * chain generation (the key's chain shard at `chainShards[at + j]`)? Call {@link current} first.
   */
  bundleHolds(checked: number, states: Int32Array, chainShards: ArrayLike<number>, at: number, n: number): boolean {
    if (checked === 0 || this.spdChanged > checked) return false;
    const changed = this.shardChanged;
    for (let j = at; j < at + n; j++) {
      if (changed[slotShard(states[j])] > checked || changed[chainShards[j]] > checked) return false;
    }
    return true;
  }
}
