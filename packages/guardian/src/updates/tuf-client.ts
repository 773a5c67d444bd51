/**
 * Our TUF client (specification 1.0.x, "Detailed client workflow", §5), on @tufjs/models for the
 * metadata formats and signature primitives. It decides trust itself: what the repository may
 * change, in which order it is checked, and what is written to disk.
 *
 *   refresh():          §5.1 fix the time, §5.2 load the trusted root, §5.3 walk the root chain,
 *                       §5.4 timestamp, §5.5 snapshot, §5.6 top-level targets
 *   getTargetInfo(p):   §5.6.7 pre-order depth-first search of the delegations for p
 *   downloadTarget():   §5.7 fetch the target, verify its length and every hash, then rename
 *
 * The metadata directory holds only what has been verified: `root.json` (always the newest
 * trusted root), `timestamp.json`, `snapshot.json`, `targets.json` and `<role>.json` for each
 * delegated role (the name percent-encoded), each written atomically. A refused step never
 * overwrites what was trusted before it (§5: "the client should still be able to update again").
 */
import { createHash } from 'node:crypto';
import {
  closeSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeSync,
} from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import {
  Metadata, MetadataKind, type Key, type MetaFile, type Root, type Snapshot, type TargetFile, type Targets,
  type Timestamp,
} from '@tufjs/models';
import { type MetadataFetcher } from './fetcher.ts';
import { TufError, type TufErrorDetails } from './tuf-error.ts';

export interface TufClientLimits {
  /** Newer root versions fetched in one refresh at most (§5.3.3 "Y"). */
  maxRootRotations: number;
  /** Targets roles visited in one target search at most, the top-level one included (§5.6.7.1). */
  maxDelegations: number;
  /** Bytes allowed for a root file (§5.3.3 "W"). */
  rootMaxLength: number;
  /** Bytes allowed for timestamp.json (§5.4.1 "X"). */
  timestampMaxLength: number;
  /** Bytes allowed for snapshot when timestamp lists no length (§5.5.1 "Y"). */
  snapshotMaxLength: number;
  /** Bytes allowed for a targets role when snapshot lists no length (§5.6.1 "Z"). */
  targetsMaxLength: number;
}

export const DEFAULT_TUF_LIMITS: Readonly<TufClientLimits> = {
  maxRootRotations: 256,
  maxDelegations: 32,
  rootMaxLength: 512_000,
  timestampMaxLength: 16_384,
  snapshotMaxLength: 2_000_000,
  targetsMaxLength: 5_000_000,
};

export interface TufClientOptions {
  /** Where trusted metadata lives; `root.json` must be there (see `TufClient.init`). */
  metadataDir: string;
  /** Base URL of the repository's metadata, e.g. https://updates.example/repo/metadata/ */
  metadataBaseUrl: string;
  /** Base URL of its targets; needed only to download. */
  targetBaseUrl?: string;
  fetcher: MetadataFetcher;
  /** The clock; read once at the start of each refresh (§5.1). */
  now?: () => Date;
  limits?: Partial<TufClientLimits>;
  /** Progress and the reasons local metadata was not reused, for debugging. */
  log?: (message: string) => void;
}

type Signed = Root | Timestamp | Snapshot | Targets;
type Signable = Parameters<Key['verifySignature']>[0];

/** Parsed metadata together with the exact bytes it came from and its raw `signed` object. */
interface Verified<T extends Signed> {
  readonly md: Metadata<T>;
  readonly bytes: Uint8Array;
  readonly signed: Record<string, unknown>;
}

/** Who vouches for a role: the keys and threshold its delegator lists for it. */
interface Delegator {
  readonly name: string;
  readonly keys: Record<string, Key>;
  readonly keyIDs: readonly string[];
  readonly threshold: number;
}

interface DelegationStep {
  readonly role: string;
  readonly delegator: Delegator;
}

const TOP_LEVEL_ROLES = ['root', 'timestamp', 'snapshot', 'targets'] as const;
/** TUF §4.2 dates, optionally with fractional seconds (some repositories write them). */
const EXPIRES = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z$/;
/** Hash algorithms strong enough to be the only one listed for a target. */
const STRONG_HASHES: ReadonlySet<string> = new Set(['sha256', 'sha384', 'sha512', 'sha512-256', 'sha3-256', 'sha3-384', 'sha3-512', 'blake2b512']);

export class TufClient {
  private readonly dir: string;
  private readonly metadataBaseUrl: string;
  private readonly targetBaseUrl: string | undefined;
  private readonly fetcher: MetadataFetcher;
  private readonly now: () => Date;
  private readonly limits: TufClientLimits;
  private readonly log: (message: string) => void;

