import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HttpsFetcher } from '../../src/updates/https-fetcher.ts';
import { TufClient, pathMatches, type TufClientLimits } from '../../src/updates/tuf-client.ts';
import { TufError, type TufErrorCode } from '../../src/updates/tuf-error.ts';
import { createTestPki } from '../attestation/openssl-pki.ts';
import { DAY_MS, TufTestRepo, newTestKey, type StartOptions } from './tuf-test-repo.ts';

const T0 = new Date(Date.UTC(2026, 3, 1, 9, 0, 0));

let repo: TufTestRepo;
let work: string;
let metadataDir: string;
let targetDir: string;

async function startRepo(options: StartOptions = {}): Promise<void> {
  repo = await TufTestRepo.start({ now: T0, ...options });
  TufClient.init(metadataDir, repo.rootBytes(1));
}

function client(options: { limits?: Partial<TufClientLimits>; now?: () => Date; fetcher?: HttpsFetcher } = {}): TufClient {
  return new TufClient({
    metadataDir, metadataBaseUrl: repo.metadataUrl, targetBaseUrl: repo.targetsUrl,
    fetcher: options.fetcher ?? new HttpsFetcher({ allowHttp: true, timeoutMs: 10_000 }),
    now: options.now ?? (() => T0), ...(options.limits ? { limits: options.limits } : {}),
  });
}

/** Every file in the metadata directory with its bytes: what the client trusts. */
function trustedMetadata(): Record<string, string> {
  const files: Record<string, string> = {};
  for (const f of readdirSync(metadataDir).sort()) files[f] = readFileSync(path.join(metadataDir, f), 'utf8');
  return files;
}

function trustedVersion(role: string): number | undefined {
  const file = path.join(metadataDir, `${role}.json`);
  if (!existsSync(file)) return undefined;
  return (JSON.parse(readFileSync(file, 'utf8')) as { signed: { version: number } }).signed.version;
}

async function refusal(promise: Promise<unknown>, code: TufErrorCode): Promise<TufError> {
  const err = await promise.then(() => undefined, (e: unknown) => e);
  expect(err, `expected TufError ${code}`).toBeInstanceOf(TufError);
  expect((err as TufError).code, (err as TufError).message).toBe(code);
  expect((err as TufError).message.length).toBeGreaterThan(30);
  return err as TufError;
}

/** A refresh that must be refused with `code`, leaving every trusted file exactly as it was. */
async function expectRefreshRefused(code: TufErrorCode, c = client()): Promise<TufError> {
  const before = trustedMetadata();
  const err = await refusal(c.refresh(), code);
  expect(trustedMetadata()).toEqual(before);
  return err;
}

beforeEach(() => {
  work = mkdtempSync(path.join(tmpdir(), 'tuf-client-'));
  metadataDir = path.join(work, 'metadata');
  targetDir = path.join(work, 'targets');
});

afterEach(async () => {
  await repo?.close();
  rmSync(work, { recursive: true, force: true });
});

