/*
 * AEAD jobs on per-SA OpenSSL contexts. The key schedule is set once when the context is
 * made (EVP_CipherInit_ex with the key); each packet sets only its IV, so a packet costs its
 * cipher work and nothing else (the talk's "ESP Bogosity": no per-packet key setup).
 *
 * Open decrypts into a per-thread scratch area while OpenSSL checks the ICV (in constant
 * time: CRYPTO_memcmp), and copies the plaintext over the ciphertext only when it verified;
 * on failure the scratch is cleansed and the caller's buffer is unchanged.
 */
#include "aead.h"

#include <stdlib.h>
#include <string.h>
#include <openssl/crypto.h>

int aead_table_init(struct aead_table *t) {
  memset(t, 0, sizeof *t);
  t->free_head = -1;
  t->scratch = malloc(AEAD_MAX_PAYLOAD);
  return t->scratch != NULL ? 0 : -1;
}

void aead_table_destroy(struct aead_table *t) {
  for (uint32_t i = 0; i < t->capacity; i++) {
    if (t->slots[i].ctx != NULL) EVP_CIPHER_CTX_free(t->slots[i].ctx);
  }
  free(t->slots);
  if (t->scratch != NULL) {
    OPENSSL_cleanse(t->scratch, AEAD_MAX_PAYLOAD);
    free(t->scratch);
  }
  memset(t, 0, sizeof *t);
}

static const EVP_CIPHER *cipher_of(int cipher, size_t key_len) {
  if (cipher == AEAD_CHACHA20_POLY1305) return key_len == 32 ? EVP_chacha20_poly1305() : NULL;
  if (cipher != AEAD_AES_GCM) return NULL;
  switch (key_len) {
    case 16: return EVP_aes_128_gcm();
    case 24: return EVP_aes_192_gcm();
    case 32: return EVP_aes_256_gcm();
    default: return NULL;
  }
}

static int32_t take_slot(struct aead_table *t) {
  if (t->free_head >= 0) {
    int32_t i = t->free_head;
    t->free_head = t->slots[i].next_free;
    return i;
  }
  if (t->capacity == (1u << 30)) return -1;
  uint32_t cap = t->capacity == 0 ? 64 : t->capacity * 2;
  struct aead_slot *s = realloc(t->slots, cap * sizeof *s);
  if (s == NULL) return -1;
  for (uint32_t i = t->capacity; i < cap; i++) {
    s[i].ctx = NULL;
    s[i].gen = 0;
    s[i].next_free = i + 1 < cap ? (int32_t)(i + 1) : t->free_head;
  }
  t->free_head = (int32_t)t->capacity;
  t->slots = s;
  t->capacity = cap;
  int32_t i = t->free_head;
  t->free_head = t->slots[i].next_free;
  return i;
}

int32_t aead_create(struct aead_table *t, int cipher, const uint8_t *key, size_t key_len, uint32_t *gen) {
  const EVP_CIPHER *c = cipher_of(cipher, key_len);
  if (c == NULL) return -1;
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  if (ctx == NULL) return -1;
  /* The key once; the 12-byte IV (the default length of both ciphers) per packet. */
  if (EVP_CipherInit_ex(ctx, c, NULL, key, NULL, 1) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return -1;
  }
  int32_t i = take_slot(t);
  if (i < 0) {
    EVP_CIPHER_CTX_free(ctx);
    return -1;
  }
  t->slots[i].ctx = ctx;
  t->live++;
  *gen = t->slots[i].gen;
  return i;
}

static EVP_CIPHER_CTX *lookup(struct aead_table *t, int32_t index, uint32_t gen) {
  if (index < 0 || (uint32_t)index >= t->capacity) return NULL;
  struct aead_slot *s = &t->slots[index];
  return s->ctx != NULL && s->gen == gen ? s->ctx : NULL;
}

int aead_destroy(struct aead_table *t, int32_t index, uint32_t gen) {
  EVP_CIPHER_CTX *ctx = lookup(t, index, gen);
  if (ctx == NULL) return -1;
  EVP_CIPHER_CTX_free(ctx); /* the provider's free cleanses the key schedule */
  struct aead_slot *s = &t->slots[index];
  s->ctx = NULL;
  s->gen++; /* a handle kept past destroy now names nothing (until 2^32 reuses of this slot) */
  s->next_free = t->free_head;
  t->free_head = index;
  t->live--;
  return 0;
}