  /** Trusted state of the last successful refresh; undefined until then. */
  private state: { root: Verified<Root>; timestamp: Verified<Timestamp>; snapshot: Verified<Snapshot>; referenceTime: Date } | undefined;
  /** Targets roles verified during this refresh, by role name (re-checked against each delegator). */
  private readonly targetsRoles = new Map<string, Verified<Targets>>();

  constructor(options: TufClientOptions) {
    this.dir = options.metadataDir;
    this.metadataBaseUrl = withSlash(options.metadataBaseUrl);
    this.targetBaseUrl = options.targetBaseUrl === undefined ? undefined : withSlash(options.targetBaseUrl);
    this.fetcher = options.fetcher;
    this.now = options.now ?? (() => new Date());
    this.limits = { ...DEFAULT_TUF_LIMITS, ...options.limits };
    this.log = options.log ?? (() => {});
  }

  /**
   * Installs `trustedRootBytes` (shipped out of band) as the trusted root of `metadataDir`.
   * It is checked to be a root signed by its own threshold, so a client is never set up with a
   * root it would refuse on the first refresh.
   */
  static init(metadataDir: string, trustedRootBytes: Uint8Array): void {
    const root = parseMetadata(MetadataKind.Root, trustedRootBytes, 'root');
    verifySignatures(rootDelegator(root.md.signed, 'root'), root, 'root');
    mkdirSync(metadataDir, { recursive: true });
    persist(metadataDir, 'root.json', trustedRootBytes);
  }

  /** Brings root, timestamp, snapshot and top-level targets up to date (§5.1–§5.6). */
  async refresh(): Promise<void> {
    // §5.1: one reference time for every expiry check of this refresh.
    const referenceTime = this.now();
    this.state = undefined;
    this.targetsRoles.clear();
    const root = await this.updateRoot(this.loadTrustedRoot(), referenceTime);
    const timestamp = await this.updateTimestamp(root, referenceTime);
    const snapshot = await this.updateSnapshot(root, timestamp, referenceTime);
    const state = { root, timestamp, snapshot, referenceTime };
    await this.loadTargetsRole(state, 'targets', rootDelegator(root.md.signed, 'targets'));
    this.state = state;
  }

  /**
   * The trusted description (length, hashes, custom) of `targetPath`, found by the pre-order
   * depth-first search of §5.6.7. Refreshes first if this client has not refreshed successfully.
   * @throws TufError `target_not_found` when no role trusted for the path lists it
   */
  async getTargetInfo(targetPath: string): Promise<TargetFile> {
    if (this.state === undefined) await this.refresh();
    const state = this.state!;
    const visited = new Set<string>();
    const toVisit: DelegationStep[] = [{ role: 'targets', delegator: rootDelegator(state.root.md.signed, 'targets') }];
    while (toVisit.length > 0) {
      const { role, delegator } = toVisit.pop()!;
      // §5.6.7.1: skip roles already visited, so cycles end.
      if (visited.has(role)) continue;
      if (visited.size >= this.limits.maxDelegations) {
        throw new TufError(
          'delegation_limit',
          `looking for ${targetPath}, ${visited.size} targets roles were visited without an answer (the limit); the repository's delegations are too deep or cyclic`,
          { target: targetPath },
        );
      }
      const verified = await this.loadTargetsRole(state, role, delegator);
      const targets = verified.md.signed;
      visited.add(role);
      if (Object.hasOwn(targets.targets, targetPath)) return targets.targets[targetPath]!;
      // §5.6.7.2: children in order of appearance; a terminating match ends the search below it.
      const children: DelegationStep[] = [];
      for (const child of matchingDelegations(verified, role, targetPath)) {
        children.push({ role: child.role, delegator: child.delegator });
        if (child.terminating) {
          toVisit.length = 0;
          break;
        }
      }
      toVisit.push(...children.reverse());
    }
    throw new TufError('target_not_found', `no trusted targets role lists ${targetPath}; check the target name`, { target: targetPath });
  }

  /** True when `file` already holds exactly the target described by `info` (length and every hash). */
  async isTargetCached(info: TargetFile, file: string): Promise<boolean> {
    const algorithms = targetHashAlgorithms(info);
    let handle;
    try {
      handle = await open(file, 'r');
    } catch {
      return false;
    }
    try {
      const hashers = algorithms.map((a) => [a, createHash(a)] as const);
      let length = 0;
      for await (const chunk of handle.createReadStream({ autoClose: false }) as AsyncIterable<Buffer>) {
        length += chunk.length;
        if (length > info.length) return false;
        for (const [, h] of hashers) h.update(chunk);
      }
      return length === info.length && hashers.every(([a, h]) => h.digest('hex') === info.hashes[a]);
    } finally {
      await handle.close();
    }
  }

