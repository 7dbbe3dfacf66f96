/**
 * Configuration files of `ip xfrm ...` lines (one per line, `#` comments, blank lines),
 * loaded into a fresh Xfrm. Every bad line is reported as `file:line: ...` with the token and
 * column the parser names; a bad line changes nothing, and the rest still load.
 */
import { readFile } from 'node:fs/promises';
import { Xfrm, XfrmError, XfrmSyntaxError, applyXfrmLine } from '@xfrm/core';

/** A loaded configuration and what was wrong with it. */
export interface LoadedConfig {
  readonly xfrm: Xfrm;
  readonly errors: string[];
  readonly lines: number;
  /** The configuration as read. */
  readonly text: string;
}

/** Strip a `#` comment: at the start of the line, or after white space. */
function stripComment(line: string): string {
  const m = /(^|\s)#/.exec(line);
  return m === null ? line : line.slice(0, m.index);
}

/** Errors reported before a configuration is given up on (a binary file, a wrong file). */
export const MAX_ERRORS = 50;

/** Apply the text of a configuration to a new Xfrm. `name` is used in error messages. */
export function loadConfigText(text: string, name: string, opts: { allowNullCipher?: boolean } = {}): LoadedConfig {
  const xfrm = Xfrm.create({ heap: { maxBytes: 2 ** 31 }, allowNullCipher: opts.allowNullCipher });
  return { xfrm, text, ...applyConfigText(xfrm, text, name) };
}

/** Apply each line of a configuration to `xfrm`; a bad line changes nothing and is reported as `name:line: ...`. */
export function applyConfigText(xfrm: Xfrm, text: string, name: string): { errors: string[]; lines: number } {
  const errors: string[] = [];
  let lines = 0;
  const all = text.split(/\r?\n/);
  for (let i = 0; i < all.length; i++) {
    const line = stripComment(all[i]);
    if (line.trim() === '') continue;
    lines++;
    try {
      applyXfrmLine(xfrm, line);
    } catch (e) {
      if (!(e instanceof XfrmSyntaxError || e instanceof XfrmError)) throw e;
      errors.push(`${name}:${i + 1}: ${e.message}`);
      if (errors.length === MAX_ERRORS) {
        errors.push(`${name}: stopped after ${MAX_ERRORS} errors (is it a configuration of ip xfrm lines?)`);
        break;
      }
    }
  }
  return { errors, lines };
}

/** Read and apply a configuration file (`-` for standard input). */
export async function loadConfig(path: string, opts: { allowNullCipher?: boolean } = {}): Promise<LoadedConfig> {
  const text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  return loadConfigText(text, path === '-' ? '<stdin>' : path, opts);
}

/** All of standard input, as text. */
export async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
