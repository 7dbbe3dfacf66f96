#!/usr/bin/env node
/**
 * dataplane-bench: runs a scenario and prints what it measured, as a table on a terminal
 * (with a live status line) or as JSON with --json.
 */
import os from 'node:os';
import { HELP, UsageError, parseBenchArgs } from './bench-args.js';
import { runTableScenario, type TableScenarioResult } from './table-scenario.js';

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

function printTable(r: TableScenarioResult): void {
  const p = r.params;
  console.log(`scenario ${r.scenario}: ${p.queues} queues, ${fmt(p.entries)} entries, churn ${fmt(p.churn)} ops/s, ${p.duration} s`);
  console.log(`machine: node ${process.version}, ${os.cpus()[0]?.model ?? 'cpu'} x${os.cpus().length}`);
  const rows: [string, string][] = [
    ['lookups/s (total)', fmt(r.lookupsPerSecond)],
    ...r.perQueue.map((q): [string, string] => [`lookups/s (queue ${q.queue})`, fmt(q.lookupsPerSecond)]),
    ['ns per lookup (per queue)', r.nsPerLookup.toFixed(1)],
    ['hit rate', `${(r.hitRate * 100).toFixed(1)} %`],
    ['control ops/s (asked / achieved)', `${fmt(r.control.requestedOpsPerSecond)} / ${fmt(r.control.achievedOpsPerSecond)}`],
    ['table bytes per entry', r.memory.bytesPerEntry.toFixed(1)],
    ['heap bytes in use', fmt(r.memory.heapBytes)],
  ];
  const w = Math.max(...rows.map(([k]) => k.length));
  for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
}

async function main(): Promise<number> {
  let args;
  try {
    args = parseBenchArgs(process.argv.slice(2));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`dataplane-bench: ${e.message}\nTry 'dataplane-bench --help'.\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const live = process.stderr.isTTY && !args.json;
  const { queues, entries, churn, duration, seed } = args;
  const result = await runTableScenario({ queues, entries, churn, duration, seed }, (f) => {
    if (live) process.stderr.write(`\r  running ${args.scenario}: ${Math.min(100, Math.round(f * 100))} %`);
  });
  if (live) process.stderr.write('\r\x1b[K');
  if (args.json) console.log(JSON.stringify(result));
  else printTable(result);
  return 0;
}

process.exitCode = await main();
