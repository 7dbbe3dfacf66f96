// Issue 14 (the API under misuse): every option is checked before a thread starts, a worker
// that cannot start fails create() instead of restarting forever, arguments are type-checked
// at the boundary, and nothing after close() hangs or pretends to work.
import { describe, expect, it } from 'vitest';
import { Dataplane } from '@xfrm/workers';
import { udpPacket } from '../core/esp/helpers.js';

function within<T>(p: Promise<T>, ms: number): Promise<T> {
  return Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms).unref())]);
}

describe('Dataplane under misuse', () => {
  it('rejects bad options with a message naming the option, before any thread starts', async () => {
    const bad: [object, RegExp][] = [
      [{ flowCacheSize: 3 }, /flowCacheSize must be a power of two/],
      [{ flowCacheSize: 0 }, /flowCacheSize/],
      [{ batch: 0 }, /batch must be a whole number/],
      [{ batch: 1.5 }, /batch/],
      [{ crypto: 'openssl' }, /crypto must be 'native', 'node', 'noble', got string openssl/],
      [{ queues: 0 }, /queues/],
      [{ ringSlots: 100 }, /ringSlots/],
      [{ slotBytes: 100 }, /slotBytes/],
      [{ io: { tun: 'a name far too long', local: '192.0.2.1' } }, /io.tun must be a device name/],
      [{ io: { tun: 'xg0', local: 'gateway.example' } }, /io.local must be an IPv4 or IPv6 address/],
      [{ io: { tun: 'xg0', local: '192.0.2.1', port: 70000 } }, /io.port must be a whole number from 1 to 65535/],
    ];
    for (const [opts, msg] of bad) await expect(within(Dataplane.create(opts as never), 5000)).rejects.toThrow(msg);
  });

  it('a start-up that cannot succeed rejects create() instead of hanging', async () => {
    // A heap too small for the tables. (A queue worker that dies before it serves also fails
    // create(), and three replacements in a row that die so stop the restarts: dataplane.ts serve.)
    await expect(within(Dataplane.create({ capacities: { heapBytes: 64 * 1024 } }), 10_000)).rejects.toThrow();
  });

  it('type-checks arguments at the boundary', async () => {
    const dp = await Dataplane.create({ queues: 1 });
    try {
      for (const v of [42, {}, undefined, null]) await expect(dp.apply(v as never)).rejects.toThrow(/apply: an 'ip xfrm \.\.\.' line \(a string\) is needed/);
      await expect(dp.process([udpPacket('10.0.0.1', '10.0.0.2', 4)], 'sideways' as never)).rejects.toThrow(/direction must be 'out' or 'in'/);
      await expect(dp.process(['x'] as never)).rejects.toThrow(/packet 0 is not a Uint8Array/);
      expect(() => dp.submit('x' as never)).toThrow(/array of Uint8Array/);
    } finally {
      await dp.close();
    }
  });

  it('after close(), every call rejects or throws with a clear error, and none hangs', async () => {
    const dp = await Dataplane.create({ queues: 1 });
    await dp.close();
    await expect(within(dp.process([udpPacket('10.0.0.1', '10.0.0.2', 4)]), 2000)).rejects.toThrow(/closed/);
    await expect(within(dp.apply('ip xfrm policy flush'), 2000)).rejects.toThrow(/closed/);
    expect(() => dp.submit([udpPacket('10.0.0.1', '10.0.0.2', 4)])).toThrow(/closed/);
    expect(() => dp.addPolicy({ dir: 'out', selector: undefined as never })).toThrow(/closed/);
    await dp.close(); // twice is fine
  });

  it('oversized packets are dropped under their real reason, and slots are sized from the MTU asked for', async () => {
    const KEY = '0x' + '55'.repeat(16) + '02020202';
    const lines = [
      `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x77 reqid 8 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`,
      'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 8 mode tunnel',
    ];
    const sized = (n: number) => udpPacket('10.1.0.1', '10.2.0.1', n - 28);
    const dp = await Dataplane.create({ queues: 1 }); // mtu 1500
    try {
      for (const l of lines) await dp.apply(l);
      const r = await dp.process([sized(1500), sized(1600), sized(1680), sized(3000)]);
      expect(r.map((x) => x.verdict === 'dropped' ? x.reason : x.verdict)).toEqual(['transmitted', 'transmitted', 'XfrmOutTooBig', 'XfrmOutTooBig']);
      const [inb] = await dp.process([sized(4000)], 'in');
      expect(inb.reason).toBe('XfrmInBufferError');
    } finally {
      await dp.close();
    }
    const jumbo = await Dataplane.create({ queues: 1, mtu: 9000 });
    try {
      for (const l of lines) await jumbo.apply(l);
      expect((await jumbo.process([sized(9000)]))[0].verdict).toBe('transmitted');
    } finally {
      await jumbo.close();
    }
  });
});
