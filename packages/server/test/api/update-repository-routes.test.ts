/**
 * The image repository routes over real HTTPS: release engineers manage repositories with tokens
 * and roles, guardians read /tuf with their operational certificates as TLS client certificates,
 * and callers without a certificate (browsers, the CLI) are unaffected by the listener asking for one.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import type { FastifyInstance } from 'fastify';
import { Metadata, MetadataKind } from '@tufjs/models';
import { deviceIdFromPublicKey } from '@shellguard/protocol';
import { ManualClock } from '@shellguard/protocol/testing';
import { openDatabase, type SqliteDatabase } from '../../src/db/database.ts';
import { sqliteTelemetryStore } from '../../src/testing/index.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { SqlSiteRegistry } from '../../src/registry/sql-site-registry.ts';
import { openTestApiTokens } from '../auth/test-api-tokens.ts';
import type { SqlAuditLog } from '../../src/audit/sql-audit-log.ts';
import { openTestAuditLog } from '../audit/test-audit-log.ts';
import { buildApi } from '../../src/api/build-api.ts';
import { initPki, type Pki } from '../../src/pki/index.ts';
import { ImageRepository } from '../../src/updates/image-repository.ts';
import { OnlineKeyDirectory } from '../../src/updates/online-keys.ts';
import { SqlImageRepositoryStore } from '../../src/updates/sql-image-repository-store.ts';
import { FileTargetBlobs } from '../../src/updates/file-target-blobs.ts';
import { IMAGE_REPOSITORY_MIGRATIONS } from '../../src/updates/image-repository-schema.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { T0, buildRoot, buildTargets, bundle, json, offlineKey, signed, type BundleSpec } from '../updates/tuf-fixture.ts';
import { httpsRequest, selfSignedCertificate, type HttpsResponse } from './https-client.ts';

const P = 'shellguard-guardian';
const S = 'application';
const TUF = `/api/v1/tuf/${P}/${S}`;

let dir: string;
let db: SqliteDatabase;
let app: FastifyInstance;
let port: number;
let serverCa: string;
let pki: Pki;
let keys: OnlineKeyDirectory;
let audit: SqlAuditLog;
let admin: string;
let engineer: string;
let viewer: string;
const allowedSerials = new Set<string>();
const rootKey = offlineKey();
const rootKey2 = offlineKey();
const targetsKey = offlineKey();
const targetsKey2 = offlineKey();

function call(method: 'GET' | 'POST', url: string, options: { token?: string; body?: unknown; cert?: string; key?: string } = {}): Promise<HttpsResponse> {
  const body = options.body === undefined ? undefined : JSON.stringify(options.body);
  return httpsRequest(port, serverCa, url, {
    method,
    headers: {
      ...(options.token ? { authorization: `Bearer ${options.token}` } : {}),
      ...(body !== undefined ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}),
    },
    ...(options.cert ? { cert: options.cert, key: options.key } : {}),
    ...(body !== undefined ? { body } : {}),
  });
}

/** A guardian key and a certificate for it from the site PKI (operational unless said otherwise). */
async function guardianCertificate(kind: 'operational' | 'identity' = 'operational') {
  const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  const device = { deviceId: deviceIdFromPublicKey(pair.publicKey), publicKey: pair.publicKey };
  const cert = kind === 'operational'
    ? await pki.signOperationalCertificate(device, { validityHours: 24 })
    : await pki.issueIdentityCertificate(device, { validityHours: 24 });
  return { cert: cert.chainPem, key: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string, serial: cert.serial, deviceId: device.deviceId };
}

const upload = (b: BundleSpec) => ({ name: b.name, content: b.bytes.toString('base64') });

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-tuf-routes-'));
  pki = await initPki(path.join(dir, 'ca'));
  db = openDatabase(':memory:');
  const database = openSqliteSqlDatabase(db);
  audit = await openTestAuditLog(database);
  const tokens = await openTestApiTokens(database);
  admin = (await tokens.create('release admin', 'admin')).token;
  engineer = (await tokens.create('release engineer', 'engineer')).token;
  viewer = (await tokens.create('dashboard', 'viewer')).token;
  keys = OnlineKeyDirectory.open(path.join(dir, 'tuf-online-keys'));
  // Metadata expiries are fixture time; TLS certificates are checked by node:tls at the real time.
  await runSqlMigrations(database, 'image-repository', IMAGE_REPOSITORY_MIGRATIONS);
  const store = new SqlImageRepositoryStore(database.db, { engine: database.engine, blobs: new FileTargetBlobs(path.join(dir, 'tuf-targets')) });
  const repository = new ImageRepository({ store, keys, clock: new ManualClock(T0) });
  const tls = selfSignedCertificate();
  serverCa = tls.certPem;
  app = buildApi({
    store: await sqliteTelemetryStore(db), registry: new SqlSiteRegistry(openSqliteSqlDatabase(db).db, 'sqlite'), tokens, logger: pino({ level: 'silent' }), audit,
    tls: { ...tls, clientCaPems: [pki.rootPem] },
    updates: { repository, rotateOnlineKeys: () => keys.rotate(), isDeviceAllowed: (_id, serial) => allowedSerials.has(serial) },
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  port = (app.server.address() as { port: number }).port;
});
afterAll(async () => {
  await app?.close();
  db?.close();
});

