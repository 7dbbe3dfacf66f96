/**
 * Command-line arguments of xfrmctl, parsed and checked: a bad argument is a UsageError
 * (exit code 2) with a message that says what was wrong.
 */
import { parseArgs } from 'node:util';
import { AEAD_BACKENDS, PROTOCOLS, defaultAeadBackendName, parseAddress, type Address, type AeadBackendName } from '@xfrm/core';
import { UsageError } from './bench-args.js';

export { UsageError };

export const XFRMCTL_HELP = `xfrmctl: check and query ip xfrm configurations, encrypt and decrypt captures

Usage:
  xfrmctl check -c FILE                       check a configuration (FILE '-' = stdin)
  xfrmctl list -c FILE [state|policy]         print the tables as ip xfrm list does
  xfrmctl lookup -c FILE --dir in|out|fwd --src ADDR --dst ADDR
          [--proto udp|tcp|icmp|ipv6-icmp|N] [--sport N] [--dport N] [--type N --code N] [--json]
                                              which policy and states a flow gets
  xfrmctl lookup -c FILE --flows FLOWS        many flows in one process: FLOWS ('-' = stdin)
          has one per line, 'DIR SRC DST [PROTO [SPORT|TYPE [DPORT|CODE]]]'; one JSON answer a line
  xfrmctl encrypt -c FILE -i IN.pcap -o OUT.pcap   every packet through the output path
          [--update-config] [--reuse-nonces]
  xfrmctl decrypt -c FILE -i IN.pcap -o OUT.pcap   every ESP packet through the input path
          [--no-policy-check]
  xfrmctl wireshark -c FILE                   states as Wireshark esp_sa table lines
  xfrmctl gateway --control SOCKET [REQUEST]  talk to a running xfrm-gateway: REQUEST is an
          'ip xfrm ...' line, 'stats' or 'monitor'; without one, requests from stdin, one a line

Options:
  --allow-null-cipher   accept 'enc cipher_null' states (benchmarks only)
  --crypto-backend native|node|noble   AEAD implementation (default native, noble where the addon is not built)
  -i - / -o - / -c -    standard input / output
  --log FILE            encrypt/decrypt: one JSON line per frame (frame, spi, seq, verdict, reason)
  --strict              encrypt/decrypt: exit 1 if any packet was dropped
  --no-policy-check     decrypt without the inbound policy check (keys known, inner subnets not)
  --update-config       encrypt: write each SA's next replay-oseq back into the configuration
  --reuse-nonces        encrypt: start SAs where the configuration says even if an earlier run
                        sent those sequence numbers (only if that output was never sent)

The IV of an ESP packet is its sequence number: encrypt records each SA's next number in
FILE.oseq.json and refuses to start an SA below it, since two outputs that share (key, IV)
pairs break AES-GCM and ChaCha20-Poly1305.

Captures: pcap or pcapng in; Ethernet, raw IP, Linux cooked v1/v2 link types; pcap with
raw IP link type out. Exit codes: 0 success, 1 errors in the input or configuration, 2 bad usage.
`;

/** A flow given on the command line. */
export interface FlowArgs {
  dir: 'in' | 'out' | 'fwd';
  src: Address;
  dst: Address;
  proto: number;
  sport: number;
  dport: number;
}

export type XfrmctlArgs =
  | { cmd: 'help' }
  | { cmd: 'check' | 'wireshark'; config: string; allowNull: boolean }
  | { cmd: 'list'; config: string; allowNull: boolean; what: 'state' | 'policy' | 'all' }
  | { cmd: 'lookup'; config: string; allowNull: boolean; flow: FlowArgs; json: boolean }
  | { cmd: 'lookup-batch'; config: string; allowNull: boolean; flows: string }
  | { cmd: 'gateway'; control: string; request: string | undefined }
  | {
      cmd: 'encrypt' | 'decrypt';
      config: string;
      allowNull: boolean;
      input: string;
      output: string;
      backend: AeadBackendName;
      log: string | undefined;
      strict: boolean;
      noPolicyCheck: boolean;
      updateConfig: boolean;
      reuseNonces: boolean;
    };

function num(name: string, v: string | undefined, max: number): number {
  if (v === undefined) return 0;
  if (!/^\d+$/.test(v) || Number(v) > max) throw new UsageError(`--${name} must be a number from 0 to ${max}, got '${v}'`);
  return Number(v);
}

function addr(name: string, v: string | undefined): Address {
  if (v === undefined) throw new UsageError(`lookup needs --${name} ADDR`);
  const a = parseAddress(v);
  if (a === null) throw new UsageError(`--${name}: '${v}' is not an IPv4 or IPv6 address`);
  return a;
}

