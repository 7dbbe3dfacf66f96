/**
 * Command-line arguments of dataplane-bench, parsed and checked here, so that a bad argument
 * is a clear message and exit code 2, never a stack trace.
 */
import { parseArgs } from 'node:util';
import { AEAD_BACKENDS, defaultAeadBackendName, type AeadBackendName } from '@xfrm/core';

/** Scenarios: Jamal's three modes, classification alone, and crypto alone. */
export const SCENARIOS = ['one-policy-many-states', 'many-policies', 'many-policies-many-states', 'lookup', 'crypto'] as const;
export type Scenario = (typeof SCENARIOS)[number];
export const CIPHERS = ['aes-gcm-128', 'aes-gcm-256', 'chacha20-poly1305', 'null'] as const;
export type Cipher = (typeof CIPHERS)[number];
/** Ablations: each turns one of the talk's optimisations back into its "before" design. */
export const ABLATIONS = ['list-spd', 'flush', 'refcount', 'crypto-setup', 'eager-iv', 'no-flowcache', 'map-classifier'] as const;
export type Ablation = (typeof ABLATIONS)[number];

/** Parsed arguments. */
export interface BenchArgs {
  scenario: Scenario;
  queues: number;
  states: number;
  policies: number;
  prefixed: number;
  churn: number;
  duration: number;
  packetSize: number;
  cipher: Cipher;
  cryptoBackend: AeadBackendName;
  flows: number;
  seed: number;
  /** Family of the inner traffic and the policies (the tunnel between the gateways stays IPv4). */
  family: 4 | 6;
  ablate: Ablation[];
  /** Measure how far out of sequence order each SA's packets leave (and what a peer's window would drop). */
  order: boolean;
  /** crypto scenario: one SA per queue (pcpu-num) instead of one shared. */
  perQueueSas: boolean;
  compare: boolean;
  /** --compare: interleaved pairs of runs per ablation (the table shows medians). */
  runs: number;
  json: boolean;
  out: string | undefined;
  help: boolean;
}

/** A usage error: the message is for the user; exit code 2. */
export class UsageError extends Error {}

export const HELP = `dataplane-bench: Jamal's test case on the multi-queue IPsec dataplane

Usage: dataplane-bench [scenario] [options]

Scenarios:
  one-policy-many-states     one policy; --states SAs behind it, each new one shadowing the last
  many-policies              (default) --policies precise policies, an SA each
  many-policies-many-states  --policies policies with --states SAs spread over them
  lookup                     like many-policies with the null cipher: classification cost alone
  crypto                     one policy, one SA, no churn: AEAD throughput of --cipher on --crypto-backend

Options:
  --queues N          queue worker threads, 1..64                       default 2
  --states N          SAs (many-policies: one per policy), up to 4000000 default 1000
  --policies N        policies, up to 4000000                           default 1000
  --prefixed N        extra prefixed policies (9 prefix-length pairs),  default 0
                      up to 500000
  --churn N           control-plane adds+deletes per second             default 1000 (crypto: 0)
  --duration S        seconds of traffic, 0.5..3600                     default 5
  --packet-size N     bytes per plain packet, 40..1400                  default 64
  --cipher C          aes-gcm-128 | aes-gcm-256 | chacha20-poly1305 | null   default aes-gcm-128
  --crypto-backend B  native | node | noble             default native (noble where the addon is not built)
  --flows N           distinct flows, 1..1000000                        default 1024
  --seed N            seed of flows and churn                           default 1
  --family F          inner traffic and policies: 4 or 6 (the tunnel    default 4
                      stays IPv4; 6 needs --packet-size 48 or more)
  --ablate A[,A...]   turn an optimisation off: ${ABLATIONS.join(', ')}
  --compare           run with and without each ablation (all, or those of --ablate),
                      interleaved, and print the ratio table
  --runs N            --compare: pairs of runs per ablation, 1..99;       default 1
                      medians, and the pairs' lowest and highest ratio
  --order             measure how far behind its SA's highest sequence number each packet
                      leaves, and what a peer with a replay window of 32, 64, 1024 would drop
  --per-queue-sas     crypto: one SA per queue (pcpu-num, RFC 9611) instead of one shared
  --json              print the result as one JSON object
  --out FILE.html     write a self-contained HTML report
  -h, --help          this text

Examples:
  dataplane-bench
  dataplane-bench one-policy-many-states --states 10000 --churn 5000 --duration 10
  dataplane-bench crypto --cipher chacha20-poly1305 --crypto-backend node --packet-size 1400
  dataplane-bench many-policies --policies 10000 --prefixed 1000 --ablate list-spd
  dataplane-bench --compare --duration 2 --out report.html
`;

