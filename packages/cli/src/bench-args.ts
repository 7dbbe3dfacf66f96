/**
 * Command-line arguments of dataplane-bench: parsed and checked here, so that a bad
 * argument is a clear message and exit code 2, never a stack trace.
 */
import { parseArgs } from 'node:util';

/** Scenarios the bench knows. */
export const SCENARIOS = ['tables'] as const;
export type Scenario = (typeof SCENARIOS)[number];

/** Parsed arguments. */
export interface BenchArgs {
  scenario: Scenario;
  queues: number;
  entries: number;
  churn: number;
  duration: number;
  seed: number;
  json: boolean;
  help: boolean;
}

/** A usage error: the message is for the user; exit code 2. */
export class UsageError extends Error {}

export const HELP = `dataplane-bench: Jamal's test case for the shared IPsec tables

Usage: dataplane-bench [scenario] [options]

Scenarios:
  tables        (default) reader threads, one per queue, look flows up in the shared
                hash table while the control thread adds and deletes entries

Options:
  --queues N      reader threads (queues), 1..64            default 2
  --entries N     entries in the table, 1..10000000         default 100000
  --churn N       control-plane adds+deletes per second     default 10000
  --duration S    seconds of traffic, 0.1..3600             default 3
  --seed N        seed of the flow generator               default 1
  --json          print the result as one JSON object
  -h, --help      this text

Examples:
  dataplane-bench
  dataplane-bench tables --queues 2 --entries 1000000 --churn 100000 --duration 10
  dataplane-bench --json > result.json
`;

function intIn(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return v;
}

/** Parse argv (without node and script). Throws UsageError on anything wrong. */
export function parseBenchArgs(argv: string[]): BenchArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        queues: { type: 'string' },
        entries: { type: 'string' },
        churn: { type: 'string' },
        duration: { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`one scenario at most, got: ${positionals.join(' ')}`);
  const scenario = positionals[0] ?? 'tables';
  if (!(SCENARIOS as readonly string[]).includes(scenario)) {
    throw new UsageError(`unknown scenario '${scenario}'; scenarios: ${SCENARIOS.join(', ')}`);
  }
  const duration = v.duration === undefined ? 3 : Number(v.duration);
  if (!(Number.isFinite(duration) && duration >= 0.1 && duration <= 3600)) {
    throw new UsageError(`--duration must be seconds from 0.1 to 3600, got '${v.duration}'`);
  }
  return {
    scenario: scenario as Scenario,
    queues: intIn('queues', v.queues, 2, 1, 64),
    entries: intIn('entries', v.entries, 100_000, 1, 10_000_000),
    churn: intIn('churn', v.churn, 10_000, 0, 10_000_000),
    duration,
    seed: intIn('seed', v.seed, 1, 0, 0xffffffff),
    json: v.json ?? false,
    help: v.help ?? false,
  };
}
