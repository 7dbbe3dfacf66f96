// Traffic for the xfrm-gateway end-to-end test, run inside a namespace with `ip netns exec`.
//   server ADDR            TCP on ADDR:5001: hash what arrives, answer the SHA-256;
//                          UDP on ADDR:5002: echo every datagram. Prints "ready" once listening.
//   client ADDR MB         TCP: send MB MiB of seeded bytes to ADDR:5001, then UDP: 200
//                          datagrams of 1 to 1400 bytes to ADDR:5002; prints JSON.
import { createHash } from 'node:crypto';
import dgram from 'node:dgram';
import net from 'node:net';

const [mode, addr, mb] = process.argv.slice(2);
const family = addr.includes(':') ? 'udp6' : 'udp4';

if (mode === 'server') {
  net.createServer((c) => {
    const h = createHash('sha256');
    let n = 0;
    c.on('data', (d) => { h.update(d); n += d.length; });
    c.on('end', () => c.end(JSON.stringify({ bytes: n, sha256: h.digest('hex') })));
    c.on('error', () => c.destroy());
  }).listen(5001, addr);
  const u = dgram.createSocket(family);
  u.on('message', (m, r) => u.send(m, r.port, r.address));
  u.bind(5002, addr, () => console.log('ready'));
} else {
  const total = Number(mb) * 1024 * 1024;
  const chunk = Buffer.alloc(64 * 1024);
  const h = createHash('sha256');
  let seed = 12345;
  const tcp = await new Promise((resolve, reject) => {
    const c = net.connect(5001, addr);
    let reply = '';
    let sent = 0;
    c.setTimeout(30000, () => reject(new Error('tcp timeout')));
    c.on('error', reject);
    c.on('data', (d) => (reply += d));
    c.on('end', () => resolve({ ...JSON.parse(reply), sentSha256: h.digest('hex'), sent }));
    const pump = () => {
      while (sent < total) {
        for (let i = 0; i < chunk.length; i += 4) { seed = (seed * 1103515245 + 12345) >>> 0; chunk.writeUInt32LE(seed, i); }
        const part = chunk.subarray(0, Math.min(chunk.length, total - sent));
        h.update(part);
        sent += part.length;
        if (!c.write(Buffer.from(part))) return void c.once('drain', pump);
      }
      c.end();
    };
    c.on('connect', pump);
  });
  const u = dgram.createSocket(family);
  const echoed = new Set();
  u.on('message', (m) => echoed.add(m.readUInt32BE(0)));
  await new Promise((r) => u.bind(0, r));
  for (let i = 0; i < 200; i++) {
    const m = Buffer.alloc(4 + ((i * 37) % 1397));
    m.writeUInt32BE(i, 0);
    u.send(m, 5002, addr);
    if (i % 20 === 19) await new Promise((r) => setTimeout(r, 5));
  }
  await new Promise((r) => setTimeout(r, 500));
  u.close();
  console.log(JSON.stringify({ tcp, udpEchoed: echoed.size }));
}
