/*
 * Per-SA AEAD contexts on the OpenSSL that Node itself ships, and the job record the
 * JavaScript side fills to seal or open ESP payloads in place. One table per thread (per
 * Node environment): nothing here is shared between threads.
 */
#ifndef XFRM_AEAD_H
#define XFRM_AEAD_H

#include <stddef.h>
#include <stdint.h>
#include <openssl/evp.h>

/* Ciphers by the numbers the JavaScript side uses. */
enum { AEAD_AES_GCM = 0, AEAD_CHACHA20_POLY1305 = 1 };

/* Job operations. */
enum { JOB_SEAL = 1, JOB_OPEN = 2 };

/* Job results (word J_RESULT). */
enum {
  JOB_OK = 1,
  JOB_BAD_ICV = 0,        /* open: the ICV did not verify; the buffer is as it was */
  JOB_BAD_CONTEXT = -1,   /* no live context under that handle */
  JOB_BAD_RANGE = -2,     /* offsets, lengths, ICV or AAD length out of bounds */
  JOB_BAD_OP = -3,
  JOB_BAD_BUFFER = -4,    /* no buffer bound under that id */
  JOB_CRYPTO_ERROR = -5,  /* OpenSSL refused (should not happen) */
};

/*
 * A job: 20 int32 words, the layout native-aead.ts writes. With J_COPY_LENGTH > 0 the job
 * first copies src[J_SRC_OFFSET ..] to buf[J_COPY_TO ..] (the packet's way from a receive
 * slot to a transmit slot: one memcpy here, where V8 copies between shared buffers whose
 * addresses differ mod 8 byte by byte, about 0.4 us per 1400 bytes).
 */
enum {
  J_CTX_INDEX = 0, /* context handle: index and generation */
  J_CTX_GEN = 1,
  J_OP = 2,
  J_BUFFER = 3,    /* bound buffer id (batch runs) */
  J_OFFSET = 4,    /* payload start in the buffer */
  J_LENGTH = 5,    /* payload bytes (ICV follows) */
  J_ICV = 6,       /* ICV bytes: 8, 12 or 16 */
  J_AAD_LENGTH = 7,/* 8, or 12 with ESN */
  J_NONCE = 8,     /* 12 bytes: words 8..10 */
  J_AAD = 11,      /* up to 12 bytes: words 11..13 */
  J_RESULT = 14,
  J_TAG = 15,      /* the caller's */
  J_SRC_BUFFER = 16,
  J_SRC_OFFSET = 17,
  J_COPY_TO = 18,
  J_COPY_LENGTH = 19,
  J_WORDS = 20,
};

/* Largest payload one job may carry (an IP packet plus ESP's padding and trailer). */
#define AEAD_MAX_PAYLOAD (65536 + 256)

struct aead_slot {
  EVP_CIPHER_CTX *ctx; /* NULL: free */
  uint32_t gen;        /* moves on every free: a stale handle finds another generation */
  int32_t next_free;
};

struct aead_table {
  struct aead_slot *slots;
  uint32_t capacity;
  int32_t free_head;
  uint32_t live;
  uint8_t *scratch; /* open decrypts here, and copies out only after the ICV verified */
};

int aead_table_init(struct aead_table *t);
/* Free (and so wipe) every context: the thread is going away. */
void aead_table_destroy(struct aead_table *t);
/* A context for `key`; returns its index (generation in *gen) or -1. */
int32_t aead_create(struct aead_table *t, int cipher, const uint8_t *key, size_t key_len, uint32_t *gen);
/* Free the context (OpenSSL wipes its key schedule); returns 0, or -1 for a stale handle. */
int aead_destroy(struct aead_table *t, int32_t index, uint32_t gen);
/* Run one job on `buf[0 .. buf_len)`, copying from `src` first if it says so; returns a JOB_* result. */
int32_t aead_run(struct aead_table *t, const int32_t *job, uint8_t *buf, size_t buf_len, const uint8_t *src, size_t src_len);

#endif
