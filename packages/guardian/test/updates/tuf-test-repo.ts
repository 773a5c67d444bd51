/**
 * A TUF repository for the client's tests: metadata built and signed with @tufjs/models, real
 * Ed25519 keys from node:crypto, served by a real HTTP(S) server on 127.0.0.1. Tests play the
 * repository (publish, rotate keys, delegate) and the attacker (sign with the wrong keys, expire,
 * roll back, replace bytes, send endless data) through the same object.
 *
 *   const repo = await TufTestRepo.start();
 *   repo.addTarget('app.tgz', bytes);
 *   repo.publish('targets', 'snapshot', 'timestamp');
 */
import { createHash, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Metadata, MetadataKind, Signature } from '@tufjs/models';
import { canonicalJson } from '@shellguard/protocol';

export interface TestKey {
  readonly keyid: string;
  readonly privateKey: KeyObject;
  /** The key as it appears in root or delegations `keys`. */
  readonly json: { keytype: 'ed25519'; scheme: 'ed25519'; keyval: { public: string } };
}

export function newTestKey(): TestKey {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const raw = publicKey.export({ format: 'der', type: 'spki' }).subarray(-32);
  const json = { keytype: 'ed25519' as const, scheme: 'ed25519' as const, keyval: { public: raw.toString('hex') } };
  // TUF §4.2: a keyid is the SHA-256 of the canonical JSON of the public key.
  const keyid = createHash('sha256').update(canonicalJson(json)).digest('hex');
  return { keyid, privateKey, json };
}

export const DAY_MS = 86_400_000;
export const TOP_ROLES = ['root', 'timestamp', 'snapshot', 'targets'] as const;
export type TopRole = (typeof TOP_ROLES)[number];

interface RoleKeys {
  /** Keys listed for the role by its delegator. */
  keys: TestKey[];
  threshold: number;
  /** Keys that actually sign the next publication (defaults to `keys`). */
  signers?: TestKey[];
}

export interface Delegation {
  name: string;
  paths?: string[];
  pathHashPrefixes?: string[];
  terminating?: boolean;
  threshold?: number;
}

interface TargetsRoleState {
  version: number;
  expires: Date;
  targets: Map<string, { length: number; hashes: Record<string, string>; custom?: Record<string, unknown> }>;
  delegations: { delegation: Delegation; keys: RoleKeys }[];
}

export interface PublishOptions {
  /** Sign with these keys instead of the role's signers (e.g. the wrong ones, or old + new root keys). */
  signWith?: TestKey[];
  /** Publish this version instead of the next one. */
  version?: number;
}

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void;

export interface StartOptions {
  consistentSnapshot?: boolean;
  /** List length and sha256 of snapshot in timestamp and of targets roles in snapshot. */
  metaHashes?: boolean;
  /** Serve over https with this certificate; `ca` + `requestCert` demand a client certificate. */
  tls?: { key: string; cert: string; ca?: string; requestCert?: boolean };
  now?: Date;
}

export class TufTestRepo {
  readonly roles: Record<TopRole, RoleKeys>;
  readonly expires: Record<'root' | 'timestamp' | 'snapshot', Date>;
  readonly versions: Record<'root' | 'timestamp' | 'snapshot', number> = { root: 0, timestamp: 0, snapshot: 0 };
  readonly targetsRoles = new Map<string, TargetsRoleState>();
  /** Content served for each target path (tests may replace it without touching metadata). */
  readonly content = new Map<string, Buffer>();
  /** Every path requested, e.g. `/metadata/2.root.json`, in order. */
  readonly requests: string[] = [];
  consistentSnapshot: boolean;
  metaHashes: boolean;

  private readonly files = new Map<string, Buffer>();
  private readonly overrides = new Map<string, Handler>();
  private readonly server: http.Server;
  private baseUrl = '';

  private constructor(options: StartOptions) {
    const now = options.now ?? new Date();
    const inDays = (d: number): Date => new Date(Math.floor(now.getTime() / 1000) * 1000 + d * DAY_MS);
    this.consistentSnapshot = options.consistentSnapshot ?? true;
    this.metaHashes = options.metaHashes ?? false;
    this.roles = {
      root: { keys: [newTestKey()], threshold: 1 },
      timestamp: { keys: [newTestKey()], threshold: 1 },
      snapshot: { keys: [newTestKey()], threshold: 1 },
      targets: { keys: [newTestKey()], threshold: 1 },
    };
    this.expires = { root: inDays(365), timestamp: inDays(1), snapshot: inDays(7) };
    this.targetsRoles.set('targets', { version: 0, expires: inDays(90), targets: new Map(), delegations: [] });
    const handler: Handler = (req, res) => this.handle(req, res);
    this.server = options.tls
      ? https.createServer({ ...options.tls, ...(options.tls.requestCert ? { rejectUnauthorized: true } : {}) }, handler)
      : http.createServer(handler);
  }

