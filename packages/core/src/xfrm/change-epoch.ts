/**
 * A reader's view of whether the tables changed: a local number that moves when the SPD's or
 * the SAD's change count ({@link PolicyDbView.changes}, {@link StateDbView.changes}) moved
 * since the reader's last section began. A check a reader made under one value (a flow cache
 * entry's generations equal, an SA context's genid equal) holds while {@link ChangeEpoch.current}
 * returns that value, so the packet path checks each cached thing once per change instead of
 * once per packet (Linux's old bundles did the same with a global `xfrm_policy_genid`).
 *
 * Shared memory: reads the two change counts (Atomics, sequentially consistent), once per
 * read-side section of the reader; writes nothing shared.
 *
 * Why it is sound. A writer moves a genid or generation first and the change count after;
 * this reads the change counts at the start of a section, before any check the section makes.
 * - A check that passed read the old genid/generation, so the writer's move came after it
 *   and its change-count move after that: the next section to read the count sees it moved
 *   (the counts are u64 and only go up: equal means not moved) and checks again.
 * - Until then the reader is in the section in which it made the check, or in later ones that
 *   read the count before the writer moved it. Either way, what the check saw was alive when
 *   the section began, and the epoch domain frees nothing retired after a section began until
 *   the reader leaves it: a slot the check named is not freed under the reader. The change
 *   is seen one section late at most (a batch of packets: what a packet already in flight
 *   sees in any dataplane).
 */
import { type EpochReader } from '../shm/epoch.js';
import { type PolicyDbView } from './policy-db.js';
import { type StateDbView } from './state-db.js';

/** See the file comment. Thread-local. */
export class ChangeEpoch {
  private section = -1;
  private spdSeen = -1n;
  private sadSeen = -1n;
  private epoch = 0;

  constructor(
    private readonly reader: EpochReader,
    private readonly spd: PolicyDbView,
    private readonly sad: StateDbView,
  ) {}

  /**
   * The current epoch: a positive integer, equal to the last one returned while neither table
   * changed. Call it only while the reader is online.
   */
  current(): number {
    const s = this.reader.sections;
    if (s !== this.section) {
      this.section = s;
      const a = this.spd.changes();
      const b = this.sad.changes();
      if (a !== this.spdSeen || b !== this.sadSeen) {
        this.spdSeen = a;
        this.sadSeen = b;
        this.epoch++; // at most once per section: 2^53 sections is beyond any gateway's life
      }
    }
    return this.epoch;
  }
}
