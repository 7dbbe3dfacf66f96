// Issue 14 (files and exit codes): xfrmctl and dataplane-bench never destroy a file, fail
// with one clear line and exit 1 on an unwritable output (before doing the work), read and
// write standard input and output with '-', log per packet, make drops an error on request,
// and refuse to encrypt twice with the same (key, nonce) pairs.
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { udpPacket } from '../core/esp/helpers.js';
import { pcap, readPcapFrames } from './captures.js';

const run = promisify(execFile);
const XFRMCTL = new URL('../../packages/cli/dist/xfrmctl.js', import.meta.url).pathname;
const BENCH = new URL('../../packages/cli/dist/dataplane-bench.js', import.meta.url).pathname;
const dir = mkdtempSync(join(tmpdir(), 'xfrmctl-files-'));

async function cmd(bin: string, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [bin, ...args], { encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
const xfrmctl = (...args: string[]) => cmd(XFRMCTL, ...args);

/** Run with `input` on stdin; stdout as bytes. */
function piped(args: string[], input: Buffer): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [XFRMCTL, ...args]);
    const out: Buffer[] = [];
    let err = '';
    p.stdout.on('data', (b: Buffer) => out.push(b));
    p.stderr.on('data', (b: Buffer) => (err += b));
    p.on('close', (code) => resolve({ code: code ?? -1, stdout: Buffer.concat(out), stderr: err }));
    p.stdin.end(input);
  });
}

const KEY = '0x' + '0102030405060708090a0b0c0d0e0f10' + '11121314';
const SA = `ip xfrm state add src 192.0.2.1 dst 198.51.100.1 proto esp spi 0x100 reqid 1 mode tunnel aead 'rfc4106(gcm(aes))' ${KEY} 128 replay-window 64`;
const TMPL = 'tmpl src 192.0.2.1 dst 198.51.100.1 proto esp reqid 1 mode tunnel';
const conf = (name: string, dirWord: string) => {
  const path = join(dir, name);
  writeFileSync(path, `${SA}\nip xfrm policy add src 10.1.0.0/16 dst 10.2.0.0/16 dir ${dirWord} ${TMPL}\n`);
  return path;
};
const plain = pcap(101, [0, 1, 2].map((i) => ({ seconds: 1, micros: i, data: udpPacket(`10.1.0.${i + 1}`, '10.2.0.1', 20) })));

describe('xfrmctl never destroys a file', () => {
  it('refuses output = input, leaving it intact (exit 2)', async () => {
    const a = conf('same.conf', 'out');
    const f = join(dir, 'same.pcap');
    writeFileSync(f, plain);
    const r = await xfrmctl('encrypt', '-c', a, '-i', f, '-o', f);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/same file/);
    expect(readFileSync(f).equals(plain)).toBe(true);
  });

  it('a missing or garbage input leaves an existing output as it was, and no temporary file', async () => {
    const a = conf('keep.conf', 'out');
    const out = join(dir, 'keep.out');
    writeFileSync(out, 'precious');
    const garbage = join(dir, 'garbage.pcap');
    writeFileSync(garbage, 'not a capture at all, just text');
    for (const input of [join(dir, 'missing.pcap'), garbage]) {
      const r = await xfrmctl('encrypt', '-c', a, '-i', input, '-o', out, '--reuse-nonces');
      expect(r.code).toBe(1);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
      expect(readFileSync(out, 'utf8')).toBe('precious');
    }
    expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
  });

  it('an unwritable output (missing folder, a directory, no permission) is one line and exit 1, before any work', async () => {
    const a = conf('unwritable.conf', 'out');
    const input = join(dir, 'unwritable.pcap');
    writeFileSync(input, plain);
    const ro = mkdtempSync(join(tmpdir(), 'ro-'));
    chmodSync(ro, 0o555);
    const targets = [join(dir, 'no', 'such', 'folder.pcap'), dir];
    if (process.getuid?.() !== 0) targets.push(join(ro, 'x.pcap')); // root writes anywhere
    for (const out of targets) {
      const r = await xfrmctl('encrypt', '-c', a, '-i', input, '-o', out, '--reuse-nonces');
      expect(r.code, out).toBe(1);
      expect(r.stderr).toMatch(/^xfrmctl: cannot write .*: (its folder does not exist|it is a directory|permission denied)\n$/);
    }
    const b = await cmd(BENCH, '--duration', '1', '--out', join(dir, 'no', 'such', 'r.html'));
    expect(b.code).toBe(1);
    expect(b.stderr).toMatch(/cannot write/);
    expect(b.stdout).toBe(''); // refused before running the benchmark
  });
});

