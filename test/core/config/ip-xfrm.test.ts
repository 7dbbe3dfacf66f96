import { describe, expect, it } from 'vitest';
import { Xfrm, XfrmError, XfrmSyntaxError, applyXfrmLine, parseXfrmList, parseXfrmLine, tokenize } from '@xfrm/core';

const K20 = '0x' + '0102030405060708090a0b0c0d0e0f1011121314';
const K36 = '0x' + 'aa'.repeat(32) + '01020304';
const GCM = `aead 'rfc4106(gcm(aes))' ${K20} 128`;

const CONFIG = [
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 reqid 1 mode tunnel ${GCM} replay-window 64 sel src 10.1.0.0/16 dst 10.2.0.0/16`,
  `ip xfrm state add src 2001:db8::1 dst 2001:db8::2 proto esp spi 0x200 reqid 2 mode transport aead 'rfc7539esp(chacha20,poly1305)' ${K36} 128 replay-window 128 flag esn replay-oseq 0x10 replay-oseq-hi 1 limit time-soft 100 time-hard 200 limit byte-hard 1000000`,
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.7 proto esp spi 300 mode tunnel aead rfc4106(gcm(aes)) 0x${'bb'.repeat(36)} 64 encap espinudp 4500 4500 0.0.0.0 sel proto udp dport 53`,
  'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 1000 tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel',
  'ip xfrm policy add src 10.2.0.0/16 dst 10.1.0.0/16 dir in priority 1000 tmpl src 198.51.100.1 dst 192.0.2.1 proto esp reqid 1 mode tunnel level use',
  'ip xfrm policy add src 2001:db8::1/128 dst 2001:db8::2/128 proto tcp dport 443 dir out index 1001 action block',
  'ip xfrm policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto icmp type 8 code 0 dir fwd priority 5',
  'ip xfrm policy add src 2001:db8::/32 dst ::/0 dir out priority 7 tmpl dst 2001:db8::2 proto esp spi 0x200 reqid 2 mode transport tmpl src 192.0.2.1 dst 198.51.100.7 mode tunnel',
];

function loaded(): Xfrm {
  const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
  for (const line of CONFIG) applyXfrmLine(x, line);
  return x;
}

const listing = (x: Xfrm) => applyXfrmLine(x, 'ip xfrm state list') + '--\n' + applyXfrmLine(x, 'ip xfrm policy list');

