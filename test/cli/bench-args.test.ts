// dataplane-bench: argument parsing, and that the JSON carries every figure of the table
// (a short real run of each scenario and of an ablation, with an HTML report).
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { ABLATIONS, SCENARIOS, UsageError, parseBenchArgs } from '../../packages/cli/dist/bench-args.js';
import { formatCompare, resultRows } from '../../packages/cli/dist/bench-report.js';
import { defaultAeadBackendName } from '@xfrm/core';

const run = promisify(execFile);
const BIN = new URL('../../packages/cli/dist/dataplane-bench.js', import.meta.url).pathname;

describe('dataplane-bench arguments', () => {
  it('has defaults that make a short useful run', () => {
    expect(parseBenchArgs([])).toEqual({
      scenario: 'many-policies',
      queues: 2,
      states: 1000,
      policies: 1000,
      prefixed: 0,
      churn: 1000,
      duration: 5,
      packetSize: 64,
      cipher: 'aes-gcm-128',
      cryptoBackend: defaultAeadBackendName(), // native where the addon was built, else noble
      flows: 1024,
      seed: 1,
      family: 4,
      ablate: [],
      compare: false,
      runs: 1,
      order: false,
      perQueueSas: false,
      json: false,
      out: undefined,
      help: false,
    });
  });

  it('takes every option', () => {
    const a = parseBenchArgs([
      'one-policy-many-states', '--queues', '4', '--states', '5000', '--policies', '10', '--prefixed', '100', '--churn', '0',
      '--duration', '0.5', '--packet-size', '1400', '--cipher', 'chacha20-poly1305', '--crypto-backend', 'node', '--flows', '7',
      '--seed', '9', '--family', '6', '--ablate', 'list-spd,flush', '--ablate', 'refcount', '--compare', '--runs', '3', '--json', '--out', 'r.html',
    ]);
    expect(a).toMatchObject({
      scenario: 'one-policy-many-states', queues: 4, states: 5000, policies: 10, prefixed: 100, churn: 0, duration: 0.5,
      packetSize: 1400, cipher: 'chacha20-poly1305', cryptoBackend: 'node', flows: 7, seed: 9, family: 6,
      ablate: ['list-spd', 'flush', 'refcount'], compare: true, runs: 3, json: true, out: 'r.html',
    });
    expect(parseBenchArgs(['lookup']).cipher).toBe('null');
    expect(parseBenchArgs(['crypto']).churn).toBe(0);
    expect(SCENARIOS.length).toBe(5);
    expect(ABLATIONS.length).toBe(7);
    // The Map baseline has no invalidation: only without churn.
    expect(() => parseBenchArgs(['lookup', '--ablate', 'map-classifier'])).toThrow(/--churn 0/);
    expect(parseBenchArgs(['lookup', '--ablate', 'map-classifier', '--churn', '0']).ablate).toEqual(['map-classifier']);
  });

  for (const [argv, message] of [
    [['--queues', 'x'], /--queues must be a whole number from 1 to 64, got 'x'/],
    [['--queues', '0'], /--queues/],
    [['--states', '1e3'], /--states/],
    [['--duration', '0.1'], /--duration/],
    [['--packet-size', '20'], /--packet-size/],
    [['--family', '5'], /--family must be one of 4, 6, got '5'/],
    [['--runs', '3'], /--runs is for --compare/],
    [['--compare', '--runs', '0'], /--runs must be a whole number from 1 to 99/],
    [['--family', '6', '--packet-size', '40'], /--packet-size must be a whole number from 48 to 1400/],
    [['--cipher', 'des'], /--cipher must be one of aes-gcm-128, aes-gcm-256, chacha20-poly1305, null, got 'des'/],
    [['--crypto-backend', 'openssl'], /--crypto-backend/],
    [['--ablate', 'everything'], /unknown ablation 'everything'/],
    [['--out', 'report.txt'], /--out must name an \.html file/],
    [['lookup', '--cipher', 'aes-gcm-128'], /lookup scenario runs with --cipher null only/],
    [['--bogus'], /bogus/],
    [['nosuch'], /unknown scenario 'nosuch'/],
    [['crypto', 'lookup'], /one scenario at most/],
  ] as const) {
    it(`rejects ${argv.join(' ')} with a clear message`, () => {
      expect(() => parseBenchArgs([...argv])).toThrow(UsageError);
      expect(() => parseBenchArgs([...argv])).toThrow(message);
    });
  }

  it('exits 2 on bad arguments, with the message on stderr', async () => {
    const err = await run(process.execPath, [BIN, '--queues', '0']).catch((e) => e);
    expect(err.code).toBe(2);
    expect(err.stderr).toContain('dataplane-bench: --queues must be a whole number');
  });
});

