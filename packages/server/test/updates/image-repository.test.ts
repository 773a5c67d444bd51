/**
 * The image repository on the real store (SQLite, target files on disk), real online keys on disk and fake time: what it
 * publishes verifies like a TUF client would verify it, and what a client would refuse is refused.
 */
import { chmodSync, mkdtempSync, readdirSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ManualClock } from '@shellguard/protocol/testing';
import { Readable } from 'node:stream';
import { Metadata, MetadataKind, type Targets } from '@tufjs/models';
import type { SqlDatabase } from '../../src/db/sql-database.ts';
import { runSqlMigrations } from '../../src/db/sql-migrations.ts';
import { openSqliteSqlDatabase } from '../../src/db/sqlite-sql-database.ts';
import { FileTargetBlobs } from '../../src/updates/file-target-blobs.ts';
import { IMAGE_REPOSITORY_MIGRATIONS } from '../../src/updates/image-repository-schema.ts';
import { ImageRepository } from '../../src/updates/image-repository.ts';
import { OnlineKeyDirectory } from '../../src/updates/online-keys.ts';
import { SqlImageRepositoryStore } from '../../src/updates/sql-image-repository-store.ts';
import {
  DAY, T0, buildRoot, buildTargets, bundle, json, manifest, offlineKey, signed, type OfflineKey,
} from './tuf-fixture.ts';

const P = 'shellguard-guardian';
const S = 'application';
const HOUR = 3_600_000;

interface Setup {
  database: SqlDatabase;
  repo: ImageRepository;
  keys: OnlineKeyDirectory;
  keyDir: string;
  clock: ManualClock;
  root1: OfflineKey;
  root2: OfflineKey;
  t1: OfflineKey;
  t2: OfflineKey;
}

async function setup(): Promise<Setup> {
  const dir = mkdtempSync(path.join(tmpdir(), 'sg-imagerepo-'));
  const database = openSqliteSqlDatabase(path.join(dir, 'db.sqlite'));
  await runSqlMigrations(database, 'image-repository', IMAGE_REPOSITORY_MIGRATIONS);
  const keyDir = path.join(dir, 'tuf-online-keys');
  const keys = OnlineKeyDirectory.open(keyDir);
  const clock = new ManualClock(T0);
  const repo = new ImageRepository({
    store: new SqlImageRepositoryStore(database.db, { engine: database.engine, blobs: new FileTargetBlobs(path.join(dir, 'tuf-targets')) }),
    keys, clock, refreshIntervalMs: HOUR,
  });
  return { database, repo, keys, keyDir, clock, root1: offlineKey(), root2: offlineKey(), t1: offlineKey(), t2: offlineKey() };
}

async function served(repo: ImageRepository, file: string): Promise<Record<string, never>> {
  const text = await repo.metadataFile(P, S, file);
  if (text === undefined) throw new Error(`${file} is not served`);
  return JSON.parse(text) as Record<string, never>;
}

/** What a TUF client does from a trusted root (TUF §5.4-5.6, signatures and the hashes that bind the chain). */
async function verifyChain(repo: ImageRepository, rootVersion: number): Promise<Metadata<Targets>> {
  const root = Metadata.fromJSON(MetadataKind.Root, await served(repo, `${rootVersion}.root.json`));
  const timestampText = (await repo.metadataFile(P, S, 'timestamp.json'))!;
  const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, JSON.parse(timestampText) as Record<string, never>);
  root.verifyDelegate('timestamp', timestamp);
  const snapshotText = (await repo.metadataFile(P, S, `${timestamp.signed.snapshotMeta.version}.snapshot.json`))!;
  timestamp.signed.snapshotMeta.verify(Buffer.from(snapshotText));
  const snapshot = Metadata.fromJSON(MetadataKind.Snapshot, JSON.parse(snapshotText) as Record<string, never>);
  root.verifyDelegate('snapshot', snapshot);
  const targetsMeta = snapshot.signed.meta['targets.json']!;
  const targetsText = (await repo.metadataFile(P, S, `${targetsMeta.version}.targets.json`))!;
  targetsMeta.verify(Buffer.from(targetsText));
  const targets = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(targetsText) as Record<string, never>);
  root.verifyDelegate('targets', targets);
  return targets;
}

