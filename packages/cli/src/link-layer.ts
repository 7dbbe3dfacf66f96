/**
 * Finds the IP packet inside a captured frame, by link type (LINKTYPE_*): Ethernet 1 (with
 * 802.1Q/802.1ad tags), raw IP 101/228/229, BSD loopback 0, Linux cooked v1 113 and v2 276.
 */

function isIpEthertype(t: number): boolean {
  return t === 0x0800 || t === 0x86dd;
}

/** Offset of the IP header in `frame`, or -1 if the frame carries no IP packet. */
export function ipOffset(linkType: number, frame: Uint8Array): number {
  const be16 = (o: number) => (frame[o] << 8) | frame[o + 1];
  switch (linkType) {
    case 101:
    case 228:
    case 229:
      return frame.length > 0 && (frame[0] >> 4 === 4 || frame[0] >> 4 === 6) ? 0 : -1;
    case 1: {
      let o = 12;
      while (o + 2 <= frame.length && (be16(o) === 0x8100 || be16(o) === 0x88a8)) o += 4;
      return o + 2 <= frame.length && isIpEthertype(be16(o)) ? o + 2 : -1;
    }
    case 113:
      return frame.length >= 16 && isIpEthertype(be16(14)) ? 16 : -1;
    case 276:
      return frame.length >= 20 && isIpEthertype(be16(0)) ? 20 : -1;
    case 0: {
      if (frame.length < 4) return -1;
      const family = frame[0] | (frame[1] << 8) | (frame[2] << 16) | (frame[3] << 24);
      const fam = family > 0xffff ? ((frame[0] << 24) | (frame[1] << 16) | (frame[2] << 8) | frame[3]) : family;
      return fam === 2 || fam === 24 || fam === 28 || fam === 30 ? 4 : -1;
    }
    default:
      return -1;
  }
}
