/**
 * States as lines of Wireshark's ESP SA table (the `esp_sa` UAT file in the Wireshark profile
 * directory): protocol, source, destination, SPI, encryption algorithm, key (with the salt,
 * as Wireshark wants for AEADs), authentication algorithm, authentication key.
 */
import { formatAddress, type State } from '@xfrm/core';

function encryption(s: State): string {
  const a = s.algorithm;
  if (a.name === 'cipher_null') return 'NULL';
  if (a.name === 'rfc7539esp(chacha20,poly1305)') return 'ChaCha20 with Poly1305 [RFC7634]';
  return `AES-GCM with ${a.icvBits / 8} octet ICV [RFC4106]`;
}

/** One UAT line for a state. */
export function wiresharkSaLine(s: State): string {
  const key = s.algorithm.key.length === 0 ? '' : `0x${Buffer.from(s.algorithm.key).toString('hex')}`;
  const fields = [
    s.family === 4 ? 'IPv4' : 'IPv6',
    formatAddress(s.src),
    formatAddress(s.dst),
    `0x${(s.spi >>> 0).toString(16).padStart(8, '0')}`,
    encryption(s),
    key,
    'NULL',
    '',
  ];
  return fields.map((f) => `"${f}"`).join(',');
}