describe('dataplane-bench runs', () => {
  const dir = mkdtempSync(join(tmpdir(), 'bench-'));
  for (const scenario of SCENARIOS) {
    it(`${scenario}: the JSON carries every figure of the table, and the HTML report is self-contained`, async () => {
      const out = join(dir, `${scenario}.html`);
      const { stdout } = await run(process.execPath, [BIN, scenario, '--duration', '0.6', '--policies', '50', '--states', '100', '--churn', '200', '--json', '--out', out]);
      const r = JSON.parse(stdout);
      for (const key of ['scenario', 'params', 'packetsPerSecond', 'perQueue', 'nsPerPacket', 'lookupsPerPacket', 'batchLatencyUs', 'control', 'packets', 'memory', 'timeline']) {
        expect(r).toHaveProperty(key);
      }
      expect(r.perQueue.map((q: { queue: number }) => q.queue)).toEqual([0, 1]);
      expect(r.packets.submitted).toBeGreaterThan(0);
      expect(r.timeline.length).toBeGreaterThan(0);
      // Every figure the table prints comes from the JSON object.
      const table = (await run(process.execPath, [BIN, scenario, '--duration', '0.6', '--policies', '50', '--states', '100'])).stdout;
      for (const [label] of resultRows(r)) if (!label.startsWith('dropped:')) expect(table).toContain(label);
      const html = readFileSync(out, 'utf8');
      expect(html).toContain('<svg');
      expect(html).toContain('packets/s (total)');
      expect(html).not.toMatch(/(src|href)=["']https?:/);
    });
  }

  for (const family of ['4', '6']) {
    it(`IPv${family}: counts lookups and flow cache hits from the end of the warm-up, as it counts packets; every packet finds its policy`, async () => {
      // Without churn every flow misses once, in the warm-up, and then always hits: one lookup a
      // packet (the counters used to include the warm-up's, and showed ~1.2 lookups a packet).
      // A reading of the counters is not one instant (a queue publishes a batch while they are
      // read): within 0.1 %.
      const { stdout } = await run(process.execPath, [BIN, 'lookup', '--duration', '1', '--queues', '1', '--policies', '100', '--flows', '256', '--churn', '0', '--family', family, '--json']);
      const r = JSON.parse(stdout);
      expect(r.params.family).toBe(Number(family));
      expect(r.packets.dropped).toEqual({});
      expect(r.packets.passed).toBe(0);
      const n = r.packets.submitted;
      expect(n).toBeGreaterThan(0);
      expect(r.flowCache.misses).toBe(0);
      expect(Math.abs(r.flowCache.hits - n)).toBeLessThan(n / 1000);
      expect(Math.abs(r.packets.transmitted - n)).toBeLessThan(n / 1000);
      expect(Math.abs(r.lookupsPerPacket - 1)).toBeLessThan(1e-3);
    });
  }

  it('--compare runs with and without an ablation and prints the ratio', async () => {
    const { stdout } = await run(process.execPath, [BIN, 'many-policies', '--compare', '--ablate', 'no-flowcache', '--duration', '0.6', '--policies', '50', '--states', '50']);
    expect(stdout).toMatch(/no-flowcache\s+[\d,]+\s+[\d,]+\s+\d\.\d{3}/);
  });

  it('--compare --runs N: N interleaved pairs, the medians of their figures and the spread of their ratios', async () => {
    const args = [BIN, 'lookup', '--compare', '--ablate', 'no-flowcache', '--runs', '3', '--duration', '0.5', '--policies', '20', '--churn', '0'];
    const { stdout } = await run(process.execPath, [...args, '--json']);
    const [row] = JSON.parse(stdout).compare;
    expect(row.ablation).toBe('no-flowcache');
    expect(row.pairs).toHaveLength(3);
    const table = (await run(process.execPath, args)).stdout;
    expect(table).toContain('medians of interleaved pairs');
    expect(table).toMatch(/no-flowcache\s+[\d,]+\s+[\d,]+\s+\d\.\d{3}\s+\d\.\d{3}-\d\.\d{3} \(3\)/);
    // The figures, from pairs of known packets/s (a real result with its rates replaced).
    const at = (pps: number) => ({ ...row.pairs[0].base, packetsPerSecond: pps });
    const rowOf = (without: number[]) => ({ ablation: 'x', pairs: without.map((w) => ({ base: at(100), ablated: at(w) })) });
    const line = (without: number[]) => formatCompare([rowOf(without)]).split('\n').find((l: string) => l.startsWith('x '));
    expect(line([30, 40, 35])).toMatch(/^x\s+100\s+35\s+0\.350\s+0\.300-0\.400 \(3\)/);
    expect(line([30, 40, 35, 32])).toMatch(/^x\s+100\s+34\s+0\.335\s+0\.300-0\.400 \(4\)/); // even: the mean of the middle two
  });
});
