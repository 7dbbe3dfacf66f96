#!/usr/bin/env node
// The dataplane-bench command as installed: a stable file (pnpm links bins at install, before the
// TypeScript is built) that runs the built one, or says how to build it.
import { existsSync } from 'node:fs';

const built = new URL('../dist/dataplane-bench.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('dataplane-bench: not built yet: run `pnpm build` in the repository first\n');
  process.exit(1);
}
await import(built.href);
