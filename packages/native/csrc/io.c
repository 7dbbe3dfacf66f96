/*
 * Packet I/O for a gateway's queues: a multi-queue TUN device (one fd per queue), UDP
 * sockets for ESP-in-UDP (RFC 3948) sharing one port with SO_REUSEPORT and steered by SPI
 * with a classic BPF program (every packet of one inbound SA reaches the same queue: one
 * writer per replay window), and batch reads and writes between them and the caller's
 * buffers. Every call is non-blocking but `wait`. File descriptors are process-wide, so the
 * control thread opens them and each queue worker uses its own.
 *
 * Packets cross as whole IP packets both ways: what the UDP socket receives gets an IP and
 * UDP header written in front of it (the peer as source, the bound address as destination),
 * so the ESP input path sees what a raw socket would; what is sent is an IP packet built by
 * the ESP output path, of which the socket sends the part after the UDP header to the
 * address and port in those headers.
 */
#define _GNU_SOURCE /* recvmmsg, sendmmsg */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "args.h"
#include "io.h"

#define MAX_BATCH 256

static napi_value fail(napi_env env, const char *what) {
  char msg[256];
  snprintf(msg, sizeof msg, "xfrm native io: %s: %s", what, strerror(errno));
  napi_throw_error(env, NULL, msg);
  return NULL;
}

/* A typed array argument of `type`; -1 (thrown) when it is not one. */
static int get_bytes(napi_env env, napi_value v, napi_typedarray_type type, void **data, size_t *len) {
  if (arg_typed(env, v, type, data, len) == 0) return 0;
  napi_throw_type_error(env, NULL, type == napi_uint8_array ? "xfrm native io: expected a Uint8Array" : "xfrm native io: expected an Int32Array");
  return -1;
}

/* The arguments of a batch read: (fd, bytes, slotBytes, slots, lengths), checked to fit. */
struct read_args {
  int32_t fd, slot_bytes, slots;
  uint8_t *buf;
  int32_t *lengths;
  size_t buf_len;
};

static int read_args(napi_env env, napi_callback_info info, int32_t min_slot, struct read_args *a) {
  napi_value argv[5];
  size_t n_lengths;
  if (arg_count(env, info, 5, argv) || arg_int32(env, argv[0], &a->fd) || get_bytes(env, argv[1], napi_uint8_array, (void **)&a->buf, &a->buf_len) ||
      arg_int32(env, argv[2], &a->slot_bytes) || arg_int32(env, argv[3], &a->slots) || get_bytes(env, argv[4], napi_int32_array, (void **)&a->lengths, &n_lengths)) {
    return -1;
  }
  if (a->slot_bytes <= min_slot || a->slots < 0 || a->slots > MAX_BATCH || (size_t)a->slots > n_lengths || (size_t)a->slots * a->slot_bytes > a->buf_len) {
    napi_throw_range_error(env, NULL, "xfrm native io: the slots do not fit the buffer, or more than 256");
    return -1;
  }
  return 0;
}

/* The arguments of a batch write: (fd, bytes, offsets, lengths, n), checked. */
struct write_args {
  int32_t fd, n;
  uint8_t *buf;
  int32_t *offsets, *lengths;
  size_t buf_len;
};

static int write_args(napi_env env, napi_callback_info info, struct write_args *a) {
  napi_value argv[5];
  size_t n_off, n_len;
  if (arg_count(env, info, 5, argv) || arg_int32(env, argv[0], &a->fd) || get_bytes(env, argv[1], napi_uint8_array, (void **)&a->buf, &a->buf_len) ||
      get_bytes(env, argv[2], napi_int32_array, (void **)&a->offsets, &n_off) || get_bytes(env, argv[3], napi_int32_array, (void **)&a->lengths, &n_len) ||
      arg_int32(env, argv[4], &a->n)) {
    return -1;
  }
  if (a->n < 0 || a->n > MAX_BATCH || (size_t)a->n > n_off || (size_t)a->n > n_len) {
    napi_throw_range_error(env, NULL, "xfrm native io: the count is negative, above 256, or beyond the offsets or lengths");
    return -1;
  }
  return 0;
}

