// AEAD cost per ESP packet: each backend, with the context built once per SA (cached) and
// built for every packet (the talk's "ESP Bogosity"), for 64, 512 and 1400-byte payloads;
// beside `openssl speed -evp` for the same cipher on the same machine.
import { execFileSync } from 'node:child_process';
import { aeadBackend } from '@xfrm/core';
import { measure } from './harness.mjs';

const CIPHERS = [
  { name: 'aes-128-gcm', cipher: 'aes-gcm', key: 16, openssl: 'aes-128-gcm' },
  { name: 'aes-256-gcm', cipher: 'aes-gcm', key: 32, openssl: 'aes-256-gcm' },
  { name: 'chacha20-poly1305', cipher: 'chacha20-poly1305', key: 32, openssl: 'chacha20-poly1305' },
];
export const SIZES = [64, 512, 1400];

/** ns per operation from `openssl speed -evp CIPHER -bytes N`, or undefined if it cannot run. */
export function opensslNs(cipher, bytes) {
  try {
    const out = execFileSync('openssl', ['speed', '-evp', cipher, '-seconds', '1', '-bytes', String(bytes)], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    });
    const line = out.trim().split('\n').pop();
    const kbps = Number(line.trim().split(/\s+/).pop().replace('k', '')); // 1000s of bytes per second
    return (bytes / (kbps * 1000)) * 1e9;
  } catch {
    return undefined;
  }
}

export async function cryptoBench(opts) {
  const rows = [];
  const nonce = new Uint8Array(12).fill(1);
  const aad = new Uint8Array(8).fill(2);
  for (const c of CIPHERS) {
    const key = new Uint8Array(c.key).fill(9);
    for (const size of SIZES) {
      const buf = new Uint8Array(size + 16);
      const tasks = [];
      const ctxs = [];
      for (const name of ['native', 'node', 'noble']) {
        const backend = aeadBackend(name);
        const ctx = backend.context(c.cipher, key);
        ctxs.push(ctx);
        tasks.push({ name: `${c.name} ${size} B ${name} cached`, batch: 16, fn: () => { for (let i = 0; i < 16; i++) ctx.seal(nonce, aad, buf, 0, size, 16); } });
        tasks.push({
          name: `${c.name} ${size} B ${name} per-packet setup`,
          batch: 16,
          fn: () => {
            for (let i = 0; i < 16; i++) {
              const x = backend.context(c.cipher, key);
              x.seal(nonce, aad, buf, 0, size, 16);
              x.destroy(); // native contexts live until destroyed
            }
          },
        });
      }
      rows.push(...(await measure(tasks, opts)));
      for (const t of ctxs) t.destroy();
      const ns = opensslNs(c.openssl, size);
      if (ns !== undefined) rows.push({ name: `${c.name} ${size} B openssl speed -evp`, nsPerOp: ns, opsPerSec: 1e9 / ns, rme: 0, samples: 1 });
    }
  }
  return rows;
}
