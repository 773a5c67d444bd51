/**
 * The TUF image repository (ARCHITECTURE.md §2, "Signed updates"): one repository per (product,
 * stream), e.g. (shellguard-guardian, application) and (shellguard-guardian, platform). It says
 * which software is genuine.
 *
 * ROOT and TARGETS keys are offline: this service never holds them. It accepts root and targets
 * metadata signed elsewhere (`shellguard release`), and checks them the way a TUF client will
 * (TUF §5.3 for roots, §5.6 for targets) so that nothing it publishes would be refused by a device.
 * SNAPSHOT and TIMESTAMP keys are online (online-keys.ts): the service signs a new snapshot and
 * timestamp whenever targets change, and re-signs the timestamp (and the snapshot) before they
 * expire. Every repository uses consistent snapshots (TUF §6.2): metadata is served as
 * `<version>.<role>.json` (timestamp.json unversioned) and targets as `<sha256>.<name>`.
 *
 * Profile, never negotiated: Ed25519 keys whose key ids are the SHA-256 of their canonical form
 * (TUF §4.2; it stops one key from being counted twice toward a threshold under two ids), no
 * delegated targets roles, every target's `custom` a BundleManifest of this product and stream.
 */
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { MetaFile, Metadata, MetadataKind, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import {
  UPDATE_STREAMS, errorMessage, systemClock, type BundleManifest, type Clock, type TimerHandle, type UpdateStream,
} from '@shellguard/protocol';
import { parseBundleManifest } from './bundle-manifest.ts';
import { ImageRepositoryError } from './image-repository-error.ts';
import type { ImageRepositoryStore, RepositoryId, StoredMetadata, StoredTargetFile, TufRole } from './image-repository-store.ts';
import type { OnlineSigningKeys, ProposedOnlineKeys } from './online-keys.ts';
import { tufExpires, tufKeyIdOf, tufSigner, type TufKeyJson } from './tuf-keys.ts';

export const TUF_SPEC_VERSION = '1.0.31';
export const DEFAULT_TIMESTAMP_VALIDITY_MS = 24 * 3_600_000;
export const DEFAULT_SNAPSHOT_VALIDITY_MS = 7 * 24 * 3_600_000;
const DEFAULT_REFRESH_INTERVAL_MS = 10 * 60_000;

const PRODUCT = /^[a-z0-9][a-z0-9._-]{0,63}$/;
/** A target's path: one file name (no directories), so `<sha256>.<name>` is its whole consistent path. */
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;
const HEX64 = /^[0-9a-f]{64}$/;
const HASH_ALGORITHMS: Record<string, RegExp> = { sha256: HEX64, sha512: /^[0-9a-f]{128}$/ };
const METADATA_FILE = /^(?:([1-9]\d{0,9})\.)?(root|targets|snapshot|timestamp)\.json$/;
const TARGET_FILE = /^([0-9a-f]{64})\.(.+)$/;

/** A genuine release: what deployments name (the director instruction's targetName, length, sha256). */
export interface RepositoryTarget {
  name: string;
  length: number;
  sha256: string;
  custom: BundleManifest;
}

export interface RoleState {
  keyids: string[];
  threshold: number;
  /** Newest stored version; null before the first (targets, snapshot, timestamp before the first release). */
  version: number | null;
  /** ISO 8601, as in the metadata. */
  expires: string | null;
}

export interface RepositorySummary {
  product: string;
  stream: UpdateStream;
  createdAt: number;
  roles: Record<TufRole, RoleState>;
  /** False when the newest targets no longer verify under the newest root (targets keys rotated): sign targets again. */
  targetsTrusted: boolean;
}

export interface RepositoryDetail extends RepositorySummary {
  /** The keys a new root must name for snapshot and timestamp. */
  onlineKeys: ProposedOnlineKeys;
  targets: RepositoryTarget[];
}

/** A file uploaded with targets metadata: the target it is for, by name. */
export interface UploadedTargetFile {
  name: string;
  bytes: Uint8Array;
}

export interface ImageRepositoryOptions {
  store: ImageRepositoryStore;
  keys: OnlineSigningKeys;
  /** Time, and the refresh timer (default systemClock; its timers are unref'd). */
  clock?: Clock;
  /** How long a timestamp is valid (default 1 day); it is re-signed when less than half is left. */
  timestampValidityMs?: number;
  /** How long a snapshot is valid (default 7 days); re-signed when less than half is left. */
  snapshotValidityMs?: number;
  /** How often expiring timestamps and snapshots are looked for (default 10 min). */
  refreshIntervalMs?: number;
  onRefreshError?: (err: unknown, repository: RepositoryId) => void;
}

function sha256Hex(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

function parseMetadata<K extends MetadataKind.Root | MetadataKind.Targets>(kind: K, json: unknown): K extends MetadataKind.Root ? Metadata<Root> : Metadata<Targets>;
function parseMetadata(kind: MetadataKind.Root | MetadataKind.Targets, json: unknown): Metadata<Root> | Metadata<Targets> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new ImageRepositoryError('metadata_invalid', `${kind} metadata must be a JSON object {signed, signatures}`);
  }
  try {
    return kind === MetadataKind.Root
      ? Metadata.fromJSON(MetadataKind.Root, json as Parameters<typeof Metadata.fromJSON>[1])
      : Metadata.fromJSON(MetadataKind.Targets, json as Parameters<typeof Metadata.fromJSON>[1]);
  } catch (err) {
    throw new ImageRepositoryError('metadata_invalid', `this is not valid TUF ${kind} metadata: ${errorMessage(err)}`);
  }
}

