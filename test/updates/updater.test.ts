/**
 * The guardian's updater against the server's director: real site PKI, real signed instructions,
 * real bundle archives and A/B slot folders on disk. The image source is the only stand-in (a
 * folder of verified files): TUF verification itself is tested in packages/guardian/test/updates.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DIRECTOR_CERT_NAME, decodeUpdateStatus, encodeUpdateStatus, type BundleManifest, type InstructedImage, type UpdateStatus } from '@shellguard/protocol';
import {
  SlotStore, Updater, extractBundleArchive, initialSlotState, readBundleManifest, writeBundleArchive, type ImageSource,
} from '@shellguard/guardian';
import { Director, SqlDirectorStore, initPki } from '@shellguard/server';
import { migrateServerDatabase, openSqliteSqlDatabase } from '@shellguard/server/testing';

const DEVICE = 'a'.repeat(64);
const logger = pino({ level: 'silent' });

function bundle(version: string, extra: Record<string, string> = {}, manifestOverride: Partial<BundleManifest> = {}): Buffer {
  const manifest: BundleManifest = {
    product: 'shellguard-guardian', stream: 'application', version, components: [{ component: 'guardian-bundle', digest: createHash('sha256').update(version).digest('hex') }], platform: 'linux-x64', nodeAbi: process.versions.modules,
    ...manifestOverride,
  };
  return writeBundleArchive([
    { name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) },
    { name: 'guardian.mjs', data: Buffer.from(`export const version = '${version}';\n`) },
    ...Object.entries(extra).map(([name, data]) => ({ name, data: Buffer.from(data) })),
  ]);
}

/** Verified files by sha256: what the TUF client hands over after checking length and hashes. */
class FolderImageSource implements ImageSource {
  readonly files = new Map<string, Buffer>();
  fetches = 0;
  add(bytes: Buffer): { length: number; sha256: string } {
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    this.files.set(sha256, bytes);
    return { length: bytes.length, sha256 };
  }
  fetchVerified(image: InstructedImage, destFile: string): Promise<BundleManifest> {
    this.fetches++;
    const bytes = this.files.get(image.sha256);
    if (!bytes || bytes.length !== image.length) return Promise.reject(Object.assign(new Error(`${image.targetName} is not a genuine target`), { code: 'target_not_found' }));
    writeFileSync(destFile, bytes);
    return Promise.resolve(readBundleManifest(bytes));
  }
}

