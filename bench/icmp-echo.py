"""ICMP echo (ping) from inside a namespace, for the gateway tests: `python3 icmp-echo.py ADDR N`
sends N echo requests (IPv4 or IPv6 by the address), 0.1 s apart, and prints how many
distinct ones were answered within 2 s of the last (a late answer still counts, as ping's)."""
import os, socket, struct, sys, time

addr, count = sys.argv[1], int(sys.argv[2])
v6 = ':' in addr
sock = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMPV6 if v6 else socket.IPPROTO_ICMP)
ident = os.getpid() & 0xFFFF
request, reply = (128, 129) if v6 else (8, 0)


def checksum(b):
    if len(b) % 2:
        b += b'\0'
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def drain(answered, until):
    while len(answered) < count:
        left = until - time.time()
        if left <= 0:
            return
        sock.settimeout(left)
        try:
            data, _ = sock.recvfrom(2048)
        except socket.timeout:
            return
        icmp = data if v6 else data[(data[0] & 15) * 4:]
        typ, _, _, rid, rseq = struct.unpack('!BBHHH', icmp[:8])
        if typ == reply and rid == ident:
            answered.add(rseq)


answered = set()
for seq in range(count):
    body = bytes(56)
    header = struct.pack('!BBHHH', request, 0, 0, ident, seq)
    csum = 0 if v6 else checksum(header + body)  # the kernel fills the ICMPv6 checksum
    sock.sendto(struct.pack('!BBHHH', request, 0, csum, ident, seq) + body, (addr, 0))
    drain(answered, time.time() + 0.1)
drain(answered, time.time() + 2)
print(len(answered))