describe('ImageRepository', () => {
  let s: Setup;
  beforeEach(async () => {
    s = await setup();
  });
  afterEach(async () => {
    await s.repo.stop();
    await s.database.close();
  });
  const rootSpec = (over: Partial<Parameters<typeof buildRoot>[0]> = {}) => ({ root: [s.root1], targets: [s.t1], online: s.keys.proposed(), ...over });
  const init = () => s.repo.initialise(P, S, json(signed(buildRoot(rootSpec()), s.root1)));

  describe('initialise', () => {
    it('creates a repository from a self-signed 1.root.json naming the server\'s online keys, and serves it', async () => {
      const detail = await init();
      expect(detail).toMatchObject({
        product: P, stream: S, targets: [], targetsTrusted: true, onlineKeys: s.keys.proposed(),
        roles: {
          root: { version: 1, threshold: 1, keyids: [s.root1.pub.keyid] },
          targets: { version: null, keyids: [s.t1.pub.keyid] },
          snapshot: { version: null, keyids: [s.keys.proposed().snapshot.keyid] },
          timestamp: { version: null },
        },
      });
      const root = Metadata.fromJSON(MetadataKind.Root, await served(s.repo, '1.root.json'));
      root.verifyDelegate('root', root);
      expect(await s.repo.metadataFile(P, S, 'timestamp.json')).toBeUndefined();
      expect(await s.repo.metadataFile(P, 'platform', '1.root.json')).toBeUndefined();
      expect((await s.repo.repositories()).map((r) => `${r.product}/${r.stream}`)).toEqual([`${P}/${S}`]);
    });

    it('refuses a second initialisation of the same repository', async () => {
      await init();
      await expect(init()).rejects.toMatchObject({ code: 'repository_exists' });
    });

    it('refuses roots that break the profile, each with what to do', async () => {
      const attempt = (spec: Partial<Parameters<typeof buildRoot>[0]>, ...keys: OfflineKey[]) =>
        s.repo.initialise(P, S, json(signed(buildRoot(rootSpec(spec)), ...(keys.length ? keys : [s.root1]))));
      await expect(attempt({ version: 2 })).rejects.toMatchObject({ code: 'root_version_not_next' });
      await expect(attempt({ consistentSnapshot: false })).rejects.toMatchObject({ code: 'root_invalid', message: expect.stringContaining('consistent_snapshot') });
      await expect(attempt({ online: { snapshot: offlineKey().pub, timestamp: s.keys.proposed().timestamp } }))
        .rejects.toMatchObject({ code: 'root_online_keys', message: expect.stringContaining('snapshot') });
      await expect(attempt({ expires: T0 - 1000 })).rejects.toMatchObject({ code: 'metadata_expired' });
      await expect(attempt({ root: [s.root1, s.root2], rootThreshold: 2 })).rejects.toMatchObject({ code: 'signature_threshold' });
      await expect(attempt({ root: [s.root1], rootThreshold: 2 })).rejects.toMatchObject({ code: 'root_invalid' });
      await expect(s.repo.initialise(P, S, { signed: { _type: 'targets' }, signatures: [] })).rejects.toMatchObject({ code: 'metadata_invalid' });
      await expect(s.repo.initialise(P, 'beta', json(signed(buildRoot(rootSpec()), s.root1)))).rejects.toMatchObject({ code: 'repository_id_invalid' });
      expect(await s.repo.repositories()).toEqual([]);
    });

    it('refuses a root whose targets role names an online key (the server must never hold offline keys)', async () => {
      const root = buildRoot(rootSpec({ targetsKeyIds: [s.keys.proposed().snapshot.keyid] }));
      await expect(s.repo.initialise(P, S, json(signed(root, s.root1)))).rejects.toMatchObject({ code: 'root_online_keys', message: expect.stringContaining('targets') });
    });

    it('refuses a key listed under an id that is not its SHA-256 (one key must not count twice)', async () => {
      const root = json(signed(buildRoot(rootSpec()), s.root1)) as { signed: { keys: Record<string, unknown>; roles: { targets: { keyids: string[] } } } };
      const alias = 'f'.repeat(64);
      root.signed.keys[alias] = root.signed.keys[s.t1.pub.keyid];
      root.signed.roles.targets.keyids.push(alias);
      const md = Metadata.fromJSON(MetadataKind.Root, root as unknown as Record<string, never>);
      md.signatures = {};
      await expect(s.repo.initialise(P, S, json(signed(md, s.root1)))).rejects.toMatchObject({ code: 'root_invalid', message: expect.stringContaining('TUF §4.2') });
    });
  });

  describe('acceptTargets', () => {
    beforeEach(async () => {
      await init();
    });

    it('publishes targets signed offline with their files, then a snapshot and timestamp that chain to them', async () => {
      const b = bundle('guardian-1.2.0.tgz', '1.2.0');
      const detail = await s.repo.acceptTargets(P, S, json(signed(buildTargets(1, [b]), s.t1)), [{ name: b.name, bytes: b.bytes }]);
      expect(detail.roles).toMatchObject({ targets: { version: 1 }, snapshot: { version: 1, expires: '2026-04-08T09:00:00Z' }, timestamp: { version: 1, expires: '2026-04-02T09:00:00Z' } });
      const listed = await s.repo.listTargets(P, S);
      expect(listed).toEqual([{ name: b.name, length: 1024, sha256: expect.stringMatching(/^[0-9a-f]{64}$/), custom: manifest('1.2.0') }]);
      const targets = await verifyChain(s.repo, 1);
      expect(Object.keys(targets.signed.targets)).toEqual([b.name]);
      const file = await s.repo.targetFile(P, S, `${listed[0]!.sha256}.${b.name}`);
      expect(file?.length).toBe(1024);
      const chunks: Buffer[] = [];
      for await (const c of file!.stream) chunks.push(c as Buffer);
      await targets.signed.targets[b.name]!.verify(Readable.from([Buffer.concat(chunks)]));
      expect(await s.repo.targetFile(P, S, `${'0'.repeat(64)}.${b.name}`)).toBeUndefined();
      expect(await s.repo.targetFile(P, 'platform', `${listed[0]!.sha256}.${b.name}`)).toBeUndefined();
    });

    it('accepts a next version that keeps an earlier target without its file, and refuses one not above the current', async () => {
      const a = bundle('guardian-1.2.0.tgz', '1.2.0');
      const b = bundle('guardian-1.3.0.tgz', '1.3.0');
      await s.repo.acceptTargets(P, S, json(signed(buildTargets(1, [a]), s.t1)), [{ name: a.name, bytes: a.bytes }]);
      const second = await s.repo.acceptTargets(P, S, json(signed(buildTargets(2, [a, b]), s.t1)), [{ name: b.name, bytes: b.bytes }]);
      expect(second.roles).toMatchObject({ targets: { version: 2 }, snapshot: { version: 2 }, timestamp: { version: 2 } });
      expect(second.targets.map((t) => t.custom.version)).toEqual(['1.2.0', '1.3.0']);
      await verifyChain(s.repo, 1);
      await expect(s.repo.acceptTargets(P, S, json(signed(buildTargets(2, [a, b]), s.t1)), []))
        .rejects.toMatchObject({ code: 'version_not_increasing', message: expect.stringContaining('sign version 3') });
      await expect(s.repo.acceptTargets(P, S, json(signed(buildTargets(1, [a]), s.t1)), [])).rejects.toMatchObject({ code: 'version_not_increasing' });
    });

    it('refuses targets not signed by a threshold of the trusted targets keys', async () => {
      const a = bundle('guardian-1.2.0.tgz', '1.2.0');
      const file = [{ name: a.name, bytes: a.bytes }];
      await expect(s.repo.acceptTargets(P, S, json(signed(buildTargets(1, [a]), s.t2)), file))
        .rejects.toMatchObject({ code: 'signature_threshold', details: { valid: 0, threshold: 1 } });
      // A signature over other content under the right key id does not count.
      const other = signed(buildTargets(1, [bundle('x.tgz', '9.9.9')]), s.t1);
      const forged = json(buildTargets(1, [a])) as { signatures: unknown };
      forged.signatures = (json(other) as { signatures: unknown }).signatures;
      await expect(s.repo.acceptTargets(P, S, forged, file)).rejects.toMatchObject({ code: 'signature_threshold' });
      expect((await s.repo.describe(P, S)).roles.targets.version).toBeNull();
    });

    it('refuses files that do not match, are missing or are not named, and targets whose manifest is wrong', async () => {
      const a = bundle('guardian-1.2.0.tgz', '1.2.0');
      const up = (t: ReturnType<typeof buildTargets>, files: { name: string; bytes: Buffer }[]) => s.repo.acceptTargets(P, S, json(signed(t, s.t1)), files);
      await expect(up(buildTargets(1, [a]), [{ name: a.name, bytes: Buffer.concat([a.bytes, Buffer.from('x')]) }])).rejects.toMatchObject({ code: 'target_file_mismatch' });
      await expect(up(buildTargets(1, [a]), [{ name: a.name, bytes: Buffer.alloc(1024, 'z') }])).rejects.toMatchObject({ code: 'target_file_mismatch', message: expect.stringContaining('sha256') });
      await expect(up(buildTargets(1, [a]), [])).rejects.toMatchObject({ code: 'target_file_missing' });
      await expect(up(buildTargets(1, [a]), [{ name: a.name, bytes: a.bytes }, { name: 'other.tgz', bytes: a.bytes }])).rejects.toMatchObject({ code: 'target_file_unexpected' });
      await expect(up(buildTargets(1, [{ ...a, custom: manifest('1.2.0', 'platform') }]), [{ name: a.name, bytes: a.bytes }])).rejects.toMatchObject({ code: 'target_repository_mismatch' });
      await expect(up(buildTargets(1, [{ ...a, custom: manifest('1.2.0', S, 'other-product') }]), [{ name: a.name, bytes: a.bytes }])).rejects.toMatchObject({ code: 'target_repository_mismatch' });
      await expect(up(buildTargets(1, [{ ...a, custom: { ...manifest('1.2.0'), version: 'latest' } }]), [{ name: a.name, bytes: a.bytes }])).rejects.toMatchObject({ code: 'target_manifest_invalid' });
      await expect(up(buildTargets(1, [{ ...a, name: 'dir/guardian.tgz' }]), [])).rejects.toMatchObject({ code: 'target_invalid' });
      await expect(up(buildTargets(1, [a], T0 - 1), [{ name: a.name, bytes: a.bytes }])).rejects.toMatchObject({ code: 'metadata_expired' });
      expect((await s.repo.describe(P, S)).roles.targets.version).toBeNull();
    });

    it('refuses targets for a repository that does not exist', async () => {
      await expect(s.repo.acceptTargets(P, 'platform', json(signed(buildTargets(1, []), s.t1)), [])).rejects.toMatchObject({ code: 'repository_not_found' });
    });
  });

  describe('rotateRoot', () => {
    beforeEach(async () => {
      await init();
      const a = bundle('guardian-1.2.0.tgz', '1.2.0');
      await s.repo.acceptTargets(P, S, json(signed(buildTargets(1, [a]), s.t1)), [{ name: a.name, bytes: a.bytes }]);
    });

    it('accepts version 2 signed by the old and the new root keys, re-signing snapshot and timestamp with new online keys (TUF §5.3.4, §5.3.11)', async () => {
      const oldOnline = s.keys.proposed();
      const online = s.keys.rotate();
      expect(online.snapshot.keyid).not.toBe(oldOnline.snapshot.keyid);
      const root2 = signed(buildRoot(rootSpec({ version: 2, root: [s.root2], online })), s.root1, s.root2);
      const detail = await s.repo.rotateRoot(P, S, json(root2));
      expect(detail.roles).toMatchObject({ root: { version: 2, keyids: [s.root2.pub.keyid] }, snapshot: { version: 2, keyids: [online.snapshot.keyid] }, timestamp: { version: 2 } });
      // A client walking 1 -> 2 verifies 2 against 1 and against itself, then the rest against 2.
      const root1 = Metadata.fromJSON(MetadataKind.Root, await served(s.repo, '1.root.json'));
      const served2 = Metadata.fromJSON(MetadataKind.Root, await served(s.repo, '2.root.json'));
      root1.verifyDelegate('root', served2);
      served2.verifyDelegate('root', served2);
      await verifyChain(s.repo, 2);
      expect(detail.targetsTrusted).toBe(true);
    });

    it('refuses a new root without a threshold of the trusted root keys, or of its own, or not the next version', async () => {
      const next = (over: Partial<Parameters<typeof buildRoot>[0]>) => buildRoot(rootSpec({ version: 2, root: [s.root2], ...over }));
      await expect(s.repo.rotateRoot(P, S, json(signed(next({}), s.root2)))).rejects.toMatchObject({ code: 'signature_threshold', message: expect.stringContaining('trusted root') });
      await expect(s.repo.rotateRoot(P, S, json(signed(next({}), s.root1)))).rejects.toMatchObject({ code: 'signature_threshold', message: expect.stringContaining('own') });
      await expect(s.repo.rotateRoot(P, S, json(signed(next({ version: 3 }), s.root1, s.root2)))).rejects.toMatchObject({ code: 'root_version_not_next' });
      await expect(s.repo.rotateRoot(P, S, json(signed(next({ version: 1 }), s.root1, s.root2)))).rejects.toMatchObject({ code: 'root_version_not_next' });
      expect((await s.repo.describe(P, S)).roles.root.version).toBe(1);
    });

    it('says when the published targets no longer verify under a root with new targets keys', async () => {
      const detail = await s.repo.rotateRoot(P, S, json(signed(buildRoot(rootSpec({ version: 2, targets: [s.t2] })), s.root1)));
      expect(detail.targetsTrusted).toBe(false);
      const a = bundle('guardian-1.2.0.tgz', '1.2.0');
      await expect(s.repo.acceptTargets(P, S, json(signed(buildTargets(2, [a]), s.t1)), [])).rejects.toMatchObject({ code: 'signature_threshold' });
      expect((await s.repo.acceptTargets(P, S, json(signed(buildTargets(2, [a]), s.t2)), [])).targetsTrusted).toBe(true);
    });
  });

  describe('timestamp and snapshot refresh', () => {
    beforeEach(async () => {
      await init();
      const a = bundle('guardian-1.2.0.tgz', '1.2.0');
      await s.repo.acceptTargets(P, S, json(signed(buildTargets(1, [a]), s.t1)), [{ name: a.name, bytes: a.bytes }]);
    });
    const versions = async () => {
      const r = (await s.repo.describe(P, S)).roles;
      return { snapshot: r.snapshot.version, timestamp: r.timestamp.version, timestampExpires: r.timestamp.expires };
    };

    it('re-signs the timestamp once less than half its day is left, on the injected clock', async () => {
      // A refresh at start, then hourly: up to 12 h, half the day is still left.
      s.repo.start();
      await s.clock.advanceAsync(12 * HOUR);
      await s.repo.stop(); // waits for the refreshes the timer started
      expect(await versions()).toMatchObject({ snapshot: 1, timestamp: 1 });
      s.repo.start();
      await s.clock.advanceAsync(HOUR);
      await s.repo.stop();
      expect(await versions()).toEqual({ snapshot: 1, timestamp: 2, timestampExpires: '2026-04-02T22:00:00Z' });
      await verifyChain(s.repo, 1);
      expect(s.clock.dueTimes()).toEqual([]);
    });

    it('re-signs the snapshot (and a timestamp naming it) once less than half its week is left', async () => {
      s.clock.setTime(T0 + 3 * DAY);
      expect(await s.repo.refreshExpiring()).toBe(1);
      expect(await versions()).toMatchObject({ snapshot: 1, timestamp: 2 });
      s.clock.setTime(T0 + 4 * DAY);
      expect(await s.repo.refreshExpiring()).toBe(1);
      expect(await versions()).toMatchObject({ snapshot: 2, timestamp: 3 });
      const chainTargets = await verifyChain(s.repo, 1);
      expect(chainTargets.signed.version).toBe(1);
      expect(await s.repo.refreshExpiring()).toBe(0);
    });
  });
});