/** Key ids of `role` (as `root` defines it) whose signature on `md` verifies; each key counts once. */
function validSignatures(root: Root, role: TufRole, md: Metadata<Root | Targets | Snapshot | Timestamp>): Set<string> {
  const valid = new Set<string>();
  for (const keyid of new Set(root.roles[role]?.keyIDs ?? [])) {
    const key = root.keys[keyid];
    if (!key || !md.signatures[keyid]) continue;
    try {
      key.verifySignature(md);
      valid.add(keyid);
    } catch {
      // an invalid signature does not count (and does not stop the others from counting)
    }
  }
  return valid;
}

function requireThreshold(root: Root, role: TufRole, md: Metadata<Root | Targets>, whose: string): void {
  const threshold = root.roles[role]!.threshold;
  const valid = validSignatures(root, role, md).size;
  if (valid < threshold) {
    throw new ImageRepositoryError('signature_threshold',
      `${md.signed.type} version ${md.signed.version} has ${valid} valid signature${valid === 1 ? '' : 's'} from ${whose} ${role} keys; `
      + `${threshold} are needed: add signatures with more of those keys (shellguard release cosign)`, { role, valid, threshold });
  }
}

function expiresAtOf(expires: string): number {
  const at = Date.parse(expires);
  if (!Number.isFinite(at)) throw new ImageRepositoryError('metadata_invalid', `expires "${expires}" is not an ISO 8601 time`);
  return at;
}

function metaFileOf(stored: StoredMetadata): MetaFile {
  return new MetaFile({ version: stored.version, length: Buffer.byteLength(stored.json), hashes: { sha256: sha256Hex(stored.json) } });
}

export class ImageRepository {
  private readonly store: ImageRepositoryStore;
  private readonly keys: OnlineSigningKeys;
  private readonly clock: Clock;
  private readonly now: () => number;
  private readonly timestampValidityMs: number;
  private readonly snapshotValidityMs: number;
  private readonly refreshIntervalMs: number;
  private readonly onRefreshError: (err: unknown, repository: RepositoryId) => void;
  /** Writes to one repository run one after the other: each reads the newest versions, then appends the next. */
  private readonly queues = new Map<string, Promise<unknown>>();
  private timerHandle: TimerHandle | undefined;
  private refreshing: Promise<unknown> = Promise.resolve();

  constructor(options: ImageRepositoryOptions) {
    this.store = options.store;
    this.keys = options.keys;
    this.clock = options.clock ?? systemClock;
    this.now = () => this.clock.now();
    this.timestampValidityMs = options.timestampValidityMs ?? DEFAULT_TIMESTAMP_VALIDITY_MS;
    this.snapshotValidityMs = options.snapshotValidityMs ?? DEFAULT_SNAPSHOT_VALIDITY_MS;
    this.refreshIntervalMs = options.refreshIntervalMs ?? DEFAULT_REFRESH_INTERVAL_MS;
    this.onRefreshError = options.onRefreshError ?? (() => undefined);
  }