describe('TufClient refresh', () => {
  it('fetches the next root, timestamp, snapshot and targets in the order of §5 and stores the bytes as served', async () => {
    await startRepo();
    await client().refresh();
    expect(repo.requests).toEqual(['/metadata/2.root.json', '/metadata/timestamp.json', '/metadata/1.snapshot.json', '/metadata/1.targets.json']);
    expect(readdirSync(metadataDir).sort()).toEqual(['root.json', 'snapshot.json', 'targets.json', 'timestamp.json']);
    expect(readFileSync(path.join(metadataDir, 'timestamp.json'))).toEqual(repo.metadataBytes('timestamp.json'));
    expect(readFileSync(path.join(metadataDir, 'targets.json'))).toEqual(repo.metadataBytes('1.targets.json'));
  });

  it('reuses local snapshot and targets that the new timestamp still names', async () => {
    await startRepo();
    await client().refresh();
    repo.publish('timestamp');
    repo.requests.length = 0;
    await client().refresh();
    expect(repo.requests).toEqual(['/metadata/2.root.json', '/metadata/timestamp.json']);
    expect(trustedVersion('timestamp')).toBe(2);
  });

  it('keeps the trusted timestamp when the repository serves the same version with other content (§5.4.3.1)', async () => {
    await startRepo();
    await client().refresh();
    const trusted = trustedMetadata();
    repo.setExpires('timestamp', new Date(T0.getTime() + 2 * DAY_MS));
    repo.publishRole('timestamp', { version: 1 });
    expect(repo.metadataBytes('timestamp.json')!.toString()).not.toBe(trusted['timestamp.json']);
    await client().refresh();
    expect(trustedMetadata()).toEqual(trusted);
  });

  it('checks every expiry against one reference time taken when the refresh starts (§5.1)', async () => {
    await startRepo();
    // Timestamp expires one day after T0; a clock read again later in the refresh would see it expired.
    let reads = 0;
    const now = (): Date => new Date(T0.getTime() + (reads++ === 0 ? 0 : 30 * DAY_MS));
    await client({ now }).refresh();
    expect(reads).toBe(1);
  });

  it('refuses to start without a trusted root, fetching nothing', async () => {
    await startRepo();
    rmSync(path.join(metadataDir, 'root.json'));
    await refusal(client().refresh(), 'not_initialized');
    expect(repo.requests).toEqual([]);
  });

  it('refuses a trusted root that is not signed by its own threshold, fetching nothing', async () => {
    await startRepo();
    const root = JSON.parse(repo.rootBytes(1).toString()) as { signatures: { sig: string }[] };
    root.signatures[0]!.sig = '00'.repeat(64);
    writeFileSync(path.join(metadataDir, 'root.json'), JSON.stringify(root));
    await refusal(client().refresh(), 'not_initialized');
    expect(repo.requests).toEqual([]);
    expect(() => TufClient.init(path.join(work, 'other'), Buffer.from(JSON.stringify(root)))).toThrow(TufError);
  });

  it('refuses metadata of the wrong _type even when signed by the right key', async () => {
    await startRepo();
    repo.roles.timestamp.keys.push(repo.roles.snapshot.keys[0]!);
    repo.publish('root');
    await client().refresh();
    repo.publish('snapshot');
    repo.serveMetadata('timestamp', 2, repo.metadataBytes('2.snapshot.json')!);
    await expectRefreshRefused('bad_metadata');
  });
});

describe('TufClient target search and download', () => {
  it('downloads a listed target to the destination, verified, and knows when it is already there', async () => {
    await startRepo();
    repo.addTarget('releases/app-1.2.0.tgz', Buffer.from('genuine image 1.2.0'));
    repo.publish('targets', 'snapshot', 'timestamp');
    const c = client();
    await c.refresh();
    const info = await c.getTargetInfo('releases/app-1.2.0.tgz');
    const dest = path.join(targetDir, 'app.tgz');
    expect(await c.isTargetCached(info, dest)).toBe(false);
    await c.downloadTarget(info, dest);
    expect(readFileSync(dest, 'utf8')).toBe('genuine image 1.2.0');
    expect(await c.isTargetCached(info, dest)).toBe(true);
    expect(readdirSync(targetDir)).toEqual(['app.tgz']);
    expect(repo.requests.at(-1)).toMatch(/^\/targets\/releases\/[0-9a-f]{64}\.app-1\.2\.0\.tgz$/);
  });

  it('says target_not_found for a path no role lists', async () => {
    await startRepo();
    await refusal(client().getTargetInfo('nothing-here'), 'target_not_found');
  });

  it('does not take an inherited property for a target (prototype names are just names)', async () => {
    await startRepo();
    await refusal(client().getTargetInfo('constructor'), 'target_not_found');
  });

  it('refuses a target listed only with an unknown hash algorithm, downloading nothing', async () => {
    await startRepo();
    repo.addTarget('a.bin', Buffer.from('abc'));
    const t = repo.targetsRole('targets').targets.get('a.bin')!;
    t.hashes = { 'made-up-hash': t.hashes.sha256! };
    repo.publish('targets', 'snapshot', 'timestamp');
    const c = client();
    await refusal(c.downloadTarget(await c.getTargetInfo('a.bin'), path.join(targetDir, 'a.bin')), 'unsupported_hash');
    expect(repo.requests.some((r) => r.startsWith('/targets/'))).toBe(false);
  });
});

