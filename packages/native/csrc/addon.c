/*
 * The N-API face of the native backend. Each thread that loads the addon (the control
 * thread, every queue worker) gets its own instance: its own context table, job area and
 * bound buffers; none of it is shared, so nothing here takes a lock. When the thread's
 * environment ends, every context it still holds is freed and so wiped.
 *
 * Per packet nothing crosses but integers: the caller writes jobs (handles, offsets, nonce,
 * AAD) into an Int32Array bound once, and the packets live in buffers bound once (ring
 * slots in SharedArrayBuffers); `run(first, n)` does n jobs in one call.
 *
 * Shared memory: a bound buffer may be a SharedArrayBuffer (a transmit ring). The addon
 * writes it only inside run()/run1(), synchronously on the calling thread, into slots that
 * thread owns until it publishes them; the publication is the caller's Atomics store after
 * the call returns, which orders these plain writes before it (release), so a reader that
 * sees the slot published sees its bytes. The addon reads receive slots the same way, before
 * the caller releases them.
 */
#include <node_api.h>
#include <stdlib.h>
#include <string.h>

#include "aead.h"
#include "args.h"
#include "io.h"
#include "memory.h"

#define MAX_BUFFERS 16

struct bound {
  uint8_t *data;
  size_t length;
  napi_ref ref;
};

struct instance {
  struct aead_table table;
  int32_t *jobs;
  size_t job_count;
  napi_ref jobs_ref;
  struct bound buffers[MAX_BUFFERS];
};

#define CHECK(env, call)                                                   \
  do {                                                                     \
    if ((call) != napi_ok) {                                               \
      napi_throw_error((env), NULL, "xfrm native: " #call " failed");      \
      return NULL;                                                         \
    }                                                                      \
  } while (0)

/* The first `want` arguments, and this thread's instance. */
static struct instance *args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  struct instance *in = NULL;
  if (arg_count(env, info, want, argv) != 0) return NULL;
  if (napi_get_instance_data(env, (void **)&in) != napi_ok || in == NULL) {
    napi_throw_error(env, NULL, "xfrm native: no instance data");
    return NULL;
  }
  return in;
}

/* create(cipher, key: Uint8Array) -> [index, generation], or throws. */
static napi_value js_create(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct instance *in = args(env, info, 2, argv);
  if (in == NULL) return NULL;
  int32_t cipher;
  void *key;
  size_t key_len;
  CHECK(env, napi_get_value_int32(env, argv[0], &cipher));
  if (arg_typed(env, argv[1], napi_uint8_array, &key, &key_len) != 0) {
    napi_throw_type_error(env, NULL, "xfrm native: key must be a Uint8Array");
    return NULL;
  }
  uint32_t gen = 0;
  int32_t index = aead_create(&in->table, cipher, key, key_len, &gen);
  if (index < 0) {
    napi_throw_error(env, NULL, "xfrm native: cannot make a context for this cipher and key length");
    return NULL;
  }
  napi_value r;
  CHECK(env, napi_create_array_with_length(env, 2, &r));
  CHECK(env, napi_set_element(env, r, 0, js_int(env, index)));
  CHECK(env, napi_set_element(env, r, 1, js_int(env, (int32_t)gen)));
  return r;
}

/* destroy(index, generation) -> true, or false for a stale handle. */
static napi_value js_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct instance *in = args(env, info, 2, argv);
  if (in == NULL) return NULL;
  int32_t index, gen;
  CHECK(env, napi_get_value_int32(env, argv[0], &index));
  CHECK(env, napi_get_value_int32(env, argv[1], &gen));
  napi_value r;
  CHECK(env, napi_get_boolean(env, aead_destroy(&in->table, index, (uint32_t)gen) == 0, &r));
  return r;
}

/* bindJobs(jobs: Int32Array): the job area, J_WORDS words a job. */
static napi_value js_bind_jobs(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  struct instance *in = args(env, info, 1, argv);
  if (in == NULL) return NULL;
  void *data;
  size_t length;
  if (arg_typed(env, argv[0], napi_int32_array, &data, &length) != 0 || length < J_WORDS) {
    napi_throw_type_error(env, NULL, "xfrm native: jobs must be an Int32Array of at least one job");
    return NULL;
  }
  if (in->jobs_ref != NULL) napi_delete_reference(env, in->jobs_ref);
  CHECK(env, napi_create_reference(env, argv[0], 1, &in->jobs_ref));
  in->jobs = data;
  in->job_count = length / J_WORDS;
  return NULL;
}

