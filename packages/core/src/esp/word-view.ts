/**
 * Word access to packet bytes. A loop of byte loads and stores costs about 1.2 ns a byte in
 * Node 20, a 32-bit word about as much as a byte, so the packet path copies payloads and writes
 * headers by words where they are 4-byte aligned (they are in the queues' areas: IP headers,
 * UDP and ESP headers and the IV are whole words). A {@link WordView} keeps the Int32Array over
 * the last byte array's buffer; it is checked by the array's identity first, because a typed
 * array's `buffer` and `byteOffset` are not free (about 12 and 6 ns a read), so the packet path
 * passes its areas whole, with offsets, and the check is one comparison.
 *
 * Thread-local state only (the remembered view); the bytes are the caller's.
 */

/** True where the host stores words little-endian (the wire is big-endian). */
const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** The Int32Array view of the last byte array's buffer, and where that array starts in it. */
export class WordView {
  private bytes: Uint8Array | undefined;
  private buffer: ArrayBufferLike | undefined;
  words: Int32Array<ArrayBufferLike> = new Int32Array(0);
  /** Byte offset of the last byte array in its buffer. */
  base = 0;
  shared = false;

  /** Point at `b` (its buffer's word view is made only when the buffer differs from the last). */
  of(b: Uint8Array): void {
    if (b === this.bytes) return;
    this.bytes = b;
    this.base = b.byteOffset;
    const buffer = b.buffer;
    if (buffer === this.buffer) return;
    this.buffer = buffer;
    this.words = new Int32Array(buffer, 0, buffer.byteLength >> 2); // fixed length: a grown buffer's tail goes by bytes
    this.shared = typeof SharedArrayBuffer !== 'undefined' && buffer instanceof SharedArrayBuffer;
  }

  /**
   * The word index of `b[o]` when `count` words from there are aligned and inside the view
   * (after {@link of}(b)), else -1.
   */
  at(o: number, count: number): number {
    const a = this.base + o;
    return (a & 3) === 0 && (a >> 2) + count <= this.words.length ? a >> 2 : -1;
  }
}

/** A 32-bit value as the host must store it for its bytes to read big-endian. */
export function wireWord(v: number): number {
  return LITTLE_ENDIAN ? ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24) : v | 0;
}
