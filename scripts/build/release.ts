/**
 * The release artifacts (issue 11), each versioned and reproducible — the same sources, lockfile,
 * Node.js and esbuild give the same bytes, so a TUF target hash can be checked by rebuilding:
 *
 *   shellguard-guardian-app-<v>.tar.gz                       guardian JS, profiles, manifest.json (stream application)
 *   shellguard-guardian-platform-<v>-<platform>-<arch>.tar.gz native layer (better-sqlite3), manifest.json (stream platform)
 *   shellguard-server-<v>-<platform>-<arch>.tar.gz            server + CLI JS, web dashboard, alarm rules, procedures, native layer
 *
 * A bundle's manifest.json holds the attestation reference values exactly as a guardian running
 * from the installed bundle measures them (packages/guardian/src/attestation/measure.ts: the
 * same functions compute both).
 */
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { BundleManifest } from '@shellguard/protocol';
import { digestFile, digestFileSet, digestTrees, BUNDLE_MANIFEST_FILE, GUARDIAN_SWNAME } from '../../packages/guardian/src/attestation/measure.ts';
import { directoryEntries, writeBundleArchive } from '../../packages/guardian/src/updates/bundle-archive.ts';
import { bundleEntries, REPO_ROOT, type BundleResult } from './bundle.ts';

export const SERVER_PRODUCT = 'shellguard-server';

export interface ReleaseOptions {
  /** Where the artifacts go (and `stage/`, the unpacked bundles). Emptied first. */
  outDir: string;
  log?: (line: string) => void;
  /**
   * The guardian release's version, instead of packages/guardian/package.json's: for building a
   * newer release from the same tree (tests, benchmarks). It goes into the manifests, the artifact
   * names and the guardian's code (its EAT swversion), so the code and its digest differ too.
   */
  version?: string;
}

export interface Artifact {
  file: string;
  name: string;
  bytes: number;
  sha256: string;
}

export interface NativeLayer {
  platform: string;
  arch: string;
  nodeAbi: string;
  nodeVersion: string;
  /** What the compiled addon's ELF/Mach-O header says it is for ('unknown' if we cannot tell). */
  addonMachine: string;
  packages: { name: string; version: string }[];
}

export interface Release {
  version: string;
  artifacts: { app: Artifact; platform: Artifact; server: Artifact };
  stage: { app: string; platform: string; server: string };
  manifests: { app: BundleManifest; platform: BundleManifest; server: BundleManifest };
  native: NativeLayer;
}

const pkgDir = (name: string) => path.join(REPO_ROOT, 'packages', name);
const readJson = (file: string) => JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
const version = (name: string) => readJson(path.join(pkgDir(name), 'package.json')).version as string;

// ------------------------------------------------------------------------- shipped files

/** Folders read at runtime (see bundle.ts, point 1), relative to packages/ and to the bundle root. */
const GUARDIAN_RESOURCES = ['protocol/profiles'];
const SERVER_RESOURCES = ['protocol/profiles', 'server/alarm-rules', 'server/procedures', 'web/dist'];

/**
 * Module URLs only used from the source tree: measure.ts names its `src` folders, and finds the
 * bundle root, in a bundle, through a file that exists only in the tree.
 */
function devOnly(target: string): boolean {
  return /^[a-z-]+\/src\/$/.test(target) || target === './' || target === '.';
}

function copyResources(stage: string, resources: readonly string[], bundle: BundleResult): void {
  for (const r of resources) {
    const from = path.join(REPO_ROOT, 'packages', r);
    if (!existsSync(from)) {
      throw new Error(r === 'web/dist' ? 'packages/web/dist is missing: run `npm run build:web` first (npm run build does)' : `${from} is missing`);
    }
    cpSync(from, path.join(stage, r), { recursive: true });
  }
  // Every file a bundled module reads through import.meta.url must be shipped.
  for (const ref of bundle.references) {
    if (devOnly(ref.target)) continue;
    const shipped = resources.some((r) => ref.target === r || ref.target.startsWith(`${r}/`));
    if (!shipped) throw new Error(`${ref.module} reads ${ref.target} at runtime, which this bundle does not ship (add it to its resources in scripts/build/release.ts)`);
  }
}

/**
 * The native layer: better-sqlite3's JS and compiled addon, and its runtime dependencies
 * (bindings, file-uri-to-path). prebuild-install is only for `npm install`; build intermediates
 * (obj/, sqlite3.a, the test extension) are left out.
 */
const NATIVE_FILES: Record<string, (rel: string) => boolean> = {
  'better-sqlite3': (rel) => rel === 'package.json' || rel === 'LICENSE' || rel.startsWith('lib/') || rel === 'build/Release/better_sqlite3.node',
  bindings: (rel) => ['package.json', 'LICENSE.md', 'bindings.js'].includes(rel),
  'file-uri-to-path': (rel) => ['package.json', 'LICENSE', 'index.js'].includes(rel),
};