  /**
   * Downloads the target to `destFile` (§5.7): streamed to a temporary file beside it, cut off as
   * soon as it exceeds the trusted length, checked against the length and every listed hash, then
   * renamed. `destFile` is replaced only by a verified file; on any failure it is left as it was.
   */
  async downloadTarget(info: TargetFile, destFile: string): Promise<void> {
    if (this.state === undefined) await this.refresh();
    if (this.targetBaseUrl === undefined) {
      throw new TufError('fetch_failed', 'no target base URL was configured for this TUF client', { target: info.path });
    }
    const algorithms = targetHashAlgorithms(info);
    let urlPath = info.path;
    if (this.state!.root.md.signed.consistentSnapshot) {
      // §5.7 with consistent snapshots: targets are stored as <dir>/<hash>.<name>.
      const slash = urlPath.lastIndexOf('/');
      urlPath = `${urlPath.slice(0, slash + 1)}${info.hashes[algorithms[0]!]}.${urlPath.slice(slash + 1)}`;
    }
    const url = this.targetBaseUrl + urlPath.split('/').map(quote).join('/');
    mkdirSync(path.dirname(destFile), { recursive: true });
    const temp = tempPathFor(destFile);
    const handle = await open(temp, 'wx', 0o644);
    let renamed = false;
    try {
      const hashers = algorithms.map((a) => [a, createHash(a)] as const);
      let length = 0;
      for await (const chunk of this.fetcher.fetchChunks(url, info.length)) {
        length += chunk.length;
        // Endless data: never accept more than the trusted length, whatever the fetcher does.
        if (length > info.length) {
          throw new TufError('too_large', `target ${info.path} from ${url} is longer than the ${info.length} bytes its metadata lists; refused`, { target: info.path, url });
        }
        for (const [, h] of hashers) h.update(chunk);
        await handle.write(chunk);
      }
      if (length !== info.length) {
        throw new TufError('length_mismatch', `target ${info.path} from ${url} is ${length} bytes, its metadata lists ${info.length}; refused`, { target: info.path, url });
      }
      for (const [algorithm, h] of hashers) {
        const actual = h.digest('hex');
        if (actual !== info.hashes[algorithm]) {
          throw new TufError('hash_mismatch', `target ${info.path} from ${url} has ${algorithm} ${actual}, its metadata lists ${info.hashes[algorithm]}; refused`, { target: info.path, url });
        }
      }
      await handle.sync();
      await handle.close();
      renameSync(temp, destFile);
      renamed = true;
      syncDir(path.dirname(destFile));
    } finally {
      if (!renamed) {
        await handle.close().catch(() => {});
        rmSync(temp, { force: true });
      }
    }
  }

  // --- §5.2 / §5.3 root ---------------------------------------------------------------------

