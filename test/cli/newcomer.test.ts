// Issue 14 (a newcomer's first hour): the documented commands work as the README gives them,
// and every value the benchmark accepts either works or is refused up front with its limit.
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const root = new URL('../../', import.meta.url).pathname;
const BENCH = `${root}packages/cli/dist/dataplane-bench.js`;

async function cmd(file: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(file, args, { cwd: root, encoding: 'utf8' });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code: number; stdout: string; stderr: string };
    return { code: err.code, stdout: err.stdout, stderr: err.stderr };
  }
}
const bench = (...args: string[]) => cmd(process.execPath, [BENCH, ...args]);

describe('the README on a fresh clone', () => {
  it('pnpm links both commands at install (they exist before the build), and they run once built', async () => {
    for (const name of ['xfrmctl', 'dataplane-bench']) {
      const bin = `${root}node_modules/.bin/${name}`;
      expect(existsSync(bin), bin).toBe(true);
      const r = await cmd(bin, ['--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`${name}:`);
    }
  });

  it("the README's lookup example runs (prefixed policies beyond 9 used to die with 'policy exists')", async () => {
    const r = await bench('lookup', '--policies', '2000', '--prefixed', '1000', '--duration', '1', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).packetsPerSecond).toBeGreaterThan(0);
  });

  it('refuses what it cannot run, naming the limit, before running anything', async () => {
    for (const [args, msg] of [
      [['--states', '5000000'], /--states must be .*4000000/],
      [['--policies', '5000000'], /--policies must be .*4000000/],
      [['--prefixed', '600000'], /--prefixed must be .*500000/],
      [['--ablate', 'list-spd', '--policies', '30000'], /list-spd .* at most 20000 policies/],
    ] as const) {
      const r = await bench(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(msg);
    }
  });

  it('headers name what the scenario installs', async () => {
    expect((await bench('crypto', '--duration', '1')).stdout.split('\n')[0]).toMatch(/^crypto: 2 queues, 1 policy, 1 state,/);
    expect((await bench('one-policy-many-states', '--states', '50', '--duration', '1')).stdout.split('\n')[0]).toMatch(/1 policy, 50 states/);
  });

  it('--order reports how far out of sequence packets leave; with --per-queue-sas nothing leaves out of order', async () => {
    const shared = JSON.parse((await bench('crypto', '--order', '--duration', '1', '--json')).stdout);
    expect(shared.order).toMatchObject({ maxBehind: expect.any(Number), p99Behind: expect.any(Number), peerDrops: { w32: expect.any(Number), w64: expect.any(Number), w1024: expect.any(Number) } });
    const own = JSON.parse((await bench('crypto', '--order', '--per-queue-sas', '--duration', '1', '--json')).stdout);
    expect(own.order).toEqual({ maxBehind: 0, p99Behind: 0, peerDrops: { w32: 0, w64: 0, w1024: 0 } });
    expect((await bench('many-policies', '--per-queue-sas')).code).toBe(2);
  });
});
