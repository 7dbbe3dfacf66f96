/**
 * Why a packet was dropped, named after Linux's `/proc/net/xfrm_stat` counters so that IPsec
 * operators read them without a glossary. Every drop on the packet path is counted under
 * exactly one of these.
 */

/** The counters, in a fixed order (the index is the reason's code). */
export const DROP_REASONS = [
  'XfrmInHdrError',
  'XfrmInBufferError',
  'XfrmInNoStates',
  'XfrmInStateProtoError',
  'XfrmInStateModeError',
  'XfrmInStateSeqError',
  'XfrmInStateExpired',
  'XfrmInStateMismatch',
  'XfrmInTmplMismatch',
  'XfrmInNoPols',
  'XfrmInPolBlock',
  'XfrmOutNoStates',
  'XfrmOutPolBlock',
  'XfrmOutStateSeqError',
  'XfrmOutStateExpired',
  'XfrmOutStateModeError',
  'XfrmOutStateProtoError',
  'XfrmOutError',
  'XfrmOutTooBig',
] as const;

/** A drop reason's name. */
export type DropReason = (typeof DROP_REASONS)[number];

/** A drop reason's code (its index in DROP_REASONS). */
export const DROP = Object.fromEntries(DROP_REASONS.map((r, i) => [r, i])) as { readonly [K in DropReason]: number };

/** What each counter means here. */
export const DROP_REASON_DOCS: Readonly<Record<DropReason, string>> = {
  XfrmInHdrError: 'inbound packet too short or its IP, UDP or ESP header malformed',
  XfrmInBufferError: 'an inbound packet larger than a queue slot (Dataplane slotBytes / mtu): no buffer for it',
  XfrmInNoStates: 'no state for the (dst, spi, esp) of an inbound ESP packet',
  XfrmInStateProtoError: 'ESP processing failed: ICV did not verify, bad padding or trailer, length not aligned',
  XfrmInStateModeError: 'decapsulated payload does not fit the SA mode (tunnel next header not IPv4/IPv6, malformed inner packet)',
  XfrmInStateSeqError: 'anti-replay: duplicate, or behind the window',
  XfrmInStateExpired: 'the state was dying (deleted or expired) when the packet arrived',
  XfrmInStateMismatch: 'the packet does not fit its state (ESP-in-UDP on a state without encap, or the reverse)',
  XfrmInTmplMismatch: "the inner packet's policy templates are not satisfied by the states that decapsulated it, or a packet arrived without ESP where its inbound policy requires ESP",
  XfrmInNoPols: 'a decapsulated packet matches no in or fwd policy',
  XfrmInPolBlock: 'a decapsulated packet matches a blocking policy',
  XfrmOutNoStates: 'a required template has no state (an ACQUIRE was raised)',
  XfrmOutPolBlock: 'an outbound packet matches a blocking policy',
  XfrmOutStateSeqError: 'output sequence numbers of the state are used up (no ESN)',
  XfrmOutStateExpired: 'the state was dying (deleted or expired) when the packet was sent',
  XfrmOutStateModeError: 'the packet cannot be encapsulated in the SA mode (malformed for transport mode, or too big)',
  XfrmOutStateProtoError: 'the cipher failed to seal the packet (never expected: the native backend wiped the bytes rather than send them)',
  XfrmOutTooBig:
    'the packet would be too big once encapsulated: larger than a queue slot (Dataplane slotBytes / mtu), the output buffer, 65,535 bytes, or a gateway\'s path MTU (then answered with ICMP fragmentation needed / packet too big, as Linux does; not a Linux counter)',
  XfrmOutError: 'an outbound packet that is not an IPv4 or IPv6 packet',
};
