/**
 * Choosing an AEAD backend by name. Apart from aead.ts so that the backends can import the
 * interface they implement without an import cycle.
 */
import { type AeadBackend } from './aead.js';
import { nobleAead } from './noble-aead.js';
import { nodeAead } from './node-aead.js';

/** The backend of that name. */
export function aeadBackend(name: 'noble' | 'node' = 'noble'): AeadBackend {
  return name === 'node' ? nodeAead : nobleAead;
}
