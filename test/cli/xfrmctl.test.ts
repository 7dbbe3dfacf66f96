// xfrmctl end to end: the real bin on real files (configurations, and captures in every
// supported format and link type, made by the builders in captures.ts).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { udpPacket } from '../core/esp/helpers.js';
import { ethernet, pcap, pcapng, readPcapFrames, sll, sll2, type TestFrame } from './captures.js';

const run = promisify(execFile);
const BIN = new URL('../../packages/cli/dist/xfrmctl.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'xfrmctl-'));

async function xfrmctl(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args]);
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}

const K4 = '0x' + '0102030405060708090a0b0c0d0e0f10' + '11121314';
const K6 = '0x' + 'ab'.repeat(32) + 'cdcdcdcd';
const SAS = [
  `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${K4} 128 replay-window 64`,
  `ip xfrm state add src 2001:db8:ffff::1 dst 2001:db8:eeee::1 proto esp spi 0x200 reqid 2 mode tunnel aead 'rfc7539esp(chacha20,poly1305)' ${K6} 128 replay-window 64`,
];
const TMPL4 = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel';
const TMPL6 = 'tmpl src 2001:db8:ffff::1 dst 2001:db8:eeee::1 proto esp reqid 2 mode tunnel';
const A = [
  '# gateway A: sends to B',
  ...SAS,
  `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out priority 100 ${TMPL4}`,
  `ip xfrm policy add src 2001:db8:1::/48 dst 2001:db8:2::/48 dir out priority 100 ${TMPL6}`,
  'ip xfrm policy add src 10.1.9.9/32 dst 10.2.0.0/16 proto udp dir out priority 10 action block',
  '',
].join('\n');
const B = [
  '# gateway B: receives from A',
  ...SAS,
  `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir in priority 100 ${TMPL4}`,
  `ip xfrm policy add src 2001:db8:1::/48 dst 2001:db8:2::/48 dir in priority 100 ${TMPL6}`,
].join('\n');
const confA = join(dir, 'a.conf');
const confB = join(dir, 'b.conf');
writeFileSync(confA, A);
writeFileSync(confB, B);

const PACKETS = [
  udpPacket('10.1.0.5', '10.2.0.7', 40), // tunnelled over IPv4
  udpPacket('2001:db8:1::5', '2001:db8:2::7', 300), // tunnelled over IPv6
  udpPacket('10.1.0.5', '10.2.0.8', 0),
  udpPacket('172.16.0.1', '172.16.0.2', 10), // no policy: passes
  udpPacket('10.1.9.9', '10.2.0.1', 10), // blocked
];
const frames = (wrap: (ip: Uint8Array) => Uint8Array): TestFrame[] => PACKETS.map((p, i) => ({ seconds: 1_700_000_000 + i, micros: 1000 * i + 7, data: wrap(p) }));