describe('Updater (director instruction → A/B slot → health → commit or roll back)', () => {
  let dir: string;
  let slots: SlotStore;
  let images: FolderImageSource;
  let director: Director;
  let otherSigner: Director;
  let updater: Updater;
  let statuses: UpdateStatus[];
  let restarts: string[];
  let sent: Buffer[];
  let rootPem: string;
  let closeDatabase: (() => Promise<void>) | undefined;

  beforeEach(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'sg-updater-'));
    const pki = await initPki(path.join(dir, 'ca'));
    rootPem = pki.rootPem;
    const dirCert = await pki.issueServerCertificate({ hostnames: [DIRECTOR_CERT_NAME], ips: [], validityDays: 30 });
    const tlsCert = await pki.issueServerCertificate({ hostnames: ['server.example'], ips: ['127.0.0.1'], validityDays: 30 });
    sent = [];
    const database = openSqliteSqlDatabase(path.join(dir, 'server.db'));
    closeDatabase = () => database.close();
    await migrateServerDatabase(database);
    const publish = (_t: string, p: Buffer): Promise<void> => { sent.push(p); return Promise.resolve(); };
    director = new Director({ store: new SqlDirectorStore(database.db), chainPem: dirCert.chainPem, keyPem: dirCert.keyPem, publish, now: Date.now, logger });
    otherSigner = new Director({ store: new SqlDirectorStore(database.db), chainPem: tlsCert.chainPem, keyPem: tlsCert.keyPem, publish, now: Date.now, logger });
    slots = new SlotStore(path.join(dir, 'state'), path.join(dir, 'slots'));
    slots.write(initialSlotState({ application: '1.0.0', platform: '1.0.0' }));
    mkdirSync(slots.slotsDir, { recursive: true });
    extractBundleArchive(bundle('1.0.0'), slots.slotDir('application', 'a'));
    images = new FolderImageSource();
    statuses = [];
    restarts = [];
    updater = newUpdater();
  });
  afterEach(async () => {
    await closeDatabase?.();
    rmSync(dir, { recursive: true, force: true });
  });

  function newUpdater(): Updater {
    return new Updater({
      deviceId: DEVICE, slots, images, rootCaPem: rootPem, workDir: path.join(dir, 'work'), logger,
      platform: { platform: 'linux-x64', nodeAbi: process.versions.modules },
      // Through the wire format, as the server will read it.
      report: (s) => statuses.push(decodeUpdateStatus(encodeUpdateStatus(s))),
      restart: (why) => restarts.push(why),
      unpack: (file, into) => {
        extractBundleArchive(readFileSync(file), into);
        return Promise.resolve(JSON.parse(readFileSync(path.join(into, 'manifest.json'), 'utf8')) as BundleManifest);
      },
    });
  }

  function image(version: string, bytes: Buffer): InstructedImage {
    return { stream: 'application', product: 'shellguard-guardian', targetName: `shellguard-guardian-app-${version}.tar.gz`, version, ...images.add(bytes) };
  }

  async function instruct(img: InstructedImage, installNow = true, by = director): Promise<void> {
    await by.instruct(DEVICE, { deploymentId: 'dep-1', images: [img], healthWindowSeconds: 600, installNow });
    await updater.onInstruction(sent.at(-1) as Buffer);
  }

  it('installs a newer release into the other slot, restarts into it, and commits when healthy', async () => {
    await instruct(image('1.1.0', bundle('1.1.0')));
    expect(statuses.map((s) => s.state)).toEqual(['downloading', 'installed']);
    expect(restarts).toHaveLength(1);
    let app = slots.read().streams.application;
    expect(app).toMatchObject({ active: 'b', committed: 'a', trial: 'b' });
    expect(readFileSync(path.join(slots.slotDir('application', 'b'), 'guardian.mjs'), 'utf8')).toContain('1.1.0');
    // The restart: the launcher counts the boot, then the new code proves itself.
    slots.bootSelect(Date.now());
    updater = newUpdater();
    await updater.afterBoot(() => Promise.resolve());
    app = slots.read().streams.application;
    expect(app).toMatchObject({ active: 'b', committed: 'b', trial: null });
    expect(statuses.at(-1)).toMatchObject({ state: 'healthy', running: '1.1.0', target: '1.1.0' });
  });

  it('rolls back by itself when the health check fails, says why, and does not try the same release again', async () => {
    await instruct(image('1.1.0', bundle('1.1.0')));
    slots.bootSelect(Date.now());
    updater = newUpdater();
    await updater.afterBoot(() => Promise.reject(new Error('attestation refused: measurements_mismatch')));
    expect(slots.read().streams.application).toMatchObject({ active: 'a', committed: 'a', trial: null });
    expect(statuses.at(-1)).toMatchObject({ state: 'rolled_back', running: '1.0.0', target: '1.1.0' });
    expect(statuses.at(-1)?.reason).toContain('measurements_mismatch');
    expect(restarts).toHaveLength(2);
    // The director says it again (e.g. on reconnect): the device reports the rollback, it does not loop.
    const fetches = images.fetches;
    await director.resend(DEVICE);
    await updater.onInstruction(sent.at(-1) as Buffer);
    await instruct(image('1.1.0', bundle('1.1.0')));
    expect(images.fetches).toBe(fetches);
    expect(statuses.at(-1)).toMatchObject({ state: 'rolled_back', running: '1.0.0' });
  });

  it('abandons a trial that keeps crashing before its health check', async () => {
    await instruct(image('1.1.0', bundle('1.1.0')));
    for (let i = 0; i < 3; i++) expect(slots.bootSelect(Date.now()).rolledBack).toEqual([]);
    expect(slots.bootSelect(Date.now()).rolledBack).toEqual(['application']);
    expect(slots.read().streams.application).toMatchObject({ active: 'a', committed: 'a', trial: null });
    updater = newUpdater();
    await updater.afterBoot(() => Promise.resolve());
    expect(statuses.at(-1)).toMatchObject({ state: 'rolled_back', target: '1.1.0' });
    expect(statuses.at(-1)?.reason).toContain('did not start');
  });

  it('refuses an older release, and an instruction replayed or for another device', async () => {
    await instruct(image('0.9.0', bundle('0.9.0')));
    expect(statuses.at(-1)).toMatchObject({ state: 'refused' });
    expect(statuses.at(-1)?.reason).toContain('older');
    const before = statuses.length;
    await director.instruct('b'.repeat(64), { deploymentId: 'dep-1', images: [image('1.2.0', bundle('1.2.0'))], healthWindowSeconds: 60, installNow: true });
    await updater.onInstruction(sent.at(-1) as Buffer);
    expect(statuses.length).toBe(before);
    expect(slots.read().streams.application.trial).toBeNull();
  });

  it('refuses instructions not signed by the director certificate, or tampered with', async () => {
    await instruct(image('1.1.0', bundle('1.1.0')), true, otherSigner);
    expect(statuses).toEqual([]);
    await director.instruct(DEVICE, { deploymentId: 'dep-1', images: [image('1.1.0', bundle('1.1.0'))], healthWindowSeconds: 60, installNow: true });
    const env = JSON.parse((sent.at(-1) as Buffer).toString()) as { signed: { images: { version: string }[] } };
    (env.signed.images[0] as { version: string }).version = '9.9.9';
    await updater.onInstruction(Buffer.from(JSON.stringify(env)));
    expect(statuses).toEqual([]);
    expect(slots.read().streams.application).toMatchObject({ active: 'a', trial: null });
  });

  it('refuses a bundle whose signed manifest is not the instructed release, and leaves the slots as they were', async () => {
    await instruct(image('1.1.0', bundle('1.1.0', {}, { version: '1.2.0' })));
    expect(statuses.at(-1)).toMatchObject({ state: 'refused' });
    expect(statuses.at(-1)?.reason).toContain('manifest_mismatch');
    expect(slots.read().streams.application).toMatchObject({ active: 'a', committed: 'a', trial: null });
    expect(existsSync(slots.slotDir('application', 'b'))).toBe(false);
  });

  it('outside a maintenance window only downloads; installs from the download when told to', async () => {
    const img = image('1.1.0', bundle('1.1.0'));
    await instruct(img, false);
    expect(statuses.at(-1)).toMatchObject({ state: 'downloaded' });
    expect(slots.read().streams.application.trial).toBeNull();
    await instruct(img, true);
    expect(images.fetches).toBe(1);
    expect(statuses.at(-1)).toMatchObject({ state: 'installed' });
  });
});
