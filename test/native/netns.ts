/**
 * Network namespaces for tests that need a network: made by the test, with only addresses
 * inside them, and removed even when the test fails. Needs root (CI runs as root).
 */
import { execFileSync } from 'node:child_process';

/** Run `fn` with fresh namespaces named `<prefix>-<pid>-<k>` (loopback up in each), deleting them after. */
export async function withNamespaces<T>(prefix: string, count: number, fn: (names: string[]) => Promise<T>): Promise<T> {
  const names = Array.from({ length: count }, (_, k) => `${prefix}-${process.pid}-${k}`);
  try {
    for (const n of names) {
      execFileSync('ip', ['netns', 'add', n]);
      execFileSync('ip', ['-n', n, 'link', 'set', 'lo', 'up']);
    }
    return await fn(names);
  } finally {
    for (const n of names) {
      try {
        execFileSync('ip', ['netns', 'del', n], { stdio: 'ignore' });
      } catch {
        // not made
      }
    }
  }
}
