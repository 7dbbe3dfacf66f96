#!/usr/bin/env node
/**
 * xfrmctl: check a configuration of `ip xfrm` lines, print its tables, ask which policy and
 * states a flow gets (as `ip route get` does for routes), push captures through the output
 * and input paths, and export the SAs for Wireshark.
 */
import { createReadStream } from 'node:fs';
import { formatAddress, formatPolicy, formatSelector, formatState, type Xfrm } from '@xfrm/core';
import { CaptureError } from './capture-reader.js';
import { droppedCount, formatCounts, transformCapture } from './capture-transform.js';
import { OutputError, OutputFile, sameFile } from './output-file.js';
import { nextSequences, openHistory, reuseConflicts, saveHistory, updateConfig } from './oseq-history.js';
import { gatewayRequests } from './gateway-client.js';
import { loadConfig, readStdin } from './xfrm-config.js';
import { UsageError, XFRMCTL_HELP, parseFlowLine, parseXfrmctlArgs, type FlowArgs, type XfrmctlArgs } from './xfrmctl-args.js';
import { createInterface } from 'node:readline';
import { wiresharkSaLine } from './wireshark-sa.js';
import { commandArgs, runMain } from './cli-process.js';

function lookup(x: Xfrm, f: FlowArgs, json: boolean): string {
  const r = x.resolve(f.dir, { family: f.src.family, src: f.src, dst: f.dst, proto: f.proto, sport: f.sport, dport: f.dport });
  if (json) {
    return JSON.stringify({
      policy: r.policy === undefined ? null : { index: r.policy.index, priority: r.policy.priority, action: r.policy.action, selector: formatSelector(r.policy.selector) },
      states: r.states.map((s) => ({ spi: s.spi >>> 0, dst: formatAddress(s.dst), proto: 'esp' })),
      acquire: r.acquire !== undefined,
    }) + '\n';
  }
  if (r.policy === undefined) return `no ${f.dir} policy matches: the packet passes without IPsec\n`;
  let out = `policy index ${r.policy.index} priority ${r.policy.priority} action ${r.policy.action}\n\t${formatSelector(r.policy.selector)}\n`;
  for (const s of r.states) out += `state dst ${formatAddress(s.dst)} proto esp spi 0x${(s.spi >>> 0).toString(16).padStart(8, '0')} reqid ${s.reqid} mode ${s.mode}\n`;
  if (r.acquire !== undefined) {
    const a = r.acquire;
    out += `acquire: no state for tmpl src ${formatAddress(a.src)} dst ${formatAddress(a.dst)} proto esp reqid ${a.reqid} mode ${a.mode}\n`;
  } else if (r.policy.action === 'allow' && r.states.length === 0) {
    out += 'no templates: the packet passes without IPsec\n';
  }
  return out;
}

/** `lookup --flows`: one JSON answer per input line (a bad line gets {"line", "error"}, the rest go on). */
async function lookupBatch(x: Xfrm, path: string): Promise<number> {
  const input = path === '-' ? process.stdin : createReadStream(path);
  let n = 0;
  let bad = 0;
  try {
    for await (const line of createInterface({ input, crlfDelay: Infinity })) {
      n++;
      if (line.trim() === '' || line.trimStart().startsWith('#')) continue;
      let answer: string;
      try {
        answer = lookup(x, parseFlowLine(line), true);
      } catch (e) {
        if (!(e instanceof UsageError)) throw e;
        bad++;
        answer = JSON.stringify({ line: n, error: e.message }) + '\n';
      }
      if (!process.stdout.write(answer)) await new Promise((ok) => process.stdout.once('drain', ok));
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === undefined) throw e;
    process.stderr.write(`xfrmctl: cannot read ${path}: ${(e as Error).message}\n`);
    return 1;
  }
  return bad > 0 ? 1 : 0;
}

