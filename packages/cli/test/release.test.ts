/**
 * `shellguard release` against a real server started in-process (site PKI, HTTPS, SQLite): keys
 * made and used only here, metadata signed here, and what the server then serves over /tuf
 * verifies with @tufjs/models from the trusted root.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { Metadata, MetadataKind, type Root, type Targets } from '@tufjs/models';
import { initPki, startServer, type ServerHandle } from '@shellguard/server';
import type { BundleManifest } from '@shellguard/protocol';
import { createApiClient, type ApiClient } from '../src/api-client.ts';
import { cosign, generateReleaseKey, initRepository, rotateRoot, signRelease, uploadPending } from '../src/commands/release.ts';

class Buffered {
  text = '';
  write(s: string) { this.text += s; }
}

const P = 'shellguard-guardian';
let dir: string;
let server: ServerHandle;
let client: ApiClient;
const out = new Buffered();
const file = (name: string) => path.join(dir, name);
const parse = (text: string) => JSON.parse(text) as Parameters<typeof Metadata.fromJSON>[1];

function bundleFiles(stream: 'application' | 'platform', version: string, size = 64 * 1024): { file: string; manifest: string } {
  const manifest: BundleManifest = {
    product: P, stream, version, platform: 'linux-x64', nodeAbi: '115',
    components: [{ component: stream === 'application' ? 'guardian-bundle' : 'runtime', digest: createHash('sha256').update(`${stream} ${version}`).digest('hex') }],
  };
  const bundle = file(`${P}-${stream}-${version}.tgz`);
  writeFileSync(bundle, Buffer.alloc(size, `${stream}-${version}`));
  writeFileSync(file(`${stream}-${version}.manifest.json`), JSON.stringify(manifest));
  return { file: bundle, manifest: file(`${stream}-${version}.manifest.json`) };
}

/** What a TUF client checks, from a trusted root (TUF §5.3-5.6): root chain, then timestamp, snapshot and targets with their hashes. */
async function verifyFromTrustedRoot(stream: string, trustedRoot: Metadata<Root>): Promise<Metadata<Targets>> {
  const base = `/tuf/${P}/${stream}/metadata`;
  let root = trustedRoot;
  for (;;) {
    let text: string;
    try {
      text = await client.getText(`${base}/${root.signed.version + 1}.root.json`);
    } catch (err) {
      if ((err as { status?: number }).status === 404) break;
      throw err;
    }
    const next = Metadata.fromJSON(MetadataKind.Root, parse(text));
    root.verifyDelegate('root', next); // §5.3.4: by the trusted root's keys
    next.verifyDelegate('root', next); // and by its own
    expect(next.signed.version).toBe(root.signed.version + 1); // §5.3.5
    root = next;
  }
  const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, parse(await client.getText(`${base}/timestamp.json`)));
  root.verifyDelegate('timestamp', timestamp);
  const snapshotText = await client.getText(`${base}/${timestamp.signed.snapshotMeta.version}.snapshot.json`);
  timestamp.signed.snapshotMeta.verify(Buffer.from(snapshotText));
  const snapshot = Metadata.fromJSON(MetadataKind.Snapshot, parse(snapshotText));
  root.verifyDelegate('snapshot', snapshot);
  const meta = snapshot.signed.meta['targets.json']!;
  const targetsText = await client.getText(`${base}/${meta.version}.targets.json`);
  meta.verify(Buffer.from(targetsText));
  const targets = Metadata.fromJSON(MetadataKind.Targets, parse(targetsText));
  root.verifyDelegate('targets', targets);
  for (const md of [root, timestamp, snapshot, targets]) expect(md.signed.isExpired()).toBe(false);
  return targets;
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'sg-cli-release-'));
  await initPki(path.join(dir, 'ca'));
  server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, { logger: pino({ level: 'silent' }) });
  writeFileSync(file('site-root.pem'), server.rootPem);
  client = createApiClient({ server: `https://127.0.0.1:${server.apiPort}`, token: server.adminToken!, ca: file('site-root.pem') });
  for (const k of ['root-a', 'root-b', 'targets-a', 'targets-b', 'targets-c']) generateReleaseKey(out, file(`${k}.key`));
});
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('shellguard release keygen', () => {
  it('writes an ed25519 private key only its owner can read, its public key, and prints the key id', () => {
    const log = new Buffered();
    const pub = generateReleaseKey(log, file('extra.key'));
    expect(log.text).toContain(`keyid ${pub.keyid}`);
    if (process.platform !== 'win32') expect(statSync(file('extra.key')).mode & 0o777).toBe(0o600);
    expect(readFileSync(file('extra.key.pub'), 'utf8')).toContain('BEGIN PUBLIC KEY');
    expect(() => generateReleaseKey(log, file('extra.key'))).toThrow(expect.objectContaining({ code: 'release_key_exists' }));
  });
});