  /** The public keys the offline root must name for the snapshot and timestamp roles. */
  onlineKeys(): ProposedOnlineKeys {
    return this.keys.proposed();
  }

  /** Creates a repository from its first root (1.root.json), signed offline by a threshold of its own root keys. */
  async initialise(product: string, stream: string, rootJson: unknown): Promise<RepositoryDetail> {
    const id = repositoryId(product, stream);
    await this.exclusive(id, async () => {
      const root = parseMetadata(MetadataKind.Root, rootJson);
      if (root.signed.version !== 1) {
        throw new ImageRepositoryError('root_version_not_next', `a repository starts at root version 1, not ${root.signed.version}`);
      }
      this.checkRootProfile(root.signed);
      this.requireUnexpired(root);
      // A first root is trusted because an admin uploads it (TUF §5.2: shipped out of band); it must
      // still carry a threshold of its own root keys, or clients could never verify version 2 against it.
      requireThreshold(root.signed, 'root', root, 'its own');
      if (!await this.store.createRepository(id, this.stored('root', root))) {
        throw new ImageRepositoryError('repository_exists', `the repository ${id.product}/${id.stream} exists: rotate its root instead (shellguard release rotate-root)`);
      }
    });
    return this.describe(id.product, id.stream);
  }

  /**
   * Publishes new targets metadata (signed offline by a threshold of the trusted targets keys) with
   * the files of the targets that are new or changed, then a new snapshot and timestamp.
   */
  async acceptTargets(product: string, stream: string, targetsJson: unknown, files: readonly UploadedTargetFile[]): Promise<RepositoryDetail> {
    const id = repositoryId(product, stream);
    await this.exclusive(id, async () => {
      const root = await this.trustedRoot(id);
      const targets = parseMetadata(MetadataKind.Targets, targetsJson);
      // TUF §5.6.3: a threshold of the targets keys the trusted root names.
      requireThreshold(root.signed, 'targets', targets, 'the trusted root\'s');
      // TUF §5.5.5: clients refuse a snapshot naming a targets version below the one they trust (a
      // rollback); publish only versions above the current one, so every release is a step forward.
      const current = await this.store.latestMetadata(id, 'targets');
      if (current && targets.signed.version <= current.version) {
        throw new ImageRepositoryError('version_not_increasing',
          `targets version ${targets.signed.version} is not above the current ${current.version}: sign version ${current.version + 1} or later`,
          { current: current.version });
      }
      this.requireUnexpired(targets); // TUF §5.6.5: clients refuse expired targets (freeze attack)
      if (targets.signed.delegations) {
        throw new ImageRepositoryError('delegations_unsupported', 'delegated targets roles are not supported: list every target in targets itself');
      }
      const published = await this.checkTargets(id, targets.signed, files);
      for (const f of files) await this.store.putBlob(f.bytes);
      const stored = this.stored('targets', targets);
      const online = await this.signOnline(id, root.signed, stored);
      if (!await this.store.appendMetadata(id, [stored, ...online], published)) {
        throw new ImageRepositoryError('version_not_increasing', 'another upload published this version first: fetch the repository and sign again');
      }
    });
    return this.describe(id.product, id.stream);
  }

