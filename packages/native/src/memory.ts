/** The addon's memory call (csrc/memory.c). */
export interface NativeMemory {
  /**
   * Give the whole pages inside words [wordOffset, wordOffset + words) of a shared heap back
   * to the kernel (madvise MADV_DONTNEED): they read as zero afterwards. Only for a block no
   * thread can reach. Returns the bytes given back, or -errno.
   */
  discard(heap: Uint8Array, wordOffset: number, words: number): number;
}
