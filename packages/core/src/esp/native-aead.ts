/**
 * AEAD contexts in the native addon (@xfrm/native): OpenSSL's EVP contexts with the key
 * schedule set once per SA, kept on the native side and named by a handle (index and
 * generation) that a freed context never answers to again. Per packet only integers and
 * the packet's buffer cross into C.
 *
 * Seal batching: while {@link SealBatch.deferring} is set, a seal whose buffer lies in the
 * bound buffer (a transmit ring) is queued as a job instead of run; {@link SealBatch.flush}
 * runs the queue in one call. Nothing may read a queued packet's bytes before the flush. A
 * context is never freed with jobs queued: destroy() flushes first, so no job runs under a
 * freed (wiped) key and no packet leaves unencrypted.
 *
 * Thread-local: each thread has its own addon instance, job area and contexts.
 */
import {
  J_AAD_BYTE,
  J_AAD_LENGTH,
  J_BUFFER,
  J_COPY_LENGTH,
  J_COPY_TO,
  J_CTX_GEN,
  J_CTX_INDEX,
  J_ICV,
  J_LENGTH,
  J_NONCE_BYTE,
  J_OFFSET,
  J_OP,
  J_RESULT,
  J_SRC_BUFFER,
  J_SRC_OFFSET,
  J_TAG,
  JOB_OK,
  JOB_OPEN,
  JOB_SEAL,
  loadNative,
  nativeUnavailableReason,
  type NativeAddon,
} from '@xfrm/native';
import { type AeadBackend, type AeadCipher, type AeadContext, type SealBatch } from './aead.js';

/** The nonce and AAD as words of a job (J_NONCE_BYTE, J_AAD_BYTE). */
const J_NONCE_WORD = J_NONCE_BYTE / 4;
const J_AAD_WORD = J_AAD_BYTE / 4;
/** Jobs queued before a flush is forced. */
const BATCH_JOBS = 256;

/** Thrown when the native backend is asked for where the addon is missing. */
export class NativeUnavailableError extends Error {}

class NativeJobs implements SealBatch {
  deferring = false;
  tag = 0;
  onFailed: ((tag: number) => void) | undefined;
  private readonly words: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly jw: number;
  private queued = 0;
  /** Bound buffers by id: 0 the transmit side (where seals go), 1 the receive side (where packets come from). */
  private readonly bound: (ArrayBufferLike | null)[] = [null, null];
  private readonly boundOffset = [0, 0];
  /** The arrays bound: a seal into the same array (the queues pass their areas whole) skips `buffer` and `byteOffset`, ~18 ns. */
  private readonly boundBytes: (Uint8Array | null)[] = [null, null];
  /** The copy the next job does first (copyIn), if copyLen > 0. */
  private copySrc: Uint8Array | null = null;
  private copyFrom = 0;
  private copyTo = 0;
  private copyLen = 0;
  /** Word views of the last nonce and AAD arrays seen (esp.ts passes the same two every time). */
  private readonly wordArrays: (Uint8Array | null)[] = [null, null];
  private readonly wordViews: (Int32Array | null)[] = [null, null];

  constructor(readonly addon: NativeAddon) {
    this.jw = addon.JOB_WORDS;
    // Job 0 is the per-packet job; queued jobs are 1..BATCH_JOBS.
    this.words = new Int32Array((BATCH_JOBS + 1) * this.jw);
    this.bytes = new Uint8Array(this.words.buffer);
    addon.bindJobs(this.words);
  }

  bind(bytes: Uint8Array, source?: Uint8Array): void {
    this.flush();
    this.addon.bindBuffer(0, bytes);
    this.bound[0] = bytes.buffer;
    this.boundOffset[0] = bytes.byteOffset;
    this.boundBytes[0] = bytes;
    if (source !== undefined) this.addon.bindBuffer(1, source);
    this.bound[1] = source?.buffer ?? null;
    this.boundOffset[1] = source?.byteOffset ?? 0;
    this.boundBytes[1] = source ?? null;
  }

  get pending(): number {
    return this.queued;
  }

  copyIn(src: Uint8Array, from: number, to: number, len: number): void {
    this.copySrc = src;
    this.copyFrom = from;
    this.copyTo = to;
    this.copyLen = len;
  }

  /** Fill job `j` (offsets relative to `base` bytes of the buffer), taking the pending copy. */
  private fill(j: number, ctx: NativeAead, op: number, nonce: Uint8Array, aad: Uint8Array, base: number, off: number, len: number, icvLen: number): void {
    const w = this.words;
    const o = j * this.jw;
    w[o + J_CTX_INDEX] = ctx.index;
    w[o + J_CTX_GEN] = ctx.generation;
    w[o + J_OP] = op;
    w[o + J_OFFSET] = base + off;
    w[o + J_LENGTH] = len;
    w[o + J_ICV] = icvLen;
    w[o + J_AAD_LENGTH] = aad.length;
    w[o + J_COPY_TO] = base + this.copyTo;
    w[o + J_COPY_LENGTH] = this.copyLen;
    // Nonce and AAD by words where the caller's arrays allow (esp.ts's, always), else by bytes.
    const n32 = this.wordsOf(nonce, 0);
    const a32 = this.wordsOf(aad, 1);
    if (n32 !== null && a32 !== null) {
      w[o + J_NONCE_WORD] = n32[0];
      w[o + J_NONCE_WORD + 1] = n32[1];
      w[o + J_NONCE_WORD + 2] = n32[2];
      w[o + J_AAD_WORD] = a32[0];
      w[o + J_AAD_WORD + 1] = a32[1];
      if (aad.length === 12) w[o + J_AAD_WORD + 2] = a32[2];
    } else {
      const b = this.bytes;
      const ob = o * 4;
      for (let i = 0; i < 12; i++) b[ob + J_NONCE_BYTE + i] = nonce[i];
      for (let i = 0; i < aad.length; i++) b[ob + J_AAD_BYTE + i] = aad[i];
    }
    this.copyLen = 0;
  }