  /**
   * Replaces the trusted root (TUF §5.3.4-5.3.5): the next version exactly, signed by a threshold of
   * the trusted root's root keys AND of its own. This is also how online keys rotate: the new root
   * names the server's newly proposed snapshot and timestamp keys, and both are re-signed with them.
   */
  async rotateRoot(product: string, stream: string, rootJson: unknown): Promise<RepositoryDetail> {
    const id = repositoryId(product, stream);
    await this.exclusive(id, async () => {
      const trusted = await this.trustedRoot(id);
      const root = parseMetadata(MetadataKind.Root, rootJson);
      // TUF §5.3.5: exactly the trusted version + 1 (clients walk roots one version at a time).
      if (root.signed.version !== trusted.signed.version + 1) {
        throw new ImageRepositoryError('root_version_not_next',
          `the new root must be version ${trusted.signed.version + 1} (the trusted root is ${trusted.signed.version}), not ${root.signed.version}`,
          { trusted: trusted.signed.version });
      }
      // TUF §5.3.4: signed by a threshold of the trusted root's root keys, and of the new root's own.
      requireThreshold(trusted.signed, 'root', root, 'the trusted root\'s');
      requireThreshold(root.signed, 'root', root, 'the new root\'s own');
      this.checkRootProfile(root.signed);
      this.requireUnexpired(root); // TUF §5.3.10, for the root clients end up trusting
      const storedRoot = this.stored('root', root);
      // TUF §5.3.11: a client whose snapshot or timestamp keys rotated discards what it trusted, so
      // fresh ones signed under the new root must be there for it to fetch.
      const targets = await this.store.latestMetadata(id, 'targets');
      const online = targets ? await this.signOnline(id, root.signed, targets) : [];
      if (!await this.store.appendMetadata(id, [storedRoot, ...online])) {
        throw new ImageRepositoryError('root_version_not_next', 'another root rotation published this version first: fetch the repository and sign again');
      }
    });
    return this.describe(id.product, id.stream);
  }

  /** The genuine targets of a repository, from its newest targets metadata (empty before the first release). */
  async listTargets(product: string, stream: string): Promise<RepositoryTarget[]> {
    const id = repositoryId(product, stream);
    await this.trustedRoot(id);
    const stored = await this.store.latestMetadata(id, 'targets');
    if (!stored) return [];
    const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(stored.json) as Parameters<typeof Metadata.fromJSON>[1]).signed;
    return Object.values(targets.targets)
      .map((t) => ({ name: t.path, length: t.length, sha256: t.hashes.sha256!, custom: parseBundleManifest(t.custom, t.path) }))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  async repositories(): Promise<RepositorySummary[]> {
    const all = await this.store.repositories();
    return Promise.all(all.map((r) => this.summary(r, r.createdAt)));
  }

  async describe(product: string, stream: string): Promise<RepositoryDetail> {
    const id = repositoryId(product, stream);
    const repo = (await this.store.repositories()).find((r) => r.product === id.product && r.stream === id.stream);
    if (!repo) throw notFound(id);
    return { ...await this.summary(id, repo.createdAt), onlineKeys: this.keys.proposed(), targets: await this.listTargets(id.product, id.stream) };
  }

  /**
   * A metadata file as served: `<n>.root.json`, `<n>.targets.json`, `<n>.snapshot.json` (consistent
   * snapshots, TUF §6.2), `timestamp.json`; an unversioned name is the newest version.
   */
  async metadataFile(product: string, stream: string, file: string): Promise<string | undefined> {
    const id = tryRepositoryId(product, stream);
    const m = METADATA_FILE.exec(file);
    if (!id || !m) return undefined;
    const role = m[2] as TufRole;
    if (m[1] !== undefined && role === 'timestamp') return undefined; // TUF §6.2: timestamp.json is never version-prefixed
    const stored = m[1] === undefined ? await this.store.latestMetadata(id, role) : await this.store.metadata(id, role, Number(m[1]));
    return stored?.json;
  }

  /** A target's bytes by its consistent path `<sha256>.<name>`, when this repository published it. */
  async targetFile(product: string, stream: string, file: string): Promise<{ length: number; stream: Readable } | undefined> {
    const id = tryRepositoryId(product, stream);
    const m = TARGET_FILE.exec(file);
    if (!id || !m) return undefined;
    const published = await this.store.targetFile(id, m[2]!, m[1]!);
    return published ? this.store.openBlob(published.sha256) : undefined;
  }

  /**
   * Re-signs what is about to expire: a snapshot with less than half its validity left (with a new
   * timestamp), else a timestamp with less than half left. Returns how many repositories changed.
   */
  async refreshExpiring(): Promise<number> {
    let changed = 0;
    for (const id of await this.store.repositories()) {
      try {
        if (await this.exclusive(id, () => this.refreshOne(id))) changed += 1;
      } catch (err) {
        this.onRefreshError(err, { product: id.product, stream: id.stream });
      }
    }
    return changed;
  }

