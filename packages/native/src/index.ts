/**
 * The native addon, loaded on first use. Everything else in the library imports and runs
 * without it: {@link loadNative} returns null where it was not built (or XFRM_NATIVE=0 turns
 * it off), and {@link nativeUnavailableReason} says why, for the error of whoever asked for it.
 *
 * Each thread that loads it gets its own instance (context table, job area, bound buffers):
 * nothing in it is shared between threads.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The addon's functions (csrc/addon.c). */
export interface NativeAddon {
  /** Words of one job record (csrc/aead.h J_*). */
  readonly JOB_WORDS: number;
  /** A per-SA AEAD context (cipher 0 AES-GCM, 1 ChaCha20-Poly1305) keyed once: [index, generation]. */
  create(cipher: number, key: Uint8Array): [number, number];
  /** Free (and wipe) a context; false for a stale handle. */
  destroy(index: number, generation: number): boolean;
  /** The thread's job area (JOB_WORDS words a job), kept by the addon. */
  bindJobs(jobs: Int32Array): void;
  /** Buffer `id` (0..15) for batch jobs, kept by the addon. */
  bindBuffer(id: number, bytes: Uint8Array): void;
  /** Run job 0 in `bytes` (copying from `src` first where the job says so); returns its result. */
  run1(bytes: Uint8Array, src?: Uint8Array): number;
  /** Run jobs first..first+n-1 in their bound buffers; returns how many succeeded. */
  run(first: number, n: number): number;
  /** Contexts this thread holds. */
  live(): number;
}

/** Job words (csrc/aead.h). */
export const J_CTX_INDEX = 0;
export const J_CTX_GEN = 1;
export const J_OP = 2;
export const J_BUFFER = 3;
export const J_OFFSET = 4;
export const J_LENGTH = 5;
export const J_ICV = 6;
export const J_AAD_LENGTH = 7;
/** Byte offsets of the nonce (12 bytes) and AAD (up to 12) inside a job. */
export const J_NONCE_BYTE = 32;
export const J_AAD_BYTE = 44;
export const J_RESULT = 14;
/** The caller's word: the addon leaves it alone. */
export const J_TAG = 15;
/** A copy before the operation: src buffer id (batch runs), src offset, where to, bytes (0: none). */
export const J_SRC_BUFFER = 16;
export const J_SRC_OFFSET = 17;
export const J_COPY_TO = 18;
export const J_COPY_LENGTH = 19;
export const JOB_SEAL = 1;
export const JOB_OPEN = 2;
/** Results. */
export const JOB_OK = 1;
export const JOB_BAD_ICV = 0;

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
