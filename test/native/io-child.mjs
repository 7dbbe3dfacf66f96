// Run inside a fresh network namespace by io.test.ts: exercises the addon's TUN and UDP I/O
// against the kernel and prints what it saw as JSON.
import { execFileSync } from 'node:child_process';
import dgram from 'node:dgram';
import { loadNative } from '@xfrm/native';

const io = loadNative();
const out = {};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// --- TUN: two queues; the kernel's packets to the tunnel's peer come out of a queue.
const tun = io.tunOpen('xt0', 2);
execFileSync('ip', ['addr', 'add', '10.9.0.1/24', 'dev', 'xt0']);
execFileSync('ip', ['link', 'set', 'xt0', 'up']);
out.tunFds = tun.length;
const sender = dgram.createSocket('udp4');
await new Promise((r) => sender.bind(0, '10.9.0.1', r));
for (let i = 0; i < 8; i++) sender.send(Buffer.from(`hello ${i}`), 7000 + i, '10.9.0.2');
await sleep(100);
const slot = 2048;
const bytes = new Uint8Array(slot * 32);
const lengths = new Int32Array(32);
const seen = [];
for (const fd of tun) {
  const n = io.tunRead(fd, bytes, slot, 32, lengths);
  for (let k = 0; k < n; k++) {
    const p = bytes.subarray(k * slot, k * slot + lengths[k]);
    if (p[0] >> 4 === 4 && p[9] === 17) seen.push({ dst: [...p.subarray(16, 20)].join('.'), dport: (p[22] << 8) | p[23], data: Buffer.from(p.subarray(28)).toString() });
  }
}
out.tunRead = seen.sort((a, b) => a.dport - b.dport);
// The reverse: a packet written to a queue reaches a socket on the tunnel's address.
const receiver = dgram.createSocket('udp4');
const got = new Promise((r) => receiver.on('message', (m, rinfo) => r({ data: m.toString(), from: rinfo.address, port: rinfo.port })));
await new Promise((r) => receiver.bind(7100, '10.9.0.1', r));
const p = new Uint8Array(28 + 5);
p.set([0x45, 0, 0, 33, 0, 0, 0, 0, 64, 17, 0, 0, 10, 9, 0, 2, 10, 9, 0, 1, 0x1f, 0x40, 0x1b, 0xbc, 0, 13, 0, 0]);
let sum = 0;
for (let i = 0; i < 20; i += 2) sum += (p[i] << 8) | p[i + 1];
while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
p[10] = (~sum >> 8) & 0xff;
p[11] = ~sum & 0xff;
p.set(Buffer.from('back!'), 28);
out.tunWrite = io.tunWrite(tun[1], p, Int32Array.of(0), Int32Array.of(p.length), 1);
out.tunReceived = await Promise.race([got, sleep(1000).then(() => null)]);

// --- UDP: four sockets on 127.0.0.1:4500; each SPI's datagrams reach socket SPI mod 4.
const udp = io.udpOpen('127.0.0.1', 4500, 4);
const peer = dgram.createSocket('udp4');
await new Promise((r) => peer.bind(0, '127.0.0.1', r));
for (let spi = 0; spi < 12; spi++) {
  const esp = Buffer.alloc(24);
  esp.writeUInt32BE(spi, 0);
  esp.writeUInt32BE(1000 + spi, 4);
  peer.send(esp, 4500, '127.0.0.1');
}
peer.send(Buffer.from([0xff]), 4500, '127.0.0.1'); // NAT-T keepalive
await sleep(100);
out.udpBySocket = udp.map((fd) => {
  const n = io.udpRecv(fd, bytes, slot, 32, lengths);
  const list = [];
  for (let k = 0; k < n; k++) {
    const q = bytes.subarray(k * slot, k * slot + lengths[k]);
    // A whole IPv4 packet: peer -> 127.0.0.1:4500, UDP, then the datagram.
    list.push({
      len: lengths[k],
      ver: q[0] >> 4,
      proto: q[9],
      src: [...q.subarray(12, 16)].join('.'),
      sport: (q[20] << 8) | q[21],
      dport: (q[22] << 8) | q[23],
      udpLen: (q[24] << 8) | q[25],
      spi: lengths[k] >= 32 ? Buffer.from(q.subarray(28, 32)).readUInt32BE(0) : -1,
    });
  }
  return list;
});
out.peerPort = peer.address().port;
// udpSend: an IP/UDP packet built as the ESP output path builds it goes to its header's destination.
const back = new Promise((r) => peer.on('message', (m, rinfo) => r({ data: m.toString(), port: rinfo.port })));
const s = new Uint8Array(64);
s.set([0x45, 0, 0, 28 + 6, 0, 0, 0, 0, 64, 17, 0, 0, 127, 0, 0, 1, 127, 0, 0, 1, 0x11, 0x94, out.peerPort >> 8, out.peerPort & 0xff, 0, 14, 0, 0]);
s.set(Buffer.from('esp...'), 28);
out.udpSent = io.udpSend(udp[0], s, Int32Array.of(0), Int32Array.of(34), 1);
out.udpReceived = await Promise.race([back, sleep(1000).then(() => null)]);
for (const fd of [...tun, ...udp]) io.close(fd);
sender.close();
receiver.close();
peer.close();

// --- A Dataplane with io: its queues read the devices, so submitted packets are refused.
const { Dataplane } = await import('@xfrm/workers');
const dp = await Dataplane.create({ queues: 1, io: { tun: 'xg1', local: '127.0.0.1', port: 4501 } });
out.gatewayMtu = execFileSync('ip', ['-o', 'link', 'show', 'xg1'], { encoding: 'utf8' }).match(/mtu (\d+)/)?.[1];
out.gatewayProcess = await dp.process([new Uint8Array(28)]).then(() => 'accepted', (e) => e.message);
await dp.close();
out.gatewayGone = (() => { try { execFileSync('ip', ['link', 'show', 'xg1'], { stdio: 'ignore' }); return false; } catch { return true; } })();
console.log(JSON.stringify(out));