describe('shellguard release against a running server', () => {
  let trustedRoot: Metadata<Root>;

  it('initialises a repository, signs a release, and a second release bumps the targets version', async () => {
    await initRepository(client, out, {
      product: P, stream: 'application', rootKey: [file('root-a.key')], rootThreshold: 1, targetsPub: [file('targets-a.key.pub')], targetsThreshold: 1,
    });
    // The root the guardians ship with: fetched once, then trusted.
    trustedRoot = Metadata.fromJSON(MetadataKind.Root, parse(await client.getText(`/tuf/${P}/application/metadata/1.root.json`)));
    const first = bundleFiles('application', '1.2.0');
    await signRelease(client, out, { product: P, stream: 'application', ...first, version: '1.2.0', key: [file('targets-a.key')] });
    const second = bundleFiles('application', '1.3.0');
    await signRelease(client, out, { product: P, stream: 'application', ...second, version: '1.3.0', key: [file('targets-a.key')] });
    const targets = await verifyFromTrustedRoot('application', trustedRoot);
    expect(targets.signed.version).toBe(2);
    expect(Object.values(targets.signed.targets).map((t) => (t.custom as unknown as BundleManifest).version).sort()).toEqual(['1.2.0', '1.3.0']);
    const listed = await server.imageRepository.listTargets(P, 'application');
    expect(listed.map((t) => [t.name, t.length, t.custom.version])).toEqual([
      [path.basename(first.file), 64 * 1024, '1.2.0'], [path.basename(second.file), 64 * 1024, '1.3.0'],
    ]);
    const bundle = await client.getText(`/tuf/${P}/application/targets/${listed[1]!.sha256}.${listed[1]!.name}`);
    expect(createHash('sha256').update(bundle, 'utf8').digest('hex')).toBe(listed[1]!.sha256);
  });

  it('refuses a manifest that does not match the release being signed, before anything is sent', async () => {
    const b = bundleFiles('application', '1.4.0');
    await expect(signRelease(client, out, { product: P, stream: 'application', ...b, version: '1.4.1', key: [file('targets-a.key')] }))
      .rejects.toMatchObject({ code: 'release_manifest_invalid' });
    await expect(signRelease(client, out, { product: P, stream: 'platform', ...b, version: '1.4.0', key: [file('targets-a.key')] }))
      .rejects.toMatchObject({ code: 'release_manifest_invalid' });
  });

  it('has the server refuse targets signed by one key when the threshold is 2, and accepts them once cosigned', async () => {
    await initRepository(client, out, {
      product: P, stream: 'platform', rootKey: [file('root-a.key')], rootThreshold: 1,
      targetsPub: [file('targets-b.key.pub'), file('targets-c.key.pub')], targetsThreshold: 2,
    });
    const b = bundleFiles('platform', '20.20.0');
    await expect(signRelease(client, out, { product: P, stream: 'platform', ...b, version: '20.20.0', key: [file('targets-b.key')] }))
      .rejects.toMatchObject({ code: 'signature_threshold', status: 403 });
    await signRelease(client, out, { product: P, stream: 'platform', ...b, version: '20.20.0', key: [file('targets-b.key')], out: file('platform-1.pending.json') });
    await expect(uploadPending(client, out, file('platform-1.pending.json'))).rejects.toMatchObject({ code: 'signature_threshold' });
    const log = new Buffered();
    cosign(log, file('platform-1.pending.json'), [file('targets-c.key')]);
    expect(log.text).toContain('2 signature(s)');
    const repository = await uploadPending(client, out, file('platform-1.pending.json'));
    expect(repository.roles.targets.version).toBe(1);
    const platformRoot = Metadata.fromJSON(MetadataKind.Root, parse(await client.getText(`/tuf/${P}/platform/metadata/1.root.json`)));
    expect(Object.keys((await verifyFromTrustedRoot('platform', platformRoot)).signed.targets)).toEqual([path.basename(b.file)]);
  });

  it('rotates the root to new root keys, and a guardian trusting version 1 still verifies everything', async () => {
    // Only the new key: a threshold of the trusted root's keys is missing (TUF §5.3.4).
    await expect(rotateRoot(client, out, { product: P, stream: 'application', rootKey: [file('root-b.key')], newRootPub: [file('root-b.key.pub')] }))
      .rejects.toMatchObject({ code: 'signature_threshold' });
    await rotateRoot(client, out, { product: P, stream: 'application', rootKey: [file('root-a.key'), file('root-b.key')], newRootPub: [file('root-b.key.pub')] });
    const b = bundleFiles('application', '1.4.0');
    await signRelease(client, out, { product: P, stream: 'application', ...b, version: '1.4.0', key: [file('targets-a.key')] });
    const targets = await verifyFromTrustedRoot('application', trustedRoot);
    expect(targets.signed.version).toBe(3);
    const root2 = Metadata.fromJSON(MetadataKind.Root, parse(await client.getText(`/tuf/${P}/application/metadata/2.root.json`)));
    expect(root2.signed.roles.root!.keyIDs).toEqual([readPub('root-b')]);
    // The old root key alone can no longer sign the next root.
    await expect(rotateRoot(client, out, { product: P, stream: 'application', rootKey: [file('root-a.key')] })).rejects.toMatchObject({ code: 'signature_threshold' });
  });

  it('rotates the online keys: the next root names the newly proposed ones, and the server signs with them', async () => {
    const { onlineKeys } = await client.post<{ onlineKeys: { snapshot: { keyid: string }; timestamp: { keyid: string } } }>('/updates/online-keys/rotate', {});
    await rotateRoot(client, out, { product: P, stream: 'application', rootKey: [file('root-b.key')] });
    const root3 = Metadata.fromJSON(MetadataKind.Root, parse(await client.getText(`/tuf/${P}/application/metadata/3.root.json`)));
    expect(root3.signed.roles.timestamp!.keyIDs).toEqual([onlineKeys.timestamp.keyid]);
    const timestamp = Metadata.fromJSON(MetadataKind.Timestamp, parse(await client.getText(`/tuf/${P}/application/metadata/timestamp.json`)));
    expect(Object.keys(timestamp.signatures)).toEqual([onlineKeys.timestamp.keyid]);
    await verifyFromTrustedRoot('application', trustedRoot);
  });
});

function readPub(name: string): string {
  return createKeyId(readFileSync(file(`${name}.key.pub`), 'utf8'));
}

function createKeyId(pem: string): string {
  // The key id the CLI prints at keygen, recomputed as TUF §4.2 defines it.
  const raw = Buffer.from(pem.replace(/-----[^-]+-----|\s/g, ''), 'base64').subarray(-32).toString('hex');
  return createHash('sha256').update(`{"keytype":"ed25519","keyval":{"public":"${raw}"},"scheme":"ed25519"}`).digest('hex');
}