describe('xfrmctl check and list', () => {
  it('accepts a good configuration', async () => {
    const r = await xfrmctl('check', '-c', confA);
    expect(r).toMatchObject({ code: 0, stdout: `${confA}: 5 lines, 2 states, 3 policies: ok\n` });
  });

  it('reports every bad line with file:line and the bad token, exit 1', async () => {
    const bad = join(dir, 'bad.conf');
    writeFileSync(bad, `${SAS[0]}\n\nip xfrm state add src 1.1.1.1 dst 2.2.2.2 proto esp spi zz\nip xfrm policy add dir sideways # comment\n`);
    const r = await xfrmctl('check', '-c', bad);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${bad}:3: column 57, 'zz': spi must be a number`);
    expect(r.stderr).toContain(`${bad}:4: column 24, 'sideways': dir must be 'in', 'out' or 'fwd'`);
  });

  it('lists the tables as ip xfrm does, and reads standard input', async () => {
    const states = await xfrmctl('list', '-c', confA, 'state');
    expect(states.stdout).toContain('src 192.0.2.1 dst 198.51.100.1\n\tproto esp spi 0x00000100 reqid 1 mode tunnel\n');
    expect(states.stdout).not.toContain('dir out');
    const policies = await xfrmctl('list', '-c', confA, 'policy');
    expect(policies.stdout).toContain('src 10.1.9.9/32 dst 10.2.0.0/16 proto udp\n\tdir out priority 10 ptype main index');
    const exec = promisify(execFile);
    const child = exec(process.execPath, [BIN, 'check', '-c', '-']);
    child.child.stdin!.end(SAS[0] + '\n');
    expect((await child).stdout).toBe('<stdin>: 1 lines, 1 states, 0 policies: ok\n');
  });
});

describe('xfrmctl lookup', () => {
  it('prints the winning policy and its states', async () => {
    const r = await xfrmctl('lookup', '-c', confA, '--dir', 'out', '--src', '10.1.0.5', '--dst', '10.2.3.4', '--proto', 'udp', '--dport', '53');
    expect(r.stdout).toMatch(/^policy index \d+ priority 100 action allow\n/);
    expect(r.stdout).toContain('state dst 198.51.100.1 proto esp spi 0x00000100 reqid 1 mode tunnel');
  });

  it('answers in JSON: policy, states, acquire', async () => {
    const hit = JSON.parse((await xfrmctl('lookup', '-c', confA, '--dir', 'out', '--src', '2001:db8:1::1', '--dst', '2001:db8:2::2', '--json')).stdout);
    expect(hit).toMatchObject({ policy: { priority: 100, action: 'allow' }, states: [{ spi: 0x200, dst: '2001:db8:eeee::1', proto: 'esp' }], acquire: false });
    const block = JSON.parse((await xfrmctl('lookup', '-c', confA, '--dir', 'out', '--src', '10.1.9.9', '--dst', '10.2.0.1', '--proto', 'udp', '--json')).stdout);
    expect(block).toMatchObject({ policy: { priority: 10, action: 'block' }, states: [], acquire: false });
    const none = JSON.parse((await xfrmctl('lookup', '-c', confA, '--dir', 'in', '--src', '10.1.0.1', '--dst', '10.2.0.1', '--json')).stdout);
    expect(none).toEqual({ policy: null, states: [], acquire: false });
    const noState = join(dir, 'nostate.conf');
    writeFileSync(noState, `ip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir out ${TMPL4}\n`);
    const acq = JSON.parse((await xfrmctl('lookup', '-c', noState, '--dir', 'out', '--src', '10.1.0.1', '--dst', '10.2.0.1', '--json')).stdout);
    expect(acq).toMatchObject({ states: [], acquire: true });
  });

  it('ICMP type and code', async () => {
    const f = join(dir, 'icmp.conf');
    writeFileSync(f, 'ip xfrm policy add src 10.0.0.0/8 dst 10.0.0.0/8 proto icmp type 8 dir out action block\n');
    const echo = JSON.parse((await xfrmctl('lookup', '-c', f, '--dir', 'out', '--src', '10.0.0.1', '--dst', '10.0.0.2', '--proto', 'icmp', '--type', '8', '--code', '0', '--json')).stdout);
    const reply = JSON.parse((await xfrmctl('lookup', '-c', f, '--dir', 'out', '--src', '10.0.0.1', '--dst', '10.0.0.2', '--proto', 'icmp', '--type', '0', '--json')).stdout);
    expect([echo.policy?.action, reply.policy]).toEqual(['block', null]);
  });
});

describe('xfrmctl encrypt and decrypt', () => {
  const CAPTURES: [string, Buffer][] = [
    ['pcap, raw IP', pcap(101, frames((p) => p))],
    ['pcap, Ethernet, big-endian, nanoseconds', pcap(1, frames((p) => ethernet(p)), { bigEndian: true, nanos: true })],
    ['pcap, Ethernet with 802.1Q', pcap(1, frames((p) => ethernet(p, true)))],
    ['pcap, Linux cooked v1', pcap(113, frames(sll))],
    ['pcap, Linux cooked v2', pcap(276, frames(sll2))],
    ['pcapng, Ethernet', pcapng([1], frames((p) => ethernet(p)))],
    ['pcapng, two interfaces, nanoseconds', pcapng([1, 276], frames((p) => p).map((f, i) => ({ ...f, iface: i & 1, data: i & 1 ? sll2(f.data) : ethernet(f.data) })), { nanos: true })],
  ];
  for (const [name, capture] of CAPTURES) {
    it(`${name}: encrypt then decrypt with mirrored configurations gives back the packets byte for byte`, async () => {
      const tag = name.replace(/\W+/g, '-');
      const input = join(dir, `${tag}.in`);
      const esp = join(dir, `${tag}.esp.pcap`);
      const back = join(dir, `${tag}.back.pcap`);
      writeFileSync(input, capture);
      // Every capture is encrypted from sequence 1 again, on purpose (a test): --reuse-nonces.
      const enc = await xfrmctl('encrypt', '-c', confA, '-i', input, '-o', esp, '--reuse-nonces');
      expect(enc.code).toBe(0);
      expect(enc.stderr).toBe(
        'dropped:XfrmOutPolBlock 1\nencrypted 3\npassed 1\n' +
          'next: state dst 198.51.100.1 spi 0x100 replay-oseq 0x2\nnext: state dst 2001:db8:eeee::1 spi 0x200 replay-oseq 0x1\n',
      );
      const wire = readPcapFrames(readFileSync(esp));
      expect(wire.linkType).toBe(101);
      expect(wire.frames.map((f) => (f.data[0] >> 4 === 4 ? f.data[9] : f.data[6]))).toEqual([50, 50, 50, 17]);
      expect(wire.frames.map((f) => [f.seconds, f.micros])).toEqual([0, 1, 2, 3].map((i) => [1_700_000_000 + i, 1000 * i + 7]));
      const dec = await xfrmctl('decrypt', '-c', confB, '-i', esp, '-o', back, '--crypto-backend', 'node');
      expect(dec.code).toBe(0);
      expect(dec.stderr).toBe('decrypted 3\npassed 1\n');
      const got = readPcapFrames(readFileSync(back)).frames.map((f) => Buffer.from(f.data).toString('hex'));
      expect(got).toEqual(PACKETS.slice(0, 4).map((p) => Buffer.from(p).toString('hex')));
    });
  }

  it('decrypting twice counts replays; a bad capture is exit 1; bad usage exit 2', async () => {
    const input = join(dir, 'twice.pcap');
    const esp = join(dir, 'twice.esp.pcap');
    writeFileSync(input, pcap(101, frames((p) => p)));
    await xfrmctl('encrypt', '-c', confA, '-i', input, '-o', esp, '--reuse-nonces');
    const espFrames = readPcapFrames(readFileSync(esp)).frames;
    const doubled = join(dir, 'doubled.pcap');
    writeFileSync(doubled, pcap(101, [...espFrames, ...espFrames]));
    const dec = await xfrmctl('decrypt', '-c', confB, '-i', doubled, '-o', join(dir, 'x.pcap'));
    expect(dec.stderr).toBe('decrypted 3\ndropped:XfrmInStateSeqError 3\npassed 2\n');
    const broken = join(dir, 'broken.pcap');
    writeFileSync(broken, pcap(101, frames((p) => p)).subarray(0, 60));
    const r = await xfrmctl('decrypt', '-c', confB, '-i', broken, '-o', join(dir, 'y.pcap'));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/capture truncated/);
    expect((await xfrmctl('encrypt', '-c', confA, '-i', input)).code).toBe(2);
    expect((await xfrmctl('frobnicate', '-c', confA)).code).toBe(2);
  });
});

describe('xfrmctl wireshark', () => {
  it("prints the states as Wireshark's esp_sa table lines", async () => {
    const r = await xfrmctl('wireshark', '-c', confA);
    expect(r.stdout.split('\n')).toEqual([
      `"IPv4","192.0.2.1","198.51.100.1","0x00000100","AES-GCM with 16 octet ICV [RFC4106]","${K4}","NULL",""`,
      `"IPv6","2001:db8:ffff::1","2001:db8:eeee::1","0x00000200","ChaCha20 with Poly1305 [RFC7634]","${K6}","NULL",""`,
      '',
    ]);
  });
});
