/**
 * Choosing an AEAD backend by name. Apart from aead.ts so that the backends can import the
 * interface they implement without an import cycle.
 */
import { type AeadBackend, type AeadBackendName } from './aead.js';
import { nativeAead, nativeAvailable } from './native-aead.js';
import { nobleAead } from './noble-aead.js';
import { nodeAead } from './node-aead.js';
import { nativeUnavailableReason } from '@xfrm/native';

/** Every backend name, the default first. */
export const AEAD_BACKENDS: readonly AeadBackendName[] = ['native', 'node', 'noble'];

/** The default: native where the addon loaded, else noble. */
export function defaultAeadBackendName(): AeadBackendName {
  return nativeAvailable() ? 'native' : 'noble';
}

/** A line for start-up output when the default fell back to noble ('' when native is in use). */
export function aeadFallbackNote(): string {
  return nativeAvailable() ? '' : `crypto backend: noble (native unavailable: ${nativeUnavailableReason()})`;
}

/** The backend of that name (default {@link defaultAeadBackendName}); 'native' throws, saying why, where the addon is missing. */
export function aeadBackend(name: AeadBackendName = defaultAeadBackendName()): AeadBackend {
  switch (name) {
    case 'native':
      return nativeAead();
    case 'node':
      return nodeAead;
    default:
      return nobleAead;
  }
}