describe('arbitrary software attack', () => {
  async function downloadedOnce(): Promise<{ c: TufClient; dest: string }> {
    await startRepo();
    repo.addTarget('app.tgz', Buffer.from('genuine image'));
    repo.publish('targets', 'snapshot', 'timestamp');
    const c = client();
    const dest = path.join(targetDir, 'app.tgz');
    await c.downloadTarget(await c.getTargetInfo('app.tgz'), dest);
    return { c, dest };
  }

  it('refuses a target whose hash differs, leaving the previous download in place', async () => {
    const { c, dest } = await downloadedOnce();
    repo.content.set('app.tgz', Buffer.from('evil!! image!'));
    const before = trustedMetadata();
    await refusal(c.downloadTarget(await c.getTargetInfo('app.tgz'), dest), 'hash_mismatch');
    expect(readFileSync(dest, 'utf8')).toBe('genuine image');
    expect(readdirSync(targetDir)).toEqual(['app.tgz']);
    expect(trustedMetadata()).toEqual(before);
  });

  it('refuses a target shorter than listed', async () => {
    const { c, dest } = await downloadedOnce();
    repo.content.set('app.tgz', Buffer.from('short'));
    await refusal(c.downloadTarget(await c.getTargetInfo('app.tgz'), dest), 'length_mismatch');
    expect(readFileSync(dest, 'utf8')).toBe('genuine image');
  });

  it('never creates the destination file for a refused first download', async () => {
    await startRepo();
    repo.addTarget('app.tgz', Buffer.from('genuine image'));
    repo.publish('targets', 'snapshot', 'timestamp');
    repo.content.set('app.tgz', Buffer.from('evil!! image!'));
    const c = client();
    await refusal(c.downloadTarget(await c.getTargetInfo('app.tgz'), path.join(targetDir, 'app.tgz')), 'hash_mismatch');
    expect(readdirSync(targetDir)).toEqual([]);
  });

  it('refuses timestamp signed by a key root does not list', async () => {
    await startRepo();
    await client().refresh();
    repo.publishRole('timestamp', { signWith: [newTestKey()] });
    await expectRefreshRefused('signature_threshold');
  });

  it('refuses targets signed by the snapshot key instead of the targets key', async () => {
    await startRepo();
    await client().refresh();
    repo.publishRole('targets', { signWith: repo.roles.snapshot.keys });
    repo.publish('snapshot', 'timestamp');
    await refusal(client().refresh(), 'signature_threshold');
    expect(trustedVersion('targets')).toBe(1);
    expect(trustedVersion('snapshot')).toBe(2);
  });
});

describe('rollback attack', () => {
  it('refuses a timestamp older than the trusted one', async () => {
    await startRepo();
    repo.publish('timestamp');
    await client().refresh();
    repo.publishRole('timestamp', { version: 1 });
    await expectRefreshRefused('rollback');
    expect(trustedVersion('timestamp')).toBe(2);
  });

  it('refuses a timestamp naming a snapshot older than the trusted one', async () => {
    await startRepo();
    repo.publish('snapshot', 'timestamp');
    await client().refresh();
    repo.versions.snapshot = 0;
    repo.publish('snapshot', 'timestamp');
    await expectRefreshRefused('rollback');
    expect(trustedVersion('snapshot')).toBe(2);
  });

  it('refuses a snapshot listing targets older than the trusted snapshot did', async () => {
    await startRepo();
    repo.publish('targets', 'snapshot', 'timestamp');
    await client().refresh();
    repo.targetsRole('targets').version = 0;
    repo.publish('targets', 'snapshot', 'timestamp');
    const err = await refusal(client().refresh(), 'rollback');
    expect(err.message).toMatch(/targets\.json/);
    expect(trustedVersion('snapshot')).toBe(2);
    expect(trustedVersion('targets')).toBe(2);
  });

  it('refuses a snapshot that drops a delegated role the trusted snapshot listed', async () => {
    await startRepo();
    repo.addDelegation('targets', { name: 'team', paths: ['team/*'] });
    repo.publish('team', 'targets', 'snapshot', 'timestamp');
    await client().refresh();
    repo.targetsRoles.delete('team');
    repo.publish('snapshot', 'timestamp');
    await refusal(client().refresh(), 'rollback');
    expect(trustedVersion('snapshot')).toBe(2);
  });
});