  private loadTrustedRoot(): Verified<Root> {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path.join(this.dir, 'root.json'));
    } catch (err) {
      throw new TufError('not_initialized', `no trusted root at ${path.join(this.dir, 'root.json')} (${errorText(err)}); initialise the client with a root shipped out of band`);
    }
    try {
      const root = parseMetadata(MetadataKind.Root, bytes, 'root');
      verifySignatures(rootDelegator(root.md.signed, 'root'), root, 'root');
      return root;
    } catch (err) {
      if (!(err instanceof TufError)) throw err;
      throw new TufError('not_initialized', `the trusted root in ${this.dir} is not usable: ${err.message}; initialise the client again with a root shipped out of band`);
    }
  }

  private async updateRoot(trustedRoot: Verified<Root>, referenceTime: Date): Promise<Verified<Root>> {
    let trusted = trustedRoot;
    // §5.3.3: at most maxRootRotations newer versions, then go on with what we have.
    for (let i = 0; i < this.limits.maxRootRotations; i++) {
      const next = trusted.md.signed.version + 1;
      let bytes: Uint8Array;
      try {
        bytes = await this.fetchMetadata(`${next}.root.json`, this.limits.rootMaxLength);
      } catch (err) {
        if (err instanceof TufError && err.code === 'not_found') break;
        throw err;
      }
      const candidate = parseMetadata(MetadataKind.Root, bytes, 'root');
      // §5.3.4: signed by a threshold of the trusted root's root keys and of its own.
      verifySignatures(rootDelegator(trusted.md.signed, 'root'), candidate, 'root', `root v${trusted.md.signed.version}`);
      verifySignatures(rootDelegator(candidate.md.signed, 'root'), candidate, 'root', 'itself');
      // §5.3.5: exactly N+1.
      const version = candidate.md.signed.version;
      if (version !== next) {
        throw new TufError(
          version < next ? 'rollback' : 'version_mismatch',
          `${next}.root.json holds root version ${version}; a root chain must not skip or repeat versions, so it is refused`,
          { role: 'root' },
        );
      }
      // §5.3.7–5.3.8: trust it and persist it as root.json.
      persist(this.dir, 'root.json', bytes);
      // §5.3.11: a new timestamp or snapshot key set is how a repository recovers from a
      // fast-forward attack; the old files must not be used for rollback checks any more.
      for (const role of rotatedRoles(trusted.md.signed, candidate.md.signed)) {
        this.log(`root v${version} rotates the ${role} keys: forgetting the trusted timestamp and snapshot (§5.3.11)`);
        rmSync(path.join(this.dir, 'timestamp.json'), { force: true });
        rmSync(path.join(this.dir, 'snapshot.json'), { force: true });
      }
      this.log(`root v${version} trusted`);
      trusted = candidate;
    }
    // §5.3.10: the newest root must not be expired (it stays persisted: the next refresh may fix it).
    assertNotExpired(trusted, 'root', referenceTime);
    return trusted;
  }

  // --- §5.4 timestamp ---------------------------------------------------------------------

  private async updateTimestamp(root: Verified<Root>, referenceTime: Date): Promise<Verified<Timestamp>> {
    const delegator = rootDelegator(root.md.signed, 'timestamp');
    // The local copy counts for rollback checks only if today's root still vouches for it.
    const trusted = this.loadLocal<Timestamp>(MetadataKind.Timestamp, 'timestamp.json', 'timestamp', delegator);
    const bytes = await this.fetchMetadata('timestamp.json', this.limits.timestampMaxLength);
    const candidate = parseMetadata(MetadataKind.Timestamp, bytes, 'timestamp');
    // §5.4.2
    verifySignatures(delegator, candidate, 'timestamp');
    if (trusted !== undefined) {
      const had = trusted.md.signed.version;
      const got = candidate.md.signed.version;
      // §5.4.3.1
      if (got < had) {
        throw new TufError('rollback', `the repository serves timestamp v${got} but v${had} is already trusted; refused as a rollback (if the repository was recovered from a fast-forward attack, it must rotate the timestamp key, §5.3.11)`, { role: 'timestamp' });
      }
      if (got === had) {
        // §5.4.3.1: the same version is normal; keep the copy we trust (even if these bytes differ).
        assertNotExpired(trusted, 'timestamp', referenceTime);
        return trusted;
      }
      // §5.4.3.2
      const hadSnapshot = trusted.md.signed.snapshotMeta.version;
      const gotSnapshot = candidate.md.signed.snapshotMeta.version;
      if (gotSnapshot < hadSnapshot) {
        throw new TufError('rollback', `timestamp v${got} names snapshot v${gotSnapshot} but snapshot v${hadSnapshot} is already trusted; refused as a rollback (a recovered repository must rotate the snapshot key, §5.3.11)`, { role: 'timestamp' });
      }
    }
    // §5.4.4
    assertNotExpired(candidate, 'timestamp', referenceTime);
    // §5.4.5
    persist(this.dir, 'timestamp.json', bytes);
    this.log(`timestamp v${candidate.md.signed.version} trusted`);
    return candidate;
  }

  // --- §5.5 snapshot ----------------------------------------------------------------------

  private async updateSnapshot(root: Verified<Root>, timestamp: Verified<Timestamp>, referenceTime: Date): Promise<Verified<Snapshot>> {
    const delegator = rootDelegator(root.md.signed, 'snapshot');
    const meta = timestamp.md.signed.snapshotMeta;
    const trusted = this.loadLocal<Snapshot>(MetadataKind.Snapshot, 'snapshot.json', 'snapshot', delegator);
    if (trusted !== undefined && this.isCurrent(trusted, meta, 'snapshot', referenceTime)) return trusted;

    const name = root.md.signed.consistentSnapshot ? `${meta.version}.snapshot.json` : 'snapshot.json';
    const bytes = await this.fetchMetadata(name, meta.length ?? this.limits.snapshotMaxLength);
    // §5.5.2: hashes (and length) from timestamp, before even parsing.
    verifyMetaFile(meta, bytes, 'snapshot');
    const candidate = parseMetadata(MetadataKind.Snapshot, bytes, 'snapshot');
    // §5.5.3
    verifySignatures(delegator, candidate, 'snapshot');
    // §5.5.4
    if (candidate.md.signed.version !== meta.version) {
      throw new TufError('version_mismatch', `timestamp names snapshot v${meta.version} but the repository served v${candidate.md.signed.version}; refused`, { role: 'snapshot' });
    }
    // §5.5.5: no targets role may go back in version or disappear.
    if (trusted !== undefined) {
      for (const [file, had] of Object.entries(trusted.md.signed.meta)) {
        const got = Object.hasOwn(candidate.md.signed.meta, file) ? candidate.md.signed.meta[file] : undefined;
        if (got === undefined) {
          throw new TufError('rollback', `snapshot v${meta.version} no longer lists ${file}, which snapshot v${trusted.md.signed.version} listed; refused as a rollback (a recovered repository must rotate the snapshot key, §5.3.11)`, { role: 'snapshot' });
        }
        if (got.version < had.version) {
          throw new TufError('rollback', `snapshot v${meta.version} lists ${file} at v${got.version}, but v${had.version} is already trusted; refused as a rollback (a recovered repository must rotate the snapshot key, §5.3.11)`, { role: 'snapshot' });
        }
      }
    }
    // §5.5.6
    assertNotExpired(candidate, 'snapshot', referenceTime);
    // §5.5.7
    persist(this.dir, 'snapshot.json', bytes);
    this.log(`snapshot v${meta.version} trusted`);
    return candidate;
  }

  // --- §5.6 targets (top-level and delegated) ---------------------------------------------

  private async loadTargetsRole(
    state: { root: Verified<Root>; snapshot: Verified<Snapshot>; referenceTime: Date }, role: string, delegator: Delegator,
  ): Promise<Verified<Targets>> {
    const cached = this.targetsRoles.get(role);
    if (cached !== undefined) {
      // Verified before in this refresh, but perhaps through another delegator: the keys that
      // count are always those of the delegation being followed now.
      verifySignatures(delegator, cached, role);
      return cached;
    }
    const file = `${role}.json`;
    const meta = Object.hasOwn(state.snapshot.md.signed.meta, file) ? state.snapshot.md.signed.meta[file] : undefined;
    if (meta === undefined) {
      throw new TufError('bad_metadata', `snapshot v${state.snapshot.md.signed.version} does not list the targets role ${role}, so it cannot be trusted; the repository must publish it in snapshot`, { role });
    }
    const localFile = `${quote(role)}.json`;
    const trusted = this.loadLocal<Targets>(MetadataKind.Targets, localFile, role, delegator);
    if (trusted !== undefined && this.isCurrent(trusted, meta, role, state.referenceTime)) {
      this.targetsRoles.set(role, trusted);
      return trusted;
    }
    const name = state.root.md.signed.consistentSnapshot ? `${meta.version}.${quote(role)}.json` : `${quote(role)}.json`;
    const bytes = await this.fetchMetadata(name, meta.length ?? this.limits.targetsMaxLength);
    // §5.6.2 (mix-and-match: only the file snapshot names is accepted)
    verifyMetaFile(meta, bytes, role);
    const candidate = parseMetadata(MetadataKind.Targets, bytes, role);
    // §5.6.3
    verifySignatures(delegator, candidate, role);
    // §5.6.4
    if (candidate.md.signed.version !== meta.version) {
      throw new TufError('version_mismatch', `snapshot names ${role} v${meta.version} but the repository served v${candidate.md.signed.version}; refused (mix-and-match)`, { role });
    }
    // §5.6.5
    assertNotExpired(candidate, role, state.referenceTime);
    // §5.6.6
    persist(this.dir, localFile, bytes);
    this.log(`${role} v${meta.version} trusted`);
    this.targetsRoles.set(role, candidate);
    return candidate;
  }

  // --- helpers ----------------------------------------------------------------------------

  /** Local metadata that `delegator` still vouches for (expiry not considered), or undefined. */
  private loadLocal<T extends Signed>(kind: MetadataKind, file: string, role: string, delegator: Delegator): Verified<T> | undefined {
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(path.join(this.dir, file));
    } catch {
      return undefined;
    }
    try {
      const local = parseMetadata(kind, bytes, role) as unknown as Verified<T>;
      verifySignatures(delegator, local, role);
      return local;
    } catch (err) {
      if (!(err instanceof TufError)) throw err;
      this.log(`local ${file} is not trusted any more: ${err.message}`);
      return undefined;
    }
  }

  /** Whether a verified local copy is exactly what its parent's meta names now, and still valid. */
  private isCurrent(local: Verified<Signed>, meta: MetaFile, role: string, referenceTime: Date): boolean {
    if (local.md.signed.version !== meta.version) return false;
    try {
      verifyMetaFile(meta, local.bytes, role);
      assertNotExpired(local, role, referenceTime);
      return true;
    } catch (err) {
      if (!(err instanceof TufError)) throw err;
      this.log(`local ${role} is not reused: ${err.message}`);
      return false;
    }
  }

  private async fetchMetadata(name: string, maxLength: number): Promise<Uint8Array> {
    const url = this.metadataBaseUrl + name;
    this.log(`fetching ${url}`);
    const bytes = await this.fetcher.fetch(url, maxLength);
    if (bytes.length > maxLength) {
      throw new TufError('too_large', `${url} is longer than the ${maxLength} bytes allowed for it; refused (endless-data attack)`, { url });
    }
    return bytes;
  }
}

