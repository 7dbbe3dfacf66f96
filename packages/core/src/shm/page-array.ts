/**
 * Typed arrays for the control thread's structures that grow and shrink by reallocation
 * (SA rows, indexes, free lists, the deadline heap). A large one is allocated on pages of its
 * own, through a resizable ArrayBuffer (V8 maps those with its page allocator and unmaps them
 * when collected), not through malloc: once glibc has freed a large block it raises its
 * dynamic mmap threshold, after which large buffers come from its heap and stay there when
 * freed, so each regrowth after a flush left RSS behind (+49 MB on a second fill of a million
 * SAs; flat with this, bench/state-scale.mjs). Not shared memory: thread-local.
 */

/**
 * Below this many bytes (1 MiB) an array comes from malloc as usual: small blocks are reused
 * well there, and an element of an array on a resizable buffer costs V8 11 a little more to
 * reach (adding 100k states was 7 % slower with every array from 64 KiB up paged).
 */
export const PAGED_BYTES = 1 << 20;

type TypedArrayOf<T> = { new (length: number): T; new (buffer: ArrayBuffer, byteOffset: number, length: number): T; readonly BYTES_PER_ELEMENT: number };

/** A zeroed `ctor` array of `length` elements, on pages of its own when it is large. */
export function pageArray<T>(ctor: TypedArrayOf<T>, length: number): T {
  const bytes = length * ctor.BYTES_PER_ELEMENT;
  if (bytes < PAGED_BYTES) return new ctor(length);
  return new ctor(new ArrayBuffer(bytes, { maxByteLength: bytes }), 0, length);
}
