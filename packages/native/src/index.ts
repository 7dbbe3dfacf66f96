/**
 * @xfrm/native: the dataplane's N-API addon (csrc/), built from source at install and
 * optional at run time: AEAD on the OpenSSL Node ships (aead-jobs.ts) and a gateway's packet
 * I/O (io.ts) and giving freed shared-heap pages back (memory.ts), loaded by addon.ts.
 */
export * from './addon.js';
export * from './aead-jobs.js';
export * from './io.js';
export * from './memory.js';