// --- verification ---------------------------------------------------------------------------

function parseMetadata(kind: MetadataKind.Root, bytes: Uint8Array, role: string): Verified<Root>;
function parseMetadata(kind: MetadataKind.Timestamp, bytes: Uint8Array, role: string): Verified<Timestamp>;
function parseMetadata(kind: MetadataKind.Snapshot, bytes: Uint8Array, role: string): Verified<Snapshot>;
function parseMetadata(kind: MetadataKind.Targets, bytes: Uint8Array, role: string): Verified<Targets>;
function parseMetadata(kind: MetadataKind, bytes: Uint8Array, role: string): Verified<Signed>;
function parseMetadata(kind: MetadataKind, bytes: Uint8Array, role: string): Verified<Signed> {
  const bad = (why: string, details: TufErrorDetails = {}): TufError =>
    new TufError('bad_metadata', `${role} metadata ${why}; the repository must publish valid TUF metadata`, { role, ...details });
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch {
    throw bad('is not UTF-8 JSON');
  }
  if (!isPlainObject(json) || !isPlainObject(json.signed)) throw bad('has no "signed" object');
  let md: Metadata<Signed>;
  try {
    md = Metadata.fromJSON(kind as MetadataKind.Root, json as never) as never;
  } catch (err) {
    throw bad(`is malformed (${errorText(err)})`);
  }
  const problem = shapeProblem(md.signed, json.signed);
  if (problem !== undefined) throw bad(problem);
  return { md, bytes, signed: json.signed };
}