/** Parse xfrmctl's argv (without node and script). Throws UsageError. */
export function parseXfrmctlArgs(argv: string[]): XfrmctlArgs {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        config: { type: 'string', short: 'c' },
        input: { type: 'string', short: 'i' },
        output: { type: 'string', short: 'o' },
        dir: { type: 'string' },
        src: { type: 'string' },
        dst: { type: 'string' },
        proto: { type: 'string' },
        sport: { type: 'string' },
        dport: { type: 'string' },
        type: { type: 'string' },
        code: { type: 'string' },
        json: { type: 'boolean', default: false },
        flows: { type: 'string' },
        control: { type: 'string' },
        'allow-null-cipher': { type: 'boolean', default: false },
        'crypto-backend': { type: 'string' },
        log: { type: 'string' },
        strict: { type: 'boolean', default: false },
        'no-policy-check': { type: 'boolean', default: false },
        'update-config': { type: 'boolean', default: false },
        'reuse-nonces': { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h', default: false },
      },
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values: v, positionals: pos } = parsed;
  if (v.help || pos.length === 0 || pos[0] === 'help') return { cmd: 'help' };
  const cmd = pos[0];
  const commands = ['check', 'list', 'lookup', 'encrypt', 'decrypt', 'wireshark', 'gateway'];
  if (!commands.includes(cmd)) throw new UsageError(`unknown command '${cmd}'; commands: ${commands.join(', ')}`);
  if (cmd === 'gateway') {
    if (v.control === undefined) throw new UsageError('gateway needs --control SOCKET (the path given to xfrm-gateway --control)');
    return { cmd, control: v.control, request: pos.length > 1 ? pos.slice(1).join(' ') : undefined };
  }
  if (v.config === undefined) throw new UsageError(`${cmd} needs -c FILE`);
  const extra = pos.slice(cmd === 'list' ? 2 : 1);
  if (extra.length > 0) throw new UsageError(`unexpected argument '${extra[0]}'`);
  const base = { config: v.config, allowNull: v['allow-null-cipher'] ?? false };
  switch (cmd) {
    case 'check':
    case 'wireshark':
      return { cmd, ...base };
    case 'list': {
      const what = pos[1] ?? 'all';
      if (what !== 'state' && what !== 'policy' && what !== 'all') throw new UsageError(`list takes 'state' or 'policy', got '${what}'`);
      return { cmd, ...base, what };
    }
    case 'lookup': {
      if (v.flows !== undefined) {
        if (v.flows === '-' && v.config === '-') throw new UsageError('-c - and --flows - cannot both read standard input');
        return { cmd: 'lookup-batch', ...base, flows: v.flows };
      }
      if (v.dir !== 'in' && v.dir !== 'out' && v.dir !== 'fwd') throw new UsageError(`lookup needs --dir in|out|fwd${v.dir ? `, got '${v.dir}'` : ''}`);
      const src = addr('src', v.src);
      const dst = addr('dst', v.dst);
      if (src.family !== dst.family) throw new UsageError('--src and --dst are of different families');
      let proto = 0;
      if (v.proto !== undefined) {
        proto = PROTOCOLS[v.proto] ?? (/^\d+$/.test(v.proto) ? Number(v.proto) : NaN);
        if (!(proto >= 0 && proto <= 255)) throw new UsageError(`--proto: unknown protocol '${v.proto}'`);
      }
      const icmp = proto === 1 || proto === 58;
      if (icmp && (v.sport !== undefined || v.dport !== undefined)) throw new UsageError('ICMP takes --type and --code, not ports');
      if (!icmp && (v.type !== undefined || v.code !== undefined)) throw new UsageError('--type and --code are for --proto icmp or ipv6-icmp');
      const sport = icmp ? num('type', v.type, 255) : num('sport', v.sport, 65535);
      const dport = icmp ? num('code', v.code, 255) : num('dport', v.dport, 65535);
      return { cmd, ...base, flow: { dir: v.dir, src, dst, proto, sport, dport }, json: v.json ?? false };
    }
    default: {
      if (v.input === undefined || v.output === undefined) throw new UsageError(`${cmd} needs -i IN.pcap and -o OUT.pcap`);
      const backend = (v['crypto-backend'] ?? defaultAeadBackendName()) as AeadBackendName;
      if (!AEAD_BACKENDS.includes(backend)) throw new UsageError(`--crypto-backend must be ${AEAD_BACKENDS.join(', ')}, got '${backend}'`);
      if (v.config === '-' && v.input === '-') throw new UsageError('-c - and -i - cannot both read standard input');
      if (cmd === 'encrypt' && v['no-policy-check']) throw new UsageError('--no-policy-check is for decrypt');
      if (cmd === 'decrypt' && (v['update-config'] || v['reuse-nonces'])) throw new UsageError('--update-config and --reuse-nonces are for encrypt');
      if (v['update-config'] && v.config === '-') throw new UsageError('--update-config needs a configuration file, not stdin');
      return {
        cmd: cmd as 'encrypt' | 'decrypt',
        ...base,
        input: v.input,
        output: v.output,
        backend,
        log: v.log,
        strict: v.strict ?? false,
        noPolicyCheck: v['no-policy-check'] ?? false,
        updateConfig: v['update-config'] ?? false,
        reuseNonces: v['reuse-nonces'] ?? false,
      };
    }
  }
}

/** One line of a `lookup --flows` file, 'DIR SRC DST [PROTO [SPORT|TYPE [DPORT|CODE]]]', as a flow. Throws UsageError. */
export function parseFlowLine(line: string): FlowArgs {
  const [dir, src, dst, proto, a, b, ...rest] = line.trim().split(/\s+/);
  if (rest.length > 0) throw new UsageError(`too many words in '${line.trim().slice(0, 60)}'`);
  const icmp = proto === 'icmp' || proto === 'ipv6-icmp' || proto === '1' || proto === '58';
  const words = ['lookup', '-c', '-', '--dir', dir ?? '', '--src', src ?? '', '--dst', dst ?? ''];
  if (proto !== undefined) words.push('--proto', proto);
  if (a !== undefined) words.push(icmp ? '--type' : '--sport', a);
  if (b !== undefined) words.push(icmp ? '--code' : '--dport', b);
  const r = parseXfrmctlArgs(words);
  if (r.cmd !== 'lookup') throw new UsageError('not a flow');
  return r.flow;
}
