/* Giving the pages of freed shared-heap blocks back to the kernel. */
#ifndef XFRM_MEMORY_H
#define XFRM_MEMORY_H

#include <node_api.h>

/* Adds discard() to the addon's exports; -1 (thrown) on failure. */
int memory_register(napi_env env, napi_value exports);

#endif
