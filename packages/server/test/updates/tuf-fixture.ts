/**
 * Offline signing for the tests, as the release engineers' tool does it: real Ed25519 keys, root
 * and targets metadata built with @tufjs/models and signed with tufSigner.
 */
import { createHash, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { Metadata, MetadataKind, TargetFile, Targets, type Root } from '@tufjs/models';
import type { BundleManifest, UpdateStream } from '@shellguard/protocol';
import { tufExpires, tufKeyOf, tufSigner, type TufPublicKey } from '../../src/updates/tuf-keys.ts';
import type { ProposedOnlineKeys } from '../../src/updates/online-keys.ts';

export const T0 = Date.UTC(2026, 3, 1, 9, 0, 0);
export const DAY = 86_400_000;

export interface OfflineKey {
  privateKey: KeyObject;
  pub: TufPublicKey;
}

export function offlineKey(): OfflineKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  return { privateKey, pub: tufKeyOf(privateKey) };
}

export interface RootSpec {
  version?: number;
  expires?: number;
  root: OfflineKey[];
  rootThreshold?: number;
  targets: OfflineKey[];
  targetsThreshold?: number;
  online: ProposedOnlineKeys;
  consistentSnapshot?: boolean;
  /** Override the targets role's key ids. */
  targetsKeyIds?: string[];
}

export function buildRoot(spec: RootSpec): Metadata<Root> {
  const keys: Record<string, unknown> = {};
  for (const k of [...spec.root, ...spec.targets].map((x) => x.pub).concat([spec.online.snapshot, spec.online.timestamp])) keys[k.keyid] = k.key;
  const role = (ids: string[], threshold = 1) => ({ keyids: ids, threshold });
  const signedPart = {
    _type: 'root', spec_version: '1.0.31', version: spec.version ?? 1, expires: tufExpires(spec.expires ?? T0 + 365 * DAY),
    consistent_snapshot: spec.consistentSnapshot ?? true, keys,
    roles: {
      root: role(spec.root.map((k) => k.pub.keyid), spec.rootThreshold),
      targets: role(spec.targetsKeyIds ?? spec.targets.map((k) => k.pub.keyid), spec.targetsThreshold),
      snapshot: role([spec.online.snapshot.keyid]),
      timestamp: role([spec.online.timestamp.keyid]),
    },
  };
  return Metadata.fromJSON(MetadataKind.Root, { signed: signedPart, signatures: [] } as unknown as Parameters<typeof Metadata.fromJSON>[1]);
}

export function manifest(version: string, stream: UpdateStream = 'application', product = 'shellguard-guardian'): BundleManifest {
  return {
    product, stream, version, platform: 'linux-x64', nodeAbi: '115',
    components: [{ component: 'guardian-bundle', digest: createHash('sha256').update(version).digest('hex') }],
  };
}

export interface BundleSpec {
  name: string;
  bytes: Buffer;
  custom: BundleManifest;
  /** Override what the metadata says. */
  length?: number;
  sha256?: string;
}

export function buildTargets(version: number, bundles: BundleSpec[], expires = T0 + 90 * DAY): Metadata<Targets> {
  const targets: Record<string, TargetFile> = {};
  for (const b of bundles) {
    targets[b.name] = new TargetFile({
      path: b.name, length: b.length ?? b.bytes.length,
      hashes: { sha256: b.sha256 ?? createHash('sha256').update(b.bytes).digest('hex') },
      unrecognizedFields: { custom: b.custom as unknown as Record<string, string> },
    });
  }
  return new Metadata(new Targets({ version, specVersion: '1.0.31', expires: tufExpires(expires), targets }));
}

export function signed<T extends Metadata<Root> | Metadata<Targets>>(md: T, ...keys: OfflineKey[]): T {
  for (const k of keys) md.sign(tufSigner(k.privateKey, k.pub.keyid), true);
  return md;
}

export const json = (md: Metadata<Root> | Metadata<Targets>): unknown => JSON.parse(JSON.stringify(md.toJSON()));

export function bundle(name: string, version: string, size = 1024): BundleSpec {
  return { name, bytes: Buffer.alloc(size, version), custom: manifest(version) };
}
