// Output resolution with queue-bound states (pcpu-num) on a key: the queue's own state wins
// wherever it sits in the key's chain, others get the newest unbound one, and the key's count
// of bound states (which lets a key without them stop at its first match) follows adds and
// deletes exactly.
import { describe, expect, it } from 'vitest';
import { Xfrm, applyXfrmLine, parseAddress } from '@xfrm/core';

const KEY = '0x' + '42'.repeat(20);
const state = (spi: number, extra = '') =>
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi ${spi} reqid 5 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 ${extra}`;
const flow = { family: 4, src: parseAddress('10.1.0.1'), dst: parseAddress('10.2.0.1'), proto: 17, sport: 1, dport: 2 } as const;

describe('resolution with queue-bound states', () => {
  it('finds the queue own state behind newer unbound ones, and stops counting it once deleted', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 24 } });
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 5 mode tunnel');
    const spiFor = (queue: number) => x.resolve('out', flow, queue).states[0]?.spi;
    applyXfrmLine(x, state(0x101, 'pcpu-num 1'));
    for (let spi = 0x200; spi < 0x210; spi++) applyXfrmLine(x, state(spi)); // 16 newer unbound states
    expect(spiFor(1)).toBe(0x101);
    expect(spiFor(0)).toBe(0x20f);
    expect(spiFor(-1)).toBe(0x20f);
    x.deleteState(parseAddress('198.51.100.1'), 0x101);
    expect(spiFor(1)).toBe(0x20f);
    applyXfrmLine(x, state(0x102, 'pcpu-num 0'));
    applyXfrmLine(x, state(0x103, 'pcpu-num 1'));
    applyXfrmLine(x, state(0x300));
    expect(spiFor(0)).toBe(0x102);
    expect(spiFor(1)).toBe(0x103);
    expect(spiFor(2)).toBe(0x300);
    x.deleteState(parseAddress('198.51.100.1'), 0x103);
    expect(spiFor(0)).toBe(0x102); // the key still has a bound state: still walked
    expect(spiFor(1)).toBe(0x300);
  });
});
