/**
 * The addon's packet I/O for gateway queues (csrc/io.c): a multi-queue TUN device, ESP-in-UDP
 * sockets steered by SPI (SO_REUSEPORT with a classic BPF program: socket = SPI mod n), and
 * batch reads and writes between them and the caller's buffers. Non-blocking but `wait`.
 * File descriptors are process-wide: opened on the control thread, used by the queues.
 */
export interface NativeIo {
  /** One fd per queue of TUN device `name` (created if missing; IFF_TUN, no PI, multi-queue). */
  tunOpen(name: string, queues: number): number[];
  /** `count` UDP sockets bound to address:port in one SO_REUSEPORT group, steered by SPI. */
  udpOpen(address: string, port: number, count: number): number[];
  /**
   * Up to `slots` datagrams into `bytes` (slot k at k * slotBytes), each made a whole IP
   * packet (an IP and UDP header from the peer to the socket written in front);
   * lengths[k] = its length, or -1 when it did not fit the slot. Returns how many.
   */
  udpRecv(fd: number, bytes: Uint8Array, slotBytes: number, slots: number, lengths: Int32Array): number;
  /**
   * Send packets k < n, each an IP packet (outer IP, UDP, ESP) at bytes[offsets[k]] of
   * lengths[k] bytes: what follows the UDP header goes to the header's destination address
   * and port. Returns how many left (a full socket buffer drops the rest).
   */
  udpSend(fd: number, bytes: Uint8Array, offsets: Int32Array, lengths: Int32Array, n: number): number;
  /** Up to `slots` packets from a TUN queue, one per slot; returns how many. */
  tunRead(fd: number, bytes: Uint8Array, slotBytes: number, slots: number, lengths: Int32Array): number;
  /** Write packets k < n to a TUN queue; returns how many were written. */
  tunWrite(fd: number, bytes: Uint8Array, offsets: Int32Array, lengths: Int32Array, n: number): number;
  /** Block up to `timeoutMs` until one of `fds` is readable; bit k set for fds[k] (0: timeout). */
  wait(fds: Int32Array, timeoutMs: number): number;
  close(fd: number): void;
}
