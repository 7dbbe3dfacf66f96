/**
 * A table's change log (the SPD's and the SAD's): a u64 change count and CHANGE_LOG entries in
 * shared memory, entry (count mod CHANGE_LOG) naming the shard of what the change with that
 * count moved (a SAD slot or chain block, an SPD address pair), or ALL_SHARDS. Readers follow
 * it section by section ({@link ShardEpochs}, for ChangeEpoch) and learn which shards changed
 * from the entries since the count they last saw, so the number of shards costs them nothing.
 *
 * Shared memory: written by the control thread only, after the move the change stands for:
 * the entry (`Atomics.store`), then the count (`Atomics.add`). Read by queues: the count, the
 * entries since the last count seen, then the count again (all `Atomics.load`). An entry is
 * overwritten only by the change CHANGE_LOG later, which the writer stores before the count
 * passes it: entries read while the count, read again after them, is less than CHANGE_LOG
 * ahead of the last one seen are the changes' own.
 *
 * Layout (int32 words, at an even offset): [count (u64, 2 words)][CHANGE_LOG entries].
 */
import { type HeapView, type SharedHeap } from '../shm/shared-heap.js';

/** Entries of a change log (a power of two). */
export const CHANGE_LOG = 1024;
/** Words of a change log block. */
export const CHANGE_LOG_WORDS = 2 + CHANGE_LOG;
/** An entry that names no shard: every cached answer that depends on the table may have changed. */
export const ALL_SHARDS = -1;

const LOG = BigInt(CHANGE_LOG);

/** The change count (u64) of the log at word `at`. */
export function changeCount(heap: HeapView, at: number): bigint {
  return Atomics.load(heap.cover64(at + CHANGE_LOG_WORDS), at >> 1);
}

/** Entry `i` (0 .. CHANGE_LOG-1) of the log at word `at`. */
export function loggedShard(heap: HeapView, at: number, i: number): number {
  return Atomics.load(heap.cover(at + CHANGE_LOG_WORDS), at + 2 + i);
}

/** Log a change of `shard` (or ALL_SHARDS), after the move it stands for (the writer's thread only). */
export function logChange(heap: SharedHeap, at: number, shard: number): void {
  const count = Atomics.load(heap.u64, at >> 1); // this thread is the only writer
  Atomics.store(heap.i32, at + 2 + Number(count & (LOG - 1n)), shard);
  Atomics.add(heap.u64, at >> 1, 1n);
}

/** A table's change log as a reader sees it. */
export interface ChangeLogReader {
  changes(): bigint;
  loggedShard(i: number): number;
}

/**
 * One reader's record of which shards of a table changed when, in its own epochs (change-epoch.ts):
 * per shard, the epoch in which it last changed, and the epoch of the last change of all of them.
 * Thread-local.
 */
export class ShardEpochs {
  /** The change count up to which the log was read (-1: never). */
  seen = -1n;
  /** The epoch of the last change of every shard (a log entry ALL_SHARDS, or a log that ran ahead). */
  all = 0;
  /** Per shard, the epoch in which it last changed. */
  readonly changed: Float64Array;

  constructor(
    shards: number,
    private readonly log: ChangeLogReader,
  ) {
    this.changed = new Float64Array(shards);
  }

  /** Note the changes up to count `b` (read in this section) as made in epoch `e`. */
  note(b: bigint, e: number): void {
    const from = this.seen;
    this.seen = b;
    if (from < 0n || b - from >= LOG) {
      this.all = e;
      return;
    }
    const changed = this.changed;
    let i = Number(from & (LOG - 1n));
    for (let k = Number(b - from); k > 0; k--) {
      const shard = this.log.loggedShard(i);
      if (shard === ALL_SHARDS) this.all = e;
      else changed[shard] = e;
      i = (i + 1) & (CHANGE_LOG - 1);
    }
    // The entry of change `from` is overwritten by change `from + CHANGE_LOG`, written before
    // the count moves past it: while the count is below that, every entry read was intact.
    if (this.log.changes() - from >= LOG) this.all = e;
  }

  /** Does a check made in epoch `checked` of something in `shard` still hold? */
  holds(shard: number, checked: number): boolean {
    return this.all <= checked && this.changed[shard] <= checked;
  }
}
