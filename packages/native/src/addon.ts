/**
 * Loading the addon, on first use, once per thread (each thread gets its own instance:
 * context table, job area, bound buffers). Everything else in the library imports and runs
 * without it: {@link loadNative} returns null where it was not built (or XFRM_NATIVE=0 turns
 * it off), and {@link nativeUnavailableReason} says why, for the error of whoever asked for it.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type NativeAead } from './aead-jobs.js';
import { type NativeIo } from './io.js';
import { type NativeMemory } from './memory.js';

/** Everything the addon exports. */
export type NativeAddon = NativeAead & NativeIo & NativeMemory;

const here = dirname(fileURLToPath(import.meta.url));
const addonPath = join(here, '..', 'build', 'Release', 'xfrm_native.node');
let loaded: NativeAddon | null | undefined;
let reason = '';

/** The addon, or null where it is not built or does not load. */
export function loadNative(): NativeAddon | null {
  if (loaded !== undefined) return loaded;
  if (process.env.XFRM_NATIVE === '0') {
    reason = 'turned off by XFRM_NATIVE=0';
    return (loaded = null);
  }
  try {
    loaded = createRequire(import.meta.url)(addonPath) as NativeAddon;
  } catch (e) {
    loaded = null;
    const errorFile = join(here, '..', 'build', 'addon-error.txt');
    reason = existsSync(errorFile)
      ? `the addon was not built at install: ${readFileSync(errorFile, 'utf8').split('\n')[0]}`
      : `${addonPath} does not load: ${(e as Error).message.split('\n')[0]}`;
  }
  return loaded;
}

/** Why {@link loadNative} returned null ('' when it loaded). */
export function nativeUnavailableReason(): string {
  loadNative();
  return reason;
}

/** The addon, or an Error saying why it is missing and what to do (`what`: the feature asked for). */
export function requireNative(what: string): NativeAddon {
  const addon = loadNative();
  if (addon === null) {
    throw new Error(`${what} needs the native addon, which is not available: ${reason}. Rebuild it with \`pnpm --filter @xfrm/native run build:addon\``);
  }
  return addon;
}
