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
} from './shm/shared-heap.js';
export { xxh32Words, randomSeed } from './shm/hash.js';
export { EpochDomain, EpochReader, StalledReaderError, type EpochDescription, type EpochDomainOptions, type Reclaimer } from './shm/epoch.js';
export { ArenaView, RecordArena, type ArenaDescription, type ArenaOptions } from './shm/record-arena.js';
export { HashTableView, HashTable, type HashTableDescription, type HashTableOptions } from './shm/hash-table.js';
export * from './xfrm/address.js';
export * from './xfrm/selector.js';
export * from './xfrm/template.js';
export { XfrmError, type XfrmErrorCode } from './xfrm/xfrm-error.js';
export { Chains, chainNext } from './shm/chain.js';
export { loadU64Words, u64OfWords, u64WordsEqual, u64WordsMod } from './shm/u64-words.js';
export * from './xfrm/policy-db.js';
export * from './xfrm/state-db.js';
export * from './xfrm/state-rows.js';
export * from './xfrm/u64-index.js';
export * from './xfrm/lifetime.js';
export * from './xfrm/bundle.js';
export * from './xfrm/acquire.js';
export { DeadlineQueue } from './xfrm/deadline-queue.js';
export { ChangeEpoch } from './xfrm/change-epoch.js';
export { ALL_SHARDS, CHANGE_LOG, ShardEpochs, type ChangeLogReader } from './xfrm/change-log.js';
export * from './xfrm/xfrm.js';
export { tokenize, XfrmSyntaxError, type Token } from './config/ip-xfrm-tokens.js';
export { parseXfrmLine, parseXfrmList, type XfrmCommand, type StateFilter } from './config/ip-xfrm-parse.js';
export { formatPolicy, formatSelector, formatState, type FormatOptions } from './config/ip-xfrm-format.js';
export { applyXfrm, applyXfrmLine } from './config/ip-xfrm-apply.js';
export { AEAD_BACKENDS, aeadBackend, aeadFallbackNote, defaultAeadBackendName } from './esp/aead-backend.js';
export { NativeUnavailableError, nativeAvailable, nativeLiveContexts } from './esp/native-aead.js';
export { equalBytes, type AeadBackend, type AeadBackendName, type AeadCipher, type AeadContext, type SealBatch } from './esp/aead.js';
export * from './xfrm/sa-runtime.js';
export { replayAdvance, replayCheck } from './esp/replay.js';
export * from './esp/packet.js';
export * from './esp/byte-copy.js';
export * from './esp/drop-reasons.js';
export { SaContextCache, type HeldContexts, type SaContext, type SaContextOptions } from './esp/sa-context.js';
export { ESP_HEADER_LENGTH, espLength, espOpen, espSeal, padLength } from './esp/esp.js';
export { espEncapsulate } from './esp/esp-output.js';
export { DECAP_DUMMY, dropResult, espDecapsulate } from './esp/esp-input.js';
export { inboundPolicyCheck } from './esp/inbound-policy.js';
export { DROPPED, DUMMY, EspEngine, PASS, type EspEngineOptions } from './esp/esp-engine.js';