  /** Refreshes now, then every refreshIntervalMs on the injected clock. */
  start(): void {
    if (this.timerHandle !== undefined) return;
    const run = () => {
      this.refreshing = this.refreshing.then(() => this.refreshExpiring()).catch(() => undefined);
    };
    run();
    this.timerHandle = this.clock.setInterval(run, this.refreshIntervalMs).unref();
  }

  async stop(): Promise<void> {
    this.clock.clearInterval(this.timerHandle);
    this.timerHandle = undefined;
    await this.refreshing;
  }

  // ------------------------------------------------------------------------------------------

  private async refreshOne(id: RepositoryId): Promise<boolean> {
    const now = this.now();
    const snapshot = await this.store.latestMetadata(id, 'snapshot');
    const targets = await this.store.latestMetadata(id, 'targets');
    if (!snapshot || !targets) return false;
    const timestamp = await this.store.latestMetadata(id, 'timestamp');
    const snapshotDue = snapshot.expiresAt - now < this.snapshotValidityMs / 2;
    const timestampDue = !timestamp || timestamp.expiresAt - now < this.timestampValidityMs / 2;
    if (!snapshotDue && !timestampDue) return false;
    const root = await this.trustedRoot(id);
    const records = snapshotDue
      ? await this.signOnline(id, root.signed, targets)
      : [await this.signTimestamp(id, root.signed, snapshot)];
    return this.store.appendMetadata(id, records);
  }

  /** A new snapshot naming `targets`, and a new timestamp naming that snapshot (TUF §4.4, §4.6). */
  private async signOnline(id: RepositoryId, root: Root, targets: StoredMetadata): Promise<StoredMetadata[]> {
    const previous = await this.store.latestMetadata(id, 'snapshot');
    const snapshot = new Metadata(new Snapshot({
      version: (previous?.version ?? 0) + 1, specVersion: TUF_SPEC_VERSION, expires: tufExpires(this.now() + this.snapshotValidityMs),
      meta: { 'targets.json': metaFileOf(targets) },
    }));
    this.signWithOnlineKeys(root, 'snapshot', snapshot);
    const storedSnapshot = this.stored('snapshot', snapshot);
    return [storedSnapshot, await this.signTimestamp(id, root, storedSnapshot)];
  }

  private async signTimestamp(id: RepositoryId, root: Root, snapshot: StoredMetadata): Promise<StoredMetadata> {
    const previous = await this.store.latestMetadata(id, 'timestamp');
    const timestamp = new Metadata(new Timestamp({
      version: (previous?.version ?? 0) + 1, specVersion: TUF_SPEC_VERSION, expires: tufExpires(this.now() + this.timestampValidityMs),
      snapshotMeta: metaFileOf(snapshot),
    }));
    this.signWithOnlineKeys(root, 'timestamp', timestamp);
    return this.stored('timestamp', timestamp);
  }

  private signWithOnlineKeys(root: Root, role: 'snapshot' | 'timestamp', md: Metadata<Snapshot | Timestamp>): void {
    let signed = 0;
    for (const keyid of root.roles[role]!.keyIDs) {
      const key = this.keys.privateKey(keyid);
      if (!key) continue;
      md.sign(tufSigner(key, keyid), true);
      signed += 1;
    }
    if (signed < root.roles[role]!.threshold) {
      throw new ImageRepositoryError('online_key_unavailable',
        `the server holds ${signed} of the ${role} keys the trusted root names (threshold ${root.roles[role]!.threshold}): restore its online key directory, or rotate the root to its proposed keys`);
    }
  }