describe('xfrmctl streams, logs and strictness', () => {
  it("'-i -' reads standard input and '-o -' writes standard output", async () => {
    const a = conf('pipe.conf', 'out');
    const r = await piped(['encrypt', '-c', a, '-i', '-', '-o', '-', '--reuse-nonces'], plain);
    expect(r.code).toBe(0);
    expect(readPcapFrames(r.stdout).frames).toHaveLength(3);
  });

  it('--log writes one JSON line per frame; --strict makes drops an error; --no-policy-check decrypts without inbound policies', async () => {
    const a = conf('log-a.conf', 'out');
    const esp = join(dir, 'log.esp.pcap');
    expect((await xfrmctl('encrypt', '-c', a, '-i', (writeFileSync(join(dir, 'log.in'), plain), join(dir, 'log.in')), '-o', esp, '--reuse-nonces')).code).toBe(0);
    const espFrames = readPcapFrames(readFileSync(esp)).frames;
    const doubled = join(dir, 'log.doubled.pcap');
    writeFileSync(doubled, pcap(101, [...espFrames, ...espFrames]));
    const b = conf('log-b.conf', 'in');
    const log = join(dir, 'decrypt.jsonl');
    const lax = await xfrmctl('decrypt', '-c', b, '-i', doubled, '-o', join(dir, 'log.back.pcap'), '--log', log);
    expect(lax.code).toBe(0);
    const lines = readFileSync(log, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(lines).toHaveLength(6);
    expect(lines[0]).toEqual({ frame: 1, spi: 0x100, seq: 1, verdict: 'decrypted', reason: null });
    expect(lines[3]).toEqual({ frame: 4, spi: 0x100, seq: 1, verdict: 'dropped', reason: 'XfrmInStateSeqError' });
    const strict = await xfrmctl('decrypt', '-c', b, '-i', doubled, '-o', join(dir, 'log.back2.pcap'), '--strict');
    expect(strict.code).toBe(1);
    // Keys known, inner subnets not: a configuration with the state and no policy at all.
    const keysOnly = join(dir, 'keys-only.conf');
    writeFileSync(keysOnly, `${SA}\n`);
    const without = await xfrmctl('decrypt', '-c', keysOnly, '-i', esp, '-o', join(dir, 'log.back3.pcap'), '--no-policy-check', '--strict');
    expect(without.stderr).toBe('decrypted 3\n');
    expect((await xfrmctl('decrypt', '-c', keysOnly, '-i', esp, '-o', join(dir, 'log.back4.pcap'))).stderr).toBe('dropped:XfrmInNoPols 3\n');
  });
});

describe('xfrmctl encrypt never reuses a nonce across runs', () => {
  it('--update-config moves the configuration on, the next run continues the sequence, and a run from sequence 1 again is refused', async () => {
    const a = conf('nonce-a.conf', 'out');
    const input = join(dir, 'nonce.in');
    writeFileSync(input, plain);
    const first = await xfrmctl('encrypt', '-c', a, '-i', input, '-o', join(dir, 'nonce1.pcap'), '--update-config');
    expect(first.code).toBe(0);
    expect(first.stderr).toContain('next: state dst 198.51.100.1 spi 0x100 replay-oseq 0x3');
    expect(readFileSync(a, 'utf8')).toContain('replay-oseq 0x3');
    // The configuration says 3 now: a second run continues at 4.
    const second = await xfrmctl('encrypt', '-c', a, '-i', input, '-o', join(dir, 'nonce2.pcap'));
    expect(second.code).toBe(0);
    expect(readPcapFrames(readFileSync(join(dir, 'nonce2.pcap'))).frames.map((f) => f.data[27])).toEqual([4, 5, 6]);
    // A configuration put back to sequence 1 is refused: its numbers were sent.
    writeFileSync(a, readFileSync(a, 'utf8').replace(/ replay-oseq 0x\w+/g, ''));
    const again = await xfrmctl('encrypt', '-c', a, '-i', input, '-o', join(dir, 'nonce3.pcap'));
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/would reuse \(key, nonce\) pairs/);
    expect(existsSync(join(dir, 'nonce3.pcap'))).toBe(false);
  });
});

describe('configuration errors stay short', () => {
  it('a huge token is cut, unprintable bytes escaped, and a binary file stops after a bounded number of errors', async () => {
    const huge = join(dir, 'huge.conf');
    writeFileSync(huge, `ip xfrm state add src ${'9'.repeat(1_000_000)} dst 198.51.100.1\n`);
    const a = await xfrmctl('check', '-c', huge);
    expect(a.code).toBe(1);
    expect(a.stderr.length).toBeLessThan(300);
    expect(a.stderr).toMatch(/\(1000000 characters\)/);
    const binary = join(dir, 'binary.conf');
    writeFileSync(binary, Buffer.from(Array.from({ length: 200_000 }, (_, i) => (i * 7919) % 256)));
    const b = await xfrmctl('check', '-c', binary);
    expect(b.code).toBe(1);
    const lines = b.stderr.trim().split('\n');
    expect(lines.length).toBeLessThanOrEqual(51);
    expect(lines.at(-1)).toMatch(/stopped after 50 errors/);
    expect(b.stderr).not.toMatch(/[\x00-\x08\x0e-\x1f\x7f]/);
  });
});

describe('xfrmctl lookup --flows', () => {
  it('answers many flows in one process, one JSON line each, from a file or stdin; a bad line gets an error line', async () => {
    const a = conf('batch.conf', 'out');
    const flows = 'out 10.1.0.5 10.2.3.4 udp 1000 53\n# a comment\nout 10.9.0.1 10.2.3.4\nsideways 1.2.3.4 5.6.7.8\n';
    const r = await piped(['lookup', '-c', a, '--flows', '-'], Buffer.from(flows));
    const answers = r.stdout.toString().trim().split('\n').map((l) => JSON.parse(l));
    expect(answers).toHaveLength(3);
    expect(answers[0].states).toEqual([{ spi: 0x100, dst: '198.51.100.1', proto: 'esp' }]);
    expect(answers[1]).toEqual({ policy: null, states: [], acquire: false });
    expect(answers[2]).toMatchObject({ line: 4, error: expect.stringMatching(/--dir in\|out\|fwd/) });
    expect(r.code).toBe(1); // a bad line makes the run an error, after every answer
  });
});
