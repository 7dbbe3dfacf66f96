/**
 * ESP input for one SA: ICV check and decryption (esp.ts), then tunnel or transport
 * decapsulation, with ECN propagation from the outer header (RFC 6040). Thread-local.
 */
import { DROP } from './drop-reasons.js';
import { ESP_HEADER_LENGTH, espOpen } from './esp.js';
import { copyBytes } from './byte-copy.js';
import { IPPROTO, decapsulatedTos, parseIp, setIpv4Checksum, setTos, tosOf, type IpInfo } from './packet.js';
import { type SaContext } from './sa-context.js';

/** A tunnel-mode dummy packet (next header 59, RFC 4303 section 2.6): nothing to deliver. */
export const DECAP_DUMMY = -1000;

/** The drop code `c` as a negative result. */
export function dropResult(c: number): number {
  return -1 - c;
}

/**
 * Decapsulate the ESP packet at `b[eo .. eo+elen)` (inside the IP packet at `b[io]`, parsed
 * in `outer`) with `sa` and sequence high half `seqHi`, writing the inner packet to `out[oo]`.
 * Returns its length; DECAP_DUMMY; or dropResult(reason). No plaintext is written unless the
 * ICV verified.
 */
export function espDecapsulate(
  sa: SaContext,
  seqHi: number,
  b: Uint8Array,
  io: number,
  outer: IpInfo,
  eo: number,
  elen: number,
  out: Uint8Array,
  oo: number,
  inner: IpInfo,
): number {
  const h = sa.tunnel ? 0 : outer.headerLength;
  if (oo + h + elen > out.length) return dropResult(DROP.XfrmInHdrError);
  const r = espOpen(sa, seqHi, out, oo + h, elen, b, eo); // copies the ESP packet to out[oo + h]
  if (r < 0) return dropResult(DROP.XfrmInStateProtoError);
  const nh = r >>> 16;
  const len = r & 0xffff;
  const start = oo + h + ESP_HEADER_LENGTH + sa.ivLen;
  out.copyWithin(oo + h, start, start + len);
  if (sa.tunnel) {
    if (nh === IPPROTO.NONE) return DECAP_DUMMY;
    if ((nh !== IPPROTO.IPIP && nh !== IPPROTO.IPV6) || !parseIp(out, oo, len, inner) || inner.family !== (nh === IPPROTO.IPIP ? 4 : 6)) {
      return dropResult(DROP.XfrmInStateModeError);
    }
    const tos = tosOf(out, oo);
    const ecn = decapsulatedTos(tosOf(b, io), tos);
    if (ecn !== tos) {
      setTos(out, oo, ecn);
      if (inner.family === 4) setIpv4Checksum(out, oo);
    }
    return inner.totalLength;
  }
  // Transport: the kept IP header gets the payload's protocol and its new length back.
  copyBytes(out, oo, b, io, h);
  out[oo + outer.protoField] = nh;
  const total = h + len;
  if (outer.family === 4) {
    out[oo + 2] = total >> 8;
    out[oo + 3] = total & 0xff;
    setIpv4Checksum(out, oo);
  } else {
    out[oo + 4] = (total - 40) >> 8;
    out[oo + 5] = (total - 40) & 0xff;
  }
  return total;
}