/* bindBuffer(id, bytes: Uint8Array): jobs with J_BUFFER = id work in these bytes. */
static napi_value js_bind_buffer(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct instance *in = args(env, info, 2, argv);
  if (in == NULL) return NULL;
  int32_t id;
  void *data;
  size_t length;
  CHECK(env, napi_get_value_int32(env, argv[0], &id));
  if (id < 0 || id >= MAX_BUFFERS || arg_typed(env, argv[1], napi_uint8_array, &data, &length) != 0) {
    napi_throw_type_error(env, NULL, "xfrm native: bindBuffer needs an id below 16 and a Uint8Array");
    return NULL;
  }
  struct bound *b = &in->buffers[id];
  if (b->ref != NULL) napi_delete_reference(env, b->ref);
  CHECK(env, napi_create_reference(env, argv[1], 1, &b->ref));
  b->data = data;
  b->length = length;
  return NULL;
}

/* run1(bytes: Uint8Array, src?: Uint8Array) -> the result of job 0, done in `bytes` (the per-packet call). */
static napi_value js_run1(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  size_t argc = 2;
  struct instance *in = NULL;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || napi_get_instance_data(env, (void **)&in) != napi_ok) return NULL;
  void *data, *src = NULL;
  size_t length, src_len = 0;
  if (argc < 1 || in->jobs == NULL || arg_typed(env, argv[0], napi_uint8_array, &data, &length) != 0 ||
      (argc > 1 && arg_typed(env, argv[1], napi_uint8_array, &src, &src_len) != 0)) {
    napi_throw_type_error(env, NULL, "xfrm native: run1 needs bound jobs and one or two Uint8Arrays");
    return NULL;
  }
  int32_t r = aead_run(&in->table, in->jobs, data, length, src, src_len);
  in->jobs[J_RESULT] = r;
  return js_int(env, r);
}

/* run(first, n) -> how many of jobs first..first+n-1 succeeded; each result is in its J_RESULT word. */
static napi_value js_run(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  struct instance *in = args(env, info, 2, argv);
  if (in == NULL) return NULL;
  int32_t first, n;
  CHECK(env, napi_get_value_int32(env, argv[0], &first));
  CHECK(env, napi_get_value_int32(env, argv[1], &n));
  if (first < 0 || n < 0 || in->jobs == NULL || (size_t)first + (size_t)n > in->job_count) {
    napi_throw_range_error(env, NULL, "xfrm native: run(first, n) needs jobs inside the bound job area");
    return NULL;
  }
  int32_t ok = 0;
  for (int32_t k = first; k < first + n; k++) {
    int32_t *job = in->jobs + (size_t)k * J_WORDS;
    int32_t id = job[J_BUFFER];
    int32_t sid = job[J_COPY_LENGTH] != 0 ? job[J_SRC_BUFFER] : -1;
    int32_t r;
    if (id < 0 || id >= MAX_BUFFERS || in->buffers[id].data == NULL) r = JOB_BAD_BUFFER;
    else if (sid >= MAX_BUFFERS || (sid >= 0 && in->buffers[sid].data == NULL)) r = JOB_BAD_BUFFER;
    else {
      const struct bound *s = sid >= 0 ? &in->buffers[sid] : NULL;
      r = aead_run(&in->table, job, in->buffers[id].data, in->buffers[id].length, s ? s->data : NULL, s ? s->length : 0);
    }
    job[J_RESULT] = r;
    ok += r == JOB_OK;
  }
  return js_int(env, ok);
}

/* live() -> contexts this thread holds (tests: nothing outlives its SA). */
static napi_value js_live(napi_env env, napi_callback_info info) {
  struct instance *in = NULL;
  CHECK(env, napi_get_instance_data(env, (void **)&in));
  return js_int(env, (int32_t)in->table.live);
}

static void finalize(napi_env env, void *data, void *hint) {
  struct instance *in = data;
  aead_table_destroy(&in->table);
  free(in);
}

NAPI_MODULE_INIT() {
  struct instance *in = calloc(1, sizeof *in);
  if (in == NULL || aead_table_init(&in->table) != 0) {
    free(in);
    napi_throw_error(env, NULL, "xfrm native: out of memory");
    return NULL;
  }
  if (napi_set_instance_data(env, in, finalize, NULL) != napi_ok) return NULL;
  static const struct { const char *name; napi_callback fn; } fns[] = {
    {"create", js_create}, {"destroy", js_destroy}, {"bindJobs", js_bind_jobs},
    {"bindBuffer", js_bind_buffer}, {"run1", js_run1}, {"run", js_run}, {"live", js_live},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    CHECK(env, napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f));
    CHECK(env, napi_set_named_property(env, exports, fns[i].name, f));
  }
  if (io_register(env, exports) != 0 || memory_register(env, exports) != 0) return NULL;
  napi_value v;
  CHECK(env, napi_create_int32(env, J_WORDS, &v));
  CHECK(env, napi_set_named_property(env, exports, "JOB_WORDS", v));
  return exports;
}
