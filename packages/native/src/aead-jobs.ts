/**
 * The addon's AEAD side: per-SA contexts and the job records that seal or open packets in
 * place, one call per job or per batch (csrc/aead.h has the same layout).
 */
/** The addon's AEAD functions (csrc/addon.c, csrc/aead.c). */
export interface NativeAead {
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

