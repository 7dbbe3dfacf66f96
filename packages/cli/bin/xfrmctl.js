#!/usr/bin/env node
// The xfrmctl command as installed: a stable file (pnpm links bins at install, before the
// TypeScript is built) that runs the built one, or says how to build it.
import { existsSync } from 'node:fs';

const built = new URL('../dist/xfrmctl.js', import.meta.url);
if (!existsSync(built)) {
  process.stderr.write('xfrmctl: not built yet: run `pnpm build` in the repository first\n');
  process.exit(1);
}
await import(built.href);