/**
 * What @tufjs/models accepts but TUF §4 does not: numbers that are not positive integers, dates
 * that are not dates, delegations that are ambiguous. Undefined when none.
 */
function shapeProblem(signed: Signed, raw: Record<string, unknown>): string | undefined {
  if (!isCount(signed.version, 1)) return 'has a version that is not a positive integer';
  if (!EXPIRES.test(signed.expires) || Number.isNaN(Date.parse(signed.expires))) return `has "expires" ${JSON.stringify(signed.expires)}, not a UTC date-time`;
  const metaFiles = (files: MetaFile[]): string | undefined =>
    files.some((m) => !isCount(m.version, 1) || (m.length !== undefined && !isCount(m.length, 0)))
      ? 'lists a file with a version or length that is not an integer' : undefined;
  if (isRoot(signed)) {
    for (const name of TOP_LEVEL_ROLES) {
      const r = Object.hasOwn(signed.roles, name) ? signed.roles[name] : undefined;
      if (r === undefined) return `does not define the ${name} role`;
      if (!isCount(r.threshold, 1)) return `gives ${name} a threshold that is not a positive integer`;
    }
  } else if (isTimestamp(signed)) {
    return metaFiles([signed.snapshotMeta]);
  } else if (isSnapshot(signed)) {
    return metaFiles(Object.values(signed.meta));
  } else if (isTargets(signed)) {
    for (const t of Object.values(signed.targets)) {
      if (!isCount(t.length, 0)) return `lists target ${t.path} with a length that is not an integer`;
    }
    const delegations = signed.delegations;
    if (delegations !== undefined) {
      if (delegations.roles !== undefined && delegations.succinctRoles !== undefined) return 'has both delegated roles and succinct roles';
      if (delegations.succinctRoles !== undefined && !isCount(delegations.succinctRoles.threshold, 1)) return 'has succinct roles with a threshold that is not a positive integer';
      const names = delegatedRoleNames(raw);
      if (new Set(names).size !== names.length) return 'delegates the same role name twice';
      for (const name of names) {
        const r = delegations.roles?.[name];
        if (r === undefined) return `has a delegation to ${name} that cannot be read`;
        if ((TOP_LEVEL_ROLES as readonly string[]).includes(name)) return `delegates to ${name}, the name of a top-level role`;
        if (!isCount(r.threshold, 1)) return `gives ${name} a threshold that is not a positive integer`;
        if ((r.paths === undefined) === (r.pathHashPrefixes === undefined)) return `delegates to ${name} with neither or both of paths and path_hash_prefixes`;
      }
    }
  }
  return undefined;
}

