/**
 * `shellguard release keygen|init|sign|cosign|upload|rotate-root`: the OFFLINE side of the TUF
 * image repositories. Root and targets keys live in files on the release engineers' machines;
 * metadata is built and signed here, in this process, and only the signed metadata (and the
 * bundles) reach the server. The server holds the online snapshot and timestamp keys only.
 *
 * Thresholds above one: `--out <file>` writes the metadata, signed with the keys given so far,
 * with what it is for (a "pending release" file); `cosign` adds signatures with more keys; `upload`
 * sends it once enough have signed. The server counts signatures again and refuses too few.
 */
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Metadata, MetadataKind, TargetFile, type Root, type Targets } from '@tufjs/models';
import { ShellguardError, UPDATE_STREAMS, errorMessage, type BundleManifest } from '@shellguard/protocol';
import {
  TUF_SPEC_VERSION, parseBundleManifest, tufExpires, tufKeyOf, tufSigner, type ProposedOnlineKeys, type RepositoryDetail, type TufPublicKey,
} from '@shellguard/server';
import type { ApiClient } from '../api-client.ts';
import type { Output } from './fleet.ts';

export type ReleaseErrorCode =
  | 'release_key_invalid'
  | 'release_key_exists'
  | 'release_file_unreadable'
  | 'release_manifest_invalid'
  | 'release_pending_invalid'
  | 'release_usage';

export class ReleaseError extends ShellguardError<ReleaseErrorCode> {}

const DAY_MS = 86_400_000;
const PENDING_KIND = 'shellguard-pending-release/v1';
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

type Action = 'init' | 'targets' | 'rotate-root';

/** What `--out` writes and `cosign` / `upload` read: signed-so-far metadata and what it is for. */
export interface PendingRelease {
  kind: typeof PENDING_KIND;
  action: Action;
  product: string;
  stream: string;
  metadata: Record<string, unknown>;
  /** Bundles to upload with targets metadata (paths relative to the pending file's folder or absolute). */
  files: { name: string; path: string; sha256: string; length: number }[];
}

// ---------------------------------------------------------------------------------- key files

function readFile(file: string, what: string): Buffer {
  try {
    return readFileSync(file);
  } catch (err) {
    throw new ReleaseError('release_file_unreadable', `cannot read ${what} ${file}: ${errorMessage(err)}`);
  }
}