describe('ip xfrm syntax', () => {
  it('tokenizes with quotes and columns', () => {
    expect(tokenize(`a 'b c' "" d`)).toEqual([
      { text: 'a', column: 1 },
      { text: 'b c', column: 3 },
      { text: '', column: 9 },
      { text: 'd', column: 12 },
    ]);
  });

  it('loads a configuration and prints it as ip xfrm list does', () => {
    const x = loaded();
    expect(x.sad.size).toBe(3);
    expect(x.spd.size).toBe(5);
    const state = applyXfrmLine(x, 'ip xfrm state get dst 198.51.100.1 proto esp spi 0x100');
    expect(state).toBe(
      [
        'src 192.0.2.1 dst 198.51.100.1',
        '\tproto esp spi 0x00000100 reqid 1 mode tunnel',
        '\treplay-window 64',
        `\taead rfc4106(gcm(aes)) ${K20} 128`,
        '\tsel src 10.1.0.0/16 dst 10.2.0.0/16',
        '',
      ].join('\n'),
    );
    expect(applyXfrmLine(x, 'ip xfrm policy get index 1001 dir out')).toBe(
      'src 2001:db8::1/128 dst 2001:db8::2/128 proto tcp dport 443\n\tdir out priority 0 ptype main index 1001 action block\n',
    );
    expect(applyXfrmLine(x, 'ip xfrm policy list dir in')).toContain('\t\tproto esp reqid 1 mode tunnel level use');
    expect(applyXfrmLine(x, 'ip xfrm state list', { redactKeys: true })).not.toContain('0102030405');
  });

  it('round-trips: parse, print, parse gives the same tables', () => {
    const x = loaded();
    x.sad.nextOutputSeq(x.sad.slotOf(x.sad.list()[0])); // live counters are printed and restored
    const text = listing(x);
    const [states, policies] = text.split('--\n');
    const y = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    for (const cmd of [...parseXfrmList(states, 'state'), ...parseXfrmList(policies, 'policy')]) {
      if (cmd.op !== 'add') throw new Error('expected add commands');
      if (cmd.object === 'state') y.addState(cmd.spec);
      else y.addPolicy(cmd.spec);
    }
    expect(listing(y)).toBe(text);
    const live = (z: Xfrm) => z.sad.list().map((st) => ({ ...st, replay: z.sad.countersOf(st) }));
    expect(live(y)).toEqual(live(x));
    expect(y.spd.list()).toEqual(x.spd.list());
  });

  it('deletes, deletealls and flushes', () => {
    const x = loaded();
    applyXfrmLine(x, 'ip xfrm state delete dst 198.51.100.1 proto esp spi 0x100');
    expect(x.sad.size).toBe(2);
    applyXfrmLine(x, 'ip xfrm state deleteall reqid 2');
    expect(x.sad.size).toBe(1);
    applyXfrmLine(x, 'ip xfrm policy delete src 10.0.0.0/8 dst 10.0.0.0/8 proto icmp type 8 code 0 dir fwd');
    applyXfrmLine(x, 'ip xfrm policy deleteall dir in');
    expect(x.spd.size).toBe(3);
    applyXfrmLine(x, 'ip xfrm policy flush');
    applyXfrmLine(x, 'ip xfrm state flush proto esp');
    expect(x.spd.size + x.sad.size).toBe(0);
  });

  const BAD: [string, RegExp, string?][] = [
    ['ip xfrm state add', /missing 'dst ADDR'/],
    ['ip xfrm stat add', /expected 'state' or 'policy'/, 'stat'],
    ['ip xfrm state ad src 1.2.3.4', /unknown state operation/, 'ad'],
    ['ip route show', /expected 'xfrm' after 'ip'/, 'route'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi zz ${GCM}`, /spi must be a number/, 'zz'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0x1ffffffff ${GCM}`, /spi must be a number from 0 to 4294967295/, '0x1ffffffff'],
    [`ip xfrm state add src 300.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM}`, /not an IPv4 or IPv6 address/, '300.1.1.1'],
    [`ip xfrm state add src 1.1.1.1 dst 2001:db8::1 proto esp spi 1 ${GCM}`, /is IPv6, the rest is IPv4/, '2001:db8::1'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto ah spi 1 ${GCM}`, /only esp/, 'ah'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 mode beet ${GCM}`, /mode must be/, 'beet'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 aead 'gcm(aes)' ${K20} 128`, /unsupported AEAD/, 'gcm(aes)'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 aead rfc4106(gcm(aes)) 0x123 128`, /even number of hex digits/, '0x123'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 aead rfc4106(gcm(aes)) 0x${'00'.repeat(16)} 128`, /4-byte salt, got 16 bytes/],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 aead rfc4106(gcm(aes)) ${K20} 100`, /ICV must be 64, 96 or 128/],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 aead rfc7539esp(chacha20,poly1305) ${K36} 64`, /ICV must be 128/],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 aead rfc4106(gcm(aes)) ${K20}`, /expected ICV length in bits, found the end/, ''],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 spi 2 ${GCM}`, /'spi' given twice/, 'spi'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 frobnicate ${GCM}`, /unknown word/, 'frobnicate'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} flag noecn`, /only 'flag esn'/, 'noecn'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 auth 'hmac(sha256)' 0x00`, /'auth' is not supported/, 'auth'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} replay-window 5000`, /replay-window must be 0..4096/],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} flag esn`, /flag esn needs a replay-window/],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} limit`, /expected a limit/, ''],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} limit time-soft abc`, /time-soft needs a whole number/, 'abc'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} encap espinudp-nonike 4500 4500 0.0.0.0`, /only 'espinudp'/, 'espinudp-nonike'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} encap espinudp 70000 4500 0.0.0.0`, /port must be a number from 0 to 65535/, '70000'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 aead 'rfc4106(gcm(aes)) ${K20} 128`, /unterminated quote/],
    [`ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 ${GCM}`, /state exists/],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} sel src 10.0.0.0/33`, /prefix length must be 0..32/, '10.0.0.0/33'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 ${GCM} sel proto tcp type 8`, /'type' is for icmp/, 'type'],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 1 enc cipher_null ""`, /benchmarks only/],
    [`ip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi 0 ${GCM}`, /spi 0 is reserved/],
    ['ip xfrm state delete dst 9.9.9.9 proto esp spi 5', /no state with dst 9.9.9.9/],
    ['ip xfrm state flush proto esp junk', /unexpected word/, 'junk'],
    ['ip xfrm policy add src 10.0.0.0/8 dst 10.0.0.0/8', /missing 'dir in\|out\|fwd'/],
    ['ip xfrm policy add src 10.0.0.0/8 dst 10.0.0.0/8 dir sideways', /dir must be 'in', 'out' or 'fwd'/, 'sideways'],
    ['ip xfrm policy add dir out priority -1', /priority must be a number/, '-1'],
    ['ip xfrm policy add dir out action drop', /action must be 'allow' or 'block'/, 'drop'],
    ['ip xfrm policy add dir out' + ' tmpl proto esp'.repeat(7), /at most 6 templates/, 'tmpl'],
    ['ip xfrm policy add dir out tmpl proto ah', /only esp/, 'ah'],
    ['ip xfrm policy add dir out tmpl proto esp mode tunnel', /a tunnel template needs src and dst/],
    ['ip xfrm policy add dir out index 10', /index 10 does not belong to dir out/],
    ['ip xfrm policy add dir out tmpl proto esp level maybe', /level must be 'required' or 'use'/, 'maybe'],
    ['ip xfrm policy add dir out mark 5', /'mark' is not supported/, 'mark'],
    ['ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out', /policy exists/],
    ['ip xfrm policy add src 10.1.0.0/16 dst 2001:db8::/32 dir out', /src and dst are of different families/, '2001:db8::/32'],
    ['ip xfrm policy get dir out', /give 'index N' or a selector/],
    ['ip xfrm policy delete index 17 dir out', /no such policy/],
  ];

  for (const [line, message, token] of BAD) {
    it(`rejects: ${line.slice(0, 90)}`, () => {
      const x = loaded();
      const before = listing(x);
      let err: unknown;
      try {
        applyXfrmLine(x, line);
      } catch (e) {
        err = e;
      }
      expect(err instanceof XfrmSyntaxError || err instanceof XfrmError).toBe(true);
      expect((err as Error).message).toMatch(message);
      if (token !== undefined) {
        expect(err).toBeInstanceOf(XfrmSyntaxError);
        expect((err as XfrmSyntaxError).token).toBe(token);
        if (token !== '') expect(line.slice((err as XfrmSyntaxError).column - 1)).toMatch(new RegExp(`^'?${token.replace(/[()|.*+?^$]/g, '\\$&')}`));
      }
      expect(listing(x)).toBe(before); // a rejected line changes nothing
    });
  }

  it('parses every line of the configuration into the command it says', () => {
    expect(parseXfrmLine(CONFIG[5])).toMatchObject({ object: 'policy', op: 'add', spec: { dir: 'out', index: 1001, action: 'block' } });
    expect(parseXfrmLine('xfrm state flush')).toEqual({ object: 'state', op: 'flush', proto: undefined });
  });
});

