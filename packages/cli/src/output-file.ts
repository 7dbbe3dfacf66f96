/**
 * An output file that never destroys one: what a command writes goes to a temporary file
 * beside the target, which replaces the target (rename) only once everything was written;
 * on any failure the temporary file is removed and an existing target is left as it was.
 * `-` is standard output. Writability is checked when the file is opened, before any work,
 * and every failure is an OutputError with one line that names the file.
 */
import { createWriteStream, realpathSync, statSync, type WriteStream } from 'node:fs';
import { access, constants, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { type Writable } from 'node:stream';

/** An output that could not be opened, written or finished; the message names the file. */
export class OutputError extends Error {}

/** True when `a` and `b` name the same existing file (or are the same path). */
export function sameFile(a: string, b: string): boolean {
  if (a === '-' || b === '-') return false;
  if (resolve(a) === resolve(b)) return true;
  try {
    const [sa, sb] = [statSync(a), statSync(b)];
    return sa.dev === sb.dev && sa.ino === sb.ino;
  } catch {
    try {
      return realpathSync(dirname(a)) === realpathSync(dirname(b)) && basename(a) === basename(b);
    } catch {
      return false;
    }
  }
}

function describe(path: string, e: unknown): OutputError {
  const err = e as NodeJS.ErrnoException;
  const why: Record<string, string> = {
    ENOENT: 'its folder does not exist',
    EACCES: 'permission denied',
    EISDIR: 'it is a directory',
    ENOSPC: 'no space left on the device',
    EIO: 'input/output error',
    EROFS: 'read-only file system',
  };
  return new OutputError(`cannot write ${path}: ${why[err.code ?? ''] ?? err.message}`);
}

/** A file being written; {@link commit} puts it in place, {@link abort} leaves the target untouched. */
export class OutputFile {
  private failure: OutputError | undefined;

  private constructor(
    /** Where the bytes go. */
    readonly stream: Writable,
    private readonly path: string,
    private readonly temp: string | undefined,
  ) {
    stream.on('error', (e) => (this.failure ??= describe(path, e)));
  }

  /** Open `path` ('-' for standard output) for writing, checking first that it can be written. Throws OutputError. */
  static async open(path: string): Promise<OutputFile> {
    if (path === '-') return new OutputFile(process.stdout, '<stdout>', undefined);
    const dir = dirname(resolve(path));
    try {
      const s = await stat(path).catch((e: NodeJS.ErrnoException) => (e.code === 'ENOENT' ? undefined : Promise.reject(e)));
      if (s?.isDirectory()) throw Object.assign(new Error('directory'), { code: 'EISDIR' });
      await access(dir, constants.W_OK);
    } catch (e) {
      throw describe(path, e);
    }
    const temp = join(dir, `.${basename(path)}.${process.pid}.tmp`);
    const stream: WriteStream = createWriteStream(temp, { flags: 'wx' });
    const file = new OutputFile(stream, path, temp);
    await new Promise<void>((ok) => {
      stream.once('open', () => ok());
      stream.once('error', () => ok());
    });
    if (file.failure) throw file.failure;
    return file;
  }

  /** The first write error, if any (a writer checks it to stop early). */
  get error(): OutputError | undefined {
    return this.failure;
  }

  /** Write `data`, honouring backpressure. Throws OutputError on a write failure. */
  async write(data: Uint8Array | string): Promise<void> {
    if (this.failure) throw this.failure;
    if (!this.stream.write(data)) {
      await new Promise<void>((ok) => {
        this.stream.once('drain', ok);
        this.stream.once('error', () => ok());
      });
    }
    if (this.failure) throw this.failure;
  }

  /** Finish: flush, close, and move the temporary file over the target. Throws OutputError. */
  async commit(): Promise<void> {
    if (this.temp === undefined) return;
    await this.end();
    if (this.failure) {
      await this.abort();
      throw this.failure;
    }
    try {
      await rename(this.temp, this.path);
    } catch (e) {
      await this.abort();
      throw describe(this.path, e);
    }
  }

  /** Give up: close and remove the temporary file; the target is as it was. */
  async abort(): Promise<void> {
    if (this.temp === undefined) return;
    await this.end();
    await unlink(this.temp).catch(() => undefined);
  }

  private end(): Promise<void> {
    return new Promise((ok) => {
      if (this.stream.writableFinished || this.stream.destroyed) ok();
      else this.stream.end(() => ok());
    });
  }
}