describe('OnlineKeyDirectory', () => {
  it('keeps the online keys in files only the server can read, and finds them again after a restart', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'sg-onlinekeys-')), 'keys');
    const keys = OnlineKeyDirectory.open(dir);
    const proposed = keys.proposed();
    expect(readdirSync(dir).sort()).toEqual([`${proposed.snapshot.keyid}.key`, `${proposed.timestamp.keyid}.key`, 'proposed.json'].sort());
    if (process.platform !== 'win32') {
      for (const f of readdirSync(dir)) expect(statSync(path.join(dir, f)).mode & 0o777).toBe(0o600);
      expect(statSync(dir).mode & 0o777).toBe(0o700);
    }
    const again = OnlineKeyDirectory.open(dir);
    expect(again.proposed()).toEqual(proposed);
    expect(again.privateKey(proposed.snapshot.keyid)?.asymmetricKeyType).toBe('ed25519');
    expect(again.privateKey('0'.repeat(64))).toBeUndefined();
  });

  it('keeps the old keys after a rotation, so the trusted root can still be served until a new root names the new ones', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'sg-onlinekeys-')), 'keys');
    const keys = OnlineKeyDirectory.open(dir);
    const first = keys.proposed();
    const second = keys.rotate();
    expect(OnlineKeyDirectory.open(dir).proposed()).toEqual(second);
    expect(keys.privateKey(first.timestamp.keyid)).toBeDefined();
  });

  it.skipIf(process.platform === 'win32')('refuses a key file others can read', () => {
    const dir = path.join(mkdtempSync(path.join(tmpdir(), 'sg-onlinekeys-')), 'keys');
    const { snapshot } = OnlineKeyDirectory.open(dir).proposed();
    chmodSync(path.join(dir, `${snapshot.keyid}.key`), 0o644);
    expect(() => OnlineKeyDirectory.open(dir)).toThrow(expect.objectContaining({ code: 'online_key_permissions' }));
  });
});
