/**
 * Reads a target's `custom` field as a BundleManifest (protocol/updates.ts). A release's own
 * description travels in the offline-signed targets metadata, so the server checks it before it
 * publishes: a guardian must never be offered a target it cannot even describe.
 */
import { ProtocolError, parseBundleManifest as parseManifest, type BundleManifest } from '@shellguard/protocol';
import { ImageRepositoryError } from './image-repository-error.ts';

export function parseBundleManifest(x: unknown, target: string): BundleManifest {
  try {
    return parseManifest(x, `target ${target}: custom (it must be the release's BundleManifest)`);
  } catch (err) {
    if (err instanceof ProtocolError) throw new ImageRepositoryError('target_manifest_invalid', err.message, { target });
    throw err;
  }
}
