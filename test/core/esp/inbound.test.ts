// The inbound policy check and the input path's other verdicts: no policy, blocking policy,
// unsatisfied template, fwd policies, NAT-T mismatches, IKE and keepalives, dummy packets.
import { describe, expect, it } from 'vitest';
import { DROP, DROPPED, DUMMY, PASS, espSeal, setIpv4Checksum, applyXfrmLine } from '@xfrm/core';
import { pair, udpPacket } from './helpers.js';

const KEY = '0x' + '22'.repeat(16) + '01020304';
const SA = `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x3001 reqid 4 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128`;
const TMPL = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 4 mode tunnel';
const OUT = `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TMPL}`;

function send(inPolicies: string[], extraB: string[] = []) {
  const p = pair([SA, OUT], [SA, ...inPolicies, ...extraB]);
  const inner = udpPacket('10.1.0.1', '10.2.0.1', 20);
  const wire = new Uint8Array(300);
  const n = p.out.output(inner, 0, inner.length, wire, 0);
  const res = p.in.input(wire, 0, n, new Uint8Array(300), 0);
  return { p, res, inner, wire: wire.subarray(0, n) };
}

describe('inbound policy check', () => {
  it('delivers when an in policy is satisfied by the decapsulating state', () => {
    const { res, inner } = send([`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in ${TMPL}`]);
    expect(res).toBe(inner.length);
  });

  it('falls back to a fwd policy', () => {
    const { res, inner } = send([`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir fwd ${TMPL}`]);
    expect(res).toBe(inner.length);
  });

  it('drops under XfrmInNoPols without a policy, XfrmInPolBlock with a blocking one', () => {
    const none = send([]);
    expect([none.res, none.p.in.lastDrop]).toEqual([DROPPED, DROP.XfrmInNoPols]);
    const block = send(['ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in action block']);
    expect([block.res, block.p.in.lastDrop]).toEqual([DROPPED, DROP.XfrmInPolBlock]);
  });

  it('drops under XfrmInTmplMismatch when the templates want another SA, or none', () => {
    for (const tmpl of [
      'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 5 mode tunnel', // other reqid
      'tmpl src 192.0.2.9 dst 198.51.100.1 proto esp reqid 4 mode tunnel', // other tunnel source
      'tmpl proto esp reqid 4 mode transport', // other mode
      '', // a plain-allow policy, yet the packet came through a tunnel
    ]) {
      const r = send([`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in ${tmpl}`]);
      expect([r.res, r.p.in.lastDrop]).toEqual([DROPPED, DROP.XfrmInTmplMismatch]);
    }
  });

  it('an optional template may be missing from the states used', () => {
    const r = send([`ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in tmpl proto esp reqid 9 mode transport level use ${TMPL}`]);
    expect(r.res).toBe(r.inner.length);
  });
});

describe('other input verdicts', () => {
  const IN = `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in ${TMPL}`;

  function udp4500(payload: number[]): Uint8Array {
    const p = new Uint8Array(28 + payload.length);
    p.set([0x45, 0, 0, p.length, 0, 0, 0, 0, 64, 17, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1]);
    setIpv4Checksum(p, 0);
    p.set([0x11, 0x94, 0x11, 0x94, 0, 8 + payload.length, 0, 0], 20);
    p.set(payload, 28);
    return p;
  }

  it('passes IKE (non-ESP marker) and NAT keepalives on UDP 4500, and plain packets no policy covers', () => {
    const { p } = send([IN]);
    const out = new Uint8Array(100);
    expect(p.in.input(udp4500([0, 0, 0, 0, 1, 2, 3]), 0, 35, out, 0)).toBe(PASS);
    expect(p.in.input(udp4500([0xff]), 0, 29, out, 0)).toBe(PASS);
    const plain = udpPacket('10.9.0.1', '10.2.0.1', 5);
    expect(p.in.input(plain, 0, plain.length, out, 0)).toBe(PASS);
  });

  it('ESP in UDP for a state without encapsulation is XfrmInStateMismatch', () => {
    const { p, wire } = send([IN]);
    const esp = wire.subarray(20);
    const pkt = udp4500([...esp]);
    expect(p.in.input(pkt, 0, pkt.length, new Uint8Array(300), 0)).toBe(DROPPED);
    expect(p.in.lastDrop).toBe(DROP.XfrmInStateMismatch);
  });

  it('a tunnel-mode dummy packet (next header 59) is authenticated and delivers nothing', () => {
    const { p } = send([IN]);
    const sa = p.out.contexts.get(p.a.sad.slotOf(p.a.sad.list()[0]));
    const pkt = new Uint8Array(20 + 16 + 4 + 16);
    pkt.set([0x45, 0, 0, pkt.length, 0, 0, 0, 0, 64, 50, 0, 0, 192, 0, 2, 1, 198, 51, 100, 1]);
    setIpv4Checksum(pkt, 0);
    espSeal(sa, 0, 77, 59, pkt, 20, 0);
    expect(p.in.input(pkt, 0, pkt.length, new Uint8Array(100), 0)).toBe(DUMMY);
    pkt[pkt.length - 1] ^= 1;
    expect(p.in.input(pkt, 0, pkt.length, new Uint8Array(100), 0)).toBe(DROPPED);
  });

  it('a state gone since the lookup is XfrmInNoStates for the next packet', () => {
    const { p, wire } = send([IN]);
    applyXfrmLine(p.b, 'ip xfrm state flush');
    expect(p.in.input(wire, 0, wire.length, new Uint8Array(300), 0)).toBe(DROPPED);
    expect(p.in.lastDrop).toBe(DROP.XfrmInNoStates);
  });
});