static int32_t seal(EVP_CIPHER_CTX *ctx, const uint8_t *nonce, const uint8_t *aad, int aad_len, uint8_t *p, int len, int icv) {
  int n = 0;
  if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 1) != 1) return JOB_CRYPTO_ERROR;
  if (EVP_CipherUpdate(ctx, NULL, &n, aad, aad_len) != 1) return JOB_CRYPTO_ERROR;
  if (EVP_CipherUpdate(ctx, p, &n, p, len) != 1) return JOB_CRYPTO_ERROR;
  if (EVP_CipherFinal_ex(ctx, p + n, &n) != 1) return JOB_CRYPTO_ERROR;
  /* A truncated ICV (8 or 12 bytes, RFC 4106) is the first bytes of the full tag. */
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, icv, p + len) != 1) return JOB_CRYPTO_ERROR;
  return JOB_OK;
}

static int32_t open_(EVP_CIPHER_CTX *ctx, uint8_t *scratch, const uint8_t *nonce, const uint8_t *aad, int aad_len, uint8_t *p, int len, int icv) {
  int n = 0, m = 0;
  uint8_t tag[16];
  memcpy(tag, p + len, icv);
  if (EVP_CipherInit_ex(ctx, NULL, NULL, NULL, nonce, 0) != 1) return JOB_CRYPTO_ERROR;
  if (EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, icv, tag) != 1) return JOB_CRYPTO_ERROR;
  if (EVP_CipherUpdate(ctx, NULL, &n, aad, aad_len) != 1) return JOB_CRYPTO_ERROR;
  if (EVP_CipherUpdate(ctx, scratch, &n, p, len) != 1) return JOB_CRYPTO_ERROR;
  int ok = EVP_CipherFinal_ex(ctx, scratch + n, &m) == 1;
  if (ok) memcpy(p, scratch, len);
  OPENSSL_cleanse(scratch, len);
  return ok ? JOB_OK : JOB_BAD_ICV;
}

static int32_t run(struct aead_table *t, const int32_t *job, uint8_t *p, int len, int icv) {
  EVP_CIPHER_CTX *ctx = lookup(t, job[J_CTX_INDEX], (uint32_t)job[J_CTX_GEN]);
  if (ctx == NULL) return JOB_BAD_CONTEXT;
  if (EVP_CIPHER_CTX_get_nid(ctx) == NID_chacha20_poly1305 && icv != 16) return JOB_BAD_RANGE; /* RFC 7634 */
  const uint8_t *nonce = (const uint8_t *)(job + J_NONCE);
  const uint8_t *aad = (const uint8_t *)(job + J_AAD);
  int aad_len = job[J_AAD_LENGTH];
  switch (job[J_OP]) {
    case JOB_SEAL: return seal(ctx, nonce, aad, aad_len, p, len, icv);
    case JOB_OPEN: return open_(ctx, t->scratch, nonce, aad, aad_len, p, len, icv);
    default: return JOB_BAD_OP;
  }
}

int32_t aead_run(struct aead_table *t, const int32_t *job, uint8_t *buf, size_t buf_len, const uint8_t *src, size_t src_len) {
  int64_t off = job[J_OFFSET], len = job[J_LENGTH], icv = job[J_ICV], aad_len = job[J_AAD_LENGTH];
  if (off < 0 || len < 0 || len > AEAD_MAX_PAYLOAD || icv < 4 || icv > 16 || aad_len < 0 || aad_len > 12) return JOB_BAD_RANGE;
  if (off + len + icv > (int64_t)buf_len) return JOB_BAD_RANGE;
  int64_t copy = job[J_COPY_LENGTH];
  if (copy != 0) {
    int64_t from = job[J_SRC_OFFSET], to = job[J_COPY_TO];
    if (src == NULL) return JOB_BAD_BUFFER;
    if (copy < 0 || from < 0 || to < 0 || from + copy > (int64_t)src_len || to + copy > (int64_t)buf_len) return JOB_BAD_RANGE;
    memmove(buf + to, src + from, (size_t)copy);
  }
  int32_t r = run(t, job, buf + off, (int)len, (int)icv);
  /* A seal that failed leaves no plaintext behind to be sent by mistake. */
  if (r != JOB_OK && job[J_OP] == JOB_SEAL) OPENSSL_cleanse(buf + off, (size_t)(len + icv));
  return r;
}
