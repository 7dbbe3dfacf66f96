/**
 * @xfrm/workers: the multi-queue IPsec dataplane. One worker thread per queue reads the
 * shared tables lock-free; the thread that owns the Dataplane is the only writer.
 */
export { Dataplane, type DataplaneOptions, type DataplaneStats, type PacketResult, type QueueStats, type StallEvent, type StateUsage } from './dataplane.js';
export { PacketRing, SLOT_HEADER } from './packet-ring.js';
export { FlowCache, CACHED_BLOCK, CACHED_BUNDLE, CACHED_NONE } from './flow-cache.js';
export { KEY_WORDS, flowKey, keyHash, keyWords, packetKey } from './flow-key.js';
export { Steering } from './steering.js';
export { histBucket, histPercentile, histUpper } from './queue-layout.js';
export { defaultTunMtu, type GatewayIoOptions } from './gateway-io.js';