/** An offline signing key (PKCS#8 PEM, Ed25519). */
export function readSigningKey(file: string): KeyObject {
  let key: KeyObject;
  try {
    key = createPrivateKey(readFile(file, 'the key file'));
  } catch (err) {
    if (err instanceof ReleaseError) throw err;
    throw new ReleaseError('release_key_invalid', `${file} is not a private key in PEM: ${errorMessage(err)} (make one with shellguard release keygen)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ReleaseError('release_key_invalid', `${file} is a ${key.asymmetricKeyType} key; release keys are ed25519 (shellguard release keygen)`);
  return key;
}

/** A public key from a .pub file (SPKI PEM) or, if that is what is at hand, from the private key file. */
export function readPublicKey(file: string): TufPublicKey {
  let key: KeyObject;
  try {
    key = createPublicKey(readFile(file, 'the public key file'));
  } catch (err) {
    if (err instanceof ReleaseError) throw err;
    throw new ReleaseError('release_key_invalid', `${file} is not a public key in PEM: ${errorMessage(err)}`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new ReleaseError('release_key_invalid', `${file} is a ${key.asymmetricKeyType} key; release keys are ed25519`);
  return tufKeyOf(key);
}

/** `release keygen --out <file>`: a new Ed25519 key, private PEM mode 0600 and `<file>.pub`; prints the key id. */
export function generateReleaseKey(out: Output, file: string): TufPublicKey {
  if (existsSync(file)) throw new ReleaseError('release_key_exists', `${file} exists: choose another --out (a key is never overwritten)`);
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  writeFileSync(file, privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, { mode: 0o600, flag: 'wx' });
  writeFileSync(`${file}.pub`, publicKey.export({ format: 'pem', type: 'spki' }) as string, { mode: 0o644, flag: 'wx' });
  const pub = tufKeyOf(publicKey);
  out.write(`keyid ${pub.keyid}\nprivate key ${file} (keep it offline), public key ${file}.pub\n`);
  return pub;
}

// ---------------------------------------------------------------------------------- building metadata

export interface RootRoles {
  version: number;
  expiresAt: number;
  root: TufPublicKey[];
  rootThreshold: number;
  targets: TufPublicKey[];
  targetsThreshold: number;
  online: ProposedOnlineKeys;
}

function checkThreshold(role: string, keys: readonly TufPublicKey[], threshold: number): void {
  if (new Set(keys.map((k) => k.keyid)).size !== keys.length) throw new ReleaseError('release_usage', `a ${role} key is given twice`);
  if (!Number.isInteger(threshold) || threshold < 1 || threshold > keys.length) {
    throw new ReleaseError('release_usage', `the ${role} threshold must be between 1 and the ${keys.length} ${role} key(s) given`);
  }
}

/** Root metadata (unsigned) naming offline root and targets keys and the server's online keys; consistent snapshots on. */
export function buildRootMetadata(r: RootRoles): Metadata<Root> {
  checkThreshold('root', r.root, r.rootThreshold);
  checkThreshold('targets', r.targets, r.targetsThreshold);
  const keys: Record<string, unknown> = {};
  for (const k of [...r.root, ...r.targets, r.online.snapshot, r.online.timestamp]) keys[k.keyid] = k.key;
  const signed = {
    _type: 'root', spec_version: TUF_SPEC_VERSION, version: r.version, expires: tufExpires(r.expiresAt), consistent_snapshot: true, keys,
    roles: {
      root: { keyids: r.root.map((k) => k.keyid), threshold: r.rootThreshold },
      targets: { keyids: r.targets.map((k) => k.keyid), threshold: r.targetsThreshold },
      snapshot: { keyids: [r.online.snapshot.keyid], threshold: 1 },
      timestamp: { keyids: [r.online.timestamp.keyid], threshold: 1 },
    },
  };
  return Metadata.fromJSON(MetadataKind.Root, { signed, signatures: [] } as unknown as Parameters<typeof Metadata.fromJSON>[1]);
}

function signAll<T extends Root | Targets>(md: Metadata<T>, keys: readonly KeyObject[]): Metadata<T> {
  for (const key of keys) md.sign(tufSigner(key), true);
  return md;
}

function toPlain(md: Metadata<Root | Targets>): Record<string, unknown> {
  return JSON.parse(JSON.stringify(md.toJSON())) as Record<string, unknown>;
}

function parseManifestFile(file: string): BundleManifest {
  let value: unknown;
  try {
    value = JSON.parse(readFile(file, 'the manifest').toString('utf8'));
  } catch (err) {
    if (err instanceof ReleaseError) throw err;
    throw new ReleaseError('release_manifest_invalid', `${file} is not JSON: ${errorMessage(err)}`);
  }
  try {
    return parseBundleManifest(value, path.basename(file));
  } catch (err) {
    throw new ReleaseError('release_manifest_invalid', `${file}: ${errorMessage(err)}`);
  }
}

function checkRepository(product: string, stream: string): void {
  if (!(UPDATE_STREAMS as readonly string[]).includes(stream)) throw new ReleaseError('release_usage', `--stream must be ${UPDATE_STREAMS.join(' or ')}`);
  if (!/^[a-z0-9][a-z0-9._-]{0,63}$/.test(product)) throw new ReleaseError('release_usage', '--product must be lowercase letters, digits, ".", "_", "-"');
}

const repoPath = (product: string, stream: string) => `/updates/repositories/${encodeURIComponent(product)}/${encodeURIComponent(stream)}`;
const tufPath = (product: string, stream: string, file: string) => `/tuf/${encodeURIComponent(product)}/${encodeURIComponent(stream)}/metadata/${file}`;

// ---------------------------------------------------------------------------------- commands

export interface InitOptions {
  product: string;
  stream: string;
  rootKey: string[];
  rootThreshold: number;
  targetsPub: string[];
  targetsThreshold: number;
  expiresDays?: number;
  out?: string;
  now?: number;
}

/** `release init`: 1.root.json naming the offline keys and the server's online keys, signed with the root keys given, uploaded (or written to --out). */
export async function initRepository(client: ApiClient, out: Output, opts: InitOptions): Promise<void> {
  checkRepository(opts.product, opts.stream);
  const rootKeys = opts.rootKey.map(readSigningKey);
  const { onlineKeys } = await client.get<{ onlineKeys: ProposedOnlineKeys }>('/updates/online-keys');
  const root = buildRootMetadata({
    version: 1, expiresAt: (opts.now ?? Date.now()) + (opts.expiresDays ?? 365) * DAY_MS,
    root: rootKeys.map((k) => tufKeyOf(k)), rootThreshold: opts.rootThreshold,
    targets: opts.targetsPub.map(readPublicKey), targetsThreshold: opts.targetsThreshold, online: onlineKeys,
  });
  await submit(client, out, pendingOf('init', opts.product, opts.stream, signAll(root, rootKeys)), opts.out);
}

export interface SignOptions {
  product: string;
  stream: string;
  file: string;
  version: string;
  manifest: string;
  key: string[];
  /** The target's name (default: the bundle's file name). */
  name?: string;
  expiresDays?: number;
  out?: string;
  now?: number;
}

/**
 * `release sign`: the repository's current targets plus this bundle (custom = its BundleManifest),
 * the next version, a new expiry, signed with the targets keys given; uploaded with the bundle
 * (or written to --out for more signatures).
 */
export async function signRelease(client: ApiClient, out: Output, opts: SignOptions): Promise<void> {
  checkRepository(opts.product, opts.stream);
  const keys = opts.key.map(readSigningKey);
  const manifest = parseManifestFile(opts.manifest);
  if (manifest.version !== opts.version) {
    throw new ReleaseError('release_manifest_invalid', `${opts.manifest} says version ${manifest.version}, not --version ${opts.version}`);
  }
  if (manifest.product !== opts.product || manifest.stream !== opts.stream) {
    throw new ReleaseError('release_manifest_invalid', `${opts.manifest} is a release of ${manifest.product}/${manifest.stream}, not of ${opts.product}/${opts.stream}`);
  }
  const name = opts.name ?? path.basename(opts.file);
  if (!TARGET_NAME.test(name)) throw new ReleaseError('release_usage', `the target name "${name}" must be letters, digits, ".", "_", "-" (use --name)`);
  const bytes = readFile(opts.file, 'the bundle');
  const sha256 = createHash('sha256').update(bytes).digest('hex');

  const { repository } = await client.get<{ repository: RepositoryDetail }>(repoPath(opts.product, opts.stream));
  const current = repository.roles.targets.version;
  const targets: Record<string, unknown> = {};
  if (current !== null) {
    const text = await client.getText(tufPath(opts.product, opts.stream, `${current}.targets.json`));
    const previous = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(text) as Parameters<typeof Metadata.fromJSON>[1]);
    for (const [path_, t] of Object.entries(previous.signed.targets)) targets[path_] = t.toJSON();
  }
  targets[name] = new TargetFile({ path: name, length: bytes.length, hashes: { sha256 }, unrecognizedFields: { custom: manifest as unknown as Record<string, string> } }).toJSON();
  const signed = {
    _type: 'targets', spec_version: TUF_SPEC_VERSION, version: (current ?? 0) + 1,
    expires: tufExpires((opts.now ?? Date.now()) + (opts.expiresDays ?? 90) * DAY_MS), targets,
  };
  const md = signAll(Metadata.fromJSON(MetadataKind.Targets, { signed, signatures: [] } as unknown as Parameters<typeof Metadata.fromJSON>[1]), keys);
  const pending = pendingOf('targets', opts.product, opts.stream, md);
  pending.files = [{ name, path: path.resolve(opts.file), sha256, length: bytes.length }];
  await submit(client, out, pending, opts.out);
}

export interface RotateRootOptions {
  product: string;
  stream: string;
  /** Private keys to sign with: a threshold of the trusted root's keys AND of the new root's. */
  rootKey: string[];
  /** The new root's root keys (public); default: the trusted root's. */
  newRootPub?: string[];
  rootThreshold?: number;
  targetsPub?: string[];
  targetsThreshold?: number;
  expiresDays?: number;
  out?: string;
  now?: number;
}

/**
 * `release rotate-root`: the next root version. Root and targets keys change when given; the
 * snapshot and timestamp keys are always the server's currently proposed ones, so an online key
 * rotation (POST /updates/online-keys/rotate) takes effect here.
 */
export async function rotateRoot(client: ApiClient, out: Output, opts: RotateRootOptions): Promise<void> {
  checkRepository(opts.product, opts.stream);
  const signers = opts.rootKey.map(readSigningKey);
  const { repository } = await client.get<{ repository: RepositoryDetail }>(repoPath(opts.product, opts.stream));
  const version = repository.roles.root.version!;
  const trusted = Metadata.fromJSON(MetadataKind.Root, JSON.parse(await client.getText(tufPath(opts.product, opts.stream, `${version}.root.json`))) as Parameters<typeof Metadata.fromJSON>[1]);
  const keysOf = (role: 'root' | 'targets'): TufPublicKey[] => trusted.signed.roles[role]!.keyIDs.map((keyid) => {
    const k = trusted.signed.keys[keyid]!;
    return { keyid, key: { keytype: 'ed25519', scheme: 'ed25519', keyval: { public: k.keyVal.public! } } };
  });
  const newRoot = opts.newRootPub?.length ? opts.newRootPub.map(readPublicKey) : keysOf('root');
  const newTargets = opts.targetsPub?.length ? opts.targetsPub.map(readPublicKey) : keysOf('targets');
  const root = buildRootMetadata({
    version: version + 1, expiresAt: (opts.now ?? Date.now()) + (opts.expiresDays ?? 365) * DAY_MS,
    root: newRoot, rootThreshold: opts.rootThreshold ?? (opts.newRootPub?.length ? Math.min(newRoot.length, trusted.signed.roles.root!.threshold) : trusted.signed.roles.root!.threshold),
    targets: newTargets, targetsThreshold: opts.targetsThreshold ?? (opts.targetsPub?.length ? Math.min(newTargets.length, trusted.signed.roles.targets!.threshold) : trusted.signed.roles.targets!.threshold),
    online: repository.onlineKeys,
  });
  await submit(client, out, pendingOf('rotate-root', opts.product, opts.stream, signAll(root, signers)), opts.out);
}

/** `release cosign --in <file> --key <file>...`: adds signatures to a pending release, in place. */
export function cosign(out: Output, file: string, keyFiles: string[]): void {
  const pending = readPending(file);
  const md = pending.action === 'targets'
    ? Metadata.fromJSON(MetadataKind.Targets, pending.metadata as Parameters<typeof Metadata.fromJSON>[1])
    : Metadata.fromJSON(MetadataKind.Root, pending.metadata as Parameters<typeof Metadata.fromJSON>[1]);
  signAll(md as Metadata<Root | Targets>, keyFiles.map(readSigningKey));
  pending.metadata = toPlain(md as Metadata<Root | Targets>);
  writeFileSync(file, `${JSON.stringify(pending, null, 2)}\n`, { mode: 0o644 });
  out.write(`${file}: ${pending.action} for ${pending.product}/${pending.stream} now has ${Object.keys(md.signatures).length} signature(s)\n`);
}

/** `release upload --in <file>`: sends a pending release once it has enough signatures. */
export async function uploadPending(client: ApiClient, out: Output, file: string): Promise<RepositoryDetail> {
  const pending = readPending(file);
  return upload(client, out, pending, path.dirname(file));
}

// ---------------------------------------------------------------------------------- plumbing

function pendingOf(action: Action, product: string, stream: string, md: Metadata<Root | Targets>): PendingRelease {
  return { kind: PENDING_KIND, action, product, stream, metadata: toPlain(md), files: [] };
}

async function submit(client: ApiClient, out: Output, pending: PendingRelease, outFile: string | undefined): Promise<void> {
  if (outFile !== undefined) {
    if (existsSync(outFile)) throw new ReleaseError('release_usage', `${outFile} exists: choose another --out`);
    writeFileSync(outFile, `${JSON.stringify(pending, null, 2)}\n`, { mode: 0o644, flag: 'wx' });
    const count = ((pending.metadata.signatures as unknown[] | undefined) ?? []).length;
    out.write(`${outFile}: ${pending.action} for ${pending.product}/${pending.stream} with ${count} signature(s); `
      + 'add more with shellguard release cosign, then send it with shellguard release upload\n');
    return;
  }
  await upload(client, out, pending, process.cwd());
}

async function upload(client: ApiClient, out: Output, pending: PendingRelease, baseDir: string): Promise<RepositoryDetail> {
  let repository: RepositoryDetail;
  if (pending.action === 'init') {
    ({ repository } = await client.post<{ repository: RepositoryDetail }>('/updates/repositories', { product: pending.product, stream: pending.stream, root: pending.metadata }));
  } else if (pending.action === 'rotate-root') {
    ({ repository } = await client.post<{ repository: RepositoryDetail }>(`${repoPath(pending.product, pending.stream)}/root`, { root: pending.metadata }));
  } else {
    const files = pending.files.map((f) => {
      const bytes = readFile(path.resolve(baseDir, f.path), 'the bundle');
      // The bundle must still be the one that was signed: say so here rather than as the server's mismatch.
      if (bytes.length !== f.length || createHash('sha256').update(bytes).digest('hex') !== f.sha256) {
        throw new ReleaseError('release_pending_invalid', `${f.path} changed since it was signed: sign the release again`);
      }
      return { name: f.name, content: bytes.toString('base64') };
    });
    ({ repository } = await client.post<{ repository: RepositoryDetail }>(`${repoPath(pending.product, pending.stream)}/targets`, { targets: pending.metadata, files }));
  }
  const r = repository.roles;
  out.write(`${repository.product}/${repository.stream}: root ${r.root.version}, targets ${r.targets.version ?? '-'}, `
    + `snapshot ${r.snapshot.version ?? '-'}, timestamp ${r.timestamp.version ?? '-'} (expires ${r.timestamp.expires ?? '-'}); ${repository.targets.length} target(s)\n`);
  return repository;
}

function readPending(file: string): PendingRelease {
  let value: Partial<PendingRelease>;
  try {
    value = JSON.parse(readFile(file, 'the pending release').toString('utf8')) as Partial<PendingRelease>;
  } catch (err) {
    if (err instanceof ReleaseError) throw err;
    throw new ReleaseError('release_pending_invalid', `${file} is not JSON: ${errorMessage(err)}`);
  }
  if (value.kind !== PENDING_KIND || !['init', 'targets', 'rotate-root'].includes(value.action as string)
    || typeof value.product !== 'string' || typeof value.stream !== 'string' || typeof value.metadata !== 'object' || !Array.isArray(value.files)) {
    throw new ReleaseError('release_pending_invalid', `${file} is not a pending release written by shellguard release ... --out`);
  }
  return value as PendingRelease;
}