describe('u64 limits', () => {
  const line = (lim: string) => `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 ${GCM} limit ${lim}`;
  it('are parsed and printed exactly, through no double', () => {
    for (const v of ['9007199254740993', '18446744073709551614', '123456789012345678']) {
      const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
      applyXfrmLine(x, line(`packet-hard ${v} byte-soft ${v}`));
      expect(x.sad.list()[0].limits.hardPackets).toBe(BigInt(v));
      expect(applyXfrmLine(x, 'ip xfrm state list')).toContain(`byte-soft ${v} packet-hard ${v}`);
    }
  });

  it('INF is no limit; past 2^64-1, not whole, or in exponent form is refused with the token named', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, line('packet-hard INF'));
    expect(x.sad.list()[0].limits.hardPackets).toBe(2n ** 64n - 1n);
    for (const bad of ['18446744073709551616', '1e+23', '1.5', '-1', '100000000000000000000000']) {
      expect(() => parseXfrmLine(line(`byte-hard ${bad}`))).toThrow(XfrmSyntaxError);
    }
    expect(() => parseXfrmLine(line('time-hard 9007199254740993'))).toThrow(/below 2\^53/);
  });
});

describe('policies as Linux keeps them (issue 13)', () => {
  it('ports without a protocol, proto any and proto 0 are accepted, printed and parsed back, and match any protocol', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dport 53 dir out action block');
    applyXfrmLine(x, 'ip xfrm policy add src 10.3.0.0/16 dst 10.2.0.0/16 proto any dport 53 dir out action block');
    applyXfrmLine(x, 'ip xfrm policy add src 10.4.0.0/16 dst 10.2.0.0/16 proto 0 sport 1000 dport 53 dir out action block');
    applyXfrmLine(x, 'ip xfrm policy add src 10.5.0.0/16 dst 10.2.0.0/16 proto any dir out action block');
    const listed = applyXfrmLine(x, 'ip xfrm policy list');
    expect(listed).toContain('src 10.1.0.0/16 dst 10.2.0.0/16 dport 53');
    expect(listed).toContain('src 10.4.0.0/16 dst 10.2.0.0/16 sport 1000 dport 53');
    const back = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    for (const cmd of parseXfrmList(listed, 'policy')) if (cmd.object === 'policy' && cmd.op === 'add') back.addPolicy(cmd.spec);
    expect(applyXfrmLine(back, 'ip xfrm policy list')).toBe(listed);
    for (const proto of ['tcp', 'udp'] as const) {
      const flow = { family: 4 as const, src: { family: 4 as const, words: [0x0a010005, 0, 0, 0] }, dst: { family: 4 as const, words: [0x0a020003, 0, 0, 0] }, proto: proto === 'tcp' ? 6 : 17, sport: 1, dport: 53 };
      expect(x.resolve('out', flow).policy?.selector.dport).toBe(53);
      expect(x.resolve('out', { ...flow, dport: 54 }).policy).toBeUndefined();
    }
  });

  it('host bits are part of a policy: 10.0.0.0/8 and 10.1.2.3/8 are two policies, kept and printed as given', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, 'ip xfrm policy add src 10.0.0.0/8 dst 10.2.0.0/16 dir out priority 5 action block');
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.2.3/8 dst 10.2.0.0/16 dir out priority 5');
    expect(x.spd.list('out')).toHaveLength(2);
    const listed = applyXfrmLine(x, 'ip xfrm policy list');
    expect(listed).toContain('src 10.1.2.3/8 dst 10.2.0.0/16');
    // The first inserted wins the tie; an update of the second with its priority keeps it second.
    const flow = { family: 4 as const, src: { family: 4 as const, words: [0x0a090909, 0, 0, 0] }, dst: { family: 4 as const, words: [0x0a020003, 0, 0, 0] }, proto: 6, sport: 1, dport: 2 };
    expect(x.resolve('out', flow).policy?.action).toBe('block');
    applyXfrmLine(x, 'ip xfrm policy update src 10.1.2.3/8 dst 10.2.0.0/16 dir out priority 5 action allow');
    expect(x.spd.list('out')).toHaveLength(2);
    expect(x.resolve('out', flow).policy?.action).toBe('block');
    expect(() => applyXfrmLine(x, 'ip xfrm policy add src 10.1.2.3/8 dst 10.2.0.0/16 dir out')).toThrow(/exists/);
  });

  it('an update with the same priority keeps its place among equal priorities; a new priority goes behind', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 7 action allow');
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/24 dst 10.2.0.0/16 dir out priority 7 action block');
    const flow = { family: 4 as const, src: { family: 4 as const, words: [0x0a010005, 0, 0, 0] }, dst: { family: 4 as const, words: [0x0a020003, 0, 0, 0] }, proto: 6, sport: 1, dport: 2 };
    expect(x.resolve('out', flow).policy?.action).toBe('allow'); // inserted first
    applyXfrmLine(x, 'ip xfrm policy update src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 7 action allow');
    expect(x.resolve('out', flow).policy?.action).toBe('allow'); // kept its place
    applyXfrmLine(x, 'ip xfrm policy update src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 8 action allow');
    applyXfrmLine(x, 'ip xfrm policy update src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 7 action allow');
    expect(x.resolve('out', flow).policy?.action).toBe('block'); // its priority changed: now behind
  });
});

describe('template families (issue 14)', () => {
  it('a transport template of another family than the packets is refused, as Linux refuses it; a tunnel may change it', () => {
    const x = Xfrm.create({ heap: { maxBytes: 1 << 26 } });
    expect(() => applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 2001:db8::1 dst 2001:db8::2 proto esp reqid 1 mode transport')).toThrow(
      /transport mode template cannot change the family/,
    );
    expect(x.spd.size).toBe(0);
    applyXfrmLine(x, 'ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out tmpl src 2001:db8::1 dst 2001:db8::2 proto esp reqid 1 mode tunnel');
    expect(x.spd.size).toBe(1);
  });
});
