/**
 * Tokens of an `ip xfrm` command line, each with its column, and the error that names the
 * bad token and where it is.
 */

/** A word of a command line: its text (quotes removed) and 1-based column. */
export interface Token {
  readonly text: string;
  readonly column: number;
}

/** A line that could not be parsed: `token` is the bad word ('' at the end of the line). */
export class XfrmSyntaxError extends Error {
  constructor(
    readonly reason: string,
    readonly token: string,
    readonly column: number,
  ) {
    super(token === '' ? `column ${column}: ${reason}` : `column ${column}, '${shownToken(token)}': ${reason}`);
    this.name = 'XfrmSyntaxError';
  }
}

/**
 * A token as an error message shows it: control and other unprintable characters escaped
 * (\xNN, \u{N}), and cut after 40 characters with the full length said, so that one bad
 * token (a megabyte of it, or a binary file given as configuration) makes a short line.
 */
export function shownToken(text: string): string {
  const cut = text.length > 40 ? text.slice(0, 40) : text;
  // eslint-disable-next-line no-control-regex
  const escaped = cut.replace(/[\x00-\x1f\x7f-\x9f\u2028\u2029\ufffd']/gu, (ch) => {
    const c = ch.codePointAt(0)!;
    return c < 0x100 ? `\\x${c.toString(16).padStart(2, '0')}` : `\\u{${c.toString(16)}}`;
  });
  return text.length > 40 ? `${escaped}... (${text.length} characters)` : escaped;
}

/** Split a line into words as a shell would (single and double quotes; no escapes). */
export function tokenize(line: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < line.length) {
    if (/\s/.test(line[i])) {
      i++;
      continue;
    }
    const column = i + 1;
    let text = '';
    while (i < line.length && !/\s/.test(line[i])) {
      const q = line[i];
      if (q === "'" || q === '"') {
        const close = line.indexOf(q, i + 1);
        if (close < 0) throw new XfrmSyntaxError('unterminated quote', line.slice(i), i + 1);
        text += line.slice(i + 1, close);
        i = close + 1;
      } else {
        text += q;
        i++;
      }
    }
    out.push({ text, column });
  }
  return out;
}

/** A cursor over the tokens of one line. */
export class TokenCursor {
  private i = 0;

  constructor(
    private readonly tokens: readonly Token[],
    private readonly end: number,
  ) {}

  /** True when every token was consumed. */
  get done(): boolean {
    return this.i >= this.tokens.length;
  }

  /** The next token, not consumed. */
  peek(): Token | undefined {
    return this.tokens[this.i];
  }

  /** Consume the next token; `what` says what was expected if there is none. */
  take(what: string): Token {
    const t = this.tokens[this.i];
    if (t === undefined) throw new XfrmSyntaxError(`expected ${what}, found the end of the line`, '', this.end);
    this.i++;
    return t;
  }

  /** Consume the next token if its text is `word`. */
  accept(word: string): boolean {
    if (this.tokens[this.i]?.text !== word) return false;
    this.i++;
    return true;
  }

  /** Throw a syntax error about `t` (the end of the line when undefined). */
  fail(t: Token | undefined, reason: string): never {
    throw t === undefined ? new XfrmSyntaxError(reason, '', this.end) : new XfrmSyntaxError(reason, t.text, t.column);
  }
}