describe('indefinite freeze attack', () => {
  const past = new Date(T0.getTime() - DAY_MS);

  it('refuses an expired timestamp', async () => {
    await startRepo();
    await client().refresh();
    repo.setExpires('timestamp', past);
    repo.publish('timestamp');
    await expectRefreshRefused('expired');
  });

  it('refuses an expired snapshot', async () => {
    await startRepo();
    await client().refresh();
    repo.setExpires('snapshot', past);
    repo.publish('snapshot', 'timestamp');
    await refusal(client().refresh(), 'expired');
    expect(trustedVersion('snapshot')).toBe(1);
  });

  it('refuses expired targets', async () => {
    await startRepo();
    await client().refresh();
    repo.setExpires('targets', past);
    repo.publish('targets', 'snapshot', 'timestamp');
    await refusal(client().refresh(), 'expired');
    expect(trustedVersion('targets')).toBe(1);
    expect(trustedVersion('snapshot')).toBe(2);
  });

  it('refuses when the only timestamp the repository serves is the trusted one, and it has expired', async () => {
    await startRepo();
    await client().refresh();
    await expectRefreshRefused('expired', client({ now: () => new Date(T0.getTime() + 2 * DAY_MS) }));
  });

  it('keeps an expired newest root (§5.3.10) but refuses to go on with it', async () => {
    await startRepo();
    repo.expires.root = past;
    repo.publish('root');
    await refusal(client().refresh(), 'expired');
    expect(trustedVersion('root')).toBe(2);
    expect(trustedVersion('timestamp')).toBeUndefined();
  });
});

describe('mix-and-match attack', () => {
  it('refuses targets whose version is not the one snapshot names', async () => {
    await startRepo();
    await client().refresh();
    repo.publish('targets', 'snapshot', 'timestamp');
    // The attacker serves targets v3 where snapshot v2 names targets v2.
    repo.publish('targets');
    repo.serveMetadata('targets', 2, repo.metadataBytes('3.targets.json')!);
    await refusal(client().refresh(), 'version_mismatch');
    expect(trustedVersion('targets')).toBe(1);
  });

  it('refuses targets whose bytes differ from the hash snapshot lists', async () => {
    await startRepo({ metaHashes: true });
    await client().refresh();
    repo.publish('targets', 'snapshot', 'timestamp');
    const original = repo.metadataBytes('2.targets.json')!;
    repo.serveMetadata('targets', 2, Buffer.concat([original.subarray(0, -1), Buffer.from(' ')]));
    await refusal(client().refresh(), 'hash_mismatch');
    expect(trustedVersion('targets')).toBe(1);
  });

  it('refuses a snapshot whose length differs from what timestamp lists', async () => {
    await startRepo({ metaHashes: true });
    await client().refresh();
    repo.publish('snapshot', 'timestamp');
    repo.serveMetadata('snapshot', 2, Buffer.concat([repo.metadataBytes('2.snapshot.json')!.subarray(0, -2), Buffer.from('}')]));
    await refusal(client().refresh(), 'length_mismatch');
    expect(trustedVersion('snapshot')).toBe(1);
  });
});

describe('fast-forward attack', () => {
  it('after an attacker fast-forwards timestamp, refuses the real one until root rotates the timestamp key, then recovers', async () => {
    await startRepo();
    await client().refresh();
    // The attacker holds the timestamp key and pushes the client to timestamp v99.
    repo.publishRole('timestamp', { version: 99 });
    await client().refresh();
    expect(trustedVersion('timestamp')).toBe(99);
    // The repository, recovered, publishes its next honest timestamp: v2 looks like a rollback.
    repo.publishRole('timestamp', { version: 2 });
    await expectRefreshRefused('rollback');
    // §5.3.11: a new root with a new timestamp key makes the client forget the fast-forwarded files.
    repo.rotateKeys('timestamp');
    repo.publish('root', 'timestamp');
    await client().refresh();
    expect(trustedVersion('root')).toBe(2);
    expect(trustedVersion('timestamp')).toBe(3);
  });

  it('recovers from a fast-forwarded snapshot (and targets version in it) after a snapshot key rotation', async () => {
    await startRepo();
    await client().refresh();
    repo.publishRole('targets', { version: 50 });
    repo.publishRole('snapshot', { version: 50 });
    repo.publish('timestamp');
    await client().refresh();
    expect(trustedVersion('snapshot')).toBe(50);
    // Honest snapshot v2 listing targets v2 is a rollback for the client...
    repo.publishRole('targets', { version: 2 });
    repo.publishRole('snapshot', { version: 2 });
    repo.publish('timestamp');
    await refusal(client().refresh(), 'rollback');
    // ...until root rotates the snapshot key.
    repo.rotateKeys('snapshot');
    repo.publish('root', 'snapshot', 'timestamp');
    await client().refresh();
    expect(trustedVersion('snapshot')).toBe(3);
    expect(trustedVersion('targets')).toBe(2);
  });
});