/* tunOpen(name, queues) -> [fd, ...]: IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE, non-blocking. */
static napi_value js_tun_open(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (arg_count(env, info, 2, argv) != 0) return NULL;
  char name[IFNAMSIZ];
  size_t n = 0;
  int32_t queues;
  if (napi_get_value_string_utf8(env, argv[0], name, sizeof name, &n) != napi_ok || n == 0 || n >= IFNAMSIZ - 1) {
    napi_throw_type_error(env, NULL, "xfrm native io: a TUN name is 1 to 14 characters");
    return NULL;
  }
  if (arg_int32(env, argv[1], &queues) != 0) return NULL;
  if (queues < 1 || queues > 64) {
    napi_throw_range_error(env, NULL, "xfrm native io: 1 to 64 TUN queues");
    return NULL;
  }
  napi_value r;
  napi_create_array_with_length(env, queues, &r);
  int fds[64];
  for (int q = 0; q < queues; q++) {
    fds[q] = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
    struct ifreq ifr;
    memset(&ifr, 0, sizeof ifr);
    ifr.ifr_flags = IFF_TUN | IFF_NO_PI | IFF_MULTI_QUEUE;
    memcpy(ifr.ifr_name, name, n);
    if (fds[q] < 0 || ioctl(fds[q], TUNSETIFF, &ifr) < 0) {
      int e = errno;
      for (int k = 0; k <= q; k++) if (fds[k] >= 0) close(fds[k]);
      errno = e;
      return fail(env, "opening a TUN queue (/dev/net/tun, TUNSETIFF)");
    }
    napi_set_element(env, r, q, js_int(env, fds[q]));
  }
  return r;
}

/* The SPI-steering program: socket index = SPI mod n (the SPI is the first word of the UDP
   payload); IKE's non-ESP marker (SPI 0) and keepalives (too short: the load fails, which
   returns 0) go to socket 0. */
static int attach_spi_steering(int fd, int n) {
  struct sock_filter code[] = {
    BPF_STMT(BPF_LD | BPF_W | BPF_ABS, 0),
    BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, (unsigned)n),
    BPF_STMT(BPF_RET | BPF_A, 0),
  };
  struct sock_fprog prog = {.len = sizeof code / sizeof code[0], .filter = code};
  return setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof prog);
}

static int to_sockaddr(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len) {
  memset(ss, 0, sizeof *ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
  if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons(port);
    *len = sizeof *a4;
    return AF_INET;
  }
  if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons(port);
    *len = sizeof *a6;
    return AF_INET6;
  }
  return -1;
}

