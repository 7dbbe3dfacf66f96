/**
 * xfrm-gateway: an IPsec gateway from a file of `ip xfrm` lines. Clear packets routed into
 * the TUN device leave as ESP in UDP (RFC 3948) to the SA's peer, and ESP arriving on the
 * UDP port comes out of the TUN device in clear, on `--queues` queue workers, each with its
 * own TUN queue and socket (the kernel steers inbound ESP to a queue by SPI). A control
 * socket (`--control PATH`, gateway-control.ts) takes more lines while it runs.
 * SIGHUP makes the tables what the file now says (gateway-reload.ts). SIGTERM and SIGINT stop
 * it: the queues stop, the sockets close and the TUN device goes.
 */
import { execFileSync } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { type Server } from 'node:net';
import { aeadFallbackNote, defaultAeadBackendName } from '@xfrm/core';
import { Dataplane } from '@xfrm/workers';
import { UsageError } from './bench-args.js';
import { commandArgs, runMain } from './cli-process.js';
import { GATEWAY_HELP, parseGatewayArgs, type GatewayArgs } from './gateway-args.js';
import { controlServer } from './gateway-control.js';
import { reloadConfig } from './gateway-reload.js';
import { applyConfigText } from './xfrm-config.js';

/** SIGHUP: make the tables what the file now says (gateway-reload.ts), and say what changed. */
async function reload(dp: Dataplane, path: string): Promise<void> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (e) {
    process.stderr.write(`xfrm-gateway: reload: cannot read ${path}: ${(e as Error).message}; nothing changed\n`);
    return;
  }
  const r = reloadConfig(dp.xfrm, text, path);
  for (const e of r.errors) process.stderr.write(`xfrm-gateway: reload: ${e}\n`);
  if (r.errors.length > 0) {
    process.stderr.write('xfrm-gateway: reload refused, nothing changed\n');
    return;
  }
  await dp.synchronize();
  const { states: s, policies: p } = r;
  process.stderr.write(
    `xfrm-gateway: reloaded ${path}: states ${s.added} added, ${s.updated} updated, ${s.replaced} replaced, ${s.deleted} deleted; policies ${p.added} added, ${p.updated} updated, ${p.deleted} deleted\n`,
  );
}

async function main(): Promise<number> {
  let args: GatewayArgs | null;
  try {
    args = parseGatewayArgs(commandArgs());
  } catch (e) {
    if (!(e instanceof UsageError || (e as { code?: string }).code?.startsWith('ERR_PARSE_ARGS'))) throw e;
    process.stderr.write(`xfrm-gateway: ${(e as Error).message}\nTry 'xfrm-gateway --help'.\n`);
    return 2;
  }
  if (args === null) {
    process.stdout.write(`${GATEWAY_HELP}\n`);
    return 0;
  }
  let text: string;
  try {
    text = await readFile(args.config, 'utf8');
  } catch (e) {
    process.stderr.write(`xfrm-gateway: cannot read ${args.config}: ${(e as Error).message}\n`);
    return 1;
  }
  const note = args.crypto === defaultAeadBackendName() ? aeadFallbackNote() : '';
  if (note !== '') process.stderr.write(`xfrm-gateway: ${note}\n`);
  let dp: Dataplane;
  try {
    dp = await Dataplane.create({ queues: args.queues, crypto: args.crypto, io: { tun: args.tun, local: args.local, port: args.port, mtu: args.mtu, pathMtu: args.pathMtu, keepaliveSeconds: args.keepaliveSeconds } });
  } catch (e) {
    process.stderr.write(`xfrm-gateway: ${(e as Error).message.split('\n')[0]}\n`);
    return 1;
  }
  let server: Server | undefined;
  const stop = async () => {
    server?.close();
    await dp.close();
    if (args.control !== undefined) await rm(args.control, { force: true });
  };
  try {
    // nodad: duplicate address detection means nothing on a point-to-point tunnel, and would
    // keep an IPv6 address unusable for its first second.
    for (const a of args.tunAddresses) execFileSync('ip', ['addr', 'add', a, 'dev', args.tun, ...(a.includes(':') ? ['nodad'] : [])], { stdio: ['ignore', 'ignore', 'pipe'] });
    const { errors, lines } = applyConfigText(dp.xfrm, text, args.config);
    if (errors.length > 0) {
      for (const e of errors) process.stderr.write(`xfrm-gateway: ${e}\n`);
      await stop();
      return 1;
    }
    await dp.synchronize();
    if (args.control !== undefined) {
      await rm(args.control, { force: true });
      server = controlServer(dp, args.control);
    }
    const io = dp.gatewayIo!;
    process.stderr.write(
      `xfrm-gateway: ${lines} lines from ${args.config}; tun ${args.tun} (mtu ${io.mtu}) <-> udp ${args.local}:${args.port}, ${args.queues} queues, crypto ${args.crypto}\n`,
    );
  } catch (e) {
    process.stderr.write(`xfrm-gateway: ${(e as Error).message.split('\n')[0]}\n`);
    await stop();
    return 1;
  }
  process.on('SIGHUP', () => void reload(dp, args.config));
  await new Promise<void>((resolve) => {
    const quit = () => resolve();
    process.once('SIGTERM', quit);
    process.once('SIGINT', quit);
  });
  await stop();
  return 0;
}

await runMain(main);