describe('image repository routes', () => {
  const root1 = () => json(signed(buildRoot({ root: [rootKey], targets: [targetsKey, targetsKey2], targetsThreshold: 2, online: keys.proposed() }), rootKey));

  it('creates a repository from a signed root (admin only), shows it with its online keys, and audits it', async () => {
    const online = await call('GET', '/api/v1/updates/online-keys', { token: engineer });
    expect(online.status).toBe(200);
    expect(JSON.parse(online.body)).toEqual({ onlineKeys: JSON.parse(JSON.stringify(keys.proposed())) });
    expect((await call('POST', '/api/v1/updates/repositories', { token: engineer, body: { product: P, stream: S, root: root1() } })).status).toBe(403);
    const created = await call('POST', '/api/v1/updates/repositories', { token: admin, body: { product: P, stream: S, root: root1() } });
    expect(created.status).toBe(201);
    expect(JSON.parse(created.body).repository).toMatchObject({ product: P, stream: S, roles: { root: { version: 1 }, targets: { threshold: 2, version: null } }, targets: [] });
    const again = await call('POST', '/api/v1/updates/repositories', { token: admin, body: { product: P, stream: S, root: root1() } });
    expect([again.status, JSON.parse(again.body).error.code]).toEqual([409, 'repository_exists']);
    expect((await audit.list({ actionPrefix: 'update.' })).map((e) => [e.action, e.target])).toEqual([['update.repository.init', `tuf:${P}/${S}`]]);
    const list = await call('GET', '/api/v1/updates/repositories', { token: viewer });
    expect(JSON.parse(list.body).repositories.map((r: { stream: string }) => r.stream)).toEqual([S]);
  });

  it('refuses targets below the threshold with 403, and publishes a 30 MB bundle signed by two keys', async () => {
    const big: BundleSpec = { ...bundle('guardian-1.2.0.tgz', '1.2.0'), bytes: Buffer.alloc(30 * 1024 * 1024, 7) };
    const one = await call('POST', `/api/v1/updates/repositories/${P}/${S}/targets`, { token: engineer, body: { targets: json(signed(buildTargets(1, [big]), targetsKey)), files: [upload(big)] } });
    expect([one.status, JSON.parse(one.body).error.code]).toEqual([403, 'signature_threshold']);
    expect(JSON.parse(one.body).error.message).toContain('1 valid signature');
    const viewerTry = await call('POST', `/api/v1/updates/repositories/${P}/${S}/targets`, { token: viewer, body: { targets: {}, files: [] } });
    expect(viewerTry.status).toBe(403);
    const published = await call('POST', `/api/v1/updates/repositories/${P}/${S}/targets`, {
      token: engineer, body: { targets: json(signed(buildTargets(1, [big]), targetsKey, targetsKey2)), files: [upload(big)] },
    });
    expect(published.status).toBe(200);
    const sha256 = createHash('sha256').update(big.bytes).digest('hex');
    expect(JSON.parse(published.body).repository.targets).toEqual([{ name: big.name, length: big.bytes.length, sha256, custom: big.custom }]);
    const file = await call('GET', `${TUF}/targets/${sha256}.${big.name}`, { token: viewer });
    expect(file.status).toBe(200);
    expect(file.headers['content-length']).toBe(String(big.bytes.length));
    expect(createHash('sha256').update(file.body, 'utf8').digest('hex')).toBe(sha256); // bytes are 0x07: utf8 round-trips
    const stale = await call('POST', `/api/v1/updates/repositories/${P}/${S}/targets`, {
      token: engineer, body: { targets: json(signed(buildTargets(1, [big]), targetsKey, targetsKey2)), files: [] },
    });
    expect([stale.status, JSON.parse(stale.body).error.code]).toEqual([409, 'version_not_increasing']);
  });

  it('serves metadata to token holders, 404 for what is absent, 401 without credentials', async () => {
    const ts = await call('GET', `${TUF}/metadata/timestamp.json`, { token: viewer });
    expect(ts.status).toBe(200);
    expect(ts.headers['cache-control']).toBe('no-store');
    const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, JSON.parse(ts.body));
    const root = Metadata.fromJSON(MetadataKind.Root, JSON.parse((await call('GET', `${TUF}/metadata/1.root.json`, { token: viewer })).body));
    root.verifyDelegate('timestamp', timestamp);
    expect((await call('GET', `${TUF}/metadata/9.root.json`, { token: viewer })).status).toBe(404);
    expect((await call('GET', `${TUF}/metadata/2.timestamp.json`, { token: viewer })).status).toBe(404);
    expect((await call('GET', `/api/v1/tuf/${P}/platform/metadata/1.root.json`, { token: viewer })).status).toBe(404);
    expect((await call('GET', `${TUF}/metadata/timestamp.json`)).status).toBe(401);
  });

  it('lets a guardian read /tuf with its operational certificate, and nothing else with it', async () => {
    const g = await guardianCertificate();
    allowedSerials.add(g.serial);
    const ts = await call('GET', `${TUF}/metadata/timestamp.json`, { cert: g.cert, key: g.key });
    expect(ts.status).toBe(200);
    const target = JSON.parse((await call('GET', `/api/v1/updates/repositories/${P}/${S}`, { token: viewer })).body).repository.targets[0];
    const file = await call('GET', `${TUF}/targets/${target.sha256}.${target.name}`, { cert: g.cert, key: g.key });
    expect([file.status, file.headers['content-length']]).toEqual([200, String(target.length)]);
    // The certificate opens the repository's read routes only.
    expect((await call('GET', '/api/v1/updates/repositories', { cert: g.cert, key: g.key })).status).toBe(401);
    expect((await call('GET', '/api/v1/health', { cert: g.cert, key: g.key })).status).toBe(401);
    expect((await call('POST', `/api/v1/updates/repositories/${P}/${S}/root`, { cert: g.cert, key: g.key, body: { root: root1() } })).status).toBe(401);
  });

  it('refuses a guardian whose certificate the fleet revoked, one without the operational policy, and one from another CA', async () => {
    const revoked = await guardianCertificate();
    expect((await call('GET', `${TUF}/metadata/timestamp.json`, { cert: revoked.cert, key: revoked.key })).status).toBe(401);
    const identity = await guardianCertificate('identity');
    allowedSerials.add(identity.serial);
    expect((await call('GET', `${TUF}/metadata/timestamp.json`, { cert: identity.cert, key: identity.key })).status).toBe(401);
    const otherPki = await initPki(path.join(dir, 'other-ca'));
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const foreign = await otherPki.signOperationalCertificate({ deviceId: deviceIdFromPublicKey(pair.publicKey), publicKey: pair.publicKey }, { validityHours: 24 });
    allowedSerials.add(foreign.serial);
    const res = await call('GET', `${TUF}/metadata/timestamp.json`, { cert: foreign.chainPem, key: pair.privateKey.export({ format: 'pem', type: 'pkcs8' }) as string });
    expect(res.status).toBe(401);
  });

  it('rotates the root (admin only) to one signed by the old and new root keys, and audits it', async () => {
    const root2 = json(signed(buildRoot({
      version: 2, root: [rootKey2], targets: [targetsKey, targetsKey2], targetsThreshold: 2, online: keys.proposed(),
    }), rootKey, rootKey2));
    expect((await call('POST', `/api/v1/updates/repositories/${P}/${S}/root`, { token: engineer, body: { root: root2 } })).status).toBe(403);
    const onlyNew = json(signed(buildRoot({ version: 2, root: [rootKey2], targets: [targetsKey], online: keys.proposed() }), rootKey2));
    const refused = await call('POST', `/api/v1/updates/repositories/${P}/${S}/root`, { token: admin, body: { root: onlyNew } });
    expect([refused.status, JSON.parse(refused.body).error.code]).toEqual([403, 'signature_threshold']);
    const rotated = await call('POST', `/api/v1/updates/repositories/${P}/${S}/root`, { token: admin, body: { root: root2 } });
    expect(rotated.status).toBe(200);
    expect(JSON.parse(rotated.body).repository.roles.root).toMatchObject({ version: 2, keyids: [rootKey2.pub.keyid] });
    expect((await audit.list({ actionPrefix: 'update.root' })).map((e) => e.action)).toEqual(['update.root.rotate']);
    const bad = await call('POST', `/api/v1/updates/repositories/${P}/${S}/root`, { token: admin, body: { root: { signed: { _type: 'root' }, signatures: [] } } });
    expect([bad.status, JSON.parse(bad.body).error.code]).toEqual([400, 'metadata_invalid']);
  });

  it('proposes new online keys on rotation (admin only), audited', async () => {
    expect((await call('POST', '/api/v1/updates/online-keys/rotate', { token: engineer })).status).toBe(403);
    const before = keys.proposed();
    const res = await call('POST', '/api/v1/updates/online-keys/rotate', { token: admin });
    expect(res.status).toBe(200);
    expect(JSON.parse(res.body).onlineKeys.snapshot.keyid).not.toBe(before.snapshot.keyid);
    expect((await audit.list({ actionPrefix: 'update.online_keys' })).length).toBe(1);
  });
});