/* udpOpen(address, port, count) -> [fd, ...]: one reuseport group, SPI-steered, non-blocking. */
static napi_value js_udp_open(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (arg_count(env, info, 3, argv) != 0) return NULL;
  char addr[64];
  size_t n = 0;
  int32_t port, count;
  if (napi_get_value_string_utf8(env, argv[0], addr, sizeof addr, &n) != napi_ok || arg_int32(env, argv[1], &port) != 0 || arg_int32(env, argv[2], &count) != 0) {
    return NULL;
  }
  struct sockaddr_storage ss;
  socklen_t len;
  int family = to_sockaddr(addr, port, &ss, &len);
  if (family < 0 || port < 1 || port > 65535 || count < 1 || count > 64) {
    napi_throw_range_error(env, NULL, "xfrm native io: udpOpen needs an IPv4 or IPv6 address, a port and 1 to 64 sockets");
    return NULL;
  }
  int fds[64];
  napi_value r;
  napi_create_array_with_length(env, count, &r);
  for (int q = 0; q < count; q++) {
    int one = 1;
    fds[q] = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP);
    /* Room for bursts: a queue that is busy for a moment should not lose ESP in the socket.
       SO_RCVBUFFORCE passes the rmem_max cap (as root); else SO_RCVBUF as far as it goes. */
    int rcvbuf = 8 << 20;
    if (fds[q] >= 0 && setsockopt(fds[q], SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) setsockopt(fds[q], SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (fds[q] >= 0) setsockopt(fds[q], SOL_SOCKET, SO_SNDBUFFORCE, &rcvbuf, sizeof rcvbuf);
    int ok = fds[q] >= 0 && setsockopt(fds[q], SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) == 0 &&
             (family != AF_INET6 || setsockopt(fds[q], IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one) == 0) &&
             bind(fds[q], (struct sockaddr *)&ss, len) == 0 && (q != 0 || attach_spi_steering(fds[q], count) == 0);
    if (!ok) {
      int e = errno;
      for (int k = 0; k <= q; k++) if (fds[k] >= 0) close(fds[k]);
      errno = e;
      return fail(env, "opening the ESP-in-UDP sockets (socket, SO_REUSEPORT, bind, SO_ATTACH_REUSEPORT_CBPF)");
    }
    napi_set_element(env, r, q, js_int(env, fds[q]));
  }
  return r;
}

static uint16_t csum_fold(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return (uint16_t)~sum;
}

/* Write an IP + UDP header for `payload` bytes from `from` to the socket's own address. */
static int write_headers(uint8_t *p, const struct sockaddr_storage *from, const struct sockaddr_storage *self, int payload) {
  if (from->ss_family == AF_INET) {
    const struct sockaddr_in *s = (const struct sockaddr_in *)from, *d = (const struct sockaddr_in *)self;
    int total = 20 + 8 + payload;
    memset(p, 0, 28);
    p[0] = 0x45;
    p[2] = total >> 8;
    p[3] = total & 0xff;
    p[8] = 64;
    p[9] = IPPROTO_UDP;
    memcpy(p + 12, &s->sin_addr, 4);
    memcpy(p + 16, &d->sin_addr, 4);
    uint32_t sum = 0;
    for (int i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
    uint16_t c = csum_fold(sum);
    p[10] = c >> 8;
    p[11] = c & 0xff;
    memcpy(p + 20, &s->sin_port, 2);
    memcpy(p + 22, &d->sin_port, 2);
    p[24] = (8 + payload) >> 8;
    p[25] = (8 + payload) & 0xff;
    return 28; /* UDP checksum 0: the kernel verified it */
  }
  const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)from, *d = (const struct sockaddr_in6 *)self;
  memset(p, 0, 48);
  p[0] = 0x60;
  p[4] = (8 + payload) >> 8;
  p[5] = (8 + payload) & 0xff;
  p[6] = IPPROTO_UDP;
  p[7] = 64;
  memcpy(p + 8, &s->sin6_addr, 16);
  memcpy(p + 24, &d->sin6_addr, 16);
  memcpy(p + 40, &s->sin6_port, 2);
  memcpy(p + 42, &d->sin6_port, 2);
  p[44] = (8 + payload) >> 8;
  p[45] = (8 + payload) & 0xff;
  return 48;
}

/*
 * udpRecv(fd, bytes, slotBytes, slots, lengths: Int32Array) -> n: up to `slots` datagrams,
 * each made a whole IP packet at the start of its slot (48 bytes of room are kept in front
 * of the payload); lengths[k] is packet k's length.
 */
static napi_value js_udp_recv(napi_env env, napi_callback_info info) {
  struct read_args a;
  if (read_args(env, info, 48, &a) != 0) return NULL;
  struct sockaddr_storage self;
  socklen_t self_len = sizeof self;
  if (getsockname(a.fd, (struct sockaddr *)&self, &self_len) != 0) return fail(env, "getsockname");
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct sockaddr_storage from[MAX_BATCH];
  memset(msgs, 0, sizeof(struct mmsghdr) * a.slots);
  for (int k = 0; k < a.slots; k++) {
    iov[k].iov_base = a.buf + (size_t)k * a.slot_bytes + 48;
    iov[k].iov_len = a.slot_bytes - 48;
    msgs[k].msg_hdr.msg_iov = &iov[k];
    msgs[k].msg_hdr.msg_iovlen = 1;
    msgs[k].msg_hdr.msg_name = &from[k];
    msgs[k].msg_hdr.msg_namelen = sizeof from[k];
  }
  int got = a.slots == 0 ? 0 : recvmmsg(a.fd, msgs, a.slots, MSG_DONTWAIT, NULL);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return js_int(env, 0);
    return fail(env, "recvmmsg");
  }
  for (int k = 0; k < got; k++) {
    uint8_t *slot = a.buf + (size_t)k * a.slot_bytes;
    int payload = (int)msgs[k].msg_len;
    if (msgs[k].msg_hdr.msg_flags & MSG_TRUNC) {
      a.lengths[k] = -1; /* larger than a slot: the caller counts it as a buffer error */
      continue;
    }
    int h = from[k].ss_family == AF_INET ? 28 : 48;
    write_headers(slot + 48 - h, &from[k], &self, payload);
    if (h != 48) memmove(slot, slot + 48 - h, h + payload);
    a.lengths[k] = h + payload;
  }
  return js_int(env, got);
}

