/**
 * The runtime block of an SA: what packets change, kept apart from the SA's immutable
 * configuration record so that an update (a new record) shares it and no sequence number is
 * handed out twice. Layout in int32 words of the shared heap:
 *   [oseq, oseqHi, seq, seqHi, flags, lock, -, -, bitmap[bitmapWords(window)]...]
 * Who writes what: queue workers take output sequence numbers (state-db.ts nextOutputSeq,
 * compare-exchange or the lock); the one worker an SA's SPI is steered to moves the replay
 * window (replay.ts); the control thread initialises the block and reads it for display.
 */

export const RT_OSEQ = 0;
export const RT_OSEQ_HI = 1;
export const RT_SEQ = 2;
export const RT_SEQ_HI = 3;
export const RT_FLAGS = 4;
export const RT_LOCK = 5;
export const RT_BITMAP = 8;
/** RT_FLAGS bit: output sequence numbers are used up (non-ESN). */
export const RT_EXHAUSTED = 1;

/** Bitmap words for a window of `window` packets (a power of two, so `seq mod N` is a mask). */
export function bitmapWords(window: number): number {
  let words = 1;
  while (words * 32 < window) words *= 2;
  return window === 0 ? 0 : words;
}

