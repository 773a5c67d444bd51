/**
 * Reads a target's `custom` field as a BundleManifest (protocol/updates.ts). A release's own
 * description travels in the offline-signed targets metadata, so the server checks it before it
 * publishes: a guardian must never be offered a target it cannot even describe.
 */
import { UPDATE_STREAMS, type BundleManifest, type UpdateStream } from '@shellguard/protocol';
import { ImageRepositoryError } from './image-repository-error.ts';

const VERSION = /^\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?$/;
const HEX64 = /^[0-9a-f]{64}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const PLATFORM = /^[a-z0-9]+-[a-z0-9_]+$/;

export function parseBundleManifest(x: unknown, target: string): BundleManifest {
  const bad = (what: string): never => {
    throw new ImageRepositoryError('target_manifest_invalid', `target ${target}: custom ${what} (custom must be the release's BundleManifest)`, { target });
  };
  if (typeof x !== 'object' || x === null || Array.isArray(x)) return bad('is missing or not an object');
  const o = x as Record<string, unknown>;
  if (typeof o.product !== 'string' || !NAME.test(o.product)) bad('product is not a valid name');
  if (!(UPDATE_STREAMS as readonly unknown[]).includes(o.stream)) bad(`stream must be one of ${UPDATE_STREAMS.join(', ')}`);
  if (typeof o.version !== 'string' || !VERSION.test(o.version)) bad('version must be a semantic version');
  if (!Array.isArray(o.components) || o.components.length === 0 || o.components.length > 64) bad('components must be a list of 1 to 64');
  const components = (o.components as unknown[]).map((c) => {
    const e = (typeof c === 'object' && c !== null ? c : {}) as Record<string, unknown>;
    if (typeof e.component !== 'string' || !NAME.test(e.component)) bad('components[].component must be a name');
    if (typeof e.digest !== 'string' || !HEX64.test(e.digest)) bad('components[].digest must be 64 lowercase hex digits (sha256)');
    return { component: e.component as string, digest: e.digest as string };
  });
  if (typeof o.platform !== 'string' || !PLATFORM.test(o.platform)) bad('platform must be <platform>-<arch>, e.g. linux-x64');
  if (typeof o.nodeAbi !== 'string' || !/^\d{1,4}$/.test(o.nodeAbi)) bad('nodeAbi must be process.versions.modules, e.g. "115"');
  return {
    product: o.product as string, stream: o.stream as UpdateStream, version: o.version as string, components,
    platform: o.platform as string, nodeAbi: o.nodeAbi as string,
  };
}