/*
 * udpSend(fd, bytes, offsets: Int32Array, lengths: Int32Array, n) -> how many were sent:
 * packet k is the IP packet at bytes[offsets[k] ..] of lengths[k] bytes (outer IP header,
 * UDP header, ESP); the datagram sent is what follows its UDP header, to the header's
 * destination address and port. Packets that are not UDP over the socket's family are
 * skipped (counted as sent: the caller checked them).
 */
static napi_value js_udp_send(napi_env env, napi_callback_info info) {
  struct write_args a;
  if (write_args(env, info, &a) != 0) return NULL;
  struct mmsghdr msgs[MAX_BATCH];
  struct iovec iov[MAX_BATCH];
  struct sockaddr_storage to[MAX_BATCH];
  int m = 0;
  for (int k = 0; k < a.n; k++) {
    int64_t off = a.offsets[k], len = a.lengths[k];
    if (off < 0 || len < 28 || off + len > (int64_t)a.buf_len) continue;
    uint8_t *p = a.buf + off;
    int h;
    memset(&to[m], 0, sizeof to[m]);
    if ((p[0] >> 4) == 4 && p[9] == IPPROTO_UDP) {
      h = (p[0] & 15) * 4;
      struct sockaddr_in *a = (struct sockaddr_in *)&to[m];
      a->sin_family = AF_INET;
      memcpy(&a->sin_addr, p + 16, 4);
      memcpy(&a->sin_port, p + h + 2, 2);
      msgs[m].msg_hdr.msg_namelen = sizeof *a;
    } else if ((p[0] >> 4) == 6 && p[6] == IPPROTO_UDP && len >= 48) {
      h = 40;
      struct sockaddr_in6 *a = (struct sockaddr_in6 *)&to[m];
      a->sin6_family = AF_INET6;
      memcpy(&a->sin6_addr, p + 24, 16);
      memcpy(&a->sin6_port, p + h + 2, 2);
      msgs[m].msg_hdr.msg_namelen = sizeof *a;
    } else {
      continue;
    }
    if (h + 8 > len) continue;
    iov[m].iov_base = p + h + 8;
    iov[m].iov_len = (size_t)(len - h - 8);
    msgs[m].msg_hdr.msg_name = &to[m];
    msgs[m].msg_hdr.msg_iov = &iov[m];
    msgs[m].msg_hdr.msg_iovlen = 1;
    msgs[m].msg_hdr.msg_control = NULL;
    msgs[m].msg_hdr.msg_controllen = 0;
    msgs[m].msg_hdr.msg_flags = 0;
    m++;
  }
  int sent = 0;
  while (sent < m) {
    int r = sendmmsg(a.fd, msgs + sent, m - sent, MSG_DONTWAIT);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS) break; /* the rest is dropped, as a full NIC queue drops */
      if (errno == ECONNREFUSED || errno == EHOSTUNREACH || errno == ENETUNREACH) { sent++; continue; } /* skip the one that failed */
      return fail(env, "sendmmsg");
    }
    sent += r;
  }
  return js_int(env, sent + (a.n - m));
}