  /** A repository with one key per top-level role, every role published at version 1. */
  static async start(options: StartOptions = {}): Promise<TufTestRepo> {
    const repo = new TufTestRepo(options);
    await new Promise<void>((resolve) => repo.server.listen(0, '127.0.0.1', resolve));
    const { port } = repo.server.address() as AddressInfo;
    repo.baseUrl = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    repo.publish('root', 'targets', 'snapshot', 'timestamp');
    return repo;
  }

  get metadataUrl(): string {
    return `${this.baseUrl}/metadata/`;
  }

  get targetsUrl(): string {
    return `${this.baseUrl}/targets/`;
  }

  /** The bytes of root version `version` (what a client is initialised with). */
  rootBytes(version = 1): Buffer {
    return this.files.get(`metadata/${version}.root.json`)!;
  }

  /** The bytes currently served at `metadata/<name>`. */
  metadataBytes(name: string): Buffer | undefined {
    return this.files.get(`metadata/${name}`);
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  // --- the repository's side -------------------------------------------------------------

  addTarget(targetPath: string, data: Buffer, role = 'targets'): void {
    const hashes = { sha256: createHash('sha256').update(data).digest('hex') };
    this.targetsRole(role).targets.set(targetPath, { length: data.length, hashes });
    this.content.set(targetPath, data);
  }

  /** Delegates from `delegator` to a new targets role with its own fresh key. */
  addDelegation(delegator: string, delegation: Delegation): TestKey {
    const key = newTestKey();
    this.targetsRole(delegator).delegations.push({ delegation, keys: { keys: [key], threshold: delegation.threshold ?? 1 } });
    const expires = this.targetsRole('targets').expires;
    if (!this.targetsRoles.has(delegation.name)) this.targetsRoles.set(delegation.name, { version: 0, expires, targets: new Map(), delegations: [] });
    return key;
  }

  targetsRole(name: string): TargetsRoleState {
    const state = this.targetsRoles.get(name);
    if (state === undefined) throw new Error(`test repository has no targets role ${name}`);
    return state;
  }

  /** Replaces a top-level role's keys with `count` fresh ones (root must then be published). */
  rotateKeys(role: TopRole, count = 1, threshold = 1): TestKey[] {
    const keys = Array.from({ length: count }, () => newTestKey());
    this.roles[role] = { keys, threshold };
    return keys;
  }

  setExpires(role: string, expires: Date): void {
    if (role === 'root' || role === 'timestamp' || role === 'snapshot') this.expires[role] = expires;
    else this.targetsRole(role).expires = expires;
  }

  /** Signs and serves the next version of each role, in the order given. */
  publish(...roles: string[]): void {
    for (const role of roles) this.publishRole(role);
  }

  publishRole(role: string, options: PublishOptions = {}): Buffer {
    let signed: Record<string, unknown>;
    let kind: MetadataKind;
    let signers: TestKey[];
    const common = (version: number, expires: Date) => ({ spec_version: '1.0.31', version, expires: expires.toISOString().replace(/\.\d{3}Z$/, 'Z') });
    if (role === 'root' || role === 'timestamp' || role === 'snapshot') {
      const version = options.version ?? this.versions[role] + 1;
      this.versions[role] = version;
      kind = role as MetadataKind;
      signers = this.roles[role].signers ?? this.roles[role].keys;
      if (role === 'root') {
        const keys: Record<string, unknown> = {};
        const roles: Record<string, unknown> = {};
        for (const r of TOP_ROLES) {
          for (const k of this.roles[r].keys) keys[k.keyid] = k.json;
          roles[r] = { keyids: this.roles[r].keys.map((k) => k.keyid), threshold: this.roles[r].threshold };
        }
        signed = { _type: 'root', ...common(version, this.expires.root), consistent_snapshot: this.consistentSnapshot, keys, roles };
      } else if (role === 'timestamp') {
        const snapshotFile = this.files.get(`metadata/${this.versions.snapshot}.snapshot.json`);
        signed = { _type: 'timestamp', ...common(version, this.expires.timestamp), meta: { 'snapshot.json': this.metaFile(this.versions.snapshot, snapshotFile) } };
      } else {
        const meta: Record<string, unknown> = {};
        for (const [name, state] of this.targetsRoles) {
          if (state.version === 0) continue;
          meta[`${name}.json`] = this.metaFile(state.version, this.files.get(`metadata/${state.version}.${name}.json`));
        }
        signed = { _type: 'snapshot', ...common(version, this.expires.snapshot), meta };
      }
    } else {
      const state = this.targetsRole(role);
      state.version = options.version ?? state.version + 1;
      kind = MetadataKind.Targets;
      signers = role === 'targets' ? (this.roles.targets.signers ?? this.roles.targets.keys) : this.delegatedKeys(role);
      const targets: Record<string, unknown> = {};
      for (const [p, t] of state.targets) targets[p] = { length: t.length, hashes: t.hashes, ...(t.custom ? { custom: t.custom } : {}) };
      signed = { _type: 'targets', ...common(state.version, state.expires), targets };
      if (state.delegations.length > 0) {
        const keys: Record<string, unknown> = {};
        for (const d of state.delegations) for (const k of d.keys.keys) keys[k.keyid] = k.json;
        signed.delegations = {
          keys,
          roles: state.delegations.map(({ delegation: d, keys: k }) => ({
            name: d.name, keyids: k.keys.map((x) => x.keyid), threshold: k.threshold, terminating: d.terminating ?? false,
            ...(d.pathHashPrefixes ? { path_hash_prefixes: d.pathHashPrefixes } : { paths: d.paths ?? ['*'] }),
          })),
        };
      }
    }
    const md = Metadata.fromJSON(kind as MetadataKind.Root, { signed, signatures: [] } as never);
    for (const key of options.signWith ?? signers) md.sign(signerFor(key));
    const bytes = Buffer.from(JSON.stringify(md.toJSON(), null, 1));
    this.serveMetadata(role, (md.signed as { version: number }).version, bytes);
    return bytes;
  }

  /** Serves `bytes` as version `version` of `role`, wherever a client would look for it. */
  serveMetadata(role: string, version: number, bytes: Buffer): void {
    const name = role;
    if (role !== 'timestamp') this.files.set(`metadata/${version}.${name}.json`, bytes);
    if (role !== 'root') this.files.set(`metadata/${name}.json`, bytes);
  }

  /** Stops serving a metadata file (as if never published). */
  unserve(name: string): void {
    this.files.delete(`metadata/${name}`);
  }

  // --- the attacker's side ---------------------------------------------------------------

  /** Answers `urlPath` (e.g. `/metadata/timestamp.json`) with `handler` instead. */
  override(urlPath: string, handler: Handler): void {
    this.overrides.set(urlPath, handler);
  }

  /** Makes `urlPath` send data forever (endless-data attack) until the client hangs up. */
  serveEndless(urlPath: string): { bytesSent: () => number } {
    let sent = 0;
    this.override(urlPath, (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const chunk = Buffer.alloc(64 * 1024, 0x7b);
      const pump = (): void => {
        while (!res.destroyed && res.write(chunk)) sent += chunk.length;
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => res.removeAllListeners('drain'));
      pump();
    });
    return { bytesSent: () => sent };
  }

  private delegatedKeys(role: string): TestKey[] {
    for (const state of this.targetsRoles.values()) {
      const d = state.delegations.find((x) => x.delegation.name === role);
      if (d) return d.keys.signers ?? d.keys.keys;
    }
    throw new Error(`no delegation to ${role}`);
  }

  private metaFile(version: number, bytes: Buffer | undefined): Record<string, unknown> {
    if (!this.metaHashes || bytes === undefined) return { version };
    return { version, length: bytes.length, hashes: { sha256: createHash('sha256').update(bytes).digest('hex') } };
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const urlPath = req.url ?? '/';
    this.requests.push(urlPath);
    const override = this.overrides.get(urlPath);
    if (override) return override(req, res);
    const relative = decodeURIComponent(urlPath.slice(1));
    const body = relative.startsWith('targets/') ? this.targetBody(relative.slice('targets/'.length)) : this.files.get(relative);
    if (body === undefined) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-length': body.length }).end(body);
  }

  private targetBody(requested: string): Buffer | undefined {
    const slash = requested.lastIndexOf('/');
    let name = requested;
    if (this.consistentSnapshot) {
      const file = requested.slice(slash + 1);
      const dot = file.indexOf('.');
      if (dot < 0) return undefined;
      name = requested.slice(0, slash + 1) + file.slice(dot + 1);
    }
    return this.content.get(name);
  }
}

function signerFor(key: TestKey): (data: Buffer) => Signature {
  return (data) => new Signature({ keyID: key.keyid, sig: sign(null, data, key.privateKey).toString('hex') });
}
