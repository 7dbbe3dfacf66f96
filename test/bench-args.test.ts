import { describe, expect, it } from 'vitest';
import { UsageError, parseBenchArgs } from '../packages/cli/dist/bench-args.js';

describe('dataplane-bench arguments', () => {
  it('has defaults that make a short useful run', () => {
    expect(parseBenchArgs([])).toEqual({
      scenario: 'tables',
      queues: 2,
      entries: 100_000,
      churn: 10_000,
      duration: 3,
      seed: 1,
      json: false,
      help: false,
    });
  });

  it('takes a scenario and options', () => {
    const a = parseBenchArgs(['tables', '--queues', '4', '--entries', '1000000', '--churn', '0', '--duration', '0.5', '--json']);
    expect(a).toMatchObject({ scenario: 'tables', queues: 4, entries: 1_000_000, churn: 0, duration: 0.5, json: true });
  });

  for (const [argv, message] of [
    [['--queues', 'x'], /--queues must be a whole number from 1 to 64, got 'x'/],
    [['--queues', '0'], /--queues/],
    [['--entries', '1e3'], /--entries/],
    [['--duration', '-1'], /--duration/],
    [['--bogus'], /bogus/],
    [['nosuch'], /unknown scenario 'nosuch'/],
    [['tables', 'tables'], /one scenario at most/],
  ] as const) {
    it(`rejects ${argv.join(' ')} with a clear message`, () => {
      expect(() => parseBenchArgs([...argv])).toThrow(UsageError);
      expect(() => parseBenchArgs([...argv])).toThrow(message);
    });
  }
});