describe('endless data attack', () => {
  it('aborts an endless timestamp at the limit and keeps the trusted metadata', async () => {
    await startRepo();
    await client().refresh();
    const endless = repo.serveEndless('/metadata/timestamp.json');
    await expectRefreshRefused('too_large', client({ limits: { timestampMaxLength: 4096 } }));
    // The client hung up instead of reading on (the server could only push a few buffers).
    expect(endless.bytesSent()).toBeLessThan(64 * 1024 * 1024);
  });

  it('aborts an endless next root', async () => {
    await startRepo();
    repo.serveEndless('/metadata/2.root.json');
    await expectRefreshRefused('too_large');
  });

  it('aborts a target that goes on past its listed length, leaving no file behind', async () => {
    await startRepo();
    repo.addTarget('app.tgz', Buffer.from('genuine image'));
    repo.publish('targets', 'snapshot', 'timestamp');
    const c = client();
    const info = await c.getTargetInfo('app.tgz');
    repo.serveEndless(`/targets/${info.hashes.sha256}.app.tgz`);
    await refusal(c.downloadTarget(info, path.join(targetDir, 'app.tgz')), 'too_large');
    expect(readdirSync(targetDir)).toEqual([]);
  });

  it('refuses a snapshot larger than the length timestamp lists', async () => {
    await startRepo({ metaHashes: true });
    await client().refresh();
    repo.publish('snapshot', 'timestamp');
    repo.serveEndless('/metadata/2.snapshot.json');
    await refusal(client().refresh(), 'too_large');
  });
});

describe('key compromise below threshold', () => {
  it('refuses targets signed by one of the two keys a threshold of 2 needs', async () => {
    await startRepo();
    const [first] = repo.rotateKeys('targets', 2, 2);
    repo.publish('root', 'targets', 'snapshot', 'timestamp');
    await client().refresh();
    expect(trustedVersion('targets')).toBe(2);
    repo.addTarget('app.tgz', Buffer.from('malware'));
    repo.publishRole('targets', { signWith: [first!] });
    repo.publish('snapshot', 'timestamp');
    const err = await refusal(client().refresh(), 'signature_threshold');
    expect(err.message).toMatch(/1 of .* 2 needed/);
    expect(trustedVersion('targets')).toBe(2);
    await refusal(client().getTargetInfo('app.tgz'), 'signature_threshold');
  });

  it('does not count one signature twice (duplicate keyids are refused)', async () => {
    await startRepo();
    const keys = repo.rotateKeys('snapshot', 2, 2);
    repo.publish('root');
    await client().refresh().catch(() => {});
    const md = JSON.parse(repo.publishRole('snapshot', { signWith: [keys[0]!] }).toString()) as { signatures: unknown[] };
    md.signatures.push(md.signatures[0]);
    repo.serveMetadata('snapshot', 2, Buffer.from(JSON.stringify(md)));
    repo.publish('timestamp');
    await refusal(client().refresh(), 'bad_metadata');
    expect(trustedVersion('snapshot')).toBeUndefined();
  });
});

