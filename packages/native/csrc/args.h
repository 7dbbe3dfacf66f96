/* Reading N-API arguments, for addon.c and io.c alike. Functions that fail return -1 (or
   NULL) after throwing a TypeError that names the addon, except arg_typed, which leaves the
   message to its caller. */
#ifndef XFRM_ARGS_H
#define XFRM_ARGS_H

#include <node_api.h>
#include <stddef.h>
#include <stdint.h>

/* The first `want` arguments into argv; -1 (thrown) when fewer were given. */
int arg_count(napi_env env, napi_callback_info info, size_t want, napi_value *argv);
/* A whole number argument; -1 (thrown) when it is not one. */
int arg_int32(napi_env env, napi_value v, int32_t *out);
/* The bytes of a typed array of `type`; -1 (nothing thrown) when `v` is not one. */
int arg_typed(napi_env env, napi_value v, napi_typedarray_type type, void **data, size_t *length);
/* A JavaScript number (NULL if it cannot be made). */
napi_value js_int(napi_env env, int32_t v);

#endif
