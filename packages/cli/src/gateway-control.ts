/**
 * xfrm-gateway's control socket: a local (Unix) socket that takes one request per line, as
 * `ip -batch` does (`ip xfrm ...` lines, applied to the running gateway) plus `stats` (the
 * dataplane's figures as JSON), `monitor` (after its `ok`, the connection receives every event
 * in `ip xfrm monitor`'s format until it closes: gateway-monitor.ts) and `debug kill-queue N`
 * (a test hook: the queue's worker dies and is restarted). Each answer is its output lines,
 * if any, then the line `ok`; or the line `error: <what>` (a bad line changes nothing).
 * Requests of one connection are answered in order.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { type Acquire, type ExpireEvent, type MonitorEvent } from '@xfrm/core';
import { type Dataplane } from '@xfrm/workers';
import { formatAcquire, formatExpire, formatMonitorEvent } from './gateway-monitor.js';

/** `debug kill-queue N`: the test hook that makes queue N's worker die (it is restarted, as after a crash). */
function debug(dp: Dataplane, line: string): string {
  const m = /^debug kill-queue (\d+)$/.exec(line);
  if (m === null || Number(m[1]) >= dp.queues) throw new Error(`unknown debug request '${line}' (debug kill-queue N, N < ${dp.queues})`);
  dp.killQueue(Number(m[1]));
  return '';
}

/** Stream the gateway's events to `conn` until it closes. */
function monitor(dp: Dataplane, conn: Socket): string {
  const listeners = {
    monitor: (e: MonitorEvent) => conn.write(formatMonitorEvent(e)),
    expire: (e: ExpireEvent) => conn.write(formatExpire(e)),
    acquire: (a: Acquire) => conn.write(formatAcquire(a, dp.xfrm)),
  };
  for (const [name, fn] of Object.entries(listeners)) dp.on(name, fn);
  conn.on('close', () => {
    for (const [name, fn] of Object.entries(listeners)) dp.off(name, fn);
  });
  return '';
}

/** Serve the control socket: one request per line, one reply per request. */
export function controlServer(dp: Dataplane, path: string): Server {
  const server = createServer((conn) => {
    let pending = '';
    let chain = Promise.resolve();
    conn.on('data', (d) => {
      pending += d.toString('utf8');
      let nl: number;
      while ((nl = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, nl).trim();
        pending = pending.slice(nl + 1);
        if (line === '') continue;
        chain = chain.then(async () => {
          try {
            const out =
              line === 'stats' ? JSON.stringify(dp.stats()) : line === 'monitor' ? monitor(dp, conn) : line.startsWith('debug ') ? debug(dp, line) : await dp.apply(line);
            conn.write(out === '' ? 'ok\n' : out.endsWith('\n') ? `${out}ok\n` : `${out}\nok\n`);
          } catch (e) {
            conn.write(`error: ${(e as Error).message.split('\n')[0]}\n`);
          }
        });
      }
    });
    conn.on('error', () => conn.destroy());
  });
  server.listen(path);
  return server;
}