describe('root rotation', () => {
  it('accepts 2.root.json signed by the old and the new root keys and trusts its keys from then on', async () => {
    await startRepo();
    const oldRoot = repo.roles.root.keys;
    const [newRoot] = repo.rotateKeys('root');
    repo.rotateKeys('timestamp');
    repo.publishRole('root', { signWith: [...oldRoot, newRoot!] });
    repo.publish('timestamp');
    await client().refresh();
    expect(readFileSync(path.join(metadataDir, 'root.json'))).toEqual(repo.rootBytes(2));
    expect(trustedVersion('timestamp')).toBe(2);
  });

  it('refuses 2.root.json not signed by a threshold of the old root keys', async () => {
    await startRepo();
    repo.rotateKeys('root');
    repo.publish('root');
    await expectRefreshRefused('signature_threshold');
    expect(trustedVersion('root')).toBe(1);
  });

  it('refuses 2.root.json not signed by a threshold of its own new keys', async () => {
    await startRepo();
    const oldRoot = repo.roles.root.keys;
    repo.rotateKeys('root');
    repo.publishRole('root', { signWith: oldRoot });
    await expectRefreshRefused('signature_threshold');
  });

  it('refuses a root chain that skips a version', async () => {
    await startRepo();
    const v3 = repo.publishRole('root', { version: 3 });
    repo.unserve('3.root.json');
    repo.serveMetadata('root', 2, v3);
    await expectRefreshRefused('version_mismatch');
    expect(trustedVersion('root')).toBe(1);
  });

  it('walks a chain of several roots, one version at a time, up to the limit', async () => {
    await startRepo();
    for (let i = 0; i < 4; i++) repo.publish('root');
    await client({ limits: { maxRootRotations: 2 } }).refresh();
    expect(trustedVersion('root')).toBe(3);
    await client().refresh();
    expect(trustedVersion('root')).toBe(5);
  });
});

describe('delegations', () => {
  it('searches pre-order depth-first in order of appearance, and a terminating delegation ends the search', async () => {
    await startRepo();
    repo.addDelegation('targets', { name: 'A', paths: ['apps/*'] });
    repo.addDelegation('targets', { name: 'B', paths: ['*/*'] });
    repo.addDelegation('A', { name: 'C', paths: ['apps/*.zip'], terminating: true });
    repo.addDelegation('A', { name: 'D', paths: ['apps/*'] });
    repo.addTarget('apps/found-by-b.zip', Buffer.from('b'), 'B');
    repo.addTarget('apps/x.tgz', Buffer.from('b tgz'), 'B');
    repo.publish('C', 'D', 'A', 'B', 'targets', 'snapshot', 'timestamp');
    const c = client();
    await c.refresh();
    repo.requests.length = 0;
    await refusal(c.getTargetInfo('apps/found-by-b.zip'), 'target_not_found');
    expect(repo.requests).toEqual(['/metadata/1.A.json', '/metadata/1.C.json']);
    expect((await c.getTargetInfo('apps/x.tgz')).length).toBe(5);
    expect(repo.requests.slice(2)).toEqual(['/metadata/1.D.json', '/metadata/1.B.json']);
  });

  it('follows path_hash_prefixes', async () => {
    await startRepo();
    const { createHash } = await import('node:crypto');
    const prefix = createHash('sha256').update('bin/tool').digest('hex').slice(0, 2);
    repo.addDelegation('targets', { name: 'bins', pathHashPrefixes: [prefix] });
    repo.addTarget('bin/tool', Buffer.from('tool'), 'bins');
    repo.publish('bins', 'targets', 'snapshot', 'timestamp');
    expect((await client().getTargetInfo('bin/tool')).length).toBe(4);
  });

  it('verifies a role reached again through another delegator against that delegator’s keys', async () => {
    await startRepo();
    repo.addDelegation('targets', { name: 'parent-a', paths: ['team-a/*'] });
    repo.addDelegation('targets', { name: 'parent-b', paths: ['team-b/*'] });
    repo.addDelegation('parent-a', { name: 'release', paths: ['team-a/*'] });
    repo.addDelegation('parent-b', { name: 'release', paths: ['team-b/*'] });
    repo.addTarget('team-a/app', Buffer.from('a'), 'release');
    repo.addTarget('team-b/app', Buffer.from('b'), 'release');
    // release is signed with parent-a's key for it only (delegatedKeys finds that delegation first).
    repo.publish('release', 'parent-a', 'parent-b', 'targets', 'snapshot', 'timestamp');
    const c = client();
    expect((await c.getTargetInfo('team-a/app')).length).toBe(1);
    await refusal(c.getTargetInfo('team-b/app'), 'signature_threshold');
  });

  it('gives up after visiting the maximum number of roles', async () => {
    await startRepo();
    let parent = 'targets';
    for (let i = 0; i < 5; i++) {
      repo.addDelegation(parent, { name: `r${i}`, paths: ['*'] });
      parent = `r${i}`;
    }
    repo.publish('r4', 'r3', 'r2', 'r1', 'r0', 'targets', 'snapshot', 'timestamp');
    await refusal(client({ limits: { maxDelegations: 3 } }).getTargetInfo('x'), 'delegation_limit');
    await refusal(client().getTargetInfo('x'), 'target_not_found');
  });

  it('refuses a delegated role that snapshot does not list, without fetching it', async () => {
    await startRepo();
    repo.addDelegation('targets', { name: 'hidden', paths: ['*'] });
    repo.publish('hidden', 'targets');
    repo.targetsRoles.get('hidden')!.version = 0;
    repo.publish('snapshot', 'timestamp');
    const c = client();
    await c.refresh();
    repo.requests.length = 0;
    await refusal(c.getTargetInfo('x'), 'bad_metadata');
    expect(repo.requests).toEqual([]);
  });
});

