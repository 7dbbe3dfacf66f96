/* Reading N-API arguments (args.h). */
#include "args.h"

int arg_count(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, NULL, "xfrm native: too few arguments");
    return -1;
  }
  return 0;
}

int arg_int32(napi_env env, napi_value v, int32_t *out) {
  if (napi_get_value_int32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, NULL, "xfrm native: expected a number");
    return -1;
  }
  return 0;
}

int arg_typed(napi_env env, napi_value v, napi_typedarray_type type, void **data, size_t *length) {
  napi_typedarray_type t;
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return -1;
  if (napi_get_typedarray_info(env, v, &t, length, data, NULL, NULL) != napi_ok || t != type) return -1;
  return 0;
}

napi_value js_int(napi_env env, int32_t v) {
  napi_value r;
  return napi_create_int32(env, v, &r) == napi_ok ? r : NULL;
}
