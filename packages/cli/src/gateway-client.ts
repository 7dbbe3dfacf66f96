/**
 * `xfrmctl gateway`: the client side of xfrm-gateway's control socket (gateway-control.ts).
 * Sends each request and prints its answer without the closing `ok`; an `error:` answer is
 * printed to stderr and makes the exit code 1. `monitor` prints events until the gateway
 * goes or the client is interrupted.
 */
import { connect, type Socket } from 'node:net';

/** Split what arrived into complete answers: output lines up to a line `ok` or `error: ...`. */
export class Answers {
  private buffer = '';
  private lines: string[] = [];

  /** Feed data; returns the answers completed by it. */
  push(data: string): { output: string; error: string | undefined }[] {
    this.buffer += data;
    const done: { output: string; error: string | undefined }[] = [];
    let nl: number;
    while ((nl = this.buffer.indexOf('\n')) >= 0) {
      const line = this.buffer.slice(0, nl);
      this.buffer = this.buffer.slice(nl + 1);
      if (line === 'ok' || line.startsWith('error: ')) {
        done.push({ output: this.lines.map((l) => `${l}\n`).join(''), error: line === 'ok' ? undefined : line.slice(7) });
        this.lines = [];
      } else this.lines.push(line);
    }
    return done;
  }

  /** What arrived after the last answer (a monitor's events). */
  takeLines(): string {
    const out = this.lines.map((l) => `${l}\n`).join('');
    this.lines = [];
    return out;
  }
}

/** Send `requests` to the socket at `path`, print the answers; resolves with the exit code. */
export function gatewayRequests(path: string, requests: string[]): Promise<number> {
  return new Promise((resolve) => {
    let sock: Socket;
    let failed = false;
    let answered = 0;
    const answers = new Answers();
    const monitoring = requests.at(-1) === 'monitor';
    sock = connect(path, () => sock.write(requests.map((r) => `${r}\n`).join('')));
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      for (const a of answers.push(d)) {
        process.stdout.write(a.output);
        if (a.error !== undefined) {
          process.stderr.write(`xfrmctl: ${requests[answered]}: ${a.error}\n`);
          failed = true;
        }
        answered++;
      }
      if (answered === requests.length) {
        if (!monitoring) sock.end();
        else process.stdout.write(answers.takeLines());
      }
    });
    sock.on('error', (e) => {
      process.stderr.write(`xfrmctl: cannot talk to the gateway at ${path}: ${e.message}\n`);
      resolve(1);
    });
    sock.on('close', () => resolve(failed || answered < requests.length ? 1 : 0));
  });
}