describe('pathMatches (TUF §4.5 PATHPATTERN)', () => {
  it.each([
    ['*.md', 'README.md', true],
    ['*.md', 'docs/README.md', false],
    ['releases/*/*', 'releases/x/y', true],
    ['releases/*/*', 'releases/x', false],
    ['foo-?.tgz', 'foo-1.tgz', true],
    ['foo-?.tgz', 'foo-10.tgz', false],
    ['*.MD', 'README.md', false],
    ['*', '.hidden', true],
    ['[ab]-*', 'b-1', true],
    ['[!ab]-*', 'b-1', false],
    ['a.b', 'aXb', false],
    ['(x)+', '(x)+', true],
  ])('%s against %s is %s', (pattern, target, expected) => {
    expect(pathMatches(pattern, target)).toBe(expected);
  });
});

describe('HttpsFetcher', () => {
  it('refreshes over mutual TLS with the site CA and a client certificate, and is refused without the certificate', async () => {
    const pkiDir = mkdtempSync(path.join(work, 'pki-'));
    const pki = createTestPki(pkiDir);
    const { generateKeyPairSync } = await import('node:crypto');
    const device = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const cert = pki.issueLeaf(device.publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'device-1');
    const key = device.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const ca = `${pki.issuingPem}${pki.rootPem}`;
    await startRepo({ tls: { key: pki.serverKeyPem, cert: pki.serverChainPem, ca, requestCert: true } });
    await refusal(client({ fetcher: new HttpsFetcher({ ca: pki.rootPem }) }).refresh(), 'fetch_failed');
    await client({ fetcher: new HttpsFetcher({ ca: pki.rootPem, cert, key }) }).refresh();
    expect(trustedVersion('targets')).toBe(1);
  });

  it('refuses http: unless allowed, and maps 404 to not_found', async () => {
    await startRepo();
    await refusal(new HttpsFetcher().fetch(`${repo.metadataUrl}timestamp.json`, 1000), 'fetch_failed');
    await refusal(new HttpsFetcher({ allowHttp: true }).fetch(`${repo.metadataUrl}nope.json`, 1000), 'not_found');
  });

  it('abandons a server that stops sending (slow retrieval) after the idle timeout', async () => {
    await startRepo();
    repo.override('/metadata/stall.json', (_req, res) => {
      res.writeHead(200);
      res.write('{');
    });
    const err = await refusal(new HttpsFetcher({ allowHttp: true, timeoutMs: 200 }).fetch(`${repo.metadataUrl}stall.json`, 1000), 'fetch_failed');
    expect(err.message).toMatch(/nothing arrived/);
  });

  it('refuses a body longer than allowed when the server sends no length', async () => {
    await startRepo();
    repo.override('/metadata/liar.json', (_req, res) => {
      res.writeHead(200);
      res.write(Buffer.alloc(600));
      res.end(Buffer.alloc(600));
    });
    await refusal(new HttpsFetcher({ allowHttp: true }).fetch(`${repo.metadataUrl}liar.json`, 1000), 'too_large');
  });
});
