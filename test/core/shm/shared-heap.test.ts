import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';
import { POISON, SharedHeap } from '@xfrm/core';

describe('SharedHeap', () => {
  it('hands out disjoint zeroed blocks and grows the buffer in place', () => {
    const heap = SharedHeap.create({ initialBytes: 4096, maxBytes: 1 << 20 });
    const a = heap.alloc(100);
    const b = heap.alloc(2000); // past the initial 4 KiB: grows
    expect(heap.buffer.byteLength).toBeGreaterThanOrEqual((b + 2000) * 4);
    expect(b).toBeGreaterThanOrEqual(a + 100);
    expect(heap.i32.subarray(b, b + 2000).every((x) => x === 0)).toBe(true);
    expect(heap.bytesInUse).toBe((100 + 2000) * 4);
  });

  it('poisons a released block and reuses it zeroed for the same size', () => {
    const heap = SharedHeap.create();
    const a = heap.alloc(10);
    heap.i32.fill(7, a, a + 10);
    heap.release(a, 10);
    expect(heap.i32.subarray(a, a + 10).every((x) => x === POISON)).toBe(true);
    const b = heap.alloc(10);
    expect(b).toBe(a);
    expect(heap.i32.subarray(b, b + 10).every((x) => x === 0)).toBe(true);
  });

  it('refuses to grow past its limit, and bad sizes', () => {
    const heap = SharedHeap.create({ initialBytes: 4096, maxBytes: 8192 });
    expect(() => heap.alloc(4096)).toThrow(/exhausted/);
    expect(() => heap.alloc(0)).toThrow(RangeError);
    expect(() => SharedHeap.create({ initialBytes: 100, maxBytes: 50 })).toThrow(RangeError);
  });

  it('is seen by a worker, including growth after the worker attached', async () => {
    const heap = SharedHeap.create({ initialBytes: 4096, maxBytes: 1 << 20 });
    const src = `
      const { parentPort, workerData } = require('node:worker_threads');
      const i32 = new Int32Array(workerData.buffer);
      parentPort.on('message', (off) => { parentPort.postMessage([i32.length, Atomics.load(i32, off)]); });`;
    const w = new Worker(src, { eval: true, workerData: heap.describe() });
    try {
      const off = heap.alloc(60_000); // grows to more than 4 KiB after the worker started
      Atomics.store(heap.i32, off + 59_999, 42);
      const reply = await new Promise<number[]>((resolve) => {
        w.once('message', resolve);
        w.postMessage(off + 59_999);
      });
      expect(reply[0]).toBe(heap.i32.length);
      expect(reply[1]).toBe(42);
    } finally {
      await w.terminate();
    }
  });
});