  /** An Int32Array over the first 12 bytes of `a` (cached per caller array, slot `k`), or null when `a` is not word-aligned. */
  private wordsOf(a: Uint8Array, k: number): Int32Array | null {
    if (this.wordArrays[k] === a) return this.wordViews[k];
    if ((a.byteOffset & 3) !== 0 || a.buffer.byteLength < a.byteOffset + 12) return null;
    this.wordArrays[k] = a;
    return (this.wordViews[k] = new Int32Array(a.buffer, a.byteOffset, 3));
  }

  /** Seal or open `buf[off ..]` now (job 0); returns the addon's result. */
  run1(ctx: NativeAead, op: number, nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): number {
    const src = this.copyLen > 0 ? this.copySrc : null;
    this.words[J_SRC_OFFSET] = this.copyFrom;
    this.fill(0, ctx, op, nonce, aad, 0, off, len, icvLen);
    this.copySrc = null;
    return src === null ? this.addon.run1(buf) : this.addon.run1(buf, src);
  }

  /** Queue a seal of `buf[off ..]` if deferring into the bound buffers; false: run it now. */
  queue(ctx: NativeAead, nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): boolean {
    if (!this.deferring) return false;
    const base = this.offsetIn(0, buf);
    const src = this.copyLen > 0 ? this.copySrc : null;
    const srcBase = src === null ? 0 : this.offsetIn(1, src);
    if (base < 0 || srcBase < 0) return false;
    if (this.queued === BATCH_JOBS) this.flush();
    const j = 1 + this.queued++;
    const o = j * this.jw;
    this.words[o + J_BUFFER] = 0;
    this.words[o + J_TAG] = this.tag;
    this.words[o + J_SRC_BUFFER] = 1;
    this.words[o + J_SRC_OFFSET] = src === null ? 0 : srcBase + this.copyFrom;
    this.fill(j, ctx, JOB_SEAL, nonce, aad, base, off, len, icvLen);
    this.copySrc = null;
    return true;
  }

  /** Where `a` starts in bound buffer k (bytes from the bound array's start), or -1 when it is not in it. */
  private offsetIn(k: number, a: Uint8Array): number {
    if (a === this.boundBytes[k]) return 0;
    if (a.buffer !== this.bound[k]) return -1;
    const at = a.byteOffset - this.boundOffset[k];
    return at >= 0 ? at : -1; // before the bound array: not deferred (run now)
  }

  flush(): number {
    const n = this.queued;
    if (n === 0) return 0;
    this.queued = 0;
    const ok = this.addon.run(1, n);
    if (ok === n) return 0;
    // A failed seal was wiped by the addon; its packet must not count as sent.
    for (let j = 1; j <= n; j++) {
      if (this.words[j * this.jw + J_RESULT] !== JOB_OK) this.onFailed?.(this.words[j * this.jw + J_TAG]);
    }
    return n - ok;
  }
}

class NativeAead implements AeadContext {
  index: number;
  generation: number;

  constructor(
    private readonly jobs: NativeJobs,
    cipher: AeadCipher,
    key: Uint8Array,
  ) {
    [this.index, this.generation] = jobs.addon.create(cipher === 'aes-gcm' ? 0 : 1, key);
  }

  copyIn(src: Uint8Array, from: number, buf: Uint8Array, to: number, len: number): void {
    this.jobs.copyIn(src, from, to, len);
  }

  seal(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): void {
    if (this.jobs.queue(this, nonce, aad, buf, off, len, icvLen)) return;
    const r = this.jobs.run1(this, JOB_SEAL, nonce, aad, buf, off, len, icvLen);
    if (r !== JOB_OK) throw new Error(`native seal failed (${r}): ${this.index < 0 ? 'context destroyed' : 'bad lengths'}`);
  }

  open(nonce: Uint8Array, aad: Uint8Array, buf: Uint8Array, off: number, len: number, icvLen: number): boolean {
    return this.jobs.run1(this, JOB_OPEN, nonce, aad, buf, off, len, icvLen) === JOB_OK; // anything else left the AEAD region as it was
  }

  destroy(): void {
    if (this.index < 0) return;
    this.jobs.flush(); // no queued job may outlive its key
    this.jobs.addon.destroy(this.index, this.generation);
    this.index = -1;
  }
}

let jobs: NativeJobs | null | undefined;

function threadJobs(): NativeJobs | null {
  if (jobs === undefined) {
    const addon = loadNative();
    jobs = addon === null ? null : new NativeJobs(addon);
  }
  return jobs;
}

/** True where the addon loaded in this thread. */
export function nativeAvailable(): boolean {
  return threadJobs() !== null;
}

/** The native backend of this thread; throws NativeUnavailableError (saying why) where the addon is missing. */
export function nativeAead(): AeadBackend {
  const j = threadJobs();
  if (j === null) {
    throw new NativeUnavailableError(
      `the native crypto backend is not available: ${nativeUnavailableReason()}. ` +
        'Rebuild it with `pnpm --filter @xfrm/native run build:addon`, or choose --crypto-backend noble|node',
    );
  }
  return { name: 'native', context: (cipher, key) => new NativeAead(j, cipher, key), batch: j };
}

/** Contexts the addon holds in this thread (0 where it is missing). */
export function nativeLiveContexts(): number {
  return threadJobs()?.addon.live() ?? 0;
}
