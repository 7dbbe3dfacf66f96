/*
 * What one ESP packet's AEAD costs inside OpenSSL itself, the way the native backend calls it
 * (key schedule kept; per packet: IV, AAD, update, final, tag), against the stream that
 * `openssl speed -evp` times (one IV for the whole run: no per-packet Poly1305 key, no tag).
 * Not built by anything; for docs/PERFORMANCE.md:
 *   cc -O2 -I"$(dirname "$(dirname "$(command -v node)")")/include/node" bench/evp-per-packet.c -lcrypto -o /tmp/evp && /tmp/evp
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <time.h>

static double now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return t.tv_sec * 1e9 + t.tv_nsec;
}

static double run(const EVP_CIPHER *c, int len, int per_packet) {
  unsigned char key[32] = {1}, iv[12] = {2}, aad[8] = {3}, buf[1600] = {0}, tag[16];
  EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
  EVP_CipherInit_ex(ctx, c, NULL, key, iv, 1);
  const int n = 500000;
  int out;
  double t = now_ns();
  for (int i = 0; i < n; i++) {
    if (per_packet) {
      iv[11] = (unsigned char)i;
      EVP_CipherInit_ex(ctx, NULL, NULL, NULL, iv, 1);
      EVP_CipherUpdate(ctx, NULL, &out, aad, sizeof aad);
    }
    EVP_CipherUpdate(ctx, buf, &out, buf, len);
    if (per_packet) {
      EVP_CipherFinal_ex(ctx, buf + out, &out);
      EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, 16, tag);
    }
  }
  t = (now_ns() - t) / n;
  EVP_CIPHER_CTX_free(ctx);
  return t;
}

int main(void) {
  const struct { const char *name; const EVP_CIPHER *c; } ciphers[] = {
    {"aes-128-gcm", EVP_aes_128_gcm()}, {"chacha20-poly1305", EVP_chacha20_poly1305()},
  };
  const int sizes[] = {64, 512, 1400};
  printf("| cipher | bytes | per packet (ns) | stream, as openssl speed (ns) |\n| --- | ---: | ---: | ---: |\n");
  for (int c = 0; c < 2; c++) {
    for (int s = 0; s < 3; s++) {
      printf("| %s | %d | %.0f | %.0f |\n", ciphers[c].name, sizes[s], run(ciphers[c].c, sizes[s], 1), run(ciphers[c].c, sizes[s], 0));
    }
  }
  return 0;
}