  /** The repository profile a root must follow, beyond being valid TUF. */
  private checkRootProfile(root: Root): void {
    const invalid = (message: string): never => {
      throw new ImageRepositoryError('root_invalid', message);
    };
    if (!root.consistentSnapshot) invalid('consistent_snapshot must be true: targets are served as <sha256>.<name> (TUF §6.2)');
    for (const [keyid, key] of Object.entries(root.keys)) {
      if (key.keyType !== 'ed25519' || key.scheme !== 'ed25519' || typeof key.keyVal.public !== 'string' || !HEX64.test(key.keyVal.public)) {
        invalid(`key ${keyid.slice(0, 16)}… must be an ed25519 key with a 64-hex public value (shellguard release keygen)`);
      }
      // TUF §4.2: the key id is the SHA-256 of the key's canonical form; anything else could let
      // one key be listed twice and counted twice toward a threshold.
      if (tufKeyIdOf(key.toJSON() as unknown as TufKeyJson) !== keyid) invalid(`key id ${keyid.slice(0, 16)}… is not the SHA-256 of its key (TUF §4.2)`);
    }
    for (const role of ['root', 'targets', 'snapshot', 'timestamp'] as const) {
      const r = root.roles[role]!;
      if (!Number.isSafeInteger(r.threshold) || r.threshold < 1) invalid(`the ${role} threshold must be 1 or more`);
      if (new Set(r.keyIDs).size !== r.keyIDs.length) invalid(`the ${role} role lists a key twice`);
      for (const k of r.keyIDs) if (!root.keys[k]) invalid(`the ${role} role names key ${k.slice(0, 16)}…, which keys does not list`);
      if (r.keyIDs.length < r.threshold) invalid(`the ${role} role has ${r.keyIDs.length} keys, fewer than its threshold ${r.threshold}`);
    }
    for (const role of ['root', 'targets'] as const) {
      if (root.roles[role]!.keyIDs.some((k) => this.keys.privateKey(k) !== undefined)) {
        throw new ImageRepositoryError('root_online_keys', `the ${role} role names a key the server holds: ${role} keys must be offline keys (shellguard release keygen)`);
      }
    }
    for (const role of ['snapshot', 'timestamp'] as const) {
      const held = root.roles[role]!.keyIDs.filter((k) => this.keys.privateKey(k) !== undefined).length;
      if (held < root.roles[role]!.threshold) {
        throw new ImageRepositoryError('root_online_keys',
          `the ${role} role must name the server's online ${role} key (GET /api/v1/updates/online-keys); it names ${held} the server holds, threshold ${root.roles[role]!.threshold}`);
      }
    }
  }

  /** Targets' paths, hashes and manifests, and the uploaded files against them; returns the files to record as published. */
  private async checkTargets(id: RepositoryId, targets: Targets, files: readonly UploadedTargetFile[]): Promise<StoredTargetFile[]> {
    const uploads = new Map<string, Uint8Array>();
    for (const f of files) {
      if (!targets.targets[f.name]) {
        throw new ImageRepositoryError('target_file_unexpected', `the file for ${f.name} was sent, but the targets metadata does not name it`, { target: f.name });
      }
      if (uploads.has(f.name)) throw new ImageRepositoryError('target_file_unexpected', `the file for ${f.name} was sent twice`, { target: f.name });
      uploads.set(f.name, f.bytes);
    }
    const published: StoredTargetFile[] = [];
    for (const t of Object.values(targets.targets)) {
      const invalid = (what: string): never => {
        throw new ImageRepositoryError('target_invalid', `target ${t.path}: ${what}`, { target: t.path });
      };
      if (!TARGET_NAME.test(t.path)) invalid('the path must be a file name of letters, digits, ".", "_" and "-" (no directories)');
      if (!Number.isSafeInteger(t.length) || t.length < 1) invalid('length must be a positive integer');
      for (const [alg, value] of Object.entries(t.hashes)) {
        const pattern = HASH_ALGORITHMS[alg];
        if (!pattern) invalid(`hash algorithm ${alg} is not supported (sha256, sha512)`);
        if (!pattern!.test(value)) invalid(`the ${alg} hash must be lowercase hex of its full length`);
      }
      const sha256 = t.hashes.sha256;
      if (sha256 === undefined) return invalid('hashes must include sha256');
      const manifest = parseBundleManifest(t.custom, t.path);
      if (manifest.product !== id.product || manifest.stream !== id.stream) {
        throw new ImageRepositoryError('target_repository_mismatch',
          `target ${t.path} is a release of ${manifest.product}/${manifest.stream}, not of this repository ${id.product}/${id.stream}`, { target: t.path });
      }
      const bytes = uploads.get(t.path);
      if (bytes) {
        if (bytes.length !== t.length) {
          throw new ImageRepositoryError('target_file_mismatch', `the file for ${t.path} has ${bytes.length} bytes; the metadata says ${t.length}`, { target: t.path });
        }
        for (const alg of Object.keys(t.hashes)) {
          if (createHash(alg).update(bytes).digest('hex') !== t.hashes[alg]) {
            throw new ImageRepositoryError('target_file_mismatch', `the file for ${t.path} does not have the ${alg} hash the metadata says`, { target: t.path });
          }
        }
      } else {
        const known = await this.store.targetFile(id, t.path, sha256);
        if (!known || known.length !== t.length || !await this.store.hasBlob(sha256)) {
          throw new ImageRepositoryError('target_file_missing', `target ${t.path} is new or changed: send its file with the metadata`, { target: t.path });
        }
      }
      published.push({ name: t.path, sha256, length: t.length });
    }
    return published;
  }