function intIn(name: string, raw: string | undefined, def: number, min: number, max: number): number {
  if (raw === undefined) return def;
  const v = Number(raw);
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(v) || v < min || v > max) {
    throw new UsageError(`--${name} must be a whole number from ${min} to ${max}, got '${raw}'`);
  }
  return v;
}

function oneOf<T extends string>(name: string, raw: string | undefined, def: T, allowed: readonly T[]): T {
  if (raw === undefined) return def;
  if (!(allowed as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${raw}'`);
  return raw as T;
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
        states: { type: 'string' },
        policies: { type: 'string' },
        prefixed: { type: 'string' },
        churn: { type: 'string' },
        duration: { type: 'string' },
        'packet-size': { type: 'string' },
        cipher: { type: 'string' },
        'crypto-backend': { type: 'string' },
        flows: { type: 'string' },
        seed: { type: 'string' },
        family: { type: 'string' },
        ablate: { type: 'string', multiple: true },
        compare: { type: 'boolean', default: false },
        runs: { type: 'string' },
        order: { type: 'boolean', default: false },
        'per-queue-sas': { type: 'boolean', default: false },
        json: { type: 'boolean', default: false },
        out: { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (positionals.length > 1) throw new UsageError(`one scenario at most, got: ${positionals.join(' ')}`);
  const scenario = positionals[0] ?? 'many-policies';
  if (!(SCENARIOS as readonly string[]).includes(scenario)) {
    throw new UsageError(`unknown scenario '${scenario}'; scenarios: ${SCENARIOS.join(', ')}`);
  }
  const duration = v.duration === undefined ? 5 : Number(v.duration);
  if (!(Number.isFinite(duration) && duration >= 0.5 && duration <= 3600)) {
    throw new UsageError(`--duration must be seconds from 0.5 to 3600, got '${v.duration}'`);
  }
  const ablate = (v.ablate ?? []).flatMap((a) => a.split(',')).filter((a) => a !== '');
  for (const a of ablate) {
    if (!(ABLATIONS as readonly string[]).includes(a)) throw new UsageError(`unknown ablation '${a}'; ablations: ${ABLATIONS.join(', ')}`);
  }
  if (v.out !== undefined && !v.out.endsWith('.html')) throw new UsageError(`--out must name an .html file, got '${v.out}'`);
  const cipher = oneOf('cipher', v.cipher, scenario === 'lookup' ? 'null' : 'aes-gcm-128', CIPHERS);
  if (scenario === 'lookup' && cipher !== 'null') throw new UsageError('the lookup scenario runs with --cipher null only');
  if (v['per-queue-sas'] && scenario !== 'crypto') throw new UsageError('--per-queue-sas is for the crypto scenario');
  const churn = intIn('churn', v.churn, scenario === 'crypto' ? 0 : 1000, 0, 10_000_000);
  if (ablate.includes('map-classifier') && churn > 0) {
    throw new UsageError('--ablate map-classifier is a Map without invalidation, a speed baseline only: use it with --churn 0');
  }
  // Limits this machine's tables and the bench's set-up are known to meet (docs/PERFORMANCE.md);
  // beyond them a run would exhaust the JS heap or take minutes to set up: refused up front.
  const states = intIn('states', v.states, 1000, 1, 4_000_000);
  const policies = intIn('policies', v.policies, 1000, 1, 4_000_000);
  const prefixed = intIn('prefixed', v.prefixed, 0, 0, 500_000);
  if ((ablate.includes('list-spd') || (v.compare && ablate.length === 0)) && policies + prefixed > 20_000) {
    throw new UsageError(`--ablate list-spd republishes the whole list on every change (quadratic set-up): at most 20000 policies and prefixed ones together, got ${policies + prefixed}`);
  }
  if (v.runs !== undefined && !v.compare) throw new UsageError('--runs is for --compare');
  const family = Number(oneOf('family', v.family, '4', ['4', '6'])) as 4 | 6;
  const packetSize = intIn('packet-size', v['packet-size'], 64, family === 6 ? 48 : 40, 1400);
  return {
    scenario: scenario as Scenario,
    queues: intIn('queues', v.queues, 2, 1, 64),
    states,
    policies,
    prefixed,
    churn,
    duration,
    packetSize,
    cipher,
    cryptoBackend: oneOf('crypto-backend', v['crypto-backend'], defaultAeadBackendName(), AEAD_BACKENDS),
    flows: intIn('flows', v.flows, 1024, 1, 1_000_000),
    seed: intIn('seed', v.seed, 1, 0, 0xffffffff),
    family,
    ablate: [...new Set(ablate)] as Ablation[],
    compare: v.compare ?? false,
    runs: intIn('runs', v.runs, 1, 1, 99),
    order: v.order ?? false,
    perQueueSas: v['per-queue-sas'] ?? false,
    json: v.json ?? false,
    out: v.out,
    help: v.help ?? false,
  };
}
