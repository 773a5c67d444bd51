/**
 * A real server with a TUF image repository for the guardian's application stream, set up the
 * way a release engineer does it (offline root and targets keys, online snapshot and timestamp
 * keys on the server), and release bundles built as the build makes them.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { GUARDIAN_SWNAME, digestFile, digestTrees, writeBundleArchive, type ArchiveEntry } from '@shellguard/guardian';
import { BUILTIN_PROFILE_DIR, type BundleManifest } from '@shellguard/protocol';
import { initPki, startServer, type ServerHandle } from '@shellguard/server';
import { buildRoot, buildTargets, json, offlineKey, signed } from '../../packages/server/test/updates/tuf-fixture.ts';
import type { SimSite } from './simulated-guardian.ts';

export const SITE = 'site-1';
export const PRODUCT = GUARDIAN_SWNAME;
const DAY = 86_400_000;

export interface ReleaseBundle {
  bytes: Buffer;
  manifest: BundleManifest;
}

/** id -> file name of the built-in equipment profiles. */
function builtinProfiles(): Map<string, string> {
  const out = new Map<string, string>();
  for (const f of readdirSync(BUILTIN_PROFILE_DIR).filter((x) => x.endsWith('.yaml'))) {
    const id = /^id:\s*(\S+)/m.exec(readFileSync(path.join(BUILTIN_PROFILE_DIR, f), 'utf8'))?.[1];
    if (id) out.set(id, f);
  }
  return out;
}

/** Deterministic bytes that gzip cannot shrink (a counter-mode SHA-256 stream seeded by `seed`). */
function pseudoRandomBytes(n: number, seed: string): Buffer {
  const out = Buffer.alloc(n);
  for (let i = 0, block = 0; i < n; block++) {
    const h = createHash('sha256').update(`${seed}:${block}`).digest();
    i += h.copy(out, i);
  }
  return out;
}

/** A release bundle as the build makes it: code, profiles, and a manifest with its reference digests. */
export async function makeBundle(scratch: string, version: string, drop: string[] = [], padBytes = 0): Promise<ReleaseBundle> {
  const files: ArchiveEntry[] = [{ name: 'guardian.mjs', data: Buffer.from(`// shellguard guardian ${version}\nexport const version = '${version}';\n`) }];
  // Benchmarks give the bundle the size of a real one: incompressible bytes, different per release.
  if (padBytes > 0) files.push({ name: 'payload.bin', data: pseudoRandomBytes(padBytes, version) });
  for (const [id, file] of builtinProfiles()) {
    if (drop.includes(id)) continue;
    files.push({ name: `profiles/${file}`, data: readFileSync(path.join(BUILTIN_PROFILE_DIR, file)) });
  }
  // Measured exactly as an installed guardian measures itself: the files at a bundle root, manifest excluded.
  const dir = mkdtempSync(path.join(scratch, `measure-${version}-`));
  for (const f of files) {
    mkdirSync(path.dirname(path.join(dir, f.name)), { recursive: true });
    writeFileSync(path.join(dir, f.name), f.data);
  }
  writeFileSync(path.join(dir, 'manifest.json'), '{}');
  const manifest: BundleManifest = {
    product: PRODUCT, stream: 'application', version, platform: `${process.platform}-${process.arch}`, nodeAbi: process.versions.modules,
    components: [
      { component: 'runtime', digest: await digestFile(process.execPath) },
      { component: 'guardian-bundle', digest: await digestTrees([dir]) },
    ],
  };
  rmSync(dir, { recursive: true, force: true });
  return { bytes: writeBundleArchive([...files, { name: 'manifest.json', data: Buffer.from(JSON.stringify(manifest)) }]), manifest };
}

export interface UpdateSite {
  dir: string;
  server: ServerHandle;
  sim: SimSite;
  /** `<product>.application.root.json` as shipped with every install. */
  trustedRoots: Record<string, string>;
  bundles: Map<string, ReleaseBundle>;
  /** Builds a release, signs new targets metadata offline, and publishes both. */
  publish(version: string, drop?: string[], padBytes?: number): Promise<ReleaseBundle>;
  close(): Promise<void>;
}

export async function startUpdateSite(prefix: string, options: { rolloutTickMs?: number } = {}): Promise<UpdateSite> {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  await initPki(path.join(dir, 'ca'), { commonName: 'Update test site' });
  const server = await startServer({
    dataDir: path.join(dir, 'server'), caDir: path.join(dir, 'ca'),
    mqtt: { host: '127.0.0.1', port: 0 }, api: { host: '127.0.0.1', port: 0 },
    tlsNames: { hostnames: ['localhost'], ips: ['127.0.0.1'] },
  }, {
    logger: pino({ level: process.env.SG_SERVER_LOG ?? 'silent' }), attestationRateLimit: { burst: 100_000, perSecond: 100_000 },
    rolloutTickMs: options.rolloutTickMs ?? 250,
  });
  const rootKey = offlineKey();
  const targetsKey = offlineKey();
  // The offline root names the server's online snapshot and timestamp keys.
  const root = signed(buildRoot({ root: [rootKey], targets: [targetsKey], online: server.imageRepository.onlineKeys(), expires: Date.now() + 365 * DAY }), rootKey);
  await server.imageRepository.initialise(PRODUCT, 'application', json(root));
  const bundles = new Map<string, ReleaseBundle>();
  let targetsVersion = 0;
  const published: { name: string; bytes: Buffer; custom: BundleManifest }[] = [];
  return {
    dir, server, bundles,
    sim: { apiUrl: `https://127.0.0.1:${server.apiPort}`, mqttUrl: `mqtts://127.0.0.1:${server.mqttPort}`, rootPem: server.rootPem, site: SITE },
    trustedRoots: { [`${PRODUCT}.application.root.json`]: JSON.stringify(json(root)) },
    async publish(version, drop = [], padBytes = 0) {
      const b = await makeBundle(dir, version, drop, padBytes);
      bundles.set(version, b);
      const entry = { name: `${PRODUCT}-app-${version}.tar.gz`, bytes: b.bytes, custom: b.manifest };
      published.push(entry);
      const targets = signed(buildTargets(++targetsVersion, published, Date.now() + 30 * DAY), targetsKey);
      await server.imageRepository.acceptTargets(PRODUCT, 'application', json(targets), [{ name: entry.name, bytes: entry.bytes }]);
      return b;
    },
    async close() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function until<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
