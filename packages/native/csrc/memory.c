/* A growable SharedArrayBuffer cannot shrink, so the shared heap keeps freed blocks on free
   lists; this lets it hand the whole pages inside a large freed block back to the kernel
   (madvise MADV_DONTNEED): RSS falls, the address range stays, and the pages read as zero
   when the block is allocated again. The caller guarantees no thread reads the block (its
   grace period is over). */
#include "memory.h"

#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#include "args.h"

/* discard(heap: Uint8Array, wordOffset, words) -> bytes given back (0 when no whole page). */
static napi_value js_discard(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  void *data;
  size_t length;
  int32_t off, words;
  if (arg_count(env, info, 3, argv) != 0) return NULL;
  if (arg_typed(env, argv[0], napi_uint8_array, &data, &length) != 0) {
    napi_throw_type_error(env, NULL, "xfrm native: discard needs the heap's Uint8Array");
    return NULL;
  }
  if (arg_int32(env, argv[1], &off) != 0 || arg_int32(env, argv[2], &words) != 0) return NULL;
  uint64_t start = (uint64_t)(uint32_t)off * 4, end = start + (uint64_t)(uint32_t)words * 4;
  if (off < 0 || words < 0 || end > length) {
    napi_throw_range_error(env, NULL, "xfrm native: discard outside the heap");
    return NULL;
  }
  uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
  uintptr_t a = ((uintptr_t)data + start + page - 1) & ~(page - 1);
  uintptr_t b = ((uintptr_t)data + end) & ~(page - 1);
  if (b <= a) return js_int(env, 0);
  if (madvise((void *)a, b - a, MADV_DONTNEED) != 0) return js_int(env, -errno);
  return js_int(env, (int32_t)(b - a > INT32_MAX ? INT32_MAX : b - a));
}

int memory_register(napi_env env, napi_value exports) {
  napi_value f;
  if (napi_create_function(env, "discard", NAPI_AUTO_LENGTH, js_discard, NULL, &f) != napi_ok) return -1;
  if (napi_set_named_property(env, exports, "discard", f) != napi_ok) return -1;
  return 0;
}