/**
 * Counts the distinct trusted keys whose signature over the metadata verifies, and refuses fewer
 * than the threshold (§5.3.4, §5.4.2, §5.5.3, §5.6.3). A key listed once counts once; duplicate
 * keyids among the signatures were already refused when parsing. Signatures are checked over the
 * canonical form of the `signed` object exactly as received, unknown fields included (§4).
 */
function verifySignatures(delegator: Delegator, metadata: Verified<Signed>, role: string, by = delegator.name): void {
  const signable = { signatures: metadata.md.signatures, signed: { toJSON: () => metadata.signed } } as unknown as Signable;
  let valid = 0;
  for (const keyID of delegator.keyIDs) {
    if (!Object.hasOwn(delegator.keys, keyID) || !Object.hasOwn(metadata.md.signatures, keyID)) continue;
    try {
      delegator.keys[keyID]!.verifySignature(signable);
      valid++;
    } catch {
      // A bad or unverifiable signature just does not count.
    }
  }
  if (valid < delegator.threshold) {
    throw new TufError(
      'signature_threshold',
      `${role} v${metadata.md.signed.version} has valid signatures from ${valid} of the keys ${by} trusts for it, ${delegator.threshold} needed; refused (wrong or compromised keys)`,
      { role, valid, threshold: delegator.threshold },
    );
  }
}

/** Length and every hash the parent lists for a metadata file (§5.5.2, §5.6.2). */
function verifyMetaFile(meta: MetaFile, bytes: Uint8Array, role: string): void {
  if (meta.length !== undefined && bytes.length !== meta.length) {
    throw new TufError('length_mismatch', `${role} metadata is ${bytes.length} bytes, its parent lists ${meta.length}; refused (mix-and-match)`, { role });
  }
  for (const [algorithm, expected] of Object.entries(meta.hashes ?? {})) {
    const actual = digest(algorithm, bytes, role);
    if (actual !== expected) {
      throw new TufError('hash_mismatch', `${role} metadata has ${algorithm} ${actual}, its parent lists ${expected}; refused (mix-and-match)`, { role });
    }
  }
}

function digest(algorithm: string, bytes: Uint8Array, role: string): string {
  try {
    return createHash(algorithm).update(bytes).digest('hex');
  } catch {
    throw new TufError('unsupported_hash', `${role} is listed with hash algorithm ${algorithm}, which this client cannot compute; refused`, { role });
  }
}

/** The hash algorithms to check for a target: all it lists, one of them strong (§5.7.1). */
function targetHashAlgorithms(info: TargetFile): string[] {
  const algorithms = Object.keys(info.hashes);
  for (const a of algorithms) {
    try {
      createHash(a);
    } catch {
      throw new TufError('unsupported_hash', `target ${info.path} is listed with hash algorithm ${a}, which this client cannot compute; it cannot be verified, so it is refused`, { target: info.path });
    }
  }
  if (!algorithms.some((a) => STRONG_HASHES.has(a))) {
    throw new TufError('unsupported_hash', `target ${info.path} lists no hash this client accepts alone (${[...STRONG_HASHES].join(', ')}); refused`, { target: info.path });
  }
  return algorithms;
}

function assertNotExpired(metadata: Verified<Signed>, role: string, referenceTime: Date): void {
  const { expires, version } = metadata.md.signed;
  if (Date.parse(expires) <= referenceTime.getTime()) {
    throw new TufError(
      'expired',
      `${role} v${version} expired at ${expires} (reference time ${referenceTime.toISOString()}); refused as a possible freeze attack — the repository must publish fresh metadata (or check this device's clock)`,
      { role, expires },
    );
  }
}

// --- delegations ----------------------------------------------------------------------------

function rootDelegator(root: Root, role: string): Delegator {
  const r = root.roles[role]!;
  return { name: `root v${root.version}`, keys: root.keys, keyIDs: r.keyIDs, threshold: r.threshold };
}

/** The top-level roles whose keys differ between two roots, among timestamp and snapshot. */
function rotatedRoles(before: Root, after: Root): string[] {
  return ['timestamp', 'snapshot'].filter((role) => {
    const a = before.roles[role]!;
    const b = after.roles[role]!;
    if (a.keyIDs.length !== b.keyIDs.length) return true;
    return a.keyIDs.some((id) => !b.keyIDs.includes(id) || !Object.hasOwn(after.keys, id) || !Object.hasOwn(before.keys, id) || !before.keys[id]!.equals(after.keys[id]!));
  });
}