// Defect 13 of the long-running review: a packet that arrives without ESP must pass the same
// inbound policy check as Linux's __xfrm_policy_check with an empty security path, or an
// attacker outside walks past the tunnel by sending clear text.
describe('clear text on input (Linux rules, empty security path)', () => {
  const plain = udpPacket('10.1.0.5', '10.2.3.4', 20);
  function arrive(policies: string[]) {
    const p = pair([], [SA, ...policies]);
    const out = new Uint8Array(300);
    const res = p.in.input(plain, 0, plain.length, out, 0);
    return { res, reason: res === DROPPED ? p.in.lastDrop : -1, out };
  }
  const IN = (dir: string, rest: string) => `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir ${dir} ${rest}`;

  it('is dropped under XfrmInTmplMismatch where an in or fwd policy requires ESP', () => {
    for (const dir of ['in', 'fwd']) {
      expect(arrive([IN(dir, TMPL)])).toMatchObject({ res: DROPPED, reason: DROP.XfrmInTmplMismatch });
      expect(arrive([IN(dir, `${TMPL} level required`)])).toMatchObject({ res: DROPPED, reason: DROP.XfrmInTmplMismatch });
    }
  });

  it('is dropped under XfrmInPolBlock by a blocking policy', () => {
    expect(arrive([IN('in', 'action block')])).toMatchObject({ res: DROPPED, reason: DROP.XfrmInPolBlock });
  });

  it('passes where no policy covers it, where the policy allows without templates, or where its templates are optional', () => {
    expect(arrive([]).res).toBe(PASS);
    expect(arrive(['ip xfrm policy add src 10.9.0.0/16 dst 10.2.0.0/16 dir in ' + TMPL]).res).toBe(PASS);
    expect(arrive([IN('in', 'action allow')]).res).toBe(PASS);
    expect(arrive([IN('in', `${TMPL} level use`)]).res).toBe(PASS);
  });

  it('a more specific allow policy wins over a general one that requires ESP, as in Linux', () => {
    const r = arrive([IN('in', `priority 100 ${TMPL}`), 'ip xfrm policy add src 10.1.0.5/32 dst 10.2.3.4/32 dir in priority 10 action allow']);
    expect(r.res).toBe(PASS);
  });

  it('IKE and NAT keepalives on UDP 4500 still reach the key manager', () => {
    const p = pair([], [SA, 'ip xfrm policy add src 0.0.0.0/0 dst 0.0.0.0/0 dir in ' + TMPL]);
    const ike = udpPacket('192.0.2.1', '198.51.100.1', 12);
    ike[22] = 0x11; ike[23] = 0x94; // dport 4500
    ike.fill(0, 28, 32); // non-ESP marker
    expect(p.in.input(ike, 0, ike.length, new Uint8Array(300), 0)).toBe(PASS);
  });
});
