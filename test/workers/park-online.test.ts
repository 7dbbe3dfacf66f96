// A queue that parks goes offline in the epoch domain (it holds nobody up while it sleeps)
// and must be online again before it touches a table: a grace period that starts while it
// works must wait for it. The stall hook makes the woken worker hang inside its loop,
// online, as if in the middle of a batch: synchronize() must not end before it reports.
import { describe, expect, it } from 'vitest';
import { StalledReaderError } from '@xfrm/core';
import { Dataplane } from '@xfrm/workers';

describe('a queue woken from a park', () => {
  it('is online again before it works: a grace period waits for it', async () => {
    const dp = await Dataplane.create({ queues: 1, graceTimeoutMs: 400 });
    try {
      while (dp.stats().queues[0].parks === 0) await new Promise((r) => setTimeout(r, 5)); // idle, parked
      dp.stallQueue(0, 1500); // wakes it; it hangs in its loop as if mid-batch
      // Wait until the worker has taken the request (it clears the word as it starts to hang).
      const control = (dp as unknown as { control: Int32Array }).control;
      while (Atomics.load(control, 16) !== 0) await new Promise((r) => setTimeout(r, 1)); // queue 0's line, Q_STALL
      await expect(dp.synchronize()).rejects.toBeInstanceOf(StalledReaderError);
      await new Promise((r) => setTimeout(r, 1500));
      await dp.synchronize(); // reported again: grace periods end
    } finally {
      await dp.close();
    }
  });
});