/** encrypt / decrypt: nothing is written over an existing file unless the whole run succeeded. */
async function transform(x: Xfrm, args: Extract<XfrmctlArgs, { cmd: 'encrypt' | 'decrypt' }>, configText: string): Promise<number> {
  if (sameFile(args.input, args.output) || (args.log !== undefined && (sameFile(args.log, args.input) || sameFile(args.log, args.output)))) {
    process.stderr.write(`xfrmctl: ${args.output === args.input || sameFile(args.input, args.output) ? 'output' : 'log'} is the same file as an input or output: refused\n`);
    return 2;
  }
  if (args.cmd === 'encrypt' && !args.reuseNonces) {
    const conflicts = reuseConflicts(x, args.config);
    if (args.config === '-') process.stderr.write('xfrmctl: warning: configuration from stdin: no sequence history is kept, a later run may reuse nonces\n');
    if (conflicts.length > 0) {
      for (const c of conflicts) process.stderr.write(`xfrmctl: ${c}\n`);
      process.stderr.write(`xfrmctl: raise replay-oseq in ${args.config} (encrypt --update-config does it), or pass --reuse-nonces if that output was never sent\n`);
      return 1;
    }
  }
  let output: OutputFile | undefined;
  let log: OutputFile | undefined;
  let history: OutputFile | undefined;
  try {
    history = args.cmd === 'encrypt' ? await openHistory(args.config) : undefined;
    output = await OutputFile.open(args.output);
    log = args.log === undefined ? undefined : await OutputFile.open(args.log);
    const input = args.input === '-' ? process.stdin : createReadStream(args.input);
    const counts = await transformCapture(x, args.cmd, input, output, { backend: args.backend, log, noPolicyCheck: args.noPolicyCheck });
    await output.commit();
    await log?.commit();
    process.stderr.write(formatCounts(counts));
    if (args.cmd === 'encrypt') {
      await saveHistory(x, args.config, history);
      if (args.updateConfig) await updateConfig(x, args.config, configText);
      process.stderr.write(nextSequences(x));
    }
    return args.strict && droppedCount(counts) > 0 ? 1 : 0;
  } catch (e) {
    await output?.abort();
    await log?.abort();
    await history?.abort();
    if (e instanceof OutputError) process.stderr.write(`xfrmctl: ${e.message}\n`);
    else if (e instanceof CaptureError || (e as NodeJS.ErrnoException).code !== undefined) {
      process.stderr.write(`xfrmctl: ${args.input === '-' ? '<stdin>' : args.input}: ${(e as Error).message}\n`);
    } else throw e;
    return 1;
  }
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseXfrmctlArgs(commandArgs());
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`xfrmctl: ${e.message}\nTry 'xfrmctl --help'.\n`);
    return 2;
  }
  if (args.cmd === 'help') {
    process.stdout.write(XFRMCTL_HELP);
    return 0;
  }
  if (args.cmd === 'gateway') {
    const requests = args.request !== undefined ? [args.request] : (await readStdin()).split(/\r?\n/).filter((l) => l.trim() !== '');
    return gatewayRequests(args.control, requests);
  }
  let config;
  try {
    config = await loadConfig(args.config, { allowNullCipher: args.allowNull });
  } catch (e) {
    process.stderr.write(`xfrmctl: cannot read ${args.config}: ${(e as Error).message}\n`);
    return 1;
  }
  for (const err of config.errors) process.stderr.write(`${err}\n`);
  if (args.cmd === 'check') {
    const name = args.config === '-' ? '<stdin>' : args.config;
    if (config.errors.length === 0) process.stdout.write(`${name}: ${config.lines} lines, ${config.xfrm.sad.size} states, ${config.xfrm.spd.size} policies: ok\n`);
    return config.errors.length === 0 ? 0 : 1;
  }
  if (config.errors.length > 0) return 1;
  const x = config.xfrm;
  switch (args.cmd) {
    case 'list':
      if (args.what !== 'policy') for (const s of x.sad.list()) process.stdout.write(formatState(s, x.sad.countersOf(s)) + '\n');
      if (args.what !== 'state') for (const p of x.spd.list()) process.stdout.write(formatPolicy(p) + '\n');
      return 0;
    case 'wireshark':
      for (const s of x.sad.list()) process.stdout.write(wiresharkSaLine(s) + '\n');
      return 0;
    case 'lookup':
      process.stdout.write(lookup(x, args.flow, args.json));
      return 0;
    case 'lookup-batch':
      return lookupBatch(x, args.flows);
    case 'encrypt':
    case 'decrypt':
      return transform(x, args, config.text);
    default:
      return 0;
  }
}

await runMain(main);
