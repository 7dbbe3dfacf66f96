/**
 * xfrm-gateway's command line: what it takes, checked before anything is opened.
 */
import { parseArgs } from 'node:util';
import { AEAD_BACKENDS, defaultAeadBackendName, type AeadBackendName } from '@xfrm/core';
import { UsageError } from './bench-args.js';

/** The --help text. */
export const GATEWAY_HELP = `xfrm-gateway: an IPsec (ESP in UDP) gateway between a TUN device and a UDP port

usage: xfrm-gateway -c FILE --local ADDR --tun NAME [options]

  -c, --config FILE        ip xfrm lines (states with 'encap espinudp PORT PORT ADDR', policies)
  --local ADDR             local address of the ESP-in-UDP sockets (the SAs' outer address)
  --port N                 UDP port (default 4500)
  --tun NAME               TUN device (made if missing; removed on exit)
  --tun-address CIDR       address for the TUN device (repeatable), e.g. 10.1.0.1/16
  --mtu N                  TUN MTU (default: 1438 with an IPv4 --local, 1418 with IPv6)
  --path-mtu N             largest outer packet towards the peers (default 1500): bigger ones are
                           answered with ICMP fragmentation needed / packet too big
  --queues N               queue workers, each with its own TUN queue and socket (default 2)
  --crypto-backend B       ${AEAD_BACKENDS.join(' | ')} (default native, noble where the addon is not built)
  --control PATH           a Unix socket that takes more ip xfrm lines, 'stats' and 'monitor' while it runs
  --natt-keepalive S       seconds between NAT-T keepalives to each peer (default 20; 0: none)
  -h, --help

Routes into the tunnel are the operator's, e.g. 'ip route add 10.2.0.0/16 dev NAME'.
Needs root (or CAP_NET_ADMIN) and the native addon.`;

/** The parsed command line. */
export interface GatewayArgs {
  config: string;
  local: string;
  port: number;
  tun: string;
  tunAddresses: string[];
  mtu: number | undefined;
  pathMtu: number;
  queues: number;
  crypto: AeadBackendName;
  control: string | undefined;
  keepaliveSeconds: number;
}

function intArg(name: string, raw: string | undefined, def: number | undefined, lo: number, hi: number): number | undefined {
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!/^\d+$/.test(raw) || n < lo || n > hi) throw new UsageError(`--${name} must be a whole number from ${lo} to ${hi}, got '${raw}'`);
  return n;
}

/** Parse the command line (throws UsageError). Null: --help. */
export function parseGatewayArgs(argv: string[]): GatewayArgs | null {
  const { values: v, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      config: { type: 'string', short: 'c' },
      local: { type: 'string' },
      port: { type: 'string' },
      tun: { type: 'string' },
      'tun-address': { type: 'string', multiple: true },
      mtu: { type: 'string' },
      'path-mtu': { type: 'string' },
      queues: { type: 'string' },
      'crypto-backend': { type: 'string' },
      control: { type: 'string' },
      'natt-keepalive': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (v.help) return null;
  if (positionals.length > 0) throw new UsageError(`unexpected argument '${positionals[0]}'`);
  for (const need of ['config', 'local', 'tun'] as const) if (v[need] === undefined) throw new UsageError(`--${need} is needed`);
  if (!/^[A-Za-z0-9_.-]{1,14}$/.test(v.tun!)) throw new UsageError(`--tun must be 1 to 14 letters, digits, '_', '.' or '-', got '${v.tun}'`);
  const crypto = (v['crypto-backend'] ?? defaultAeadBackendName()) as AeadBackendName;
  if (!AEAD_BACKENDS.includes(crypto)) throw new UsageError(`--crypto-backend must be ${AEAD_BACKENDS.join(', ')}, got '${crypto}'`);
  return {
    config: v.config!,
    local: v.local!,
    port: intArg('port', v.port, 4500, 1, 65535)!,
    tun: v.tun!,
    tunAddresses: v['tun-address'] ?? [],
    mtu: intArg('mtu', v.mtu, undefined, 576, 9000),
    pathMtu: intArg('path-mtu', v['path-mtu'], 1500, 576, 65535)!,
    queues: intArg('queues', v.queues, 2, 1, 64)!,
    crypto,
    control: v.control,
    keepaliveSeconds: intArg('natt-keepalive', v['natt-keepalive'], 20, 0, 86400)!,
  };
}

