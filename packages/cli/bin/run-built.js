// What the installed commands run: a stable file per command (pnpm links bins at install,
// before the TypeScript is built) that starts the built one, or says how to build it.
import { existsSync } from 'node:fs';

/** Run dist/<name>.js, or exit 1 with a hint when the package is not built. */
export async function runBuilt(name) {
  const built = new URL(`../dist/${name}.js`, import.meta.url);
  if (!existsSync(built)) {
    process.stderr.write(`${name}: not built yet: run \`pnpm build\` in the repository first\n`);
    process.exit(1);
  }
  await import(built.href);
}
