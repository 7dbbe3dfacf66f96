#!/usr/bin/env node
/**
 * dataplane-bench: runs a scenario on the multi-queue dataplane (or each ablation against it
 * with --compare) and prints what it measured: a table on a terminal, with a live status line
 * that stays quiet when output is not a terminal; JSON with --json; an HTML report with --out.
 */
import { ABLATIONS, HELP, UsageError, parseBenchArgs, type BenchArgs } from './bench-args.js';
import { formatCompare, formatTable, htmlReport, type CompareRow } from './bench-report.js';
import { runBench, type BenchResult } from './bench-run.js';
import { commandArgs, runMain } from './cli-process.js';
import { OutputError, OutputFile } from './output-file.js';

async function main(): Promise<number> {
  let args: BenchArgs;
  try {
    args = parseBenchArgs(commandArgs());
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    process.stderr.write(`dataplane-bench: ${e.message}\nTry 'dataplane-bench --help'.\n`);
    return 2;
  }
  if (args.help) {
    process.stdout.write(HELP);
    return 0;
  }
  const live = process.stderr.isTTY === true && !args.json;
  const status = (label: string) => (f: number) => {
    if (live) process.stderr.write(`\r  ${label}: ${Math.min(100, Math.round(f * 100))} %  `);
  };
  const clear = () => live && process.stderr.write('\r\x1b[K');
  // The report file is opened (and its writability checked) before the run, and put in place after it.
  let report: OutputFile | undefined;
  try {
    report = args.out === undefined ? undefined : await OutputFile.open(args.out);
  } catch (e) {
    if (!(e instanceof OutputError)) throw e;
    process.stderr.write(`dataplane-bench: ${e.message}\n`);
    return 1;
  }
  const writeReport = async (html: string): Promise<number> => {
    if (report === undefined) return 0;
    try {
      await report.write(html);
      await report.commit();
      return 0;
    } catch (e) {
      if (!(e instanceof OutputError)) throw e;
      process.stderr.write(`dataplane-bench: ${e.message}\n`);
      return 1;
    }
  };

  if (!args.compare) {
    const result = await runBench(args, status(args.scenario));
    clear();
    if (args.json) process.stdout.write(JSON.stringify(result) + '\n');
    else process.stdout.write(formatTable(result));
    return writeReport(htmlReport(result));
  }
  // --compare: base and ablated runs interleaved, so drift hits both alike.
  // The Map baseline has no invalidation: part of "every ablation" only without churn.
  const which = args.ablate.length > 0 ? args.ablate : ABLATIONS.filter((x) => x !== 'map-classifier' || args.churn === 0);
  const rows: CompareRow[] = [];
  let last: BenchResult | undefined;
  for (const ablation of which) {
    const pairs: CompareRow['pairs'] = [];
    for (let n = 1; n <= args.runs; n++) {
      const of = args.runs > 1 ? ` ${n}/${args.runs}` : '';
      const base = await runBench({ ...args, ablate: [] }, status(`${ablation}: with${of}`));
      const ablated = await runBench({ ...args, ablate: [ablation] }, status(`${ablation}: without${of}`));
      pairs.push({ base, ablated });
      last = base;
    }
    rows.push({ ablation, pairs });
  }
  clear();
  if (args.json) process.stdout.write(JSON.stringify({ compare: rows }) + '\n');
  else process.stdout.write(formatCompare(rows));
  return last === undefined ? 0 : writeReport(htmlReport(last, rows));
}

await runMain(main);
