/**
 * What both commands do as processes: take their arguments (dropping the `--` that
 * `npm run x -- args` and `pnpm run x -- args` may hand on), treat a reader that stops early
 * (`| head`) as normal, and exit with main's code.
 */

/** The command's own arguments. */
export function commandArgs(): string[] {
  const argv = process.argv.slice(2);
  return argv[0] === '--' ? argv.slice(1) : argv;
}

/** Run `main` and exit with its code. */
export async function runMain(main: () => Promise<number>): Promise<void> {
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
  process.exitCode = await main();
}
