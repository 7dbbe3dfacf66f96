/**
 * Output sequence history for `xfrmctl encrypt`: the IV of an ESP packet is its sequence
 * number, so two runs that start an SA at the same number under the same key send the same
 * (key, nonce) pairs, which breaks AES-GCM and ChaCha20-Poly1305. Each run records, beside the
 * configuration (`FILE.oseq.json`), the next output sequence number of every SA it used, and
 * a later run refuses an SA whose configuration starts below that; `--update-config` writes
 * the numbers back into the configuration as `replay-oseq` (and `replay-oseq-hi`).
 */
import { readFileSync } from 'node:fs';
import { formatAddress, type State, type Xfrm } from '@xfrm/core';
import { OutputFile } from './output-file.js';

/** Where the history of `config` lives (none for standard input). */
export function historyPath(config: string): string | undefined {
  return config === '-' ? undefined : `${config}.oseq.json`;
}

const key = (s: State) => `${formatAddress(s.dst)} 0x${(s.spi >>> 0).toString(16)}`;
/** A 64-bit output counter (hi:lo) as one exact bigint (never a double). */
const u64 = (hi: number, lo: number) => (BigInt(hi >>> 0) << 32n) | BigInt(lo >>> 0);

function read(path: string | undefined): Record<string, string> {
  if (path === undefined) return {};
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch {
    return {};
  }
}

/** SAs whose configured start is below what an earlier run sent: one message each. */
export function reuseConflicts(x: Xfrm, config: string): string[] {
  const seen = read(historyPath(config));
  const out: string[] = [];
  for (const s of x.sad.list()) {
    const sent = seen[key(s)];
    if (sent === undefined) continue;
    const c = x.sad.countersOf(s);
    const start = u64(c.oseqHi, c.oseq);
    if (start < BigInt(sent)) {
      out.push(
        `state dst ${formatAddress(s.dst)} spi 0x${(s.spi >>> 0).toString(16)}: starts at sequence ${start + 1n}, but an earlier run sent up to ${BigInt(sent)}: ` +
          'encrypting again would reuse (key, nonce) pairs',
      );
    }
  }
  return out;
}

/** The next output sequence number of every SA, as `replay-oseq` lines for standard error. */
export function nextSequences(x: Xfrm): string {
  return x.sad
    .list()
    .map((s) => {
      const c = x.sad.countersOf(s);
      const hi = c.oseqHi !== 0 ? ` replay-oseq-hi 0x${c.oseqHi.toString(16)}` : '';
      return `next: state dst ${formatAddress(s.dst)} spi 0x${(s.spi >>> 0).toString(16)} replay-oseq 0x${c.oseq.toString(16)}${hi}\n`;
    })
    .join('');
}

/** Open the history file for writing (before a run, so that an unwritable one stops it before anything is sent). */
export async function openHistory(config: string): Promise<OutputFile | undefined> {
  const path = historyPath(config);
  return path === undefined ? undefined : OutputFile.open(path);
}

/** Record what this run sent into `f` (merged with earlier runs: never lower). */
export async function saveHistory(x: Xfrm, config: string, f: OutputFile | undefined): Promise<void> {
  const path = historyPath(config);
  if (path === undefined || f === undefined) return;
  const seen = read(path);
  for (const s of x.sad.list()) {
    const c = x.sad.countersOf(s);
    const now = u64(c.oseqHi, c.oseq);
    if (seen[key(s)] === undefined || now > BigInt(seen[key(s)])) seen[key(s)] = now.toString();
  }
  await f.write(JSON.stringify(seen, null, 1) + '\n');
  await f.commit();
}

/** Rewrite `config` with every state's current output counters as `replay-oseq`/`replay-oseq-hi`. */
export async function updateConfig(x: Xfrm, config: string, text: string): Promise<void> {
  const bySpi = new Map(x.sad.list().map((s) => [`${s.spi >>> 0}`, s]));
  const lines = text.split('\n').map((line) => {
    const m = /^\s*ip\s+xfrm\s+state\s+(add|update)\b.*\bspi\s+(\S+)/.exec(line);
    if (m === null) return line;
    const s = bySpi.get(`${Number(m[2]) >>> 0}`);
    if (s === undefined) return line;
    const c = x.sad.countersOf(s);
    const bare = line.replace(/\s+replay-oseq(-hi)?\s+\S+/g, '');
    return `${bare} replay-oseq 0x${c.oseq.toString(16)}${s.esn ? ` replay-oseq-hi 0x${c.oseqHi.toString(16)}` : ''}`;
  });
  const f = await OutputFile.open(config);
  await f.write(lines.join('\n'));
  await f.commit();
}
