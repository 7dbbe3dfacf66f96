/**
 * @xfrm/core: shared-memory primitives and (later) the xfrm model and ESP.
 * Everything here runs on any thread and spawns none.
 */
export {
  POISON,
  HeapView,
  HeapObject,
  SharedHeap,
  type HeapObjectDescription,
  type SharedHeapDescription,
  type SharedHeapOptions,
} from './shared-heap.js';
export { xxh32Words, randomSeed } from './hash.js';
export { EpochDomain, EpochReader, type EpochDescription, type Reclaimer } from './epoch.js';
export { ArenaView, RecordArena, type ArenaDescription, type ArenaOptions } from './record-arena.js';
export { HashTableView, HashTable, type HashTableDescription, type HashTableOptions } from './hash-table.js';
export * from './address.js';
export * from './selector.js';
export * from './template.js';
export { XfrmError, type XfrmErrorCode } from './xfrm-error.js';
export { Chains, chainNext } from './chain.js';
export * from './policy-db.js';
export * from './state-db.js';
export * from './lifetime.js';
export * from './bundle.js';
export * from './acquire.js';
export { DeadlineQueue } from './deadline-queue.js';
export * from './xfrm.js';
export { tokenize, XfrmSyntaxError, type Token } from './ip-xfrm-tokens.js';
export { parseXfrmLine, parseXfrmList, type XfrmCommand, type StateFilter } from './ip-xfrm-parse.js';
export { formatPolicy, formatSelector, formatState, type FormatOptions } from './ip-xfrm-format.js';
export { applyXfrm, applyXfrmLine } from './ip-xfrm-apply.js';
export { aeadBackend, equalBytes, type AeadBackend, type AeadCipher, type AeadContext } from './aead.js';
export * from './sa-runtime.js';
export { replayAdvance, replayCheck } from './replay.js';
export * from './packet.js';
export * from './drop-reasons.js';
export { SaContextCache, type SaContext, type SaContextOptions } from './sa-context.js';
export { ESP_HEADER_LENGTH, espLength, espOpen, espSeal, padLength } from './esp.js';
export { espEncapsulate } from './esp-output.js';
export { DECAP_DUMMY, dropResult, espDecapsulate } from './esp-input.js';
export { inboundPolicyCheck } from './inbound-policy.js';
export { DROPPED, DUMMY, EspEngine, PASS, type EspEngineOptions } from './esp-engine.js';