async function copyNativeLayer(nodeModulesDir: string): Promise<void> {
  for (const [name, keep] of Object.entries(NATIVE_FILES)) {
    const from = path.join(REPO_ROOT, 'node_modules', name);
    for (const e of await directoryEntries(from)) {
      if (!keep(e.name)) continue;
      const to = path.join(nodeModulesDir, name, ...e.name.split('/'));
      mkdirSync(path.dirname(to), { recursive: true });
      writeFileSync(to, e.data);
    }
  }
}

/** The machine a compiled addon is for, from its ELF (or Mach-O) header. */
function addonMachine(file: string): string {
  const b = readFileSync(file).subarray(0, 64);
  if (b.readUInt32BE(0) === 0x7f454c46) {
    const machine = b.readUInt16LE(18);
    return ({ 0x3e: 'x64', 0xb7: 'arm64', 0x28: 'arm', 0x03: 'ia32' } as Record<number, string>)[machine] ?? `elf-machine-0x${machine.toString(16)}`;
  }
  const magic = b.readUInt32LE(0);
  if (magic === 0xfeedfacf) return ({ 0x01000007: 'x64', 0x0100000c: 'arm64' } as Record<number, string>)[b.readUInt32LE(4)] ?? 'macho-unknown';
  return 'unknown';
}

function describeNativeLayer(): NativeLayer {
  const addon = path.join(REPO_ROOT, 'node_modules/better-sqlite3/build/Release/better_sqlite3.node');
  // Loading it proves the addon matches this Node's ABI; a wrong one throws here, not on a gateway.
  const require = createRequire(path.join(REPO_ROOT, 'package.json'));
  const Database = require('better-sqlite3') as new (file: string) => { close(): void };
  new Database(':memory:').close();
  return {
    platform: process.platform, arch: process.arch, nodeAbi: process.versions.modules, nodeVersion: process.version,
    addonMachine: addonMachine(addon),
    packages: Object.keys(NATIVE_FILES).map((name) => ({ name, version: readJson(path.join(REPO_ROOT, 'node_modules', name, 'package.json')).version as string })),
  };
}

// ------------------------------------------------------------------------- manifests

/** Subsets of the built-in profiles listed when there are too many for all of them: up to this size, and the whole set. */
const MAX_LISTED_SUBSET = 3;

/**
 * Profiles digests a guardian can measure with only built-in profiles: one per non-empty subset it
 * may use. With more than 12 files (2^n subsets) only subsets of up to three profiles and the whole
 * set are listed; a guardian using more built-in profiles than that is registered with the
 * manifest `shellguard guardian measure` prints for its config.
 */
async function profileDigests(dir: string): Promise<string[]> {
  const files = (await directoryEntries(dir)).map((e) => path.join(dir, e.name)).filter((f) => f.endsWith('.yaml'));
  const out: string[] = [await digestFileSet(files)];
  const subsets: string[][] = [];
  const grow = (from: number, picked: string[]): void => {
    for (let i = from; i < files.length; i++) {
      const next = [...picked, files[i]!];
      if (next.length < files.length) subsets.push(next);
      if (files.length <= 12 || next.length < MAX_LISTED_SUBSET) grow(i + 1, next);
    }
  };
  grow(0, []);
  for (const subset of subsets) out.push(await digestFileSet(subset));
  return out;
}

function writeManifest(stage: string, manifest: BundleManifest): void {
  writeFileSync(path.join(stage, BUNDLE_MANIFEST_FILE), `${JSON.stringify(manifest, null, 2)}\n`);
}

/** The digest of a staged bundle as measured once installed: the manifest must exist first (it marks the bundle root). */
async function bundleDigest(stage: string): Promise<string> {
  writeFileSync(path.join(stage, BUNDLE_MANIFEST_FILE), '{}\n');
  return digestTrees([stage]);
}

/**
 * A version override goes into the code as well as the manifest: the bundle inlines the guardian's
 * package.json (measure.ts, guardianPackageVersion), which is where its swversion comes from.
 */
function setBundledGuardianVersion(file: string, to: string): void {
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$/.test(to)) throw new Error(`version ${to} is not a semantic version`);
  const from = `{name:"@shellguard/guardian",version:${JSON.stringify(version('guardian'))}`;
  const code = readFileSync(file, 'utf8');
  const at = code.indexOf(from);
  if (at < 0 || code.indexOf(from, at + 1) >= 0) throw new Error(`${file}: the inlined guardian package.json was not found exactly once; cannot set its version to ${to}`);
  writeFileSync(file, code.replace(from, `{name:"@shellguard/guardian",version:${JSON.stringify(to)}`));
}

