/* Packet I/O for gateway queues (TUN, ESP-in-UDP sockets, batches): see io.c. */
#ifndef XFRM_IO_H
#define XFRM_IO_H

#include <node_api.h>

/* Add the I/O functions to the addon's exports; 0 on success. */
int io_register(napi_env env, napi_value exports);

#endif