  private requireUnexpired(md: Metadata<Root | Targets>): void {
    if (md.signed.isExpired(new Date(this.now()))) {
      throw new ImageRepositoryError('metadata_expired', `${md.signed.type} version ${md.signed.version} expired at ${md.signed.expires}: sign it again with a later expiry`);
    }
  }

  private stored(role: TufRole, md: Metadata<Root | Targets | Snapshot | Timestamp>): StoredMetadata {
    return { role, version: md.signed.version, json: JSON.stringify(md.toJSON()), expiresAt: expiresAtOf(md.signed.expires), storedAt: this.now() };
  }

  private async trustedRoot(id: RepositoryId): Promise<Metadata<Root>> {
    const stored = await this.store.latestMetadata(id, 'root');
    if (!stored) throw notFound(id);
    return Metadata.fromJSON(MetadataKind.Root, JSON.parse(stored.json) as Parameters<typeof Metadata.fromJSON>[1]);
  }

  private async summary(id: RepositoryId, createdAt: number): Promise<RepositorySummary> {
    const root = await this.trustedRoot(id);
    const latest = Object.fromEntries(await Promise.all((['root', 'targets', 'snapshot', 'timestamp'] as const)
      .map(async (role) => [role, await this.store.latestMetadata(id, role)] as const))) as Record<TufRole, StoredMetadata | undefined>;
    const roles = Object.fromEntries((['root', 'targets', 'snapshot', 'timestamp'] as const).map((role) => {
      const stored = latest[role];
      const r = root.signed.roles[role]!;
      return [role, {
        keyids: [...r.keyIDs], threshold: r.threshold, version: stored?.version ?? null,
        expires: stored ? tufExpires(stored.expiresAt) : null,
      }];
    })) as Record<TufRole, RoleState>;
    let targetsTrusted = true;
    if (latest.targets) {
      const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(latest.targets.json) as Parameters<typeof Metadata.fromJSON>[1]);
      targetsTrusted = validSignatures(root.signed, 'targets', targets).size >= root.signed.roles.targets!.threshold;
    }
    return { product: id.product, stream: id.stream, createdAt, roles, targetsTrusted };
  }

  private async exclusive<T>(id: RepositoryId, work: () => Promise<T>): Promise<T> {
    const key = `${id.product}/${id.stream}`;
    const before = this.queues.get(key) ?? Promise.resolve();
    const run = before.then(work, work);
    const settled = run.catch(() => undefined);
    this.queues.set(key, settled);
    try {
      return await run;
    } finally {
      if (this.queues.get(key) === settled) this.queues.delete(key);
    }
  }
}

function notFound(id: RepositoryId): ImageRepositoryError {
  return new ImageRepositoryError('repository_not_found',
    `there is no image repository ${id.product}/${id.stream}: create it with shellguard release init`, { product: id.product, stream: id.stream });
}

function tryRepositoryId(product: string, stream: string): RepositoryId | undefined {
  return PRODUCT.test(product) && (UPDATE_STREAMS as readonly string[]).includes(stream) ? { product, stream: stream as UpdateStream } : undefined;
}

/** A validated (product, stream). */
export function repositoryId(product: string, stream: string): RepositoryId {
  const id = tryRepositoryId(product, stream);
  if (!id) {
    throw new ImageRepositoryError('repository_id_invalid',
      `"${product}/${stream}" is not a repository: product is lowercase letters, digits, ".", "_", "-"; stream is ${UPDATE_STREAMS.join(' or ')}`);
  }
  return id;
}