/** Delegated role names in order of appearance (the models keep them in a record). */
function delegatedRoleNames(rawSigned: Record<string, unknown>): string[] {
  const delegations = rawSigned.delegations;
  if (!isPlainObject(delegations) || !Array.isArray(delegations.roles)) return [];
  return delegations.roles.map((r: unknown) => (isPlainObject(r) && typeof r.name === 'string' ? r.name : ''));
}

/** The delegations of `targets` that are trusted for `targetPath`, in order of appearance (§5.6.7.2). */
function* matchingDelegations(
  verified: Verified<Targets>, delegatorRole: string, targetPath: string,
): Generator<{ role: string; terminating: boolean; delegator: Delegator }> {
  const targets = verified.md.signed;
  const delegations = targets.delegations;
  if (delegations === undefined) return;
  const name = `${delegatorRole} v${targets.version}`;
  if (delegations.succinctRoles !== undefined) {
    const s = delegations.succinctRoles;
    yield { role: s.getRoleForTarget(targetPath), terminating: true, delegator: { name, keys: delegations.keys, keyIDs: s.keyIDs, threshold: s.threshold } };
    return;
  }
  const roles = delegations.roles ?? {};
  for (const roleName of delegatedRoleNames(verified.signed)) {
    const r = roles[roleName]!;
    const trusted = r.paths !== undefined
      ? r.paths.some((pattern) => pathMatches(pattern, targetPath))
      : (r.pathHashPrefixes ?? []).some((prefix) => createHash('sha256').update(targetPath).digest('hex').startsWith(prefix));
    if (trusted) yield { role: roleName, terminating: r.terminating, delegator: { name, keys: delegations.keys, keyIDs: r.keyIDs, threshold: r.threshold } };
  }
}

/**
 * TUF §4.5 PATHPATTERN: shell-style wildcards matched segment by segment, so `*` and `?` never
 * cross a `/`, and the number of segments must agree (as python-tuf's fnmatch per segment).
 * Case-sensitive; `*` also matches names that start with a dot.
 */
export function pathMatches(pattern: string, targetPath: string): boolean {
  const patternParts = pattern.split('/');
  const pathParts = targetPath.split('/');
  if (patternParts.length !== pathParts.length) return false;
  return patternParts.every((p, i) => segmentRegExp(p).test(pathParts[i]!));
}

function segmentRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      let j = i + 1;
      if (pattern[j] === '!') j++;
      if (pattern[j] === ']') j++;
      while (j < pattern.length && pattern[j] !== ']') j++;
      if (j >= pattern.length) {
        source += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, j);
      const negate = body.startsWith('!');
      if (negate) body = body.slice(1);
      source += `[${negate ? '^' : ''}${body.replace(/[\\\]^]/g, (m) => `\\${m}`)}]`;
      i = j;
    } else source += c.replace(/[.+^${}()|\\\]]/g, (m) => `\\${m}`);
  }
  return new RegExp(`^${source}$`, 's');
}

// --- files and names ------------------------------------------------------------------------

/** RFC 3986 percent-encoding of everything but unreserved characters (as Python's quote(s, '')). */
export function quote(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Write to a temporary file, fsync, rename over `name`, fsync the directory. */
function persist(dir: string, name: string, bytes: Uint8Array): void {
  const file = path.join(dir, name);
  const temp = tempPathFor(file);
  try {
    const fd = openSync(temp, 'wx', 0o644);
    try {
      writeSync(fd, bytes);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(temp, file);
  } catch (err) {
    rmSync(temp, { force: true });
    throw new TufError('storage_failed', `could not write ${file}: ${errorText(err)}; check the disk and the directory's permissions`);
  }
  syncDir(dir);
}

function syncDir(dir: string): void {
  try {
    const fd = openSync(dir, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
  } catch {
    // Not every platform can fsync a directory; the rename is still atomic.
  }
}

/** A hidden sibling that never ends in `.json` (so it is never mistaken for metadata). */
function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`);
}

// --- small guards ---------------------------------------------------------------------------

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function isCount(n: unknown, min: number): boolean {
  return typeof n === 'number' && Number.isSafeInteger(n) && n >= min;
}

function isPlainObject(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isRoot(s: Signed): s is Root {
  return (s as Root).type === MetadataKind.Root;
}
function isTimestamp(s: Signed): s is Timestamp {
  return (s as Timestamp).type === MetadataKind.Timestamp;
}
function isSnapshot(s: Signed): s is Snapshot {
  return (s as Snapshot).type === MetadataKind.Snapshot;
}
function isTargets(s: Signed): s is Targets {
  return (s as Targets).type === MetadataKind.Targets;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