/* tunRead(fd, bytes, slotBytes, slots, lengths) -> n: up to `slots` packets, one per slot. */
static napi_value js_tun_read(napi_env env, napi_callback_info info) {
  struct read_args a;
  if (read_args(env, info, 0, &a) != 0) return NULL;
  int k = 0;
  while (k < a.slots) {
    ssize_t r = read(a.fd, a.buf + (size_t)k * a.slot_bytes, a.slot_bytes);
    if (r < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      return fail(env, "reading the TUN queue");
    }
    a.lengths[k++] = (int32_t)r;
  }
  return js_int(env, k);
}

/* tunWrite(fd, bytes, offsets, lengths, n) -> how many were written (a full device queue drops the rest). */
static napi_value js_tun_write(napi_env env, napi_callback_info info) {
  struct write_args a;
  if (write_args(env, info, &a) != 0) return NULL;
  int written = 0;
  for (int k = 0; k < a.n; k++) {
    int64_t off = a.offsets[k], len = a.lengths[k];
    if (off < 0 || len <= 0 || off + len > (int64_t)a.buf_len) continue;
    ssize_t r;
    do r = write(a.fd, a.buf + off, (size_t)len);
    while (r < 0 && errno == EINTR);
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
    if (r < 0 && errno != EINVAL && errno != EIO) return fail(env, "writing the TUN queue");
    written += r >= 0;
  }
  return js_int(env, written);
}

/* wait(fds: Int32Array, timeoutMs) -> bit k set when fds[k] is readable (0 on timeout). */
static napi_value js_wait(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (arg_count(env, info, 2, argv) != 0) return NULL;
  int32_t *fds, timeout;
  size_t n;
  if (get_bytes(env, argv[0], napi_int32_array, (void **)&fds, &n) || arg_int32(env, argv[1], &timeout)) return NULL;
  if (n > 30) {
    napi_throw_range_error(env, NULL, "xfrm native io: wait takes at most 30 fds");
    return NULL;
  }
  struct pollfd p[30];
  for (size_t k = 0; k < n; k++) {
    p[k].fd = fds[k];
    p[k].events = POLLIN;
    p[k].revents = 0;
  }
  int r = poll(p, n, timeout);
  if (r < 0) return errno == EINTR ? js_int(env, 0) : fail(env, "poll");
  int32_t mask = 0;
  for (size_t k = 0; k < n; k++) if (p[k].revents & (POLLIN | POLLERR | POLLHUP)) mask |= 1 << k;
  return js_int(env, mask);
}

/* close(fd) */
static napi_value js_close(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  int32_t fd;
  if (arg_count(env, info, 1, argv) != 0 || arg_int32(env, argv[0], &fd) != 0) return NULL;
  if (close(fd) != 0) return fail(env, "close");
  return NULL;
}

int io_register(napi_env env, napi_value exports) {
  static const struct { const char *name; napi_callback fn; } fns[] = {
    {"tunOpen", js_tun_open}, {"udpOpen", js_udp_open}, {"udpRecv", js_udp_recv}, {"udpSend", js_udp_send},
    {"tunRead", js_tun_read}, {"tunWrite", js_tun_write}, {"wait", js_wait}, {"close", js_close},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    napi_value f;
    if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].fn, NULL, &f) != napi_ok) return -1;
    if (napi_set_named_property(env, exports, fns[i].name, f) != napi_ok) return -1;
  }
  return 0;
}