// ------------------------------------------------------------------------- archives

const EXECUTABLE = new Set(['guardian.mjs', 'shellguard.mjs']);

async function archive(stage: string, outDir: string, name: string): Promise<Artifact> {
  const entries = (await directoryEntries(stage)).map((e) => ({ ...e, executable: EXECUTABLE.has(e.name) || e.name.endsWith('.node') }));
  const bytes = writeBundleArchive(entries);
  const file = path.join(outDir, name);
  writeFileSync(file, bytes);
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  writeFileSync(`${file}.sha256`, `${sha256}  ${name}\n`);
  return { file, name, bytes: bytes.length, sha256 };
}

// ------------------------------------------------------------------------- the build

export async function buildRelease(options: ReleaseOptions): Promise<Release> {
  const log = options.log ?? (() => {});
  const outDir = path.resolve(options.outDir);
  rmSync(outDir, { recursive: true, force: true });
  const stage = { app: path.join(outDir, 'stage/guardian-app'), platform: path.join(outDir, 'stage/guardian-platform'), server: path.join(outDir, 'stage/server') };
  for (const d of Object.values(stage)) mkdirSync(d, { recursive: true });
  const guardianVersion = options.version ?? version('guardian');
  const serverVersion = version('server');
  const native = describeNativeLayer();
  const platform = `${native.platform}-${native.arch}`;
  log(`native modules: ${native.packages.map((p) => `${p.name}@${p.version}`).join(', ')}; addon built for ${native.platform}-${native.addonMachine}, Node ABI ${native.nodeAbi} (node ${native.nodeVersion})`);
  if (native.addonMachine !== native.arch && native.addonMachine !== 'unknown') {
    throw new Error(`better_sqlite3.node is for ${native.addonMachine} but this Node is ${native.arch}; see docs/install.md (building for other platforms)`);
  }

  // Guardian application bundle.
  const app = await bundleEntries([{ source: 'packages/cli/src/guardian-main.ts', out: 'guardian' }], stage.app);
  if (guardianVersion !== version('guardian')) setBundledGuardianVersion(path.join(stage.app, 'guardian.mjs'), guardianVersion);
  copyResources(stage.app, GUARDIAN_RESOURCES, app);
  const appManifest: BundleManifest = {
    product: GUARDIAN_SWNAME, stream: 'application', version: guardianVersion,
    components: [
      { component: 'guardian-bundle', digest: await bundleDigest(stage.app) },
      ...(await profileDigests(path.join(stage.app, 'protocol/profiles'))).map((digest) => ({ component: 'profiles', digest })),
    ],
    // Pure JavaScript: runs on any platform the platform bundle supports.
    platform: 'any', nodeAbi: 'any',
  };
  writeManifest(stage.app, appManifest);

  // Guardian platform bundle.
  await copyNativeLayer(path.join(stage.platform, 'node_modules'));
  const platformManifest: BundleManifest = {
    product: GUARDIAN_SWNAME, stream: 'platform', version: guardianVersion,
    components: [{ component: 'runtime', digest: await digestFile(process.execPath) }],
    platform, nodeAbi: native.nodeAbi,
  };
  writeManifest(stage.platform, platformManifest);

  // Server bundle (with the whole CLI).
  const server = await bundleEntries([
    { source: 'packages/cli/src/main.ts', out: 'shellguard' },
    { source: 'packages/server/src/telemetry/read-worker.ts', out: 'read-worker' },
  ], stage.server, ['read-worker']);
  copyResources(stage.server, SERVER_RESOURCES, server);
  await copyNativeLayer(path.join(stage.server, 'node_modules'));
  const serverManifest: BundleManifest = {
    product: SERVER_PRODUCT, stream: 'application', version: serverVersion,
    components: [{ component: 'server-bundle', digest: await bundleDigest(stage.server) }],
    platform, nodeAbi: native.nodeAbi,
  };
  writeManifest(stage.server, serverManifest);

  const artifacts = {
    app: await archive(stage.app, outDir, `shellguard-guardian-app-${guardianVersion}.tar.gz`),
    platform: await archive(stage.platform, outDir, `shellguard-guardian-platform-${guardianVersion}-${platform}.tar.gz`),
    server: await archive(stage.server, outDir, `shellguard-server-${serverVersion}-${platform}.tar.gz`),
  };
  for (const a of Object.values(artifacts)) log(`${a.name}  ${a.bytes} bytes  sha256 ${a.sha256}`);
  return { version: guardianVersion, artifacts, stage, manifests: { app: appManifest, platform: platformManifest, server: serverManifest }, native };
}
